"""`Backbone`: the base of the families' backbones, a functional `keras.Model` over tensors."""

import keras


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
        for name, value in arguments.items():
            setattr(self, name, value)
        self.__dict__["_backbone_arguments"] = tuple(arguments)  # untracked by Keras

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **{name: getattr(self, name) for name in self.__dict__.get("_backbone_arguments", ())},
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
