"""Raw text / tokens -> the tagger backbone's tensors (TensorFlow side)."""

import keras
import tensorflow as tf

from rnnzoo.text.tokenize import tf_tokenize
from rnnzoo.text.vectorizers import CharLookup, LabelLookup, TokenLookup


@keras.saving.register_keras_serializable(package="rnnzoo")
class TaggerPreprocessor(keras.layers.Layer):
    """Holds the word, character and tag vocabularies of a tagger.

    Args:
        word_lookup: a `TokenLookup` (lower-cased words).
        char_lookup: a `CharLookup` (case-preserving characters).
        label_lookup: a `LabelLookup` (BIO tags).

    Call arguments:
        tokens: `(batch, time)` string tensor ("" padding) or ragged tokens.

    Returns:
        `{"token_ids": int32 (batch, time), "char_ids": int32 (batch, time, max_chars)}`.
    """

    def __init__(self, word_lookup, char_lookup, label_lookup, **kwargs):
        super().__init__(**kwargs)
        self.word_lookup = word_lookup
        self.char_lookup = char_lookup
        self.label_lookup = label_lookup

    def build(self, input_shape=None):
        self.built = True

    @property
    def labels(self):
        return list(self.label_lookup.labels)

    @property
    def max_chars(self):
        return self.char_lookup.max_chars

    def call(self, tokens):
        if isinstance(tokens, tf.RaggedTensor):
            tokens = tokens.to_tensor(default_value="")
        return {
            "token_ids": tf.cast(self.word_lookup(tokens), "int32"),
            "char_ids": tf.cast(self.char_lookup(tokens), "int32"),
        }

    def encode_labels(self, tags):
        """`(batch, time)` string tags (ragged or padded with a valid tag) -> int32 ids."""
        if isinstance(tags, tf.RaggedTensor):
            tags = tags.to_tensor(default_value=self.labels[0])
        return tf.cast(self.label_lookup(tags), "int32")

    def from_strings(self, strings):
        """Raw sentences `(batch,)` -> (ragged tokens, features); the serving path."""
        tokens = tf_tokenize(strings)
        return tokens, self(tokens)

    def get_config(self):
        config = super().get_config()
        for name in ("word_lookup", "char_lookup", "label_lookup"):
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("word_lookup", "char_lookup", "label_lookup"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def make_preprocessor(word_vocabulary, char_vocabulary, labels, max_chars=20):
    """Build a `TaggerPreprocessor` from plain vocab lists."""
    return TaggerPreprocessor(
        TokenLookup(word_vocabulary, lowercase=True, name="word_lookup"),
        CharLookup(char_vocabulary, max_chars=max_chars, name="char_lookup"),
        LabelLookup(labels, name="label_lookup"),
        name="tagger_preprocessor",
    )
