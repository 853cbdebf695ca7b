"""The zoo config's sections as dataclasses: the shared recurrent base every family extends.

A family declares its own `architecture` and `data` sections by subclassing
`RecurrentArchitecture` and `DataConfig` (see `rnnzoo/models/<family>/family.py`),
so a key or value that one family does not have fails validation naming the
family (`rnnzoo.config.load_config` validates). A field's `metadata` carries
what validation checks beyond its type:

- `choices`: the allowed values (a family narrows them by redeclaring the field);
- `check`: `"positive"` (> 0), `"non_negative"` (>= 0; 0 and null mean "none"),
  `"fraction"` ([0, 1)) or `"open_fraction"` ((0, 1)); null passes.

This module imports nothing from the rest of rnnzoo: families, config
validation and the trainer all build on it.

Example:
>>> from dataclasses import dataclass
>>> @dataclass
... class MyArchitecture(RecurrentArchitecture):
...     head: str = option("softmax", choices=("softmax",))
>>> MyArchitecture(units=8).cell
'lstm'
"""

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Optional


def option(default, choices=None, check=None, **kwargs):
    """A dataclass field with validation metadata (`choices`, `check`; see the module docstring)."""
    metadata = {}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if check is not None:
        metadata["check"] = check
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)


CELLS = ("vanilla", "gru", "lstm")


@dataclass
class RecurrentArchitecture:
    """What every recurrent text family reads: embedding -> stacked (bi)recurrent layers -> head."""

    cell: str = option("lstm", choices=CELLS)
    bidirectional: bool = True
    units: int = option(100, check="positive")  # per direction
    layers: int = option(1, check="positive")
    dropout: float = option(0.5, check="fraction")
    recurrent_dropout: float = option(0.0, check="fraction")
    activation: str = "tanh"  # the vanilla cell's f
    embedding_dim: int = option(50, check="positive")
    embeddings: Optional[str] = None  # "glove_6b_50d" or None
    trainable_embeddings: bool = True
    max_vocabulary: Optional[int] = option(None, check="non_negative")
    # Each family narrows the choices (and sets the default) of its head.
    head: Optional[str] = None


@dataclass
class DataConfig:
    """Where a family's data lives and the settings every reader shares."""

    reader: str = ""
    root: str = ""  # under $RNNZOO_DATA unless absolute
    train: typing.Union[str, list] = ""  # a file, or a list of files read one after another
    validation: Optional[str] = None
    test: Optional[str] = None
    # How reports name the `test` file's split when it is not a test set (e.g. "GLUE dev": GLUE's
    # test labels are hidden, so the SST-2 presets are scored on the dev file). null: "test".
    test_name: Optional[str] = None
    labels: Optional[list] = None
    max_length: Optional[int] = option(None, check="positive")


@dataclass
class EarlyStoppingConfig:
    monitor: str = "val_loss"
    patience: int = option(5, check="non_negative")
    mode: str = option("auto", choices=("auto", "min", "max"))


@dataclass
class TrainingConfig:
    optimizer: str = option("adam", choices=("adam", "adamw", "nadam", "sgd", "rmsprop"))
    learning_rate: float = option(1e-3, check="positive")
    # plateau: multiply the learning rate by decay_rate when the validation score stops improving
    lr_schedule: Optional[str] = option(None, choices=(None, "cosine", "exponential", "plateau"))
    decay_rate: float = option(0.9, check="positive")
    momentum: float = option(0.0, check="non_negative")
    clipnorm: Optional[float] = option(None, check="positive")
    clipvalue: Optional[float] = option(None, check="positive")
    # Exponential moving average of the weights (Keras' optimizer `use_ema`): validation scores it,
    # and the trained model keeps the average. null: off; e.g. 0.999 averages over ~1000 steps.
    ema_momentum: Optional[float] = option(None, check="open_fraction")
    batch_size: int = option(32, check="positive")
    epochs: int = option(10, check="positive")
    max_steps: Optional[int] = option(None, check="non_negative")
    early_stopping: Optional[EarlyStoppingConfig] = None
    seed: int = 1234
    # distribution and fault tolerance (rnnzoo.training)
    loop: str = option("auto", choices=("auto", "fit", "custom"))  # auto: custom for multi-worker or a run_dir
    steps_per_execution: int = option(1, check="positive")  # training steps per tf.function call (TPUs)
    scale_learning_rate: bool = False  # multiply the learning rate by the replica count
    checkpoint_every_steps: int = option(0, check="non_negative")  # with a run_dir: also every N steps


@dataclass
class MetadataConfig:
    description: str = ""
    metrics: list = field(default_factory=list)
    license: str = ""
    version: str = "1"


@dataclass
class ZooConfig:
    """A whole zoo config; `architecture` and `data` are instances of the family's own sections."""

    name: str
    family: str
    architecture: RecurrentArchitecture = field(default_factory=RecurrentArchitecture)
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
