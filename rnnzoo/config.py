"""Zoo configs: YAML -> a validated `ZooConfig`, the family's own sections checked.

A zoo config is YAML with five sections: `architecture`, `data`, `training`,
`tuning` and `metadata` (plus `name` and `family`). The sections are the
dataclasses of `rnnzoo.schema`; `architecture` and `data` are the family's
own subclasses (declared with the family, see `rnnzoo.models.registry`), so a
key or value the family does not have fails here, naming the family. Unknown
keys, wrong types and bad values raise `ValueError`s that name the key and
what to do.

Example:
>>> config = config_from_dict({"name": "x", "family": "tagger", "data": {"train": "train.txt"}})
>>> type(config.architecture).__name__, config.architecture.head
('TaggerArchitecture', 'crf')
"""

import copy
import dataclasses
import difflib
import os
import typing

from rnnzoo.schema import (  # noqa: F401  (the sections, re-exported: `from rnnzoo.config import TrainingConfig`)
    DataConfig,
    EarlyStoppingConfig,
    MetadataConfig,
    RecurrentArchitecture,
    TrainingConfig,
    ZooConfig,
)

#: Keys that every config of the one flat schema (before families declared their own) wrote into
#: saved `config.yaml` files, with the value the flat schema gave them. Reading an artifact
#: (`legacy=True`) drops such a key when its family does not have it and it holds that value.
LEGACY_DEFAULTS = {
    "architecture": {
        "word_dropout": 0.0, "char_encoder": "cnn", "char_embedding_dim": 25, "char_units": 50, "max_chars": 20,
        "pooling": "last", "dense_units": 0, "head": "crf",
    },
    "data": {
        "tag_scheme": "bio", "train_validation_split": 0.0, "train_validation_unit": "row", "text_column": None,
        "label_column": None, "truncate": "head", "train_max_length": None,
    },
}


def _suggest(key, options):
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _field_type(f):
    """The value type a field's annotation asks for (`Optional[X]` -> X), or None if any."""
    annotation = f.type
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    annotation = typing.get_origin(annotation) or annotation
    return annotation if annotation in (int, float, bool, str, list, dict) else None


def _family_note(family):
    return f" for family {family!r}" if family else ""


def _build(cls, values, where, family=None):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"config section {where!r} must be a mapping, got {type(values).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown:
        key = unknown[0]
        raise ValueError(
            f"unknown config key '{where}.{key}'.{_suggest(key, fields)} "
            f"Valid keys of '{where}'{_family_note(family)}: {', '.join(fields)}."
        )
    kwargs = {}
    for name, value in values.items():
        path = f"{where}.{name}"
        if name == "early_stopping" and cls is TrainingConfig and value is not None:
            value = _build(EarlyStoppingConfig, value, path)
        kwargs[name] = _check_value(fields[name], path, value, family)
    return cls(**kwargs)


def _check_value(f, path, value, family):
    """One field's value, type-checked (from the annotation: Optional fields too) and range-checked."""
    expected = _field_type(f)
    if expected in (int, float) and value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"'{path}' must be a number, got {value!r}.")
        if expected is int and float(value) != int(value):
            raise ValueError(f"'{path}' must be an integer, got {value!r}.")
        value = expected(value)
    elif expected is bool and not isinstance(value, bool):
        raise ValueError(f"'{path}' must be true or false, got {value!r}.")
    elif expected is str and value is not None and not isinstance(value, str):
        raise ValueError(f"'{path}' must be a string, got {value!r}.")
    elif expected is list and value is not None and not isinstance(value, list):
        raise ValueError(f"'{path}' must be a list, got {value!r}.")
    elif expected is dict and value is not None and not isinstance(value, dict):
        raise ValueError(f"'{path}' must be a mapping, got {value!r}.")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        hint = _suggest(value, [c for c in choices if c]) if isinstance(value, str) else ""
        raise ValueError(f"'{path}' must be one of {list(choices)}{_family_note(family)}, got {value!r}.{hint}")
    check = f.metadata.get("check")
    if value is not None and check is not None and not _RANGES[check][0](value):
        optional = typing.get_origin(f.type) is typing.Union and type(None) in typing.get_args(f.type)
        raise ValueError(f"'{path}' must be {_RANGES[check][1]}{' or null' if optional else ''}, got {value}.")
    return value


