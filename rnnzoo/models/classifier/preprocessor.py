"""Raw text -> the classifier backbone's token ids (TensorFlow side)."""

import keras
import tensorflow as tf

from rnnzoo.models.classifier.text import HTML_BREAK, OOV_ID, TRUNCATIONS
from rnnzoo.models.preprocessor import Preprocessor
from rnnzoo.text.tokenize import tf_tokenize
from rnnzoo.text.vectorizers import LabelLookup, TokenLookup

#: Length-bucket edges of training batches (tokens); buckets above `max_length` are dropped.
BUCKET_BOUNDARIES = (8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 400, 512, 768)


def tokenize_texts(strings):
    """Standardize and tokenize a `(batch,)` string tensor: the classifier's one text pipeline.

    HTML line breaks (`<br />`, as in IMDB) become spaces, text is lower-cased
    (Unicode-aware) and split by `rnnzoo.text.tokenize` rules. Its pure-Python
    twin is `rnnzoo.models.classifier.text.text_tokens`.

    Returns:
        A `tf.RaggedTensor` of tokens, `(batch, None)`.
    """
    strings = tf.strings.regex_replace(strings, HTML_BREAK, " ")
    strings = tf.strings.lower(strings, encoding="utf-8")
    return tf_tokenize(strings)


@keras.saving.register_keras_serializable(package="rnnzoo")
class ClassifierPreprocessor(Preprocessor):
    """Holds a text classifier's vocabulary and label names; maps raw strings to token ids.

    Texts longer than `max_length` tokens are truncated (keeping the first,
    the last, or the first half and last half of `max_length` tokens), so a
    100,000-character review costs no more than a `max_length`-token one. A
    text without any token (empty or whitespace) becomes a single OOV token,
    so the model still returns a (near-prior) prediction for it.

    Args:
        word_lookup: a `TokenLookup` (its words are lower-cased).
        label_lookup: a `LabelLookup` (the class names, in head order).
        max_length: tokens kept per text.
        truncate: `"head" | "tail" | "head_tail"`: which tokens a long text keeps.

    Call arguments:
        strings: `(batch,)` string tensor of raw texts.

    Returns:
        A ragged int32 tensor `(batch, None)` of token ids (1 = OOV), each row
        1 to `max_length` long.

    Example:
    >>> p = make_preprocessor(["good", "film"], ["negative", "positive"], max_length=3)
    >>> p(tf.constant(["A good film!", ""])).to_list()
    [[1, 2, 3], [1]]
    """

    def __init__(self, word_lookup, label_lookup, max_length=400, truncate="head", **kwargs):
        super().__init__(**kwargs)
        if truncate not in TRUNCATIONS:
            raise ValueError(f"truncate must be one of {list(TRUNCATIONS)}, got {truncate!r}.")
        if int(max_length) < 1:
            raise ValueError(f"max_length must be a positive number of tokens, got {max_length}.")
        self.word_lookup = word_lookup
        self.label_lookup = label_lookup
        self.max_length = int(max_length)
        self.truncate = truncate

    def build(self, input_shape=None):
        self.built = True

    @property
    def labels(self):
        return list(self.label_lookup.labels)

    def tokenize(self, strings):
        """`(batch,)` strings -> ragged tokens (before truncation)."""
        return tokenize_texts(strings)

    def call(self, strings):
        return self.call_with_counts(strings)[0]

    def call_with_counts(self, strings):
        """`call`, plus each text's token count before truncation (`(batch,)` int64; 0 = empty text)."""
        ids = tf.cast(self.word_lookup(self.tokenize(strings)), "int32")
        lengths = ids.row_lengths()
        positions = tf.ragged.range(lengths)
        n = tf.cast(self.max_length, lengths.dtype)
        if self.truncate == "head":
            keep = positions < n
        elif self.truncate == "tail":
            keep = positions >= lengths[:, None] - n
        else:
            # Rows of <= max_length tokens satisfy one of the two tests at every position.
            head = n // 2
            keep = (positions < head) | (positions >= lengths[:, None] - (n - head))
        ids = tf.ragged.boolean_mask(ids, keep)
        # Empty texts get one OOV token so every row has a defined state.
        filler = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(tf.cast(lengths == 0, "int64"))], OOV_ID),
            tf.cast(lengths == 0, "int64"),
        )
        return tf.concat([ids, tf.cast(filler, "int32")], axis=1), lengths

    def dense(self, strings):
        """`(batch,)` strings -> `(batch, time)` int32 ids, right-padded with 0."""
        return self(strings).to_tensor(default_value=0)

    # ------------------------------------------------------------- batching (see Task.make_dataset)
    def example_length(self, ids, labels=None):
        return tf.shape(ids)[0]

    def bucket_boundaries(self, max_length=None):
        """`BUCKET_BOUNDARIES` below the tokens read (a bucket holds lengths up to its edge)."""
        limit = min(max_length or self.max_length, self.max_length)
        return [b + 1 for b in BUCKET_BOUNDARIES if b < limit]

    def batch_inputs(self, ids, labels=None):
        """`(token_ids, labels, weight)`; the weight is 0 for all-padding rows (a JAX-padded batch's filler)."""
        if labels is None:
            return ids
        return ids, labels, tf.cast(tf.reduce_any(tf.not_equal(ids, 0), axis=1), "float32")

    def time_axes(self, labelled=True):
        return (1, None, None) if labelled else (1,)

    def vocabularies(self):
        """Readable copies written next to the artifact."""
        return {"words": self.word_lookup.get_vocabulary(), "labels": self.labels}

    def truncated(self, max_length):
        """The same preprocessor (shared vocabularies) keeping at most `max_length` tokens per text."""
        return ClassifierPreprocessor(
            self.word_lookup,
            self.label_lookup,
            max_length=max_length,
            truncate=self.truncate,
            name=f"{self.name}_{max_length}",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "word_lookup": keras.saving.serialize_keras_object(self.word_lookup),
                "label_lookup": keras.saving.serialize_keras_object(self.label_lookup),
                "max_length": self.max_length,
                "truncate": self.truncate,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("word_lookup", "label_lookup"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def make_preprocessor(word_vocabulary, labels, max_length=400, truncate="head"):
    """Build a `ClassifierPreprocessor` from a word list (without padding/OOV) and label names."""
    return ClassifierPreprocessor(
        TokenLookup(word_vocabulary, lowercase=False, name="word_lookup"),
        LabelLookup(labels, name="label_lookup"),
        max_length=max_length,
        truncate=truncate,
        name="classifier_preprocessor",
    )
