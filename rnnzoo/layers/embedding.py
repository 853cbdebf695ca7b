"""`ReversibleEmbedding`: one matrix for the input lookup and the output projection (weight tying)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnzoo")
class ReversibleEmbedding(keras.layers.Embedding):
    """An `Embedding` that can also project features back onto the vocabulary (weight tying).

    Press & Wolf (2017) and Inan et al. (2017): a language model's input
    embedding E `(vocab, dim)` also serves as its output projection, logits =
    h E^T + b, which saves `vocab * dim` parameters and regularises. As
    keras-hub's layer of the same name.

    Args:
        input_dim, output_dim: vocabulary size and embedding size.
        reverse_bias: learn a bias `(vocab,)` for the reverse projection.
        **kwargs: `keras.layers.Embedding` arguments.

    Call arguments:
        inputs: int ids (forward) or `(..., output_dim)` features (`reverse=True`).
        reverse: project features to `(..., input_dim)` logits instead of looking up ids.

    Example:
    >>> import numpy as np
    >>> layer = ReversibleEmbedding(10, 4)
    >>> layer(np.array([[1, 2]])).shape, layer(np.zeros((1, 2, 4)), reverse=True).shape
    ((1, 2, 4), (1, 2, 10))
    """

    def __init__(self, input_dim, output_dim, reverse_bias=True, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.reverse_bias = reverse_bias

    def build(self, input_shape=None):
        super().build(input_shape)
        if self.reverse_bias:
            self.bias = self.add_weight(shape=(self.input_dim,), initializer="zeros", name="reverse_bias")

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        logits = ops.matmul(inputs, ops.transpose(ops.convert_to_tensor(self.embeddings, inputs.dtype)))
        if self.reverse_bias:
            logits = logits + ops.cast(self.bias, logits.dtype)
        return logits

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return super().compute_output_shape(input_shape)

    # Keras' Embedding saves its (possibly quantized) table only; the generic Layer methods save every variable.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            return keras.KerasTensor(self.compute_output_shape(inputs.shape, reverse=True), dtype=self.compute_dtype)
        return super().compute_output_spec(inputs)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "reverse_bias": self.reverse_bias}
