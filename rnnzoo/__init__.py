"""rnnzoo: a Keras 3 model zoo of recurrent networks.

`import rnnzoo` needs only Keras (any backend): the model code is
`keras.ops`; TensorFlow is imported lazily by the text pipeline, tf.data
input, distribution and SavedModel export.

Example:
>>> import rnnzoo
>>> "bilstm_ner" in rnnzoo.list_models()
True
"""

__version__ = "0.1.0"

from rnnzoo import _tf_logging  # noqa: E402

# TensorFlow's start-up log lines stay off stderr unless RNNZOO_VERBOSE=1 (see `rnnzoo._tf_logging`).
_tf_logging.install()

from rnnzoo import runtime as _runtime  # noqa: E402,F401  (registers the TFLite and ONNX export writers)
from rnnzoo.zoo import build, list_models, load  # noqa: E402


def train(config, **kwargs):
    """Train a zoo model; see `rnnzoo.training.trainer.train`."""
    from rnnzoo.training.trainer import train as _train

    return _train(config, **kwargs)


def tune(config, **kwargs):
    """Hyperparameter search; see `rnnzoo.training.tuning.tune`."""
    from rnnzoo.training.tuning import tune as _tune

    return _tune(config, **kwargs)


__all__ = ["__version__", "build", "list_models", "load", "train", "tune"]
