"""The family protocol: `Family`, the one declaration of a model family, and `register_family`.

A family is declared once, where it is defined
(`rnnzoo/models/<family>/family.py`), as timm's `@register_model` does:

    @register_family
    class TaggerFamily(Family):
        name = "tagger"
        task = "rnnzoo.models.tagger.tagger:BidirectionalTagger"
        architecture = TaggerArchitecture       # its config schema (rnnzoo.schema)
        data = TaggerData
        primary_metric = ("f1", "max")
        def load_data(self, config): ...
        def build(self, config, data): ...

Config validation (`rnnzoo.config`), `rnnzoo.models.get_family`, Keras
deserialization (`task_class`), `rnnzoo.train`/`tune`, `rnnzoo evaluate`
(primary metric, model card) and `rnnzoo list/info/predict` all read this
declaration; `rnnzoo.models.families()` finds every family package under
`rnnzoo/models/` by itself, so a new family edits no shared file. A family
outside the package registers with `register_family` before use.

This module imports nothing from rnnzoo at import time (a family's `family.py` imports it).
"""

import importlib
import json

_REGISTRY = {}


class Family:
    """Base of the family declarations; subclasses set the attributes and override the hooks.

    Attributes:
        name: the `family:` value of zoo configs.
        task: `"module:Class"` of the family's `Task` (imported on first use,
            which also registers its Keras-serializable classes).
        preprocessor: `"module:Class"` of its `Preprocessor` (imported with the
            task: preprocessors need TensorFlow, so task modules import them lazily).
        architecture, data: the family's config sections (subclasses of
            `rnnzoo.schema.RecurrentArchitecture` / `DataConfig`).
        primary_metric: `(score key, "max" | "min")`: what `rnnzoo evaluate`
            reports, validation callbacks log as `val_<key>` and the tuner optimises.
        sample_size: the fixed test sample whose score `rnnzoo evaluate`
            records and the suite re-checks.
        inputs: what `rnnzoo predict` reads from its arguments: `"text"`
            (strings) or `"image"` (file paths).
        description: one line for `rnnzoo list`.
    """

    name = None
    task = None
    preprocessor = None
    architecture = None
    data = None
    primary_metric = ("accuracy", "max")
    sample_size = 300
    inputs = "text"
    description = ""

    # ------------------------------------------------------------- required hooks
    def load_data(self, config):
        """`{"train": (x, y), "validation": ..., "test": ...}` read from `config.data`."""
        raise NotImplementedError(f"family {self.name!r} does not implement load_data")

    def build(self, config, data):
        """An untrained task for `config`, its vocabularies taken from `data["train"]`."""
        raise NotImplementedError(f"family {self.name!r} does not implement build")

    # ------------------------------------------------------------- hooks with defaults
    def task_class(self):
        """The family's `Task` class, imported now with its preprocessor (which registers both with Keras)."""
        if self.preprocessor is not None:
            _import(self.preprocessor)
        return _import(self.task)

    def train_dataset(self, task, data, config):
        """The training split through the task's own raw-data pipeline."""
        x, y = data["train"]
        return task.make_dataset(x, y, batch_size=config.training.batch_size, training=True)

    def validation_score(self, task, data):
        """The primary metric on the validation split (None without one): what `val_<metric>` logs."""
        if "validation" not in data:
            return None
        x, y = data["validation"]
        return task.score(x, y)[self.primary_metric[0]]

    def evaluate(self, task, data, split="test", limit=None):
        """`task.score` on a split, or on a fixed random sample of `limit` examples of it."""
        if split not in data:
            raise ValueError(f"no {split!r} split in the data; available: {sorted(data)}.")
        from rnnzoo.data.splits import sample

        return task.score(*sample(*data[split], limit))

    def format_prediction(self, result):
        """One prediction as `rnnzoo predict` prints it (default: JSON)."""
        return json.dumps(result, ensure_ascii=False)

    def model_card_extra(self, config, record, others):
        """Family sections of the model card (Markdown); `others`: the other shipped models' metrics records."""
        return ""

    def __repr__(self):
        return f"<family {self.name!r}: {self.task}>"


def _import(path):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def lazy_exports(package, exports):
    """`(__getattr__, __all__)` for a family package: `exports` maps a public name to its module.

    A family's `__init__.py` stays light (finding the family imports no Keras);
    `from rnnzoo.models.tagger import BidirectionalTagger` imports the class then.
    """

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)


def register_family(cls):
    """Class decorator: register (an instance of) a `Family` subclass under its `name`."""
    missing = [a for a in ("name", "task", "architecture", "data") if getattr(cls, a) is None]
    if missing:
        raise TypeError(f"family {cls.__name__} must set {', '.join(missing)}.")
    previous = _REGISTRY.get(cls.name)
    if previous is not None and type(previous).__qualname__ != cls.__qualname__:
        raise ValueError(f"family {cls.name!r} is already registered by {type(previous).__qualname__}.")
    _REGISTRY[cls.name] = cls()
    return cls


def registered():
    """`{name: Family}` of the families registered so far (see `rnnzoo.models.families` to find them all)."""
    return dict(_REGISTRY)
