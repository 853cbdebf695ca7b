"""The text encoder every text family shares: word embedding -> dropout -> stacked (Bi)RNN."""

import dataclasses
from typing import Any

from keras import layers, ops

from rnnzoo.layers.recurrent import recurrent_layer


@dataclasses.dataclass
class RecurrentEncoder:
    """Adds word embedding -> dropout -> stacked (bi)recurrent layers to a functional graph.

    Not a Layer on purpose: it adds its layers, each under a fixed name
    (`word_embedding`, `embedding_dropout`, `rnn_0`, `rnn_0_dropout`, `rnn_1`,
    ...), straight into the caller's functional backbone, as the backbones
    wrote them before it existed. The shipped `.keras` files address weights by
    the backbone's layers (their order and classes in the weights file, their
    names in `weight.path` and `get_layer`); a nested Layer or Model would move
    every weight one level down and the shipped artifacts would no longer load.
    A family adds its own features between the two halves: `embed` the ids,
    concatenate anything else (the tagger's character features), then `encode`.

    Args:
        vocabulary_size: word ids (0 padding, 1 OOV).
        embedding_dim: word embedding size.
        cell: `"vanilla" | "gru" | "lstm"` (see `recurrent_layer`).
        units: recurrent units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: run each layer both ways.
        dropout: dropout on the features and between recurrent layers.
        recurrent_dropout: dropout on the recurrent state.
        activation: the vanilla cell's nonlinearity (ignored by gru/lstm).
        embeddings_initializer: Keras initializer of the word embeddings.
        trainable_embeddings: fine-tune the word embeddings.

    Call arguments:
        token_ids: `(batch, time)` int symbolic tensor (a `keras.Input`), 0 = padding.
        mask: `(batch, time)` bool, True at real tokens; default `token_ids != 0`.
            Batches must be right-padded: a bidirectional stack takes the fast
            path of `Bidirectional(right_padded=True)`, whose outputs at padded
            positions are not zeroed (mask them downstream).
        return_sequences: False for the last layer's final state only.

    Returns:
        `(batch, time, output_dim)`, or `(batch, output_dim)` without
        `return_sequences`; `output_dim = units * (2 if bidirectional else 1)`.

    Example:
    >>> import keras, numpy as np
    >>> token_ids = keras.Input((None,), dtype="int32")
    >>> encoder = RecurrentEncoder(100, embedding_dim=8, cell="gru", units=4)
    >>> model = keras.Model(token_ids, encoder(token_ids))
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape), encoder.output_dim
    ((1, 3, 8), 8)
    """

    vocabulary_size: int
    embedding_dim: int = 50
    cell: str = "lstm"
    units: int = 100
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    activation: Any = "tanh"
    embeddings_initializer: Any = "uniform"
    trainable_embeddings: bool = True

    @property
    def output_dim(self):
        """Size of each output vector: `units`, times 2 when bidirectional."""
        return self.units * (2 if self.bidirectional else 1)

    def embed(self, token_ids):
        """`(batch, time)` ids -> `(batch, time, embedding_dim)` through the `word_embedding` layer."""
        return layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            trainable=self.trainable_embeddings,
            name="word_embedding",
        )(token_ids)

    def encode(self, features, mask, return_sequences=True):
        """`(batch, time, features)` -> dropout -> the recurrent stack, masked by `mask` (right-padded)."""
        x = layers.Dropout(self.dropout, name="embedding_dropout")(features)
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            x = recurrent_layer(
                self.cell,
                self.units,
                return_sequences=return_sequences or not last,
                bidirectional=self.bidirectional,
                recurrent_dropout=self.recurrent_dropout,
                activation=self.activation,
                right_padded=True,  # batches are right-padded: no per-step masking
                name=f"rnn_{i}",
            )(x, mask=mask)
            if not last:
                x = layers.Dropout(self.dropout, name=f"rnn_{i}_dropout")(x)
        return x

    def __call__(self, token_ids, mask=None, return_sequences=True):
        if mask is None:
            mask = ops.not_equal(token_ids, 0)
        return self.encode(self.embed(token_ids), mask, return_sequences=return_sequences)


def encoder_arguments(architecture, embeddings=None):
    """The backbone arguments every text family reads from its config's shared recurrent keys.

    Args:
        architecture: a config `architecture` section (`rnnzoo.schema.RecurrentArchitecture`).
        embeddings: optional `(vocabulary_size, embedding_dim)` matrix of initial word vectors.

    Returns:
        `embedding_dim`, `cell`, `units`, `num_layers`, `bidirectional`,
        `dropout`, `recurrent_dropout`, `activation`, `trainable_embeddings`
        and `embeddings_initializer`, as the backbones' constructors name them.
    """
    import keras

    a = architecture
    return {
        "embedding_dim": a.embedding_dim,
        "cell": a.cell,
        "units": a.units,
        "num_layers": a.layers,
        "bidirectional": a.bidirectional,
        "dropout": a.dropout,
        "recurrent_dropout": a.recurrent_dropout,
        "activation": a.activation,
        "trainable_embeddings": a.trainable_embeddings,
        "embeddings_initializer": keras.initializers.Constant(embeddings) if embeddings is not None else "uniform",
    }
