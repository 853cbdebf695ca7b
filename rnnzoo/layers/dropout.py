"""The language-model regularisers of Gal & Ghahramani (2016): locked (variational) and embedding dropout."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnzoo")
class LockedDropout(keras.layers.Layer):
    """Variational ("locked") dropout: one mask per sequence, the same at every time step.

    Gal & Ghahramani (2016); Merity et al.'s AWD-LSTM calls it locked dropout.
    Ordinary dropout draws a new mask per step, which on a recurrent model's
    inputs and outputs is noisier; here a `(batch, 1, features)` mask is
    drawn and broadcast over time.

    Args:
        rate: the fraction of features dropped.
        seed: the random seed.

    Call arguments:
        inputs: `(batch, time, features)`.
        training: dropout only when True.

    Example:
    >>> import numpy as np
    >>> out = LockedDropout(0.5, seed=1)(np.ones((2, 5, 3), "float32"), training=True)
    >>> bool((np.asarray(out) == np.asarray(out)[:, :1]).all())   # same mask at every step
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = ops.shape(inputs)
        keep = keras.random.uniform((shape[0], 1, shape[2]), seed=self.seed_generator) >= self.rate
        return inputs * ops.cast(keep, inputs.dtype) / (1.0 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnnzoo")
class EmbeddingDropout(keras.layers.Layer):
    """Embedding dropout: drop whole words (rows of the embedding matrix) for a batch.

    Gal & Ghahramani (2016): each vocabulary entry is dropped with
    probability `rate` for the whole batch, so every occurrence of a dropped
    word reads a zero vector; kept vectors are scaled by `1 / (1 - rate)`.

    Args:
        rate: the fraction of the vocabulary dropped per batch.
        vocabulary_size: the number of ids.
        seed: the random seed.

    Call arguments:
        embedded: `(batch, time, dim)`, the looked-up vectors.
        token_ids: `(batch, time)` int, the ids they were looked up for.
        training: dropout only when True.
    """

    def __init__(self, rate, vocabulary_size, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.vocabulary_size = int(vocabulary_size)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, embedded, token_ids, training=False):
        if not training or self.rate == 0:
            return embedded
        keep = keras.random.uniform((self.vocabulary_size,), seed=self.seed_generator) >= self.rate
        scale = ops.cast(keep, embedded.dtype) / (1.0 - self.rate)
        return embedded * ops.expand_dims(ops.take(scale, ops.cast(token_ids, "int32"), axis=0), -1)

    def compute_output_shape(self, embedded_shape, token_ids_shape=None):
        return embedded_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "vocabulary_size": self.vocabulary_size, "seed": self.seed}
