"""Portable predictors: an exported model served with ONNX Runtime or LiteRT, text in and results out, no TensorFlow.

`load_portable(directory)` reads a portable export (`rnnzoo.runtime.export_portable`)
and returns a `PortableClassifier`, `PortableTagger` or `PortableLanguageModel`.
Its `predict` takes the inputs the Keras task's `predict` takes (a str, or a
list of str; the tagger also token lists) and returns the same structure,
with the same errors and warnings for bad inputs: the text steps are
rnnzoo's own (`rnnzoo.runtime.processing`), only the tensor model runs
elsewhere (a language model's one step, its greedy decoding loop in NumPy).
It is not a `keras.Model`: no `fit`, no `evaluate`; `rnnzoo.load(name)` (the
default `runtime="keras"`) gives the Keras task.

Speed: tokenization and id lookups are dict lookups (cached per token).
ONNX: one session with all graph optimizations, ONE intra-op thread and no
spin-waiting (ONNX Runtime's LSTM splits a batch's rows over its threads and
scales poorly); the parallelism comes from sub-batches instead: a call's rows
are sorted by length, cut into sub-batches of `SUB_BATCH` rows (16 texts, 8
sentences), each padded to its own longest row only, and run on a pool of
`threads` threads sharing the session (`threads` defaults to the cores this
process may use; `threads=1` runs them inline). Results come back in input
order. A language model's decoding loop has no rows to split: its session
gets `threads` intra-op threads. LiteRT models have one signature per batch
size (`batch_1`, `batch_8`, ...: their recurrences need a fixed batch to run
on builtin ops), a batch is padded to the next one, and runs with `threads`
interpreter threads.

Threads: an ONNX predictor may be called from several threads at once
(ONNX Runtime's `run` is thread-safe; the token caches are plain dicts; the
calls share the sub-batch pool). A LiteRT interpreter is not thread-safe: the
predictor serialises its calls with a lock.

Example:
>>> import rnnzoo
>>> clf = rnnzoo.load("bigru_sst2", runtime="onnx")       # doctest: +SKIP
>>> clf.predict(["A wonderful, moving film."])            # doctest: +SKIP
[{'label': 'positive', 'score': 0.98}]
"""

import concurrent.futures
import os
import threading
import weakref

import numpy as np

from rnnzoo.models.checks import InputError, check_batch_size, check_positive_int, check_texts, describe
from rnnzoo.models.classifier.text import warn_read_as
from rnnzoo.models.language_model.text import top_tokens
from rnnzoo.models.tagger.batching import MAX_LENGTH, read_sentences, tag_sentences, trim_chars
from rnnzoo.runtime.processing import MODEL_FILES, processing_for, read_settings, read_vocabularies

#: The formats a portable predictor runs, and the extra that installs each one's runtime.
EXTRAS = {"onnx": "onnx", "tflite": "tflite"}
#: Rows per ONNX Runtime call, by family: a call's rows sorted by length, cut into sub-batches this big (each padded
#: to its own longest), spread over the predictor's threads. ORT's LSTM costs about the same per row from ~4 rows
#: up, and every row runs to its sub-batch's longest: measured best 16 for the classifier (IMDB reviews), 8 for
#: the tagger (short, varied sentences); see benchmarks/RESULTS.md (bench_serving.py).
SUB_BATCH = {"classifier": 16, "tagger": 8}


def _missing(package, runtime):
    from rnnzoo.utils import MissingPackageError

    return MissingPackageError(
        f"the {runtime!r} runtime needs the {package} package: pip install 'rnnzoo[{EXTRAS[runtime]}]' "
        f"(or pip install {package})."
    )


def require_runtime(runtime):
    """Raise the `MissingPackageError` of `_missing` unless `runtime`'s package can be imported (nothing is imported)."""
    import importlib.util

    module, package = {"onnx": ("onnxruntime", "onnxruntime"), "tflite": ("ai_edge_litert", "ai-edge-litert")}[runtime]
    if importlib.util.find_spec(module) is None:
        raise _missing(package, runtime)


