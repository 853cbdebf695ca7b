"""Word dropout: replace token ids by the out-of-vocabulary id while training."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnzoo")
class WordDropout(keras.layers.Layer):
    """Replaces each non-padding token id by `oov_id` with probability `rate` (training only).

    The OOV embedding is otherwise never trained when every training word is in
    the vocabulary, yet every word outside it reads that vector at inference;
    dropping words to OOV trains it and makes the model lean on the character
    features for unknown words (Lample et al. 2016 replace singletons with UNK
    the same way).

    Args:
        rate: replacement probability in [0, 1).
        oov_id: the id unknown words map to (1 in our `TokenLookup`).
        padding_id: the id never replaced (0).
        seed: random seed.

    Call arguments:
        token_ids: int tensor of any shape.
        training: replace only when True.

    Returns:
        Token ids of the same shape and dtype.

    Example:
    >>> import numpy as np
    >>> ids = np.array([[5, 6, 7, 0]], "int32")
    >>> WordDropout(0.5)(ids, training=False).tolist()
    [[5, 6, 7, 0]]
    """

    def __init__(self, rate, oov_id=1, padding_id=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"word dropout rate must be in [0, 1), got {rate}.")
        self.rate = rate
        self.oov_id = oov_id
        self.padding_id = padding_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, token_ids, training=False):
        if not training or self.rate == 0.0:
            return token_ids
        drop = keras.random.uniform(ops.shape(token_ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(token_ids, self.padding_id))
        return ops.where(drop, ops.cast(self.oov_id, token_ids.dtype), token_ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, oov_id=self.oov_id, padding_id=self.padding_id, seed=self.seed)
        return config
