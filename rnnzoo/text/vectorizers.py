"""Vectorizers on `keras.layers.StringLookup` / `TextVectorization`.

They are Keras layers whose vocabularies are part of their config, so they are
saved inside the model (`.keras`) and restored with it. Index 0 is always
padding and index 1 the out-of-vocabulary token (labels have neither).
TensorFlow is needed (string ops); import this module lazily.
"""

import keras
import tensorflow as tf

PAD = ""
OOV = "[UNK]"
START = "[start]"
END = "[end]"


class _LookupLayer(keras.layers.Layer):
    """Base: the state is the vocabulary given at construction or by `adapt`."""

    def build(self, input_shape=None):
        self.built = True


def _as_list(vocabulary):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in vocabulary]


@keras.saving.register_keras_serializable(package="rnnzoo")
class TokenLookup(_LookupLayer):
    """Word token -> id, with configurable standardization.

    Args:
        vocabulary: list of tokens (without padding/OOV), or None to `adapt`.
        lowercase: lower-case tokens before lookup (GloVe is uncased; NER keeps
            case information in its character encoder instead).
        max_tokens: vocabulary cap for `adapt` (most frequent first).

    Call arguments:
        tokens: a string tensor (dense, "" = padding) or `tf.RaggedTensor`.

    Returns:
        int64 ids of the same shape (0 padding, 1 OOV).

    Example:
    >>> lookup = TokenLookup(["pankaj", "munich"])
    >>> lookup(tf.constant([["Pankaj", "in", ""]])).numpy().tolist()
    [[2, 1, 0]]
    """

    def __init__(self, vocabulary=None, lowercase=True, max_tokens=None, **kwargs):
        super().__init__(**kwargs)
        self.lowercase = lowercase
        self.max_tokens = max_tokens
        self._lookup = keras.layers.StringLookup(
            max_tokens=max_tokens,
            mask_token=PAD,
            oov_token=OOV,
            vocabulary=_as_list(vocabulary) if vocabulary is not None else None,
        )

    def standardize(self, tokens):
        return tf.strings.lower(tokens) if self.lowercase else tokens

    def adapt(self, dataset):
        """Learn the vocabulary from a `tf.data.Dataset` of string tokens (streamed)."""
        self._lookup.adapt(dataset.map(self.standardize))

    def get_vocabulary(self):
        return _as_list(self._lookup.get_vocabulary())

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    def call(self, tokens):
        if isinstance(tokens, tf.RaggedTensor):
            return tokens.with_flat_values(self(tokens.flat_values))
        return self._lookup(self.standardize(tokens))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                # Without the reserved padding/OOV entries.
                "vocabulary": self.get_vocabulary()[2:],
                "lowercase": self.lowercase,
                "max_tokens": self.max_tokens,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class CharLookup(_LookupLayer):
    """Tokens -> padded character ids `(..., max_chars)`.

    Args:
        vocabulary: list of characters, or None to `adapt`.
        max_chars: characters kept per token (longer tokens are truncated).

    Call arguments:
        tokens: `(batch, time)` string tensor ("" = padding) or ragged.

    Returns:
        int64 `(batch, time, max_chars)`, 0 padding, 1 unknown character.
    """

    def __init__(self, vocabulary=None, max_chars=20, **kwargs):
        super().__init__(**kwargs)
        self.max_chars = max_chars
        self._lookup = keras.layers.StringLookup(
            mask_token=PAD,
            oov_token=OOV,
            vocabulary=_as_list(vocabulary) if vocabulary is not None else None,
        )

    def adapt(self, dataset):
        """Learn the character set from a `tf.data.Dataset` of string tokens."""
        self._lookup.adapt(dataset.map(lambda t: tf.strings.unicode_split(t, "UTF-8", errors="replace")))

    def get_vocabulary(self):
        return _as_list(self._lookup.get_vocabulary())

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    def call(self, tokens):
        if isinstance(tokens, tf.RaggedTensor):
            tokens = tokens.to_tensor(default_value=PAD)
        chars = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")
        ids = chars.with_flat_values(self._lookup(chars.flat_values))
        dense = ids.to_tensor(default_value=0)
        dense = dense[..., : self.max_chars]
        pad = self.max_chars - tf.shape(dense)[-1]
        rank = len(dense.shape)
        paddings = [[0, 0]] * (rank - 1) + [[0, pad]]
        return tf.pad(dense, paddings)

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": self.get_vocabulary()[2:], "max_chars": self.max_chars})
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class LabelLookup(_LookupLayer):
    """Label strings <-> ids `0..n-1` (no padding, no OOV: unknown labels are errors).

    Args:
        labels: the ordered label names.

    Example:
    >>> LabelLookup(["O", "B-PER"]).decode(tf.constant([1, 0])).numpy().tolist()
    [b'B-PER', b'O']
    """

    def __init__(self, labels, **kwargs):
        super().__init__(**kwargs)
        labels = _as_list(labels)
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"labels must be a non-empty list of unique names, got {labels}.")
        self.labels = labels
        self._encode = keras.layers.StringLookup(vocabulary=labels, num_oov_indices=0, mask_token=None)
        self._decode = keras.layers.StringLookup(
            vocabulary=labels, num_oov_indices=0, mask_token=None, invert=True
        )

    def call(self, labels):
        if isinstance(labels, tf.RaggedTensor):
            return labels.with_flat_values(self._encode(labels.flat_values))
        return self._encode(labels)

    def decode(self, ids):
        return self._decode(ids)

    def get_config(self):
        return {**super().get_config(), "labels": self.labels}


def bag_of_words(corpus, max_tokens=None):
    """The seed lesson's bag-of-words features: a count vector per document.

    Args:
        corpus: list of strings (or a `tf.data.Dataset` of strings).
        max_tokens: vocabulary cap.

    Returns:
        `(features, counts)`: the vocabulary (the features list, most frequent
        first) and a `(documents, len(features))` int NumPy array.

    Example:
    >>> features, counts = bag_of_words(["Dog hates a cat", "Cat hates dog"])
    >>> features
    ['hates', 'dog', 'cat', 'a']
    >>> counts.tolist()
    [[1, 1, 1, 1], [1, 1, 1, 0]]
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_mode="count", standardize="lower_and_strip_punctuation"
    )
    data = corpus if isinstance(corpus, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(list(corpus))
    vectorizer.adapt(data.batch(256))
    # Column 0 of "count" output is the OOV bucket.
    features = _as_list(vectorizer.get_vocabulary())[1:]
    documents = list(corpus.as_numpy_iterator()) if isinstance(corpus, tf.data.Dataset) else list(corpus)
    counts = vectorizer(tf.constant(documents)).numpy()[:, 1:].astype("int64")
    return features, counts
