"""The classifier backbone: token ids -> embedding -> (Bi)RNN stack -> one pooled vector per text."""

import keras
from keras import layers, ops

from rnnzoo.models.backbone import Backbone
from rnnzoo.layers import RecurrentEncoder

POOLINGS = ("last", "max", "mean", "max_mean")


@keras.saving.register_keras_serializable(package="rnnzoo")
class MaskedPooling(layers.Layer):
    """Max and/or mean over the real (unmasked) time steps of a sequence.

    Args:
        mode: `"max"`, `"mean"` or `"max_mean"` (both, concatenated).

    Call arguments:
        sequence: `(batch, time, dim)` float.
        mask: `(batch, time)` bool, True at real steps.

    Returns:
        `(batch, dim)`, or `(batch, 2 * dim)` for `"max_mean"`. A row without
        any real step pools to zeros.

    Example:
    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [9.0]]], "float32")
    >>> MaskedPooling("max_mean")(x, mask=np.array([[True, True, False]])).numpy().tolist()
    [[3.0, 2.0]]
    """

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean", "max_mean"):
            raise ValueError(f"pooling mode must be 'max', 'mean' or 'max_mean', got {mode!r}.")
        self.mode = mode
        self.supports_masking = True

    def call(self, sequence, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(sequence)[:2], dtype="bool")
        maskf = ops.cast(mask, sequence.dtype)[:, :, None]
        count = ops.sum(maskf, axis=1)
        pooled = []
        if self.mode in ("max", "max_mean"):
            very_negative = ops.full_like(sequence, -1e9)
            biggest = ops.max(ops.where(mask[:, :, None], sequence, very_negative), axis=1)
            pooled.append(ops.where(count > 0, biggest, ops.zeros_like(biggest)))
        if self.mode in ("mean", "max_mean"):
            pooled.append(ops.sum(sequence * maskf, axis=1) / ops.maximum(count, 1.0))
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def compute_mask(self, sequence, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        dim = input_shape[-1]
        return (input_shape[0], None if dim is None else dim * (2 if self.mode == "max_mean" else 1))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="rnnzoo")
class ClassifierBackbone(Backbone):
    """Word embeddings -> stacked (Bi)RNN -> masked pooling; one vector per text.

    The shared `rnnzoo.layers.RecurrentEncoder`, then a pooling over time.

    Token id 0 is padding (masked everywhere: in the recurrences and in the
    pooling), so right-padded batches of any length give the same vector for
    a text as the text alone.

    Args:
        vocabulary_size: word ids (0 padding, 1 OOV).
        embedding_dim: word embedding size (50 for GloVe 6B 50d).
        cell: `"vanilla" | "gru" | "lstm"`.
        units: recurrent units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: run each layer both ways.
        pooling: `"last"` (final state; both directions' final states when
            bidirectional), `"max"`, `"mean"` or `"max_mean"` over time.
        dropout: dropout on the embeddings and between layers.
        recurrent_dropout: dropout on the recurrent state.
        activation: the vanilla cell's nonlinearity.
        trainable_embeddings: fine-tune the word embeddings.
        embeddings_initializer: Keras initializer of the word embeddings (a
            GloVe matrix is passed as `keras.initializers.Constant`).

    Call arguments:
        token_ids: `(batch, time)` int, 0 = padding.

    Returns:
        `(batch, output_dim)` with `output_dim = units * directions` (twice that
        for `"max_mean"`).

    Example:
    >>> import numpy as np
    >>> bb = ClassifierBackbone(100, embedding_dim=8, cell="gru", units=4, pooling="max_mean")
    >>> bb(np.array([[5, 6, 0]], "int32")).shape
    (1, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=50,
        cell="lstm",
        units=64,
        num_layers=1,
        bidirectional=True,
        pooling="max_mean",
        dropout=0.3,
        recurrent_dropout=0.0,
        activation="tanh",
        trainable_embeddings=True,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}.")
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        encoder = RecurrentEncoder(
            vocabulary_size, embedding_dim, cell=cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, dropout=dropout, recurrent_dropout=recurrent_dropout, activation=activation,
            embeddings_initializer=embeddings_initializer, trainable_embeddings=trainable_embeddings,
        )
        mask = ops.not_equal(token_ids, 0)  # the pooling masks padded steps too
        x = encoder(token_ids, mask, return_sequences=pooling != "last")
        if pooling != "last":
            x = MaskedPooling(pooling, name="pooling")(x, mask=mask)
        super().__init__(inputs=token_ids, outputs=x, **kwargs)
        self._keep_arguments(
            vocabulary_size=vocabulary_size, embedding_dim=embedding_dim, cell=cell, units=units,
            num_layers=num_layers, bidirectional=bidirectional, pooling=pooling, dropout=dropout,
            recurrent_dropout=recurrent_dropout, activation=activation, trainable_embeddings=trainable_embeddings,
        )
        self.output_dim = encoder.output_dim * (2 if pooling == "max_mean" else 1)
