"""Vectorizers on `keras.layers.StringLookup` / `TextVectorization`.

They are Keras layers whose vocabularies are part of their config, so they are
saved inside the model (`.keras`) and restored with it. Index 0 is always
padding and index 1 the out-of-vocabulary token (labels have neither).
TensorFlow is needed (string ops); import this module lazily.
"""

import keras
import numpy as np
import tensorflow as tf

PAD = ""
OOV = "[UNK]"
START = "[start]"
END = "[end]"


def string_tensor(values, what="input"):
    """Python text (a str, bytes, nested lists of them, a NumPy string array) -> a `tf.string` tensor.

    TensorFlow's own conversion fails on a bad item without saying which one
    (or, for an empty list, makes a float tensor that string ops reject with an
    `InvalidArgumentError`); here a bad item is named by its index.

    Raises:
        TypeError: an item is not a str or bytes (None, a number, NaN, ...).
        ValueError: bytes that are not UTF-8, a str with a lone surrogate
            (UTF-8 cannot hold it), or nested lists of different lengths.

    Example:
    >>> string_tensor([["a", b"b"], ["c", "d"]]).shape
    TensorShape([2, 2])
    """
    if isinstance(values, np.ndarray):
        values = values.tolist()

    def check(value, index):
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                check(item, index + [i])
            return
        where = f"{what} item " + (str(index[0]) if len(index) == 1 else "".join(f"[{i}]" for i in index))
        if isinstance(value, bytes):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"{where} is bytes that are not valid UTF-8: {error}") from None
        elif isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as error:
                    raise ValueError(
                        f"{where} holds {value[error.start]!r} at character {error.start}, a lone surrogate "
                        "that is not valid Unicode text (UTF-8 cannot hold it)."
                    ) from None
        else:
            raise TypeError(f"{where} is {type(value).__name__} ({value!r:.40}); text inputs are str or bytes.")

    check(values, [])
    try:
        return tf.constant(values, dtype=tf.string)
    except ValueError as error:
        raise ValueError(
            f"{what}: nested lists of different lengths ({error}); pad them, or pass a tf.RaggedTensor "
            "(tf.ragged.constant)."
        ) from None


def _is_python_text(x):
    """True for the Python/NumPy inputs `string_tensor` converts (not tensors, nor lists holding tensors)."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "OUS"
    if isinstance(x, (list, tuple)):
        return not any(tf.is_tensor(v) or isinstance(v, tf.RaggedTensor) for v in tf.nest.flatten(x))
    return isinstance(x, (str, bytes))


class StringLayer(keras.layers.Layer):
    """Base of our TensorFlow string-op layers: TF tensors in and out on any Keras backend.

    Keras converts a layer's inputs to the backend's arrays, which cannot hold
    strings on JAX or PyTorch; these layers take TF tensors (and Python lists)
    as they are, so raw-text preprocessing runs on every backend. Python text
    (lists of str, NumPy string arrays) is converted by `string_tensor` first,
    so a bad item is named by its index and an empty list is an empty batch.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    def __call__(self, *args, **kwargs):
        if args and _is_python_text(args[0]):
            args = (string_tensor(args[0], f"{type(self).__name__} input"),) + args[1:]
        return super().__call__(*args, **kwargs)


class _LookupLayer(StringLayer):
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
            return labels.with_flat_values(self(labels.flat_values))
        if tf.executing_eagerly():
            # In a graph StringLookup's own assertion fires; eagerly we can name the culprits.
            known = set(self.labels)
            values = tf.reshape(labels, [-1]).numpy().tolist()
            unknown = sorted({v.decode("utf-8", errors="backslashreplace") for v in values} - known)
            if unknown:
                raise ValueError(
                    f"unknown label(s) {unknown[:10]}; this LabelLookup knows {self.labels}. "
                    "Rebuild it with the full label set."
                )
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
        first) and a `(documents, len(features))` int NumPy array (a corpus
        without any word: `[]` and a `(documents, 0)` array). A document that is not str/bytes raises,
        naming its index (`string_tensor`).

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
    if isinstance(corpus, tf.data.Dataset):
        data, documents = corpus, tf.constant(list(corpus.as_numpy_iterator()), dtype=tf.string)
    else:
        documents = string_tensor(list(corpus), "bag_of_words corpus")
        data = tf.data.Dataset.from_tensor_slices(documents)
    if documents.shape[0] == 0:
        return [], np.zeros((0, 0), "int64")
    vectorizer.adapt(data.batch(256))
    # Column 0 of "count" output is the OOV bucket.
    features = _as_list(vectorizer.get_vocabulary())[1:]
    if not features:  # no document has a word (Keras' lookup table is left uninitialized then)
        return [], np.zeros((int(documents.shape[0]), 0), "int64")
    counts = vectorizer(documents).numpy()[:, 1:].astype("int64")
    return features, counts


