"""Raw text / tokens -> the tagger backbone's tensors (TensorFlow side)."""

import keras
import tensorflow as tf

from rnnzoo.text.tokenize import tf_tokenize
from rnnzoo.models.preprocessor import Preprocessor
from rnnzoo.models.tagger.batching import BUCKET_BOUNDARIES, token_features
from rnnzoo.text.vectorizers import CharLookup, LabelLookup, TokenLookup


@keras.saving.register_keras_serializable(package="rnnzoo")
class TaggerPreprocessor(Preprocessor):
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

    def vectorize_numpy(self, token_lists):
        """The same ids as `call`, computed with NumPy and cached dicts.

        `predict` uses it: for a handful of sentences, eager TensorFlow string ops
        cost more than the lookups themselves. Lower-casing matches
        `tf.strings.lower` (ASCII letters only), characters are code points
        (`rnnzoo.models.tagger.batching.token_features`). A sentence that is
        not a list, or a token that is not a str, raises a `TypeError` naming
        it (a str sentence would be read as one token per character).
        """
        cache = self.__dict__.get("__numpy_tables")
        if cache is None:
            words = self.word_lookup.get_vocabulary()
            chars = self.char_lookup.get_vocabulary()
            cache = (
                {w: i for i, w in enumerate(words) if i > 0},
                {c: i for i, c in enumerate(chars) if i > 0},
                {},  # token -> (word id, char ids): running text repeats its tokens
            )
            self.__dict__["__numpy_tables"] = cache
        word_index, char_index, seen = cache
        return token_features(token_lists, word_index, char_index, self.word_lookup.lowercase, self.max_chars, seen)

    def encode_labels(self, tags):
        """`(batch, time)` string tags (ragged or padded with a valid tag) -> int32 ids."""
        if isinstance(tags, tf.RaggedTensor):
            tags = tags.to_tensor(default_value=self.labels[0])
        return tf.cast(self.label_lookup(tags), "int32")

    # ------------------------------------------------------------- batching (see Task.make_dataset)
    def example_length(self, tokens, tags):
        return tf.shape(tokens)[0]

    def bucket_boundaries(self):
        return BUCKET_BOUNDARIES

    def example_padding(self):
        return ("", self.labels[0])

    def batch_inputs(self, tokens, tags):
        """A batch of `(tokens, tags)` strings -> `(features, tag_ids, token_mask)`."""
        return self(tokens), self.encode_labels(tags), tf.cast(tf.not_equal(tokens, ""), "float32")

    def time_axes(self, labelled=True):
        return ({"char_ids": 1, "token_ids": 1}, 1, 1)

    def vocabularies(self):
        """Readable copies written next to the artifact (`labels`: the head's tags, by id)."""
        return {
            "words": self.word_lookup.get_vocabulary(),
            "chars": self.char_lookup.get_vocabulary(),
            "labels": self.labels,
        }

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
