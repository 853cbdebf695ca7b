"""The tagger backbone: word + character features -> (Bi)RNN states per token."""

import keras
from keras import layers, ops

from rnnzoo.models.backbone import Backbone
from rnnzoo.layers import RecurrentEncoder, WordDropout


@keras.saving.register_keras_serializable(package="rnnzoo")
class CharEncoder(layers.Layer):
    """Character-level word features: a char CNN (Ma & Hovy) or char BiLSTM (Lample).

    Args:
        vocabulary_size: number of character ids (0 = padding).
        embedding_dim: character embedding size.
        units: output size (CNN filters, or 2 x per-direction LSTM units).
        encoder: `"cnn"` or `"bilstm"`.
        kernel_size: CNN window.

    Call arguments:
        char_ids: `(batch, time, max_chars)` int.

    Returns:
        `(batch, time, units)`.
    """

    def __init__(self, vocabulary_size, embedding_dim=25, units=50, encoder="cnn", kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        if encoder not in ("cnn", "bilstm"):
            raise ValueError(f"char encoder must be 'cnn' or 'bilstm', got {encoder!r}.")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.encoder = encoder
        self.kernel_size = kernel_size
        self.embedding = layers.Embedding(vocabulary_size, embedding_dim, name="char_embedding")
        if encoder == "cnn":
            self.conv = layers.Conv1D(units, kernel_size, padding="same", activation="tanh", name="char_conv")
        else:
            self.rnn = layers.Bidirectional(layers.LSTM(units // 2), name="char_bilstm")

    def build(self, input_shape):
        batch, time, chars = input_shape
        self.embedding.build((None, chars))
        if self.encoder == "cnn":
            self.conv.build((None, chars, self.embedding_dim))
        else:
            self.rnn.build((None, chars, self.embedding_dim))
        self.built = True

    def call(self, char_ids):
        shape = ops.shape(char_ids)
        flat = ops.reshape(char_ids, (-1, shape[-1]))  # (batch*time, chars)
        char_mask = ops.not_equal(flat, 0)
        x = self.embedding(flat)
        if self.encoder == "cnn":
            # tanh(max(z)) == max(tanh(z)) (tanh is increasing): pool the conv's pre-activations
            # over real characters only, then apply the conv's tanh to the pooled vector, which
            # saves a pass over every character position (same output as `self.conv(x)` + max).
            conv = self.conv
            z = ops.conv(x, conv.kernel, strides=1, padding="same") + conv.bias
            # expand_dims, not `[:, :, None]`: LiteRT's builtin strided slice takes no new axis on bools.
            z = ops.where(ops.expand_dims(char_mask, -1), z, -1e4)
            x = conv.activation(ops.max(z, axis=1))
            x = ops.where(ops.expand_dims(ops.any(char_mask, axis=1), -1), x, 0.0)
        else:
            # Padded tokens (no characters) get one fake step so the loop is defined.
            char_mask = ops.logical_or(char_mask, ops.arange(shape[-1])[None, :] == 0)
            x = self.rnn(x, mask=char_mask)
        return ops.reshape(x, (shape[0], shape[1], self.units))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "encoder": self.encoder,
                "kernel_size": self.kernel_size,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class TaggerBackbone(Backbone):
    """Word embeddings (+ char features) -> stacked (Bi)RNN; one vector per token.

    The shared `rnnzoo.layers.RecurrentEncoder` with character features
    concatenated to the word embeddings and optional word dropout on the ids.

    Args:
        vocabulary_size: word ids (0 padding, 1 OOV).
        char_vocabulary_size: character ids, or 0 for no character encoder.
        embedding_dim: word embedding size (50 for GloVe 6B 50d).
        cell: `"vanilla" | "gru" | "lstm"`.
        units: recurrent units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: run each layer both ways.
        dropout: dropout on embeddings and between layers.
        recurrent_dropout: dropout on the recurrent state.
        char_encoder: `"cnn" | "bilstm" | None`.
        char_embedding_dim, char_units: character encoder sizes.
        max_chars: characters per token written by the preprocessor (the char
            input accepts any width: trailing all-padding columns change nothing).
        embeddings_initializer: Keras initializer of the word embeddings (a
            GloVe matrix is passed as `keras.initializers.Constant`).
        trainable_embeddings: fine-tune the word embeddings (False keeps
            pretrained vectors fixed, so words seen in training and words
            only GloVe knows stay in one vector space).
        activation: the vanilla cell's nonlinearity (ignored by gru/lstm).
        word_dropout: training-time probability of reading a word as
            out-of-vocabulary (`rnnzoo.layers.WordDropout`); 0 disables it.

    Call arguments:
        inputs: `{"token_ids": (batch, time) int, "char_ids": (batch, time, max_chars) int}`.

    Returns:
        `(batch, time, units * (2 if bidirectional else 1))`.

    Example:
    >>> import numpy as np
    >>> bb = TaggerBackbone(100, 30, units=8, max_chars=5)
    >>> bb({"token_ids": np.ones((2, 4), "int32"), "char_ids": np.ones((2, 4, 5), "int32")}).shape
    (2, 4, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        char_vocabulary_size=0,
        embedding_dim=50,
        cell="lstm",
        units=100,
        num_layers=1,
        bidirectional=True,
        dropout=0.5,
        recurrent_dropout=0.0,
        char_encoder="cnn",
        char_embedding_dim=25,
        char_units=50,
        max_chars=20,
        embeddings_initializer="uniform",
        trainable_embeddings=True,
        word_dropout=0.0,
        activation="tanh",
        **kwargs,
    ):
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        # Any character width is accepted (`max_chars` is what the preprocessor writes): predict
        # drops the columns that are padding in every token of a batch (less char CNN work).
        char_ids = keras.Input(shape=(None, None), dtype="int32", name="char_ids")
        encoder = RecurrentEncoder(
            vocabulary_size, embedding_dim, cell=cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, dropout=dropout, recurrent_dropout=recurrent_dropout, activation=activation,
            embeddings_initializer=embeddings_initializer, trainable_embeddings=trainable_embeddings,
        )
        mask = ops.not_equal(token_ids, 0)
        word_ids = WordDropout(word_dropout, name="word_dropout")(token_ids) if word_dropout else token_ids
        features = [encoder.embed(word_ids)]
        if char_encoder and char_vocabulary_size:
            features.append(
                CharEncoder(
                    char_vocabulary_size,
                    embedding_dim=char_embedding_dim,
                    units=char_units,
                    encoder=char_encoder,
                    name="char_encoder",
                )(char_ids)
            )
        x = layers.Concatenate(name="features")(features) if len(features) > 1 else features[0]
        x = encoder.encode(x, mask)
        super().__init__(inputs={"token_ids": token_ids, "char_ids": char_ids}, outputs=x, **kwargs)
        self._keep_arguments(
            vocabulary_size=vocabulary_size, char_vocabulary_size=char_vocabulary_size,
            embedding_dim=embedding_dim, cell=cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, dropout=dropout, recurrent_dropout=recurrent_dropout,
            char_encoder=char_encoder, char_embedding_dim=char_embedding_dim, char_units=char_units,
            max_chars=max_chars, trainable_embeddings=trainable_embeddings, word_dropout=word_dropout,
            activation=activation,
        )
        self.output_dim = encoder.output_dim