#: `check` metadata -> (test, what the error says).
_RANGES = {
    "positive": (lambda v: v > 0, "positive"),
    "non_negative": (lambda v: v >= 0, ">= 0"),
    "fraction": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
    "open_fraction": (lambda v: 0.0 < v < 1.0, "in (0, 1)"),
}


def _check_files(config):
    d = config.data
    files_ok = isinstance(d.train, list) and d.train and all(isinstance(n, str) and n for n in d.train)
    if not (isinstance(d.train, str) or files_ok):
        raise ValueError(f"'data.train' must be a file name or a non-empty list of file names, got {d.train!r}.")
    # Paths a config names stay inside their folder (rnnzoo.data.paths checks again, symbolic links included,
    # when the files are read): caught here, the error names the key.
    if d.root and not os.path.isabs(d.root):
        _check_inside("data.root", d.root, "$RNNZOO_DATA (or give an absolute data.root)")
    for split in ("train", "validation", "test"):
        names = getattr(d, split)
        for name in [names] if isinstance(names, str) else names or []:
            if isinstance(name, str):
                _check_inside(f"data.{split}", name, "data.root")
    embeddings = getattr(config.architecture, "embeddings", None)
    if isinstance(embeddings, str) and not os.path.isabs(embeddings):
        _check_inside("architecture.embeddings", embeddings, "$RNNZOO_DATA (or give an absolute path)")


def _check_inside(key, name, folder):
    """A relative path from a config must not climb out of `folder` with `..`, nor be absolute (data files)."""
    if "\0" in name:
        raise ValueError(f"'{key}' holds a NUL character: {name!r}.")
    if os.path.isabs(name):
        raise ValueError(f"'{key}' must be a file name relative to {folder}, got the absolute path {name!r}.")
    if os.path.normpath(name).split(os.sep)[0] == os.pardir:
        raise ValueError(f"'{key}' ({name!r}) leads out of {folder} with '..'; name a path inside it.")


def _check_tuning(tuning, family):
    """Each tuning key is a dotted path to an existing `section.key` of the family's config."""
    sections = {"architecture": family.architecture, "data": family.data, "training": TrainingConfig}
    for dotted in tuning:
        parts = str(dotted).split(".")
        if len(parts) < 2 or parts[0] not in sections:
            raise ValueError(
                f"tuning key {dotted!r} must be a dotted config key like 'architecture.units' "
                f"(sections: {', '.join(sections)})."
            )
        names = [f.name for f in dataclasses.fields(sections[parts[0]])]
        if parts[1] not in names:
            raise ValueError(
                f"tuning key {dotted!r} names no config key{_family_note(family.name)}.{_suggest(parts[1], names)} "
                f"Valid keys of {parts[0]!r}: {', '.join(names)}."
            )


def _drop_legacy_keys(values, family):
    """Drop the flat schema's keys this family lacks, where they hold the flat schema's value (see LEGACY_DEFAULTS)."""
    values = copy.deepcopy(values)
    for section, cls in (("architecture", family.architecture), ("data", family.data)):
        node = values.get(section)
        if not isinstance(node, dict):
            continue
        own = {f.name for f in dataclasses.fields(cls)}
        for key, default in LEGACY_DEFAULTS[section].items():
            if key not in own and key in node and node[key] == default:
                del node[key]
        if section == "architecture" and node.get("head") == "crf" and "crf" not in _choices(cls, "head"):
            del node["head"]  # the flat schema's default head, which other families mapped to their own
    return values


