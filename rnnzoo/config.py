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
import typing
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
    word_dropout: float = 0.0  # tagger: training-time probability of reading a word as OOV
    char_encoder: Optional[str] = "cnn"  # cnn | bilstm | None
    char_embedding_dim: int = 25
    char_units: int = 50
    max_chars: int = 20
    head: str = "crf"  # tagger: crf | softmax; classifier: binary | multiclass | multilabel
    # classifier
    pooling: str = "last"  # last | max | mean | max_mean
    dense_units: int = 0


@dataclass
class DataConfig:
    reader: str = "conll"
    root: str = ""  # under $RNNZOO_DATA unless absolute
    train: typing.Union[str, list] = ""  # a file, or a list of files read one after another
    validation: Optional[str] = None
    test: Optional[str] = None
    # How reports name the `test` file's split when it is not a test set (e.g. "GLUE dev": GLUE's
    # test labels are hidden, so the SST-2 presets are scored on the dev file). null: "test".
    test_name: Optional[str] = None
    labels: Optional[list] = None
    tag_scheme: str = "bio"  # tagger: bio | iobes, the scheme the head predicts (data and outputs stay BIO)
    max_length: Optional[int] = None
    train_validation_split: float = 0.0
    # classifier: what train_validation_split holds out. row: a random part of the rows. sentence: for
    # sentence + phrase corpora (GLUE SST-2), a part of the whole texts (rows inside no other row), and
    # the rows found only inside them leave training too, so validation scores unseen sentences.
    train_validation_unit: str = "row"
    # classifier: CSV/TSV columns (None = auto: "text"/"sentence" and "label") and long-text truncation
    text_column: Optional[str] = None
    label_column: Optional[str] = None
    truncate: str = "head"  # head | tail | head_tail
    # classifier: tokens per text in training batches (a speed setting; the model reads up to
    # max_length at inference). null: max_length.
    train_max_length: Optional[int] = None


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
    # Exponential moving average of the weights (Keras' optimizer `use_ema`): validation scores it,
    # and the trained model keeps the average. null: off; e.g. 0.999 averages over ~1000 steps.
    ema_momentum: Optional[float] = None
    batch_size: int = 32
    epochs: int = 10
    max_steps: Optional[int] = None
    early_stopping: Optional[EarlyStoppingConfig] = None
    seed: int = 1234
    # distribution and fault tolerance (rnnzoo.training)
    loop: str = "auto"  # auto | fit | custom (auto: custom for multi-worker or a run_dir)
    steps_per_execution: int = 1  # training steps per tf.function call (TPUs)
    scale_learning_rate: bool = False  # multiply the learning rate by the replica count
    checkpoint_every_steps: int = 0  # with a run_dir: also checkpoint every N steps (0: epoch ends only)


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
    "architecture.pooling": ("last", "max", "mean", "max_mean"),
    "data.truncate": ("head", "tail", "head_tail"),
    "data.train_validation_unit": ("row", "sentence"),
    "data.tag_scheme": ("bio", "iobes"),
    "architecture.head": ("crf", "softmax", "binary", "multiclass", "multilabel"),
    "training.optimizer": ("adam", "adamw", "nadam", "sgd", "rmsprop"),
    "training.lr_schedule": (None, "cosine", "exponential"),
    "training.loop": ("auto", "fit", "custom"),
    "training.early_stopping.mode": ("auto", "min", "max"),
    "family": FAMILIES,
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
        # From the annotation, so Optional fields (clipnorm, max_steps, labels...) are checked too.
        expected = _field_type(fields[name])
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
        choices = _CHOICES.get(path.split(".", 1)[-1] if where == "config" else path)
        if choices is not None and value not in choices:
            hint = _suggest(value, [c for c in choices if c]) if isinstance(value, str) else ""
            raise ValueError(f"'{path}' must be one of {list(choices)}, got {value!r}.{hint}")
        kwargs[name] = value
    return cls(**kwargs)


def _check_ranges(config):
    a, t = config.architecture, config.training
    for path, value in (("architecture.units", a.units), ("architecture.layers", a.layers),
                        ("architecture.embedding_dim", a.embedding_dim),
                        ("training.batch_size", t.batch_size), ("training.epochs", t.epochs)):
        if value <= 0:
            raise ValueError(f"'{path}' must be positive, got {value}.")
    for path, value in (("architecture.dropout", a.dropout), ("architecture.recurrent_dropout", a.recurrent_dropout),
                        ("architecture.word_dropout", a.word_dropout)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"'{path}' must be in [0, 1), got {value}.")
    if t.learning_rate <= 0:
        raise ValueError(f"'training.learning_rate' must be positive, got {t.learning_rate}.")
    for path, value in (("training.clipnorm", t.clipnorm), ("training.clipvalue", t.clipvalue)):
        if value is not None and value <= 0:
            raise ValueError(f"'{path}' must be positive or null, got {value}.")
    if t.ema_momentum is not None and not 0.0 < t.ema_momentum < 1.0:
        raise ValueError(f"'training.ema_momentum' must be in (0, 1) or null, got {t.ema_momentum}.")
    d = config.data
    files_ok = isinstance(d.train, list) and d.train and all(isinstance(n, str) and n for n in d.train)
    if not (isinstance(d.train, str) or files_ok):
        raise ValueError(f"'data.train' must be a file name or a non-empty list of file names, got {d.train!r}.")
    for path, value in (("architecture.max_chars", a.max_chars), ("architecture.char_units", a.char_units),
                        ("architecture.char_embedding_dim", a.char_embedding_dim),
                        ("data.max_length", d.max_length), ("data.train_max_length", d.train_max_length),
                        ("training.decay_rate", t.decay_rate)):
        if value is not None and value <= 0:
            raise ValueError(f"'{path}' must be positive, got {value}.")
    early_patience = t.early_stopping.patience if t.early_stopping is not None else 0
    # max_vocabulary / max_steps: 0 means "no cap", as null does (the families test truthiness).
    for path, value in (("architecture.dense_units", a.dense_units), ("training.momentum", t.momentum),
                        ("architecture.max_vocabulary", a.max_vocabulary or 0),
                        ("training.max_steps", t.max_steps or 0),
                        ("training.early_stopping.patience", early_patience)):
        if value < 0:
            raise ValueError(f"'{path}' must be >= 0, got {value}.")
    if not 0.0 <= d.train_validation_split < 1.0:
        raise ValueError(f"'data.train_validation_split' must be in [0, 1), got {d.train_validation_split}.")


def _check_tuning(tuning):
    """Each tuning key is a dotted path to an existing `section.key`."""
    sections = {"architecture": ArchitectureConfig, "data": DataConfig, "training": TrainingConfig}
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
                f"tuning key {dotted!r} names no config key.{_suggest(parts[1], names)} "
                f"Valid keys of {parts[0]!r}: {', '.join(names)}."
            )


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
    _check_tuning(tuning)
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
                values = _yaml_load(f)
            except yaml.YAMLError as error:
                raise ValueError(f"{source}: not valid YAML: {error}") from None
    else:
        raise ValueError(f"config {source!r} is neither a zoo config, a dict, nor an existing YAML file.")
    return config_from_dict(apply_overrides(values, overrides))


def parse_override(text):
    """`"training.epochs=1"` -> `("training.epochs", 1)` (value parsed as YAML, `1e-3` a float)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value.")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or not all(key.split(".")):
        raise ValueError(f"override {text!r} needs a dotted key before '=', like training.epochs=1.")
    return key, _yaml_load(raw)


