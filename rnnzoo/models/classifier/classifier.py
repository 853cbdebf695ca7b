"""`TextClassifier`: raw texts in, a label and its probability out (many-to-one)."""

import keras
import numpy as np
from keras import layers, ops

from rnnzoo.layers import encoder_arguments
from rnnzoo.models.classifier.backbone import ClassifierBackbone
from rnnzoo.models.classifier.text import readable_results, warn_read_as
from rnnzoo.models.compiled import CompiledCall, length_sorted_batches
from rnnzoo.models.task import (
    InputError,
    Task,
    check_texts,
    check_batch_size,
    check_positive_int,

)

HEADS = ("binary", "multiclass", "multilabel")
#: On TensorFlow, batches of at most this many texts (and `XLA_MAX_TIME` tokens) run through XLA
#: (`TextClassifier._probabilities_fn`); larger batches run faster without it.
XLA_MAX_BATCH = 8
XLA_MAX_TIME = 512


@keras.saving.register_keras_serializable(package="rnnzoo")
class TextClassifier(Task):
    """A many-to-one text classifier: backbone -> [dense] -> dropout -> label scores.

    Args:
        backbone: a `ClassifierBackbone`.
        preprocessor: a `ClassifierPreprocessor` (its label list fixes the head size).
        head: `"binary"` (one sigmoid unit: P(labels[1]); needs exactly two
            labels), `"multiclass"` (softmax over the labels) or
            `"multilabel"` (one independent sigmoid per label).
        dense_units: size of a ReLU layer before the output (0 = none).
        dropout: dropout before the output layer(s).
        threshold: multilabel decision threshold on each label's probability.

    Call arguments:
        token_ids: `(batch, time)` int32 (0 = padding).

    Returns:
        Logits: `(batch, 1)` for `"binary"`, `(batch, num_labels)` otherwise
        (see `probabilities`).

    `fit`/`evaluate` also take raw data: a list of texts with a list of label
    names (for `"multilabel"`, a list of label-name lists), or a
    `tf.data.Dataset` of `(text, label_id)` pairs. `predict` takes raw texts.

    Example:
    >>> import rnnzoo
    >>> clf = rnnzoo.load("bilstm_imdb")                       # doctest: +SKIP
    >>> clf.predict(["A wonderful, moving film."])             # doctest: +SKIP
    [{'label': 'positive', 'score': 0.95}]
    """

    def __init__(self, backbone, preprocessor, head="binary", dense_units=0, dropout=0.3, threshold=0.5, **kwargs):
        if head not in HEADS:
            raise ValueError(f"head must be one of {list(HEADS)}, got {head!r}.")
        num_labels = len(preprocessor.labels)
        if head == "binary" and num_labels != 2:
            raise ValueError(
                f"a 'binary' head needs exactly 2 labels, got {num_labels}: {preprocessor.labels}; "
                "use head='multiclass' (or 'multilabel') for other label sets."
            )
        inputs = backbone.input
        x = backbone(inputs)
        if dense_units:
            x = layers.Dense(dense_units, activation="relu", name="head_dense")(x)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        logits = layers.Dense(1 if head == "binary" else num_labels, name="logits")(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._keep_arguments(
            backbone, preprocessor, head=head, dense_units=dense_units, dropout=dropout, threshold=threshold
        )

    # ------------------------------------------------------------------ graph
    @property
    def labels(self):
        return self.preprocessor.labels

    def probabilities(self, logits):
        """Logits -> `(batch, num_labels)` probabilities (rows sum to 1 unless multilabel)."""
        logits = ops.cast(logits, "float32")
        if self.head == "binary":
            positive = ops.sigmoid(logits)
            return ops.concatenate([1.0 - positive, positive], axis=-1)
        if self.head == "multiclass":
            return ops.softmax(logits, axis=-1)
        return ops.sigmoid(logits)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y_pred = ops.cast(y_pred, "float32")
        if self.head == "multiclass":
            loss = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        else:
            target = ops.cast(ops.reshape(y, (-1, 1)) if self.head == "binary" else y, "float32")
            loss = keras.losses.binary_crossentropy(target, y_pred, from_logits=True)
        # Mean over texts; all-padding rows (a padded batch's filler: a real text has >= 1 token) do not count.
        texts = ops.cast(ops.any(ops.not_equal(x, 0), axis=1), "float32")
        loss = ops.sum(loss * texts) / ops.maximum(ops.sum(texts), 1.0)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.probabilities(self(x, training=False))

    # ------------------------------------------------------------- raw data
    accepted_inputs = (
        "a str, a list of str, or vectorized token ids (an int array (batch, time), a dict "
        "{'token_ids': array} or a tf.data.Dataset)"
    )

    def _is_raw(self, x):
        # Any Python list counts as raw so that bad items get our error, not one from TensorFlow.
        if isinstance(x, (list, tuple)):
            return True
        return super()._is_raw(x)

    @staticmethod
    def check_texts(texts):
        """A list of `str` from `texts`, or a `ValueError` naming the first bad item (`rnnzoo.models.task.check_texts`)."""
        return check_texts(
            texts, "text", "a text classifier takes str texts. "
            "Convert or drop non-string values (e.g. missing values read as NaN/None) first.",
        )

    def encode_labels(self, labels, count):
        """Label names -> int ids (`(n,)`) or multi-hot float32 `(n, num_labels)` for multilabel."""
        if isinstance(labels, (str, bytes)):
            raise ValueError("labels must be a list with one label per text, got a single string.")
        labels = list(labels)
        if len(labels) != count:
            raise ValueError(f"got {count} texts but {len(labels)} labels; pass exactly one label per text.")
        index = {name: i for i, name in enumerate(self.labels)}
        if self.head == "multilabel":
            encoded = np.zeros((count, len(self.labels)), "float32")
            unknown = set()
            for row, names in enumerate(labels):
                if isinstance(names, str):
                    names = [names]
                for name in names:
                    if name in index:
                        encoded[row, index[name]] = 1.0
                    else:
                        unknown.add(name)
        else:
            unknown = {name for name in labels if not isinstance(name, str) or name not in index}
            if not unknown:
                encoded = np.array([index[name] for name in labels], "int32")
        if unknown:
            shown = sorted(map(repr, unknown))[:10]
            raise ValueError(
                f"labels {', '.join(shown)} are not in this classifier's labels {self.labels}. "
                "To train on a new label set, first call `clf = clf.with_labels(new_label_list)`."
            )
        return encoded

    cache_examples = True  # examples are token ids: tokenize once, not every epoch

    def examples(self, x, y=None, max_length=None):
        """Raw texts (+ label names) -> a dataset of single `(token_ids, label)` examples and its size.

        `make_dataset` (see `Task.make_dataset`) reads: a list of str with
        label names `y` (for multilabel: a list of label-name lists; None
        gives features only, in input order), or a `tf.data.Dataset` of
        `(text, label_id)` pairs (a scalar string and an int id / multi-hot
        vector). Texts are tokenized and truncated once, in blocks (string
        ops cost per call); `max_length` keeps fewer tokens than the
        preprocessor (e.g. to train faster on long reviews: the model still
        reads up to its own `max_length` at inference).
        """
        import tensorflow as tf

        if max_length is not None:
            check_max_length(max_length)
        if isinstance(x, tf.data.Dataset):
            dataset, count = x, None
        else:
            texts = self.check_texts(x)
            if not texts:
                raise ValueError("no texts given.")
            count = len(texts)
            if y is None:
                dataset = tf.data.Dataset.from_tensor_slices(texts)
            else:
                dataset = tf.data.Dataset.from_tensor_slices((texts, self.encode_labels(y, count)))
        preprocessor = self._truncated(max_length)

        def vectorize(texts, labels=None):
            ids = preprocessor(texts)
            out = (ids.to_tensor(default_value=0), ids.row_lengths())
            return out if labels is None else out + (labels,)

        def unpad(ids, length, labels=None):
            return ids[:length] if labels is None else (ids[:length], labels)

        dataset = (
            dataset.batch(512)
            .map(vectorize, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .map(unpad, num_parallel_calls=tf.data.AUTOTUNE)
        )
        return dataset, count

    def _truncated(self, max_length):
        if max_length and max_length < self.preprocessor.max_length:
            return self.preprocessor.truncated(max_length)
        return self.preprocessor

    # ------------------------------------------------------------- predict
    def predict_proba(self, x, batch_size=None, max_length=None):
        """Raw texts -> `(len(texts), num_labels)` float32 NumPy probabilities (in input order).

        Texts are tokenized once, sorted by length and batched, so batches pad
        little; the output is in the input order. Warns (once per call) when
        texts were truncated, or were empty or had no known word (their
        probabilities are near the label prior). Args as in `predict`.
        """
        return self._proba(self.check_texts(x), batch_size, max_length)

    def _proba(self, texts, batch_size, max_length, stacklevel=4):
        """`predict_proba` on checked texts; warnings point `stacklevel` frames up (the caller of predict*)."""
        batch_size = self._batch_size(batch_size)
        max_length = self.preprocessor.max_length if max_length is None else check_max_length(max_length)
        if not texts:
            return np.zeros((0, len(self.labels)), "float32")
        rows, counts = self._token_rows(texts, max_length)
        warn_read_as(rows, counts, max_length, self.preprocessor.truncate, stacklevel=stacklevel)
        return self.proba_from_ids(rows, batch_size=batch_size)

    def token_ids(self, texts, max_length=None):
        """Raw texts -> one int32 NumPy array of token ids per text (tokenized, truncated: what the model reads).

        Args:
            texts: a list of str.
            max_length: tokens kept per text (default: the preprocessor's `max_length`).
        """
        max_length = self.preprocessor.max_length if max_length is None else check_max_length(max_length)
        return self._token_rows(texts, max_length)[0]

    def _token_rows(self, texts, max_length):
        """`token_ids` rows and each text's token count before truncation (int64 NumPy)."""
        import tensorflow as tf

        cache = self.__dict__.get("__preprocess_fn")
        if cache is None or cache[0] is not self.preprocessor:
            cache = (self.preprocessor, {})
            self.__dict__["__preprocess_fn"] = cache  # untracked by Keras
        preprocess = cache[1].get(max_length)
        if preprocess is None:
            preprocessor = self.preprocessor
            if max_length != preprocessor.max_length:
                preprocessor = preprocessor.truncated(max_length)
            # Traced once: run eagerly, the preprocessor's many small string ops cost ~20 ms for one text.
            preprocess = tf.function(preprocessor.call_with_counts, input_signature=[tf.TensorSpec([None], tf.string)])
            cache[1][max_length] = preprocess
        rows, counts = [], []
        for start in range(0, len(texts), 1024):
            ragged, count = preprocess(tf.constant(texts[start : start + 1024]))
            rows.extend(np.split(ragged.flat_values.numpy(), np.cumsum(ragged.row_lengths().numpy())[:-1]))
            counts.append(count.numpy())
        return rows, np.concatenate(counts) if counts else np.zeros(0, "int64")

    def proba_from_ids(self, rows, batch_size=None):
        """`token_ids` rows -> `(len(rows), num_labels)` probabilities: sorted by length, batched, compiled."""
        batch_size = self._batch_size(batch_size)
        out = np.zeros((len(rows), len(self.labels)), "float32")
        for chosen in length_sorted_batches([len(r) for r in rows], batch_size):
            longest = max(len(rows[i]) for i in chosen)
            batch = np.zeros((len(chosen), longest), "int32")
            for row, i in enumerate(chosen):
                batch[row, : len(rows[i])] = rows[i]
            out[chosen] = self._probabilities_fn()(batch)["probabilities"]
        return out

    def _probabilities_fn(self):
        """ids -> `{"probabilities"}`: a `CompiledCall` (TF graph + XLA for small batches, JAX jit, torch eager).

        On TensorFlow, batches of at most `XLA_MAX_BATCH` texts (the
        interactive case) run through XLA, 2-3x faster for one text; from about
        32 texts the plain function is faster. `classifier.small_batch_xla =
        False` turns XLA off. Hidden from Keras' tracking.
        """
        fn = self.__dict__.get("__probabilities_fn")
        if fn is None:
            fn = CompiledCall(
                self,
                outputs=lambda logits: {"probabilities": self.probabilities(logits)},
                use_xla=lambda: self.small_batch_xla,
                xla_max_batch=XLA_MAX_BATCH,
                xla_max_time=XLA_MAX_TIME,
            )
            self.__dict__["__probabilities_fn"] = fn  # untracked by Keras
        return fn

    def predict(self, x, batch_size=None, verbose=0, max_length=None, **kwargs):
        """Classify raw texts.

        Texts longer than `max_length` tokens are truncated as the preprocessor
        says (`truncate`: keep the first, the last, or the first and last
        halves), with a warning that counts them; the cost of a text is bounded
        by `max_length` in the model (tokenizing stays linear in its length).
        Empty or whitespace-only texts, and texts without a known word, are
        classified as unknown words only: their result is near the label prior,
        and a warning says how many there were.

        Args:
            x: a str or a list of str. Vectorized inputs (int token-id arrays,
                a dict `{"token_ids": array}`, a `tf.data.Dataset`) go to
                `keras.Model.predict`. Anything else raises an `InputError`
                (a `TypeError` and `ValueError`) naming the bad item's index.
            batch_size: texts per batch (default 32): a positive int.
            max_length: tokens read per text (default: the preprocessor's
                `max_length`, what the model was configured to read).

        Returns:
            One dict per text: `{"label": name, "score": probability}`; for a
            multilabel head, a list of such dicts (labels at or above
            `threshold`, most probable first). A single str gives a single result.
        """
        self._check_input(x)
        if not self._is_raw(x) and not isinstance(x, (str, bytes)):
            return super().predict(x, batch_size=self._batch_size(batch_size), verbose=verbose, **kwargs)
        single = isinstance(x, (str, bytes))
        probabilities = self._proba(self.check_texts(x), batch_size, max_length)
        results = readable_results(probabilities, self.labels, self.head, self.threshold)
        return results[0] if single else results

    # ------------------------------------------------------------- scoring
    def score(self, x, y, batch_size=None):
        """Accuracy (percent) on labelled raw texts.

        Returns:
            `{"accuracy", "examples", "per_label": {name: {"precision", "recall", "f1", "support"}}}`;
            multilabel adds `"micro_f1"` and its accuracy is the exact-match rate.
        """
        from rnnzoo.metrics import classification_scores, multilabel_scores

        texts = self.check_texts(x)
        batch_size = check_batch_size(batch_size, 128)
        gold = self.encode_labels(y, len(texts))
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        if self.head == "multilabel":
            return multilabel_scores(gold, probabilities >= self.threshold)
        return classification_scores(gold, np.argmax(probabilities, axis=1), self.labels)

    # ------------------------------------------------------------- new labels
    def with_labels(self, labels, head=None):
        """A classifier sharing this backbone (same weights) with a fresh head for `labels`.

        Args:
            labels: the new label names.
            head: the new head kind; by default `"multiclass"` when the current
                head is `"binary"` and there are not exactly two labels, else
                the current head.
        """
        from rnnzoo.models.classifier.preprocessor import ClassifierPreprocessor
        from rnnzoo.text.vectorizers import LabelLookup

        labels = check_label_names(labels)
        if head is None:
            head = "multiclass" if self.head == "binary" and len(labels) != 2 else self.head
        preprocessor = ClassifierPreprocessor(
            self.preprocessor.word_lookup,
            LabelLookup(labels, name="label_lookup"),
            max_length=self.preprocessor.max_length,
            truncate=self.preprocessor.truncate,
            name=self.preprocessor.name,
        )
        new = TextClassifier(
            self.backbone,
            preprocessor,
            head=head,
            dense_units=self.dense_units,
            dropout=self.dropout,
            threshold=self.threshold,
            name=self.name,
        )
        if self.dense_units:
            new.get_layer("head_dense").set_weights(self.get_layer("head_dense").get_weights())
        return self._derive(new)

    # ------------------------------------------------------------- export
    serving_inputs = {"text": ("string", "[batch]", "raw texts (UTF-8)")}
    serving_outputs = {
        "label": ("string", "[batch]", "the most probable label (`predict`'s `label`)"),
        "score": ("float64", "[batch]", "its probability, rounded to 4 decimals (`predict`'s `score`)"),
        "probabilities": ("float32", "[batch, num_labels]", "every label's probability (`predict_proba`), "
                          "columns in the order of `labels`"),
        "labels": ("string", "[batch, num_labels]", "the label names of the `probabilities` columns (the same "
                   "in every row: batch-major so that TF Serving's row format can return it)"),
        "predicted_labels": ("string", "[batch, num_labels]", "multilabel head only: the labels at or above the "
                             "threshold, most probable first (`predict`'s list), '' after them"),
        "predicted_scores": ("float64", "[batch, num_labels]", "multilabel head only: their probabilities, "
                             "rounded to 4 decimals; 0 after them"),
        "num_predicted": ("int64", "[batch]", "multilabel head only: how many labels each row has"),
    }
    _multilabel_outputs = ("predicted_labels", "predicted_scores", "num_predicted")
    serving_example = "A wonderful, moving film."
    serving_note = (
        "Texts are lower-cased, tokenized and truncated to the model's `max_length` tokens inside the graph, as "
        "`predict` does; an empty text is read as one unknown word (a near-prior result)."
    )

    def serving_docs(self):
        docs = super().serving_docs()
        if self.head != "multilabel":
            for name in self._multilabel_outputs:
                docs["outputs"].pop(name)
        return docs

    def serving_signature(self):
        """`serving_default(text: tf.string [batch])` -> everything `predict` returns, and the probabilities.

        `label` and `score` are `predict`'s result (the top label and its
        rounded probability), `probabilities` `predict_proba`'s, `labels` the
        names of its columns; a multilabel head adds `predicted_labels`,
        `predicted_scores` and `num_predicted` (`predict`'s list of labels at
        or above `threshold`). Names, dtypes and shapes in `serving_outputs`.
        Tokenization, truncation and the vocabulary are inside the graph;
        `export` writes it (see `Task.export`).
        """
        import tensorflow as tf

        from rnnzoo.export import tf_at_least_one_row, tf_round

        preprocessor = self.preprocessor
        label_names = tf.constant(self.labels)
        multilabel, threshold = self.head == "multilabel", float(self.threshold)

        def serve(text):
            text, rows = tf_at_least_one_row(text)  # an empty batch runs one "" and returns no row
            probabilities = self.probabilities(self(preprocessor.dense(text), training=False))[:rows]
            best = tf.argmax(probabilities, axis=-1)
            out = {
                "label": tf.gather(label_names, best),
                "score": tf_round(tf.gather(probabilities, best, batch_dims=1)),
                "probabilities": probabilities,
                "labels": tf.tile(label_names[None, :], [rows, 1]),
            }
            if multilabel:
                order = tf.argsort(probabilities, axis=-1, direction="DESCENDING", stable=True)
                ranked = tf.gather(probabilities, order, batch_dims=1)
                chosen = ranked >= threshold
                out["predicted_labels"] = tf.where(chosen, tf.gather(label_names, order), "")
                out["predicted_scores"] = tf.where(chosen, tf_round(ranked), tf.zeros_like(ranked, tf.float64))
                out["num_predicted"] = tf.reduce_sum(tf.cast(chosen, tf.int64), axis=-1)
            return out

        # The vocabulary lives in the lookup layers' hash tables, which must be tracked explicitly.
        return serve, [tf.TensorSpec([None], tf.string, name="text")], [preprocessor, preprocessor.word_lookup]


def check_max_length(max_length):
    """`max_length` (tokens read per input) as a positive int, or an `InputError`."""
    return check_positive_int(max_length, "max_length", "tokens read per text")


def check_label_names(labels):
    """A classifier's new label names as a list: at least 2, unique, all str; an `InputError` otherwise."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise InputError(f"labels must be a list of label names (str), got {type(labels).__name__} ({labels!r:.40}).")
    labels = list(labels)
    bad = [(i, label) for i, label in enumerate(labels) if not isinstance(label, str) or not label]
    if bad:
        i, label = bad[0]
        raise InputError(f"label {i} is {type(label).__name__} ({label!r:.40}); label names must be non-empty str.")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InputError(f"labels must be unique, got {duplicates} more than once in {labels}.")
    if len(labels) < 2:
        raise InputError(
            f"a classifier needs at least 2 labels, got {labels}. To detect one class, use two labels "
            f"such as ['not_{labels[0] if labels else 'x'}', '{labels[0] if labels else 'x'}']."
        )
    return labels


def build_classifier(word_vocabulary, labels, architecture, embeddings=None, max_length=400, truncate="head"):
    """Build an untrained `TextClassifier` from a vocabulary, label names and an architecture config.

    Args:
        word_vocabulary: lower-cased words (without padding/OOV).
        labels: label names (head order; for `"binary"`, the second is the
            positive class).
        architecture: an `ArchitectureConfig` (or anything with its fields).
        embeddings: optional `(len(word_vocabulary) + 2, embedding_dim)` matrix.
        max_length: tokens kept per text; `truncate`: which ones.

    Example:
    >>> from rnnzoo.models.classifier.family import ClassifierArchitecture
    >>> a = ClassifierArchitecture(cell="gru", units=8, embedding_dim=8, head="binary", pooling="max")
    >>> clf = build_classifier(["good", "bad"], ["negative", "positive"], a)
    >>> sorted(clf.predict(["good"])[0])
    ['label', 'score']
    """
    from rnnzoo.models.classifier.preprocessor import make_preprocessor

    a = architecture
    head = a.head if a.head in HEADS else ("binary" if len(labels) == 2 else "multiclass")
    preprocessor = make_preprocessor(word_vocabulary, labels, max_length=max_length, truncate=truncate)
    backbone = ClassifierBackbone(
        vocabulary_size=len(word_vocabulary) + 2, pooling=a.pooling, **encoder_arguments(a, embeddings),
        name="classifier_backbone",
    )
    return TextClassifier(
        backbone, preprocessor, head=head, dense_units=a.dense_units, dropout=a.dropout, name="text_classifier"
    )