def _choices(cls, name):
    return next((f.metadata.get("choices", ()) for f in dataclasses.fields(cls) if f.name == name), ())


def config_from_dict(values, legacy=False):
    """Validate a plain dict and return a `ZooConfig` (the family's sections in it).

    Args:
        values: the config as plain data.
        legacy: tolerate the flat schema's keys of other families at their
            old default values (artifacts saved before families had their own
            sections); only `rnnzoo.load` reading a saved `config.yaml` sets it.
    """
    from rnnzoo.models import family_names, get_family

    if not isinstance(values, dict):
        raise ValueError(f"a zoo config must be a mapping, got {type(values).__name__}.")
    values = copy.deepcopy(values)
    top = {f.name for f in dataclasses.fields(ZooConfig)}
    unknown = [k for k in values if k not in top]
    if unknown:
        raise ValueError(
            f"unknown config key {unknown[0]!r}.{_suggest(unknown[0], top)} Valid top-level keys: {', '.join(sorted(top))}."
        )
    for required in ("name", "family"):
        if not values.get(required):
            raise ValueError(f"config needs a {required!r}.")
    names = family_names()
    if values["family"] not in names:
        raise ValueError(
            f"'family' must be one of {names}, got {values['family']!r}.{_suggest(str(values['family']), names)}"
        )
    family = get_family(values["family"])
    if legacy:
        values = _drop_legacy_keys(values, family)
    tuning = values.get("tuning") or {}
    if not isinstance(tuning, dict):
        raise ValueError("'tuning' must be a mapping of dotted config keys to search spaces.")
    _check_tuning(tuning, family)
    config = ZooConfig(
        name=str(values["name"]),
        family=values["family"],
        architecture=_build(family.architecture, values.get("architecture"), "architecture", family.name),
        data=_build(family.data, values.get("data"), "data", family.name),
        training=_build(TrainingConfig, values.get("training"), "training"),
        tuning=tuning,
        metadata=_build(MetadataConfig, values.get("metadata"), "metadata"),
    )
    _check_files(config)
    return config


def apply_overrides(values, overrides):
    """Set dotted keys (`{"training.epochs": 1}`) in a plain config dict (copy)."""
    values = copy.deepcopy(values)
    for dotted, value in (overrides or {}).items():
        node = values
        parts = dotted.split(".")
        for part in parts[:-1]:
            # A null section (e.g. `early_stopping: null`) becomes a mapping; a
            # detached dict here would drop the override silently.
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f"cannot set {dotted!r}: {part!r} is not a section.")
        node[parts[-1]] = value
    return values


def _yaml_load(stream):
    """`yaml.safe_load`, but `1e-3` is a float (YAML 1.2) rather than PyYAML's string."""
    import re

    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."),
    )
    return yaml.load(stream, Loader=_Loader)


def load_config(source, overrides=None, legacy=False):
    """A `ZooConfig` from a `ZooConfig`, a dict, or a YAML path.

    Args:
        source: `ZooConfig`, dict, or path to a YAML file.
        overrides: optional dict of dotted keys to values.
        legacy: see `config_from_dict`.
    """
    import yaml

    if isinstance(source, ZooConfig):
        values = source.to_dict()
    elif isinstance(source, dict):
        values = source
    elif isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        with open(source) as f:
            try:
                values = _yaml_load(f)
            except yaml.YAMLError as error:
                raise ValueError(f"{source}: not valid YAML: {error}") from None
    else:
        raise ValueError(f"config {source!r} is neither a zoo config, a dict, nor an existing YAML file.")
    return config_from_dict(apply_overrides(values, overrides), legacy=legacy)


def parse_override(text):
    """`"training.epochs=1"` -> `("training.epochs", 1)` (value parsed as YAML, `1e-3` a float)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value.")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or not all(key.split(".")):
        raise ValueError(f"override {text!r} needs a dotted key before '=', like training.epochs=1.")
    return key, _yaml_load(raw)


