"""Raw text <-> a language model's token ids (TensorFlow side): word or character level."""

import keras
import numpy as np
import tensorflow as tf

from rnnzoo.models.preprocessor import Preprocessor
from rnnzoo.text.vectorizers import string_tensor

LEVELS = ("word", "char")
PAD = ""
UNK = "<unk>"
EOS = "<eos>"
#: The character that opens a text at character level (the boundary the model saw between lines).
NEWLINE = "\n"
UNK_ID = 1


@keras.saving.register_keras_serializable(package="rnnzoo")
class LanguageModelPreprocessor(Preprocessor):
    """A language model's vocabulary and tokenization, both directions, in the TensorFlow graph.

    Word level splits on whitespace (optionally lower-casing) and ends every
    text with `<eos>` (Mikolov's Penn Treebank convention: each line is a
    sentence followed by `<eos>`; perplexity counts it). Character level reads
    Unicode characters and adds nothing. Each text is read after a boundary
    token, `<eos>` (word) or a newline (char), so a text starts the way a
    sentence or line started in training. Ids: 0 padding, 1 `<unk>` (unknown
    words or characters; a literal `<unk>` in the data, as in PTB, is the same
    token), then the vocabulary.

    Args:
        vocabulary: the tokens, most frequent first, without padding and `<unk>`
            (word level: `<eos>` is added when missing; char level: a newline).
        level: `"word"` or `"char"`.
        lowercase: lower-case text before the lookup.

    Call arguments:
        strings: `(batch,)` string tensor.

    Returns:
        Ragged int32 ids `(batch, None)`: the text's tokens (and `<eos>` at word
        level), without the boundary token.

    Example:
    >>> p = LanguageModelPreprocessor(["the", "cat"], level="word")
    >>> p(tf.constant(["the cat sat", ""])).to_list()
    [[3, 4, 1, 2], [2]]
    >>> p.detokenize([[3, 4, 1]])
    ['the cat <unk>']
    """

    def __init__(self, vocabulary, level="word", lowercase=False, **kwargs):
        super().__init__(**kwargs)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}.")
        vocabulary = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in vocabulary]
        required = EOS if level == "word" else NEWLINE
        vocabulary = [t for t in vocabulary if t not in (PAD, UNK)]
        if required not in vocabulary:
            vocabulary = [required] + vocabulary
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("the vocabulary lists a token twice.")
        self.level = level
        self.lowercase = bool(lowercase)
        self.tokens = [PAD, UNK] + vocabulary
        self._lookup = keras.layers.StringLookup(mask_token=PAD, oov_token=UNK, vocabulary=vocabulary)
        self._table = tf.constant(self.tokens)
        self.boundary_id = self.tokens.index(required)
        self.end_id = self.boundary_id if level == "word" else None

    def build(self, input_shape=None):
        self.built = True

    @property
    def vocabulary_size(self):
        return len(self.tokens)

    def vocabularies(self):
        """`{"tokens": [...]}`, one token a line in the artifact: control characters escaped (a newline as `\\n`)."""
        return {"tokens": [t.encode("unicode_escape").decode("ascii") if not t.isprintable() else t
                           for t in self.tokens]}

    def tokenize(self, strings):
        """`(batch,)` strings -> ragged string tokens (words, or characters)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        if self.level == "word":
            return tf.strings.split(strings)
        return tf.strings.unicode_split(strings, "UTF-8", errors="replace")

    def call(self, strings):
        ids = tf.cast(self._lookup(self.tokenize(strings)), tf.int32)
        if self.level == "word":
            end = tf.fill([ids.nrows(), 1], tf.constant(self.boundary_id, tf.int32))
            ids = tf.concat([ids, tf.RaggedTensor.from_tensor(end)], axis=1)
        return ids

    def ids(self, texts):
        """Python texts -> a list of int32 NumPy id arrays (the model's tokens of each text)."""
        out = []
        for start in range(0, len(texts), 4096):
            ragged = self._encode(string_tensor(texts[start : start + 4096], "text"))
            values, lengths = ragged.flat_values.numpy(), ragged.row_lengths().numpy()
            out.extend(np.split(values, np.cumsum(lengths)[:-1]))
        return out

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def _encode(self, strings):
        return self(strings)

    def stream(self, texts):
        """The texts as one contiguous id stream, opened by the boundary token (int32 NumPy)."""
        pieces = [np.array([self.boundary_id], "int32")] + self.ids(list(texts))
        return np.concatenate(pieces).astype("int32")

    def tf_detokenize(self, ids):
        """`(batch, time)` int ids -> `(batch,)` strings (in the graph); stops at the end token, skips padding."""
        ids = tf.cast(ids, tf.int32)
        if self.end_id is not None:
            ended = tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1, exclusive=True) > 0
            ids = tf.where(ended | tf.equal(ids, self.end_id), tf.zeros_like(ids), ids)
        tokens = tf.gather(self._table, ids)
        ragged = tf.ragged.boolean_mask(tokens, tf.not_equal(ids, 0))
        return tf.strings.reduce_join(ragged, axis=1, separator=" " if self.level == "word" else "")

    def detokenize(self, ids):
        """Rows of ids -> Python strings (see `tf_detokenize`)."""
        ids = tf.ragged.constant([list(map(int, row)) for row in ids], dtype=tf.int32).to_tensor() if not hasattr(
            ids, "shape") else ids
        return [s.decode("utf-8") for s in self.tf_detokenize(ids).numpy().tolist()]

    def time_axes(self, labelled=True):
        return (1, 1) if labelled else 1

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.tokens[2:], "level": self.level,
                "lowercase": self.lowercase}