@keras.saving.register_keras_serializable(package="rnnzoo")
class SequenceVectorizer(_LookupLayer):
    """Raw strings -> padded token ids: `tf_tokenize`, then a `TokenLookup`.

    Args:
        vocabulary: list of tokens (without padding/OOV), or None to `adapt`.
        lowercase: lower-case tokens before lookup.
        max_tokens: vocabulary cap for `adapt` (counting padding and OOV).
        sequence_length: pad/truncate every row to this many ids; None pads
            to the longest row of the batch.

    Call arguments:
        strings: `(batch,)` string tensor of raw text.

    Returns:
        int64 `(batch, length)` ids, 0 padding, 1 OOV.

    Example:
    >>> v = SequenceVectorizer(["the", "cat"])
    >>> v(tf.constant(["The cat sat.", "cat"])).numpy().tolist()
    [[2, 3, 1, 1], [3, 0, 0, 0]]
    """

    def __init__(self, vocabulary=None, lowercase=True, max_tokens=None, sequence_length=None, **kwargs):
        super().__init__(**kwargs)
        if sequence_length is not None and (not isinstance(sequence_length, int) or sequence_length < 1):
            raise ValueError(f"`sequence_length` must be a positive int or None, got {sequence_length!r}.")
        self.sequence_length = sequence_length
        self.lookup = TokenLookup(vocabulary, lowercase=lowercase, max_tokens=max_tokens)

    def tokens(self, strings):
        """`(batch,)` strings -> ragged `(batch, None)` tokens."""
        from rnnzoo.text.tokenize import tf_tokenize

        return tf_tokenize(tf.convert_to_tensor(strings))

    def adapt(self, dataset):
        """Learn the vocabulary from a `tf.data.Dataset` of raw strings (streamed).

        Elements may be scalars or batches of strings.
        """
        self.lookup.adapt(dataset.map(lambda s: self.tokens(tf.reshape(s, [-1])).flat_values))

    def get_vocabulary(self):
        return self.lookup.get_vocabulary()

    def vocabulary_size(self):
        return self.lookup.vocabulary_size()

    def _pad(self, ids, length):
        if length is None:
            return ids.to_tensor(default_value=0)
        return ids.to_tensor(default_value=0, shape=[None, length])

    def call(self, strings):
        return self._pad(self.lookup(self.tokens(strings)), self.sequence_length)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.get_vocabulary()[2:],
                "lowercase": self.lookup.lowercase,
                "max_tokens": self.lookup.max_tokens,
                "sequence_length": self.sequence_length,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class TargetVectorizer(SequenceVectorizer):
    """Seq2seq targets: wrap each sentence in `[start] ... [end]` and shift by one.

    The vocabulary always holds `[start]` and `[end]` at ids 2 and 3 (after
    padding 0 and OOV 1), whether it is given or learned by `adapt`.

    Args:
        vocabulary, lowercase, max_tokens: as in `SequenceVectorizer`.
        sequence_length: length of the decoder input and of the target
            (the wrapped sentence is padded/truncated to `sequence_length + 1`).

    Call arguments:
        strings: `(batch,)` raw target sentences.

    Returns:
        `(decoder_inputs, targets)`, int64 `(batch, length)` each:
        `decoder_inputs = [start] w_1 ... w_n` and `targets = w_1 ... w_n [end]`
        (0 padded, the same positions in both), so `targets[:, t]` is what the decoder should emit after
        reading `decoder_inputs[:, :t+1]`.

    Example:
    >>> v = TargetVectorizer(["ich", "bin"])
    >>> inputs, targets = v(tf.constant(["Ich bin"]))
    >>> inputs.numpy().tolist(), targets.numpy().tolist()
    ([[2, 4, 5]], [[4, 5, 3]])
    >>> inputs, targets = v(tf.constant(["Ich bin", "bin"]))
    >>> inputs.numpy().tolist(), targets.numpy().tolist()
    ([[2, 4, 5], [2, 5, 0]], [[4, 5, 3], [5, 3, 0]])
    """

    def __init__(self, vocabulary=None, lowercase=True, max_tokens=None, sequence_length=None, **kwargs):
        super().__init__(None, lowercase=lowercase, max_tokens=max_tokens,
                         sequence_length=sequence_length, **kwargs)
        if vocabulary is not None:
            self._set_vocabulary(_as_list(vocabulary))

    def _set_vocabulary(self, words):
        words = [w for w in words if w not in (START, END, PAD, OOV)]
        self.lookup._lookup.set_vocabulary([START, END, *words])

    @property
    def start_id(self):
        return 2

    @property
    def end_id(self):
        return 3

    def adapt(self, dataset):
        """Learn the vocabulary from raw target sentences; `[start]`/`[end]` are added."""
        super().adapt(dataset)
        words = self.get_vocabulary()[2:]
        max_tokens = self.lookup.max_tokens
        if max_tokens is not None:
            words = words[: max(0, max_tokens - 4)]  # padding, OOV, [start], [end]
        self._set_vocabulary(words)

    def call(self, strings):
        tokens = self.tokens(strings)
        rows = tf.shape(tokens.row_lengths())[0]
        start = tf.fill([rows, 1], START)
        end = tf.fill([rows, 1], END)
        wrapped = tf.concat([tf.RaggedTensor.from_tensor(start), tokens, tf.RaggedTensor.from_tensor(end)], axis=1)
        length = None if self.sequence_length is None else self.sequence_length + 1
        ids = self._pad(self.lookup(wrapped), length)
        decoder_inputs, targets = ids[:, :-1], ids[:, 1:]
        # A row shorter than the batch keeps its [end] only in the target, so
        # decoder_inputs != 0 exactly where targets != 0 (one mask for both).
        decoder_inputs = tf.where(decoder_inputs == self.end_id, tf.zeros_like(decoder_inputs), decoder_inputs)
        return decoder_inputs, targets

    def get_config(self):
        # The vocabulary without padding, OOV, [start], [end]; the constructor re-adds them.
        config = super().get_config()
        config["vocabulary"] = self.get_vocabulary()[4:]
        return config
