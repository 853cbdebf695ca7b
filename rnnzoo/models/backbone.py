"""`Backbone`: the base of the families' backbones, a functional `keras.Model` over tensors."""

import keras

from rnnzoo.utils import keep_arguments, kept_arguments


class Backbone(keras.Model):
    """A functional `keras.Model` from tensors to features whose config is its constructor arguments.

    As keras-hub's backbones: a subclass builds its graph in `__init__`, calls
    `super().__init__(inputs=..., outputs=...)`, then `self._keep_arguments(...)`
    with the arguments that rebuild it. `get_config` returns those (plus `name`
    and `trainable`), `from_config` calls the constructor with them. Initial
    weights (e.g. a GloVe `embeddings_initializer`) are not kept: saved weights
    replace them. Model code is `keras.ops` only, so backbones run on every
    Keras backend.
    """

    def _keep_arguments(self, **arguments):
        """Keep the constructor's arguments as attributes; `get_config` returns them."""
        keep_arguments(self, arguments)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **kept_arguments(self)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