def default_threads():
    """Intra-op threads of the portable runtimes by default: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxModel:
    """An ONNX Runtime session: `{input name: array}` -> `{output name: array}`, and a pool to run sub-batches on.

    The session runs single-threaded by default (`intra_op_threads=1`,
    sequential, no spin-waiting: spinning threads burn CPU time other calls
    could use); `map` runs several calls at once on `threads` threads sharing
    it (ONNX Runtime's `run` is thread-safe and releases the GIL).

    Args:
        path: the `.onnx` file.
        threads: threads of the sub-batch pool (`map`); default `default_threads()`.
        intra_op_threads: ONNX Runtime's intra-op threads per call (default 1).
    """

    runtime = "onnx"
    batch_sizes = None  # any batch size
    thread_safe = True
    sub_batches = True  # predictors cut calls into SUB_BATCH rows and `map` them

    def __init__(self, path, threads=None, intra_op_threads=1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise _missing("onnxruntime", "onnx") from None
        self.threads = threads or default_threads()
        self.intra_op_threads = intra_op_threads or self.threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.version = ort.__version__
        self._pool = None
        self._pool_lock = threading.Lock()

    def __call__(self, inputs):
        outputs = self.session.run(self.output_names, {k: inputs[k] for k in self.input_names})
        return dict(zip(self.output_names, outputs))

    def map(self, fn, items):
        """`[fn(item) for item in items]` in order, on the pool of `threads` threads (inline: one thread or item)."""
        items = list(items)
        if self.threads <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        return list(self._executor().map(fn, items))

    def _executor(self):
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="rnnzoo-onnx")
                weakref.finalize(self, self._pool.shutdown, wait=False)  # idle threads end with the model
            return self._pool


class LiteRTModel:
    """A LiteRT interpreter over the export's `batch_<n>` signatures: any batch, padded or split to their sizes.

    Args:
        path: the `.tflite` file.
        threads: interpreter threads (default `default_threads()`).
        select_tf_ops: the model needs TensorFlow's Select ops (Flex), which
            `ai_edge_litert` does not carry: TensorFlow's `tf.lite.Interpreter`
            runs it then.
    """

    runtime = "tflite"
    thread_safe = False
    sub_batches = False  # batches padded to the signatures' sizes (length_groups), one call at a time

    def __init__(self, path, threads=None, select_tf_ops=False):
        self.threads = threads = threads or default_threads()
        if select_tf_ops:
            try:
                import tensorflow as tf
            except ImportError:
                raise ImportError(
                    f"{path} uses TensorFlow Select ops (Flex), which the ai_edge_litert interpreter cannot run; "
                    "install tensorflow to run it with tf.lite.Interpreter."
                ) from None
            interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
            self.version = f"tensorflow {tf.__version__}"
        else:
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError:
                raise _missing("ai-edge-litert", "tflite") from None
            interpreter = Interpreter(model_path=path, num_threads=threads)
            import ai_edge_litert

            self.version = f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
        self.interpreter = interpreter
        self.runners = {}
        for key in interpreter.get_signature_list():
            if key.startswith("batch_"):
                self.runners[int(key[len("batch_"):])] = interpreter.get_signature_runner(key)
        if not self.runners:
            raise ValueError(f"{path} has no batch_<n> signatures; re-export it with rnnzoo.runtime.export_portable.")
        self.batch_sizes = sorted(self.runners)
        self._lock = threading.Lock()

    def __call__(self, inputs):
        rows = len(next(iter(inputs.values())))
        largest = self.batch_sizes[-1]
        if rows > largest:  # in pieces of the largest signature
            parts = [self({k: v[start : start + largest] for k, v in inputs.items()}) for start in range(0, rows, largest)]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        size = next(b for b in self.batch_sizes if b >= rows)
        if size != rows:
            inputs = {k: np.concatenate([v, np.zeros((size - rows,) + v.shape[1:], v.dtype)]) for k, v in inputs.items()}
        with self._lock:
            outputs = self.runners[size](**inputs)
        return {k: v[:rows] for k, v in outputs.items()}


def length_groups(lengths, min_rows=8, spread=1.25):
    """Split rows sorted by length into runs that each pad little: `[(first, last)]` row ranges.

    A batch pads every row to its longest; for a batch of sentences of 2 to
    60 tokens that is most of the work. A run takes at least `min_rows` rows
    (one model call costs a fraction of a millisecond) and then grows while
    its rows are at most `spread` times its first row's length.

    Example:
    >>> length_groups([1, 1, 2, 3, 9, 10, 30, 31], min_rows=2)
    [(0, 2), (2, 3), (3, 4), (4, 6), (6, 8)]
    """
    groups, first, n = [], 0, len(lengths)
    while first < n:
        last = min(first + min_rows, n)
        limit = spread * max(lengths[first], 1)
        while last < n and lengths[last] <= limit:
            last += 1
        groups.append((first, last))
        first = last
    return groups


def sub_batches(lengths, size):
    """Row indices sorted by length, longest first, in pieces of at most `size` rows (a thread pool balances them).

    Example:
    >>> [p.tolist() for p in sub_batches([3, 9, 1, 9, 5], 2)]
    [[1, 3], [4, 0], [2]]
    """
    order = np.argsort(-np.asarray(lengths, dtype="int64"), kind="stable")
    return [order[start : start + size] for start in range(0, len(order), size)]


def open_model(directory, settings, threads=None):
    """The runtime session of an export folder (`OnnxModel` or `LiteRTModel`), from its `processing.json`.

    ONNX: a single-threaded session with a pool of `threads` for sub-batches;
    a language model (no rows to split) gets `threads` intra-op threads instead.
    """
    runtime = settings["format"]
    if runtime not in MODEL_FILES:
        raise ValueError(f"unknown portable format {runtime!r} in {directory}; formats: {', '.join(MODEL_FILES)}.")
    path = os.path.join(directory, MODEL_FILES[runtime])
    if runtime == "onnx":
        intra_op = None if settings.get("family") == "language_model" else 1
        return OnnxModel(path, threads, intra_op_threads=intra_op)
    return LiteRTModel(path, threads, select_tf_ops=settings.get("tflite", {}).get("select_tf_ops", False))


def load_portable(directory, threads=None):
    """A predictor (`PortableClassifier`, `PortableTagger` or `PortableLanguageModel`) over a portable export folder.

    Args:
        directory: a folder written by `rnnzoo.runtime.export_portable`
            (`model.onnx` or `model.tflite`, `processing.json`, `vocabularies/`).
        threads: how many threads a call may use (default: the cores this
            process may use). ONNX: a call's sub-batches run on a pool of this
            many threads over one single-threaded session (`threads=1`: inline,
            one core); a language model's session uses them as intra-op
            threads. LiteRT: the interpreter's threads.

    Example:
    >>> model = load_portable("exported/bigru_sst2/1")   # doctest: +SKIP
    >>> model.predict("A wonderful film.")                # doctest: +SKIP
    {'label': 'positive', 'score': 0.97}
    """
    directory = os.fspath(directory)
    settings = read_settings(directory)
    processing = processing_for(settings, read_vocabularies(directory))
    cls = {"tagger": PortableTagger, "classifier": PortableClassifier, "language_model": PortableLanguageModel}
    return cls[processing.family](directory, settings, processing, open_model(directory, settings, threads))


class PortablePredictor:
    """Base of the portable predictors: an export's processing around its runtime session.

    Attributes:
        directory: the export folder; `settings`: its `processing.json`.
        runtime: `"onnx"` or `"tflite"`; `quantize`: None or `"int8"`.
        name: the model's zoo name; `family`: `"classifier"` or `"tagger"`.
        labels: the label (or BIO tag) names.
    """

    default_batch_size = 32

    def __init__(self, directory, settings, processing, model):
        self.directory = directory
        self.settings = settings
        self.processing = processing
        self.model = model
        self.runtime = model.runtime
        self.quantize = settings.get("quantize")
        self.name = settings.get("model")
        self.family = processing.family
        self.labels = list(processing.labels)

    def __repr__(self):
        quantized = f", quantize={self.quantize!r}" if self.quantize else ""
        return f"<{type(self).__name__} {self.name!r}: runtime={self.runtime!r}{quantized}, {self.directory}>"

    def _batch_size(self, batch_size):
        return check_batch_size(batch_size, self.default_batch_size)

    def _refuse(self, x, method="predict"):
        hint = " (a file path: `score` reads files, `predict` reads text)" if isinstance(x, os.PathLike) else ""
        raise InputError(f"{method} takes {self.accepted_inputs}; got {describe(x)}{hint}.")


class PortableClassifier(PortablePredictor):
    """A text classifier served by ONNX Runtime or LiteRT: `predict` as `TextClassifier.predict`.

    Also `predict_proba`, `token_ids`, `proba_from_ids` (the model on id rows:
    what benchmarks time without tokenization) and `score`.
    """

    accepted_inputs = (
        "a str, a list of str, or vectorized token ids (an int array (batch, time) or a dict {'token_ids': array})"
    )

    @staticmethod
    def check_texts(texts):
        """A list of `str` from `texts`, or a `ValueError` naming the first bad item (as the Keras classifier's)."""
        return check_texts(
            texts, "text", "a text classifier takes str texts. "
            "Convert or drop non-string values (e.g. missing values read as NaN/None) first.",
        )

    def _vectorized(self, x):
        if isinstance(x, dict):
            if sorted(map(str, x)) != ["token_ids"]:
                raise InputError(
                    f"predict got a dict with keys {sorted(map(str, x))}; a dict input must map this model's "
                    f"inputs ['token_ids'] to arrays. predict takes {self.accepted_inputs}."
                )
            x = x["token_ids"]
        ids = np.asarray(x)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise InputError(f"token ids must be an int array (batch, time), got {ids.dtype} of shape {ids.shape}.")
        return ids.astype("int32")

    def _is_text(self, x):
        return isinstance(x, (str, bytes, list, tuple)) or (isinstance(x, np.ndarray) and x.dtype.kind in "OUS")

    def predict(self, x, batch_size=None, verbose=0, max_length=None):
        """Classify raw texts, as `TextClassifier.predict` does.

        Args:
            x: a str or a list of str (bytes read as UTF-8). Token ids (an int
                array `(batch, time)` or `{"token_ids": array}`) give the
                `(batch, num_labels)` probabilities, as Keras' `predict` does.
                Anything else raises an `InputError` (a `TypeError` and `ValueError`).
            batch_size: texts per batch (default 32).
            max_length: tokens read per text (default: the model's own).

        Returns:
            One `{"label", "score"}` dict per text (a list of them per text
            for a multilabel head); a single str gives a single result.
        """
        if not self._is_text(x):
            if isinstance(x, dict) or (hasattr(x, "shape") and hasattr(x, "dtype")):
                ids = self._vectorized(x)
                return self.proba_from_ids(list(ids), batch_size=batch_size)
            self._refuse(x)
        single = isinstance(x, (str, bytes))
        probabilities = self._proba(self.check_texts(x), batch_size, max_length)
        results = self.processing.results(probabilities)
        return results[0] if single else results

    def predict_proba(self, x, batch_size=None, max_length=None):
        """Raw texts -> `(len(texts), num_labels)` float32 probabilities, in input order."""
        return self._proba(self.check_texts(x), batch_size, max_length)

    def _proba(self, texts, batch_size, max_length, stacklevel=4):
        batch_size = self._batch_size(batch_size)
        p = self.processing
        max_length = p.max_length if max_length is None else check_positive_int(
            max_length, "max_length", "tokens read per text"
        )
        if not texts:
            return np.zeros((0, len(self.labels)), "float32")
        rows, counts = p.encode(texts, max_length)
        warn_read_as(rows, counts, max_length, p.truncate, stacklevel=stacklevel)
        return self.proba_from_ids(rows, batch_size=batch_size)

    def token_ids(self, texts, max_length=None):
        """Raw texts -> the id row the model reads for each (a list of int lists)."""
        return self.processing.encode(self.check_texts(texts), max_length)[0]

    def proba_from_ids(self, rows, batch_size=None):
        """Id rows -> `(len(rows), num_labels)` probabilities, in input order; rows sorted by length and batched.

        ONNX: sub-batches of `min(batch_size, SUB_BATCH["classifier"])` rows,
        each padded to its own longest, run on the model's thread pool.
        LiteRT: batches of `batch_size`, split into runs of similar length.
        """
        batch_size = self._batch_size(batch_size)
        out = np.zeros((len(rows), len(self.labels)), "float32")
        lengths = np.asarray([len(r) for r in rows], dtype="int64")
        if self.model.sub_batches:
            pieces = sub_batches(lengths, min(batch_size, SUB_BATCH["classifier"]))

            def run(piece):
                return self.model(self.processing.batch([rows[i] for i in piece]))["probabilities"]

            for piece, probabilities in zip(pieces, self.model.map(run, pieces)):
                out[piece] = probabilities
            return out
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            for first, last in length_groups(lengths[chosen]):  # runs of similar length: little padding
                part = chosen[first:last]
                out[part] = self.model(self.processing.batch([rows[i] for i in part]))["probabilities"]
        return out

    def score(self, x, y, batch_size=None):
        """Accuracy (percent) and per-label scores on labelled texts, as `TextClassifier.score` (needs rnnzoo.metrics)."""
        from rnnzoo.metrics import classification_scores, multilabel_scores

        texts = self.check_texts(x)
        batch_size = check_batch_size(batch_size, 128)
        index = {name: i for i, name in enumerate(self.labels)}
        labels = list(y)
        if len(labels) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} labels; pass exactly one label per text.")
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        unknown = sorted({repr(n) for names in labels for n in ([names] if isinstance(names, str) else names)
                          if n not in index}) if self.processing.head == "multilabel" else sorted(
            {repr(n) for n in labels if n not in index})
        if unknown:
            raise ValueError(f"labels {', '.join(unknown[:10])} are not in this classifier's labels {self.labels}.")
        if self.processing.head == "multilabel":
            gold = np.zeros((len(labels), len(self.labels)), "float32")
            for row, names in enumerate(labels):
                for name in [names] if isinstance(names, str) else names:
                    gold[row, index[name]] = 1.0
            return multilabel_scores(gold, probabilities >= self.processing.threshold)
        gold = np.array([index[name] for name in labels], "int32")
        return classification_scores(gold, np.argmax(probabilities, axis=1), self.labels)


class PortableTagger(PortablePredictor):
    """A sequence tagger served by ONNX Runtime or LiteRT: `predict` as `BidirectionalTagger.predict`.

    Emissions come from the runtime; tags are decoded in NumPy (Viterbi with
    the CRF's transitions), entities get character offsets.
    """

    accepted_inputs = (
        "a str sentence, a list of str sentences or of token lists (lists of str), or vectorized inputs "
        "(a dict of 'char_ids'/'token_ids' arrays)"
    )

    def decode(self, features, lengths):
        """Feature arrays -> `(tags, confidence)`: the runtime's emissions, decoded in NumPy.

        ONNX: the rows go to the model in sub-batches of `SUB_BATCH["tagger"]`
        rows of similar length (each padded to its own longest) on the
        model's thread pool; their emissions are decoded together, once.
        LiteRT: rows come sorted by length (`tag_sentences`); runs of similar
        length (`length_groups`) go to the model one call each.
        """
        lengths = np.asarray(lengths)
        rows, time = features["token_ids"].shape
        if self.model.sub_batches:
            return self._decode_sub_batches(features, lengths)
        tags = np.zeros((rows, time), "int32")
        confidence = np.zeros((rows, time), "float32")
        groups = length_groups(lengths) if rows > 1 and (np.diff(lengths) >= 0).all() else [(0, rows)]
        for first, last in groups:
            width = max(int(lengths[first:last].max(initial=1)), 1)
            part = {k: v[first:last, :width] for k, v in features.items()}
            if "char_ids" in part:
                part = trim_chars(part, self.processing.char_window)
            emissions = self.model({k: np.ascontiguousarray(v, "int32") for k, v in part.items()})["emissions"]
            tags[first:last, :width], confidence[first:last, :width] = self.processing.decode(
                emissions, lengths[first:last]
            )
        return tags, confidence

    def _decode_sub_batches(self, features, lengths):
        rows, time = features["token_ids"].shape
        pieces = sub_batches(lengths, SUB_BATCH["tagger"])

        def run(piece):
            width = max(int(lengths[piece].max(initial=1)), 1)
            part = {k: v[piece, :width] for k, v in features.items()}
            if "char_ids" in part:
                part = trim_chars(part, self.processing.char_window)
            return self.model({k: np.ascontiguousarray(v, "int32") for k, v in part.items()})["emissions"]

        emissions = None
        for piece, part in zip(pieces, self.model.map(run, pieces)):
            if emissions is None:
                emissions = np.zeros((rows, time, part.shape[-1]), "float32")
            emissions[piece, : part.shape[1]] = part
        if emissions is None:  # no rows
            return np.zeros((rows, time), "int32"), np.zeros((rows, time), "float32")
        return self.processing.decode(emissions, lengths)

    def predict(self, x, batch_size=None, verbose=0, max_length=None):
        """Tag raw sentences or token lists, as `BidirectionalTagger.predict` does.

        Args:
            x: a str, a list of str, or a list of token lists (bytes read as
                UTF-8). A dict of `token_ids`/`char_ids` arrays gives
                `{"tags", "confidence"}` arrays, as Keras' `predict` does.
                Anything else raises an `InputError` naming the bad item.
            batch_size: sentences per batch (default 32).
            max_length: tokens per window (default 256; longer sentences are
                tagged in windows, with a warning).

        Returns:
            One `{"tokens", "tags", "entities"}` dict per input (a single str
            gives a single dict); entities carry `text`, `type`, `score`,
            character offsets `start`/`end` for str inputs, and token indices.
        """
        if isinstance(x, dict):
            self._check_keys(x)
        elif not isinstance(x, (str, bytes, list, tuple)):
            self._refuse(x)
        batch_size = self._batch_size(batch_size)
        max_length = MAX_LENGTH if max_length is None else check_positive_int(max_length, "max_length", "tokens per window")
        if isinstance(x, dict):
            return self._decode_arrays(x)
        single, parsed = read_sentences(x)
        progress = None
        if verbose:
            from rnnzoo.utils import progress
        results = tag_sentences(
            parsed,
            vectorize=self.processing.features,
            decode=self.decode,
            output_tags=self.processing.output_tags,
            batch_size=batch_size,
            max_length=max_length,
            reads_chars=self.processing.reads_chars,
            progress=progress,
        )
        return results[0] if single else results

    def _check_keys(self, x):
        names = ["char_ids", "token_ids"]
        if sorted(map(str, x)) != names:
            raise InputError(
                f"predict got a dict with keys {sorted(map(str, x))}; a dict input must map this model's inputs "
                f"{names} to arrays. predict takes {self.accepted_inputs}."
            )

    def _decode_arrays(self, x):
        features = {k: np.asarray(x[k]) for k in ("char_ids", "token_ids")}
        if features["token_ids"].ndim != 2 or features["char_ids"].ndim != 3:
            raise InputError("token_ids must be (batch, time) and char_ids (batch, time, chars) int arrays.")
        lengths = (features["token_ids"] != 0).sum(axis=1)
        tags, confidence = self.decode(features, lengths)
        return {"tags": tags, "confidence": confidence}

    def score(self, x, y=None, batch_size=None):
        """Entity-level precision/recall/F1 (percent) on tagged data, as `BidirectionalTagger.score`.

        Args:
            x: a CoNLL file path, or token lists with `y` tag lists.
        """
        from rnnzoo.metrics import entity_scores

        check_batch_size(batch_size, self.default_batch_size)
        if isinstance(x, (str, os.PathLike)):
            from rnnzoo.data.conll import read_conll

            if y is not None:
                raise ValueError("pass either a CoNLL path alone, or token lists with tag lists.")
            x, y = read_conll(os.fspath(x))
        if y is None:
            raise ValueError("score needs gold tags (y).")
        sentences = [list(tokens) for tokens in x]
        gold = [list(tags) for tags in y]
        if len(gold) != len(sentences) or any(len(a) != len(b) for a, b in zip(sentences, gold)):
            raise ValueError("score needs one tag per token: token lists and tag lists of the same lengths.")
        predicted = [r["tags"] for r in self.predict(sentences, batch_size=batch_size)]
        return entity_scores(gold, predicted)



class PortableLanguageModel(PortablePredictor):
    """A language model's one-step model on ONNX Runtime or LiteRT, with the decoding loop in NumPy.

    `generate` and `predict` decode greedily: the same continuations as
    `LanguageModel.generate(..., sampler="greedy")` (the random samplers draw
    Keras' random numbers, and beam search keeps its pool in the graph: use
    the Keras model, `runtime="keras"`, for those). `predict_next` gives the
    most probable next tokens. The prompt is read one step at a time from
    zero states, each row's state kept once its prompt is read.
    """

    accepted_inputs = "a str or a list of str (prompts)"

    def __init__(self, directory, settings, processing, model):
        super().__init__(directory, settings, processing, model)
        self.default_batch_size = processing.default_batch_size
        vocabulary = len(processing.tokens)
        # Padding (id 0) is never a token: it never wins a step (as LanguageModel._generate_ids adds).
        self._padding = np.where(np.arange(vocabulary) == 0, -1e9, 0.0).astype("float32")

    @staticmethod
    def check_texts(texts, what="prompt"):
        """A list of `str` from `texts`, or an `InputError` naming the first bad item (as the Keras model's)."""
        return check_texts(texts, what, f"a language model reads str {what}s.")

    def _step(self, ids, states):
        out = self.model({"token_ids": np.ascontiguousarray(ids, "int32"), **states})
        return out["logits"], {n: out[f"next_{n}"] for n in self.processing.states}

    def _prompt_state(self, prompts):
        """States after each prompt's tokens but the last, and that last token (the first one decoding reads)."""
        rows = [self.processing.prompt_ids(p) for p in prompts]
        lengths = np.array([len(r) for r in rows])
        ids = np.zeros((len(rows), int(lengths.max())), "int32")
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        units = self.processing.units
        states = {n: np.zeros((len(rows), units), "float32") for n in self.processing.states}
        for t in range(ids.shape[1] - 1):
            live = (t < lengths - 1)[:, None]
            _, new = self._step(ids[:, t], states)
            states = {n: np.where(live, new[n], states[n]) for n in states}
        return states, ids[np.arange(len(rows)), lengths - 1]

    def _greedy(self, states, tokens, max_length):
        end_id = self.processing.end_id
        rows = len(tokens)
        ids = np.zeros((rows, max_length), "int32")
        scores = np.zeros(rows, "float32")
        finished = np.zeros(rows, bool)
        for step in range(max_length):
            if end_id is not None and finished.all():
                break
            logits, states = self._step(tokens, states)
            logits = logits.astype("float32") + self._padding
            chosen = np.where(finished, 0, logits.argmax(axis=-1)).astype("int32")
            shifted = logits - logits.max(axis=-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            scores += np.where(finished, 0.0, log_probs[np.arange(rows), chosen]).astype("float32")
            ids[:, step] = chosen
            if end_id is not None:
                finished |= chosen == end_id
            tokens = chosen
        return ids, scores

    def generate(self, prompts, max_length=30, sampler="greedy", batch_size=None, return_scores=False):
        """Continue each prompt by up to `max_length` tokens, greedily (as `LanguageModel.generate`).

        Args:
            prompts: a str or a list of str; an empty prompt generates from the start of a text.
            max_length: tokens generated per prompt (word level stops early at `<eos>`).
            sampler: `"greedy"` only (see the class docstring).
            batch_size: prompts per batch (default 20).
            return_scores: also return each continuation's log-probability.

        Returns:
            One continuation (str) per prompt, a str for a str prompt; with
            `return_scores`, `(text, log_prob)` pairs.
        """
        single = isinstance(prompts, (str, bytes))
        prompts = self.check_texts(prompts)
        max_length = check_positive_int(max_length, "max_length", "tokens generated per prompt")
        batch_size = self._batch_size(batch_size)
        if sampler != "greedy":
            raise ValueError(
                f"the portable runtimes decode greedily (sampler='greedy'), got sampler={sampler!r}; beam search "
                "and the random samplers run on the Keras model: rnnzoo.load(name) (runtime='keras')."
            )
        texts, scores = [], []
        for start in range(0, len(prompts), batch_size):
            states, last = self._prompt_state(prompts[start : start + batch_size])
            ids, batch_scores = self._greedy(states, last, max_length)
            texts += self.processing.detokenize(ids)
            scores += [round(float(s), 4) for s in batch_scores]
        results = list(zip(texts, scores)) if return_scores else texts
        return results[0] if single else results

    def predict(self, x, batch_size=None, verbose=0, max_length=30, sampler="greedy", **sampler_kwargs):
        """Greedy continuations of raw prompts (`generate`); the default sampler is greedy here (Keras': top_k)."""
        if not isinstance(x, (str, bytes, list, tuple)) and not (isinstance(x, np.ndarray) and x.dtype.kind in "OUS"):
            self._refuse(x)
        if sampler_kwargs:
            raise ValueError(
                f"the portable runtimes decode greedily and take no sampler options ({', '.join(sorted(sampler_kwargs))}); "
                "beam search and the random samplers run on the Keras model: rnnzoo.load(name) (runtime='keras')."
            )
        return self.generate(x, max_length=max_length, sampler=sampler, batch_size=batch_size)

    def predict_next(self, prompts, top_k=5):
        """The `top_k` most probable next tokens after each prompt, as `LanguageModel.predict_next`.

        Returns:
            `[(token, probability), ...]` most probable first; a list of those for a list of prompts.
        """
        single = isinstance(prompts, (str, bytes))
        prompts = self.check_texts(prompts)
        top_k = check_positive_int(top_k, "top_k", "tokens returned")
        if not prompts:
            return []
        states, last = self._prompt_state(prompts)
        logits, _ = self._step(last, states)
        logits = logits.astype("float32")
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        results = top_tokens(probabilities, self.processing.tokens, top_k)
        return results[0] if single else results
