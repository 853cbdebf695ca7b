"""One config schema for every model family, validated on load.

A zoo config is YAML with five sections: `architecture`, `data`, `training`,
`tuning` and `metadata` (plus `name` and `family`). Unknown keys, wrong types
and bad values raise `ValueError`s that name the key and what to do.
"""

import copy
import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from typing import Optional

FAMILIES = ("tagger", "classifier", "translator", "captioner")


@dataclass
class ArchitectureConfig:
    cell: str = "lstm"  # vanilla | gru | lstm
    bidirectional: bool = True
    units: int = 100
    layers: int = 1
    dropout: float = 0.5
    recurrent_dropout: float = 0.0
    activation: str = "tanh"  # the vanilla cell's f
    embedding_dim: int = 50
    embeddings: Optional[str] = None  # "glove_6b_50d" or None
    trainable_embeddings: bool = True
    max_vocabulary: Optional[int] = None
    # tagger
    char_encoder: Optional[str] = "cnn"  # cnn | bilstm | None
    char_embedding_dim: int = 25
    char_units: int = 50
    max_chars: int = 20
    head: str = "crf"  # tagger: crf | softmax; classifier: binary | multiclass | multilabel
    # classifier
    pooling: str = "last"  # last | max | mean
    dense_units: int = 0


@dataclass
class DataConfig:
    reader: str = "conll"
    root: str = ""  # under $RNNZOO_DATA unless absolute
    train: str = ""
    validation: Optional[str] = None
    test: Optional[str] = None
    labels: Optional[list] = None
    max_length: Optional[int] = None
    train_validation_split: float = 0.0


@dataclass
class EarlyStoppingConfig:
    monitor: str = "val_loss"
    patience: int = 5
    mode: str = "auto"


@dataclass
class TrainingConfig:
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: Optional[str] = None  # None | cosine | exponential
    decay_rate: float = 0.9
    momentum: float = 0.0
    clipnorm: Optional[float] = None
    clipvalue: Optional[float] = None
    batch_size: int = 32
    epochs: int = 10
    max_steps: Optional[int] = None
    early_stopping: Optional[EarlyStoppingConfig] = None
    seed: int = 1234


@dataclass
class MetadataConfig:
    description: str = ""
    metrics: list = field(default_factory=list)
    license: str = ""
    version: str = "1"


@dataclass
class ZooConfig:
    name: str
    family: str
    architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tuning: dict = field(default_factory=dict)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_yaml(self, path=None):
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text


_CHOICES = {
    "architecture.cell": ("vanilla", "gru", "lstm"),
    "architecture.char_encoder": ("cnn", "bilstm", None),
    "architecture.pooling": ("last", "max", "mean"),
    "architecture.head": ("crf", "softmax", "binary", "multiclass", "multilabel"),
    "training.optimizer": ("adam", "adamw", "nadam", "sgd", "rmsprop"),
    "training.lr_schedule": (None, "cosine", "exponential"),
    "family": FAMILIES,
}


def _suggest(key, options):
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _build(cls, values, where):
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
            f"Valid keys of '{where}': {', '.join(fields)}."
        )
    kwargs = {}
    for name, value in values.items():
        path = f"{where}.{name}"
        nested = {"early_stopping": EarlyStoppingConfig}
        if name in nested and cls is TrainingConfig and value is not None:
            value = _build(nested[name], value, path)
        default = fields[name].default
        expected = type(default) if default not in (None, dataclasses.MISSING) else None
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
        choices = _CHOICES.get(path.split(".", 1)[-1] if where == "config" else path)
        if choices is not None and value not in choices:
            raise ValueError(f"'{path}' must be one of {list(choices)}, got {value!r}.")
        kwargs[name] = value
    return cls(**kwargs)


def _check_ranges(config):
    a, t = config.architecture, config.training
    for path, value in (("architecture.units", a.units), ("architecture.layers", a.layers),
                        ("architecture.embedding_dim", a.embedding_dim),
                        ("training.batch_size", t.batch_size), ("training.epochs", t.epochs)):
        if value <= 0:
            raise ValueError(f"'{path}' must be positive, got {value}.")
    for path, value in (("architecture.dropout", a.dropout), ("architecture.recurrent_dropout", a.recurrent_dropout)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"'{path}' must be in [0, 1), got {value}.")
    if t.learning_rate <= 0:
        raise ValueError(f"'training.learning_rate' must be positive, got {t.learning_rate}.")
    for path, value in (("training.clipnorm", t.clipnorm), ("training.clipvalue", t.clipvalue)):
        if value is not None and value <= 0:
            raise ValueError(f"'{path}' must be positive or null, got {value}.")


def config_from_dict(values):
    """Validate a plain dict and return a `ZooConfig`."""
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
    if values["family"] not in FAMILIES:
        raise ValueError(
            f"'family' must be one of {list(FAMILIES)}, got {values['family']!r}.{_suggest(str(values['family']), FAMILIES)}"
        )
    tuning = values.get("tuning") or {}
    if not isinstance(tuning, dict):
        raise ValueError("'tuning' must be a mapping of dotted config keys to search spaces.")
    config = ZooConfig(
        name=str(values["name"]),
        family=values["family"],
        architecture=_build(ArchitectureConfig, values.get("architecture"), "architecture"),
        data=_build(DataConfig, values.get("data"), "data"),
        training=_build(TrainingConfig, values.get("training"), "training"),
        tuning=tuning,
        metadata=_build(MetadataConfig, values.get("metadata"), "metadata"),
    )
    _check_ranges(config)
    return config


def apply_overrides(values, overrides):
    """Set dotted keys (`{"training.epochs": 1}`) in a plain config dict (copy)."""
    values = copy.deepcopy(values)
    for dotted, value in (overrides or {}).items():
        node = values
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is None:
                node = {}
            if not isinstance(node, dict):
                raise ValueError(f"cannot set {dotted!r}: {part!r} is not a section.")
        node[parts[-1]] = value
    return values


def load_config(source, overrides=None):
    """A `ZooConfig` from a `ZooConfig`, a dict, or a YAML path.

    Args:
        source: `ZooConfig`, dict, or path to a YAML file.
        overrides: optional dict of dotted keys to values.
    """
    import yaml

    if isinstance(source, ZooConfig):
        values = source.to_dict()
    elif isinstance(source, dict):
        values = source
    elif isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        with open(source) as f:
            try:
                values = yaml.safe_load(f)
            except yaml.YAMLError as error:
                raise ValueError(f"{source}: not valid YAML: {error}") from None
    else:
        raise ValueError(f"config {source!r} is neither a zoo config, a dict, nor an existing YAML file.")
    return config_from_dict(apply_overrides(values, overrides))


def parse_override(text):
    """`"training.epochs=1"` -> `("training.epochs", 1)` (value parsed as YAML)."""
    import yaml

    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value.")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


