"""Model families, found by themselves: every package under `rnnzoo/models/` that registers a `Family`.

`get_family(name)` and `families()` import each family package's `family.py`
(light: no TensorFlow, no Keras); the task classes load on first use
(`Family.task_class`). See `rnnzoo.models.registry` for the protocol and
docs/adding_a_family.md for the recipe.

Example:
>>> from rnnzoo.models import get_family
>>> get_family("tagger").primary_metric
('f1', 'max')
"""

import importlib
import os
import pkgutil

from rnnzoo.models.registry import Family, register_family, registered

_discovered = False


def _discover():
    """Import `rnnzoo.models.<package>.family` for every sub-package (once)."""
    global _discovered
    if _discovered:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.ispkg and os.path.exists(os.path.join(info.module_finder.path, info.name, "family.py")):
            importlib.import_module(f"{__name__}.{info.name}.family")
    _discovered = True


def families():
    """`{name: Family}` of every family (the package's own and any registered since)."""
    _discover()
    return registered()


def family_names():
    """The family names, sorted."""
    return sorted(families())


def get_family(name):
    """The registered `Family` called `name`; a `ValueError` listing the families otherwise."""
    found = families()
    if name not in found:
        import difflib

        close = difflib.get_close_matches(str(name), list(found), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown family {name!r}.{hint} Families: {', '.join(sorted(found))}.")
    return found[name]


_NO_DEFAULT = object()


def family_of(task, default=_NO_DEFAULT):
    """The `Family` whose task class `task` is (or subclasses); `default`, else a `ValueError`, for another model."""
    for family in families().values():
        if isinstance(task, family.task_class()):
            return family
    if default is not _NO_DEFAULT:
        return default
    raise ValueError(f"{type(task).__name__} is not the task of any rnnzoo family ({', '.join(family_names())}).")


def import_all_tasks():
    """Import every family's task class (registers their Keras-serializable classes for `load_model`)."""
    return [family.task_class() for family in families().values()]


__all__ = ["Family", "families", "family_names", "family_of", "get_family", "import_all_tasks", "register_family"]
