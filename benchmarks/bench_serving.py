"""The served path's speed: raw strings in, `predict`'s outputs out, on CPU, vs the baselines of issue 16.

Contenders are callables `predict(texts)` made by a function each, and are
timed **interleaved** (every repeat runs each contender once, in a rotating
order) with the medians reported, as wall-clock rate and per CPU-second of this
process (`time.process_time`, all threads), since other jobs share the CPU.

* `--model bilstm_imdb`: our classifier (raw strings -> probabilities,
  tokenization included) vs the keras.io "Bidirectional LSTM on IMDB" recipe's
  `model.predict` on ids already padded/truncated to 200 tokens (Embedding
  20000x128, BiLSTM 64 with sequences, BiLSTM 64, Dense sigmoid; untrained:
  speed only), called three ways (`model.predict` per call, `predict_on_batch`
  per call, one amortized `model.predict(all texts, batch_size=64)`); ratios
  are to the best of the three per column. Also the same recipe with our layer
  sizes (what bench_classifier.py times). Our path reads at most 200 tokens per text
  (`--max-length`, truncated as the model truncates: head_tail), and again at
  the model's own budget (`data.max_length`, 1000).
* `--model bilstm_ner`: our tagger (raw sentence -> tokens, tags, entities)
  vs the PyTorch twin of bench_ner.py (same weights; raw sentence -> tokens
  with `rnnzoo.text.tokenize` -> tags), at `--threads` and at 1 thread; ratios
  are to the faster of the two per column.

Two call patterns: "batch 64" = one call per 64 texts (a request of 64, texts
in random order; a contender may reorder inside its request), and "batch 1" =
one call per text (latency).

Our served path (the candidates of issue 16 section 2, see RESULTS.md):
the tensor part as a hand-built ONNX graph run by ONNX Runtime (fp32, or int8
by dynamic quantization), the text side in Python/NumPy with a per-word cache,
each request sorted by length into sub-batches run on a thread pool. Before
timing, the script checks every one of ours against Keras (probabilities,
tags) and reports int8's accuracy on the test sets. If `rnnzoo.runtime`
exists, `rnnzoo.load(name, runtime="onnx", quantize=...)` is timed too.

Usage:
    python benchmarks/bench_serving.py --model bilstm_imdb --texts 1024 --repeats 5 --threads 2
    python benchmarks/bench_serving.py --model bilstm_ner --texts 1024 --repeats 5 --append benchmarks/RESULTS.md
"""

import argparse
import concurrent.futures
import datetime
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

#: Rows per ONNX Runtime call inside a request, by model: a request's texts are sorted by length and cut into
#: sub-batches this big (little padding; ORT's LSTM costs about the same per row from ~4 rows up), spread over the
#: threads. Measured best: 8 for the tagger (short, varied sentences), 16 for the classifier (int8, 200 tokens).
SUB_BATCH = {"classifier": 16, "tagger": 8}


# ----------------------------------------------------------------------------------------------- ONNX graphs
def lstm_onnx_weights(bidirectional):
    """A Keras bidirectional LSTM's weights as ONNX `LSTM` inputs `W (2, 4H, I)`, `R (2, 4H, H)`, `B (2, 8H)`.

    Keras orders the gates i, f, c, o; ONNX i, o, f, c. ONNX adds two biases
    (input and recurrent): the Keras bias goes into the first, zeros into the second.
    """
    out = []
    for layer in (bidirectional.forward_layer, bidirectional.backward_layer):
        kernel, recurrent, bias = [np.asarray(w, "float32") for w in layer.get_weights()]
        out.append((_onnx_gates(kernel).T, _onnx_gates(recurrent).T,
                    np.concatenate([_onnx_gates(bias), np.zeros_like(bias)])))
    return [np.ascontiguousarray(np.stack([d[i] for d in out])) for i in range(3)]


def _onnx_gates(m):
    """Columns in Keras' gate order i, f, c, o -> ONNX's i, o, f, c (last axis, 4 blocks)."""
    h = m.shape[-1] // 4
    return np.concatenate([m[..., :h], m[..., 3 * h :], m[..., h : 2 * h], m[..., 2 * h : 3 * h]], axis=-1)


def _model(nodes, name, inputs, outputs, initializers):
    import onnx
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        nodes, name, inputs, outputs, [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items()]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rnnzoo-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def classifier_onnx(clf):
    """`bilstm_imdb`'s tensor part as an ONNX graph: `token_ids (batch, time) int32` -> `probabilities (batch, 2)`.

    Right-padded ids (0 = padding) -> embedding -> one bidirectional `LSTM` op
    with `sequence_lens` (each row's real tokens: the backward direction
    starts at a row's last token, as our Keras path does) -> max and mean over
    the real steps -> dense -> sigmoid. Only for the shipped architecture
    (one BiLSTM layer, max_mean pooling, binary head).
    """
    from onnx import TensorProto, helper

    bb = clf.backbone
    if (bb.cell, bb.num_layers, bb.bidirectional, bb.pooling, clf.head, clf.dense_units) != (
        "lstm", 1, True, "max_mean", "binary", 0
    ):
        raise ValueError("classifier_onnx builds one BiLSTM layer + max_mean pooling + a binary head only.")
    w, r, b = lstm_onnx_weights(bb.get_layer("rnn_0"))
    kernel, bias = [np.asarray(v, "float32") for v in clf.get_layer("logits").get_weights()]
    units = bb.units
    n = helper.make_node
    nodes = [
        n("Transpose", ["token_ids"], ["ids_tb"], perm=[1, 0]),
        n("Gather", ["embedding", "ids_tb"], ["x"]),  # (T, B, E)
        n("Equal", ["token_ids", "zero_i"], ["padding"]),
        n("Not", ["padding"], ["real_bt"]),
        n("Cast", ["real_bt"], ["real_bt_i"], to=TensorProto.INT32),
        n("ReduceSum", ["real_bt_i", "axis1"], ["lengths"], keepdims=0),  # (B,)
        n("LSTM", ["x", "W", "R", "B", "lengths"], ["y"], direction="bidirectional", hidden_size=units),  # (T,2,B,H)
        n("Transpose", ["real_bt"], ["real_tb"], perm=[1, 0]),
        n("Cast", ["real_tb"], ["real_tb_f"], to=TensorProto.FLOAT),
        n("Sub", ["real_tb_f", "one"], ["penalty_"]),  # 0 at real steps, -1 at padding
        n("Mul", ["penalty_", "big"], ["penalty__"]),
        n("Unsqueeze", ["penalty__", "axes13"], ["penalty"]),  # (T, 1, B, 1)
        n("Add", ["y", "penalty"], ["y_masked"]),  # padded outputs are 0 (see below): -1e9 there
        n("ReduceMax", ["y_masked"], ["biggest"], axes=[0], keepdims=0),  # (2, B, H)
        # ONNX Runtime writes zeros past each row's length (checked against Keras): a plain sum is the masked sum.
        n("ReduceSum", ["y", "axis0"], ["total"], keepdims=0),
        n("Cast", ["lengths"], ["lengths_f"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["lengths_f", "axes02"], ["count"]),  # (1, B, 1)
        n("Div", ["total", "count"], ["mean"]),
        n("Concat", ["biggest", "mean"], ["pooled_dbh"], axis=0),  # (4, B, H): max fw, max bw, mean fw, mean bw
        n("Transpose", ["pooled_dbh"], ["pooled_bdh"], perm=[1, 0, 2]),
        n("Reshape", ["pooled_bdh", "flat"], ["pooled"]),
        n("MatMul", ["pooled", "kernel"], ["logit_"]),
        n("Add", ["logit_", "bias"], ["logit"]),
        n("Sigmoid", ["logit"], ["positive"]),
        n("Sub", ["one", "positive"], ["negative"]),
        n("Concat", ["negative", "positive"], ["probabilities"], axis=1),
    ]
    constants = {
        "embedding": np.asarray(bb.get_layer("word_embedding").get_weights()[0], "float32"),
        "W": w, "R": r, "B": b, "kernel": kernel, "bias": bias,
        "zero_i": np.array([0], "int32"), "axis0": np.array([0], "int64"), "axis1": np.array([1], "int64"),
        "axes13": np.array([1, 3], "int64"), "axes02": np.array([0, 2], "int64"), "big": np.array(1e9, "float32"),
        "one": np.array(1.0, "float32"), "flat": np.array([-1, 4 * units], "int64"),
    }
    return _model(
        nodes, "bilstm_classifier",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT32, ["batch", "time"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        constants,
    )


def tagger_onnx(tagger):
    """`bilstm_ner`'s tensor part: `token_ids (B, T)`, `char_ids (B, T, C)` int32 -> `emissions (B, T, tags)`.

    Word embedding + char CNN (as per-tap lookup tables; masked max over real
    characters, then tanh: the Keras layer's order) -> one bidirectional `LSTM` op with
    `sequence_lens` -> dense. The CRF's Viterbi runs in NumPy afterwards.
    """
    from onnx import TensorProto, helper

    bb = tagger.backbone
    enc = bb.get_layer("char_encoder")
    if (bb.cell, bb.num_layers, bb.bidirectional, enc.encoder) != ("lstm", 1, True, "cnn"):
        raise ValueError("tagger_onnx builds one BiLSTM layer over word + char-CNN features only.")
    w, r, b = lstm_onnx_weights(bb.get_layer("rnn_0"))
    conv_kernel, conv_bias = [np.asarray(v, "float32") for v in enc.conv.get_weights()]
    kernel, bias = [np.asarray(v, "float32") for v in tagger.get_layer("emissions").get_weights()]
    kernel_size, half = conv_kernel.shape[0], conv_kernel.shape[0] // 2
    char_embedding = np.asarray(enc.embedding.get_weights()[0], "float32")
    taps = {}
    for k in range(kernel_size):
        table = np.concatenate([char_embedding @ conv_kernel[k], np.zeros((1, conv_kernel.shape[2]), "float32")])
        if k == half:
            table[:-1] += conv_bias
        taps[f"tap_{k}"] = table.astype("float32")
    n = helper.make_node
    nodes = [
        n("Equal", ["token_ids", "zero_i"], ["padding"]),
        n("Not", ["padding"], ["real"]),
        n("Cast", ["real"], ["real_i"], to=TensorProto.INT32),
        n("ReduceSum", ["real_i", "axis1"], ["lengths"], keepdims=0),
        n("Transpose", ["token_ids"], ["ids_tb"], perm=[1, 0]),
        n("Gather", ["word_embedding", "ids_tb"], ["words"]),  # (T, B, E)
        n("Transpose", ["char_ids"], ["chars_tbc"], perm=[1, 0, 2]),
        n("Shape", ["chars_tbc"], ["tbc"]),
        n("Slice", ["tbc", "two_l", "three_l"], ["c"]),
        n("Concat", ["minus_one_l", "c"], ["flat_chars"], axis=0),
        n("Reshape", ["chars_tbc", "flat_chars"], ["chars"]),  # (T*B, C)
        # The char CNN as table lookups: conv(x)[t] = sum_k E[c[t+k-half]] @ K[k] + b, so each tap k reads a
        # precomputed (chars + 1, F) table `tap_k` (the extra last row: zeros, for the conv's zero padding at
        # the word's borders; the bias is folded into the centre tap). No im2col, no GEMM.
        n("Pad", ["chars", "char_pads", "border_id"], ["chars_padded"]),  # (T*B, C + 2 half)
        *[n("Slice", ["chars_padded", f"tap_start_{k}", f"tap_end_{k}", "axis1"], [f"tap_ids_{k}"])
          for k in range(kernel_size)],
        *[n("Gather", [f"tap_{k}", f"tap_ids_{k}"], [f"tap_out_{k}"]) for k in range(kernel_size)],  # (T*B, C, F)
        n("Sum", [f"tap_out_{k}" for k in range(kernel_size)], ["z"]),
        n("Equal", ["chars", "zero_i"], ["char_padding"]),
        n("Cast", ["char_padding"], ["char_padding_f"], to=TensorProto.FLOAT),
        n("Mul", ["char_padding_f", "minus_1e4"], ["penalty_"]),
        n("Unsqueeze", ["penalty_", "two_l"], ["penalty"]),  # (T*B, C, 1)
        n("Add", ["z", "penalty"], ["z_masked"]),  # real z are far above -1e4: max over real characters
        n("ReduceMax", ["z_masked"], ["z_max"], axes=[1], keepdims=0),  # (T*B, F)
        n("Tanh", ["z_max"], ["char_features_"]),
        n("Not", ["char_padding"], ["char_real"]),
        n("Cast", ["char_real"], ["char_real_f"], to=TensorProto.FLOAT),
        n("ReduceMax", ["char_real_f"], ["has_chars"], axes=[1], keepdims=1),  # (T*B, 1)
        n("Mul", ["char_features_", "has_chars"], ["char_features"]),
        n("Slice", ["tbc", "zero_l", "two_l"], ["tb"]),
        n("Concat", ["tb", "minus_one_l"], ["tb_f"], axis=0),
        n("Reshape", ["char_features", "tb_f"], ["char_tb"]),  # (T, B, F)
        n("Concat", ["words", "char_tb"], ["x"], axis=2),
        n("LSTM", ["x", "W", "R", "B", "lengths"], ["y"], direction="bidirectional",
          hidden_size=bb.units),  # (T, 2, B, H)
        n("Transpose", ["y"], ["y_btdh"], perm=[2, 0, 1, 3]),
        n("Shape", ["token_ids"], ["bt"]),
        n("Concat", ["bt", "minus_one_l"], ["bt_f"], axis=0),
        n("Reshape", ["y_btdh", "bt_f"], ["states"]),  # (B, T, 2H)
        n("MatMul", ["states", "kernel"], ["emissions_"]),
        n("Add", ["emissions_", "bias"], ["emissions"]),
    ]
    constants = {
        "word_embedding": np.asarray(bb.get_layer("word_embedding").get_weights()[0], "float32"),
        **taps,
        "char_pads": np.array([0, half, 0, half], "int64"), "border_id": np.array(len(char_embedding), "int32"),
        **{f"tap_start_{k}": np.array([k], "int64") for k in range(kernel_size)},
        **{f"tap_end_{k}": np.array([k - 2 * half if k < 2 * half else 2**62], "int64") for k in range(kernel_size)},
        "W": w, "R": r, "B": b, "kernel": kernel, "bias": bias,
        "zero_i": np.array([0], "int32"), "axis1": np.array([1], "int64"), "zero_l": np.array([0], "int64"),
        "two_l": np.array([2], "int64"), "minus_one_l": np.array([-1], "int64"),
        "three_l": np.array([3], "int64"),
        "minus_1e4": np.array(-1e4, "float32"),
    }
    return _model(
        nodes, "bilstm_tagger",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT32, ["batch", "time"]),
         helper.make_tensor_value_info("char_ids", TensorProto.INT32, ["batch", "time", "chars"])],
        [helper.make_tensor_value_info("emissions", TensorProto.FLOAT, ["batch", "time", len(tagger.model_tags)])],
        constants,
    )


def quantize_int8(model, per_channel=False, reduce_range=False, op_types=None):
    """Dynamic-range int8 (`onnxruntime.quantization.quantize_dynamic`): weights int8, activations quantized per call.

    The LSTM becomes `com.microsoft.DynamicQuantizeLSTM`, MatMuls `MatMulInteger`
    (and Gather's table is stored int8 + DequantizeLinear). `op_types`
    restricts which ops are quantized (e.g. `["LSTM"]`).
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its warnings print whole tensor protos
    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save(model, source)
        quantize_dynamic(
            source, target, weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=reduce_range,
            op_types_to_quantize=op_types,
        )
        return onnx.load(target)


def ort_session(model, threads=1):
    """An ONNX Runtime CPU session: `threads` intra-op threads, no spin-waiting (spinning burns CPU-seconds)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------------------------------ the text side
#: Characters that can make a rule of `rnnzoo.text.tokenize.SPLIT_RULES` fire; a word without any is one token.
_RULE_CHARACTERS = re.compile(r"[!?;\"()\[\]{}<>`,:'.-]")
_HTML_BREAK = re.compile(r"<[bB][rR][\t\n\f\r ]*/?>")  # tf's \s is ASCII whitespace
_WORD = re.compile(r"\S+")
_CACHE_SIZE = 200_000


def split_word(word):
    """`rnnzoo.text.tokenize` of one whitespace-free word: `[(token, start, end)]` relative to the word."""
    from rnnzoo.text.tokenize import tokenize

    if not _RULE_CHARACTERS.search(word):
        return [(word, 0, len(word))]
    return tokenize(word)


class ClassifierText:
    """Raw texts -> the classifier's token-id rows, in Python with a per-word cache (no TensorFlow).

    The same ids as `TextClassifier.token_ids`: HTML breaks -> spaces,
    lower-case, `rnnzoo.text.tokenize` rules, vocabulary lookup (1 = OOV),
    truncation, an empty text -> one OOV id. The rules only look at characters
    inside a whitespace-separated word (and at the spaces around it), so a
    text's tokens are its words' tokens in order; each distinct word is split
    and looked up once.
    """

    def __init__(self, clf, max_length=None):
        self.index = {w: i for i, w in enumerate(clf.preprocessor.word_lookup.get_vocabulary()) if i > 0}
        self.max_length = max_length or clf.preprocessor.max_length
        self.truncate = clf.preprocessor.truncate
        self.cache = {}

    def ids(self, text):
        cache, out = self.cache, []
        for word in _HTML_BREAK.sub(" ", text).lower().split():
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                ids = cache[word] = [self.index.get(t, 1) for t, _, _ in split_word(word)]
            out += ids
        n = self.max_length
        if len(out) > n:
            head = {"head": n, "tail": 0, "head_tail": n // 2}[self.truncate]
            out = out[:head] + (out[len(out) - (n - head) :] if n - head else [])
        return out or [1]


class TaggerText:
    """Raw sentences -> tokens with character offsets and the tagger's word/char ids (Python, per-word cache).

    Same tokens and offsets as `rnnzoo.text.tokenize`, same ids as
    `TaggerPreprocessor.vectorize_numpy` (ASCII lower-casing for words,
    characters as code points, at most `max_chars` per token).
    """

    _ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

    def __init__(self, tagger):
        p = tagger.preprocessor
        self.words = {w: i for i, w in enumerate(p.word_lookup.get_vocabulary()) if i > 0}
        self.chars = {c: i for i, c in enumerate(p.char_lookup.get_vocabulary()) if i > 0}
        self.lower = p.word_lookup.lowercase
        self.max_chars = p.max_chars
        self.cache = {}

    def parse(self, text):
        """`(tokens, offsets, word_ids, char_id_lists)` of one sentence (a str, or a list of tokens: no offsets)."""
        if isinstance(text, (list, tuple)):
            lower = self._ASCII_LOWER if self.lower else {}
            return (list(text), None, [self.words.get(t.translate(lower), 1) for t in text],
                    [[self.chars.get(c, 1) for c in t[: self.max_chars]] for t in text])
        tokens, offsets, word_ids, char_ids = [], [], [], []
        cache = self.cache
        for match in _WORD.finditer(text):
            word = match.group()
            pieces = cache.get(word)
            if pieces is None:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                pieces = cache[word] = [
                    (t, s, e, self.words.get(t.translate(self._ASCII_LOWER) if self.lower else t, 1),
                     [self.chars.get(c, 1) for c in t[: self.max_chars]])
                    for t, s, e in split_word(word)
                ]
            start = match.start()
            for t, s, e, wid, cids in pieces:
                tokens.append(t)
                offsets.append((t, start + s, start + e))
                word_ids.append(wid)
                char_ids.append(cids)
        return tokens, offsets, word_ids, char_ids


def viterbi(emissions, lengths, transitions, start, end):
    """The CRF's best paths, `(batch, time)` int (valid up to each row's length): `crf_decode_numpy`, fewer ops.

    Steps run over the whole batch without masking; each row's final score is
    read at its own last step, and its path is traced back from there.
    """
    batch, steps, _ = emissions.shape
    by_step = list(emissions.transpose(1, 0, 2))  # views, one per step
    ends = {}
    for i, n in enumerate(np.asarray(lengths).tolist()):
        ends.setdefault(n - 1, []).append(i)
    delta = by_step[0] + start
    final = delta.copy() if len(ends) > 1 else None
    pointers = [None] * steps
    for t in range(1, steps):
        scores = delta[:, :, None] + transitions
        pointers[t] = scores.argmax(axis=1)
        delta = scores.max(axis=1) + by_step[t]
        if final is not None and t in ends:
            final[ends[t]] = delta[ends[t]]
    last = ((delta if final is None else final) + end).argmax(axis=1)
    tags = np.empty((steps, batch), "int64")
    rows = np.arange(batch)
    tag = last.copy()
    for t in range(steps - 1, -1, -1):
        if final is not None and t in ends:
            tag[ends[t]] = last[ends[t]]
        tags[t] = tag
        if t:
            tag = pointers[t][rows, tag]
    return tags.T


def _pad_rows(rows):
    out = np.zeros((len(rows), max(len(r) for r in rows)), "int32")
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _sub_batches(lengths, size):
    """Index arrays of at most `size` rows, sorted by length, longest first (so a thread pool balances them)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + size] for i in range(0, len(order), size)]


# ------------------------------------------------------------------------------------------ contenders
class Contender:
    """A named `predict(texts)`; `times` collects `(wall, cpu)` per timed call pattern."""

    def __init__(self, name, predict, ours=False):
        self.name, self.predict, self.ours = name, predict, ours
        self.times = {}


def _runner(threads):
    """`run(fn, items)` -> `[fn(item)]`: on a pool of `threads` threads (ORT releases the GIL), inline for one."""
    if threads <= 1:
        return lambda fn, items: [fn(i) for i in items]
    pool = concurrent.futures.ThreadPoolExecutor(threads)
    return lambda fn, items: list(pool.map(fn, items)) if len(items) > 1 else [fn(items[0])]


def ours_classifier(clf, quantize=None, max_length=None, threads=1):
    """Our served classifier: `predict(texts)` -> `(n, 2)` probabilities (Python text side + ONNX Runtime)."""
    model = classifier_onnx(clf)
    if quantize == "int8":
        model = quantize_int8(model)
    elif quantize == "int8_per_channel":
        model = quantize_int8(model, per_channel=True)
    session = ort_session(model, threads=1)
    text = ClassifierText(clf, max_length)
    run = _runner(threads)

    def probabilities(rows):
        return session.run(None, {"token_ids": _pad_rows(rows)})[0]

    def predict(texts):
        rows = [text.ids(t) for t in texts]
        chosen = _sub_batches([len(r) for r in rows], SUB_BATCH["classifier"])
        out = np.empty((len(rows), 2), "float32")
        for index, probs in zip(chosen, run(probabilities, [[rows[i] for i in c] for c in chosen])):
            out[index] = probs
        return out

    predict.text = text
    return predict


def ours_tagger(tagger, quantize=None, threads=1):
    """Our served tagger: `predict(texts)` -> `[{"tokens", "tags", "entities"}]` as `tagger.predict` returns."""
    from rnnzoo.models.tagger.tagger import _entities

    model = tagger_onnx(tagger)
    if quantize == "int8":
        model = quantize_int8(model)
    session = ort_session(model, threads=1)
    text = TaggerText(tagger)
    crf = tagger.get_layer("crf")
    transitions, start, end = [np.asarray(v, "float32") for v in (crf.transitions, crf.start_transitions,
                                                                   crf.end_transitions)]
    output_tags = tagger.output_tags
    window = tagger.backbone.get_layer("char_encoder").kernel_size // 2
    run = _runner(threads)

    def emissions_of(parsed):
        token_ids = _pad_rows([p[2] for p in parsed])
        width = min(text.max_chars, max(len(c) for p in parsed for c in p[3]) + window)
        char_ids = np.zeros(token_ids.shape + (width,), "int32")
        for i, p in enumerate(parsed):
            for j, c in enumerate(p[3]):
                char_ids[i, j, : len(c)] = c
        return session.run(None, {"token_ids": token_ids, "char_ids": char_ids})[0]

    def predict(texts):
        parsed = [text.parse(t) for t in texts]
        results = [{"tokens": [], "tags": [], "entities": []} for _ in texts]
        live = [i for i, p in enumerate(parsed) if p[0]]
        if not live:
            return results
        lengths = [len(parsed[i][0]) for i in live]
        chosen = _sub_batches(lengths, SUB_BATCH["tagger"])
        # The model per sub-batch; the decoding once for the whole request (fewer NumPy calls).
        emissions = np.zeros((len(live), max(lengths), len(transitions)), "float32")
        for rows, e in zip(chosen, run(emissions_of, [[parsed[live[r]] for r in c] for c in chosen])):
            emissions[rows, : e.shape[1]] = e
        tags = viterbi(emissions, lengths, transitions, start, end)
        shifted = np.exp(emissions - emissions.max(axis=-1, keepdims=True))
        confidence = np.take_along_axis(shifted, tags[..., None], axis=-1)[..., 0] / shifted.sum(axis=-1)
        for row, i in enumerate(live):
            tokens, offsets = parsed[i][0], parsed[i][1]
            n = len(tokens)
            names = [output_tags[k] for k in tags[row, :n].tolist()]
            results[i] = {"tokens": tokens, "tags": names,
                          "entities": _entities(texts[i], tokens, offsets, names, confidence[row, :n])}
        return results

    predict.text = text
    return predict


def runtime_contender(name, kind, call_options=None, **options):
    """`rnnzoo.load(name, runtime=kind, **options)`'s predictor when `rnnzoo.runtime` exists, else None.

    Classifiers: its `predict_proba(texts, **call_options)`; taggers: its `predict(texts, **call_options)`.
    """
    try:
        import rnnzoo.runtime  # noqa: F401
    except ImportError:
        return None
    import rnnzoo

    predictor = rnnzoo.load(name, runtime=kind, **options)
    call_options = call_options or {}
    method = predictor.predict_proba if hasattr(predictor, "predict_proba") else predictor.predict

    def predict(texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return method(texts, **call_options)

    return predict


def keras_recipe(layer_sizes="keras_io", clf=None, maxlen=200, threads=2):
    """The keras.io recipe's `model.predict` on ids pre-padded to `maxlen` (its ids come from our tokenizer).

    `layer_sizes="keras_io"`: Embedding(20000, 128) -> BiLSTM 64 (sequences)
    -> BiLSTM 64 -> Dense sigmoid, as published; `"ours"`: one BiLSTM with
    bilstm_imdb's sizes (what bench_classifier.py times). Untrained weights.
    Returns `(predict(texts), predict_on_batch(texts), predict_batched(texts))`
    (the last: one `predict(batch_size=64)` over all the texts it is given),
    all on ids vectorized outside the timing (the recipe vectorizes once, up front).
    """
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    if layer_sizes == "keras_io":
        vocabulary = 20000
        h = keras.layers.Embedding(vocabulary, 128)(inputs)
        h = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(h)
        h = keras.layers.Bidirectional(keras.layers.LSTM(64))(h)
    else:
        a = clf.backbone
        vocabulary = a.vocabulary_size
        h = keras.layers.Embedding(a.vocabulary_size, a.embedding_dim)(inputs)
        h = keras.layers.Bidirectional(keras.layers.LSTM(a.units))(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    padded = {}

    def ids(texts):
        key = tuple(texts)
        if key not in padded:  # vectorized once per text list, outside the timing (see `prepare`)
            rows = [np.minimum(r, vocabulary - 1) for r in clf.token_ids(list(texts), max_length=100_000)]
            padded[key] = keras.utils.pad_sequences(rows, maxlen=maxlen)  # pre-padding, pre-truncation
        return padded[key]

    def predict(texts):
        return model.predict(ids(texts), batch_size=len(texts), verbose=0)

    def predict_on_batch(texts):
        return model.predict_on_batch(ids(texts))

    def predict_batched(texts):  # one `predict` over all texts, 64 per batch (its per-call overhead amortized)
        return model.predict(ids(texts), batch_size=64, verbose=0)

    predict.prepare = predict_on_batch.prepare = predict_batched.prepare = ids
    return predict, predict_on_batch, predict_batched


def torch_tagger_contender(tagger, threads):
    """The PyTorch twin of bench_ner.py on raw sentences: `rnnzoo.text.tokenize`, then its `tag(token_lists)`."""
    import torch
    from bench_ner import torch_tagger

    from rnnzoo.text import tokenize

    _, _, tag = torch_tagger(tagger)

    def predict(texts):
        torch.set_num_threads(threads)
        token_lists = [[t for t, _, _ in tokenize(s)] for s in texts]
        order = sorted(range(len(texts)), key=lambda i: len(token_lists[i]))
        out = [None] * len(texts)
        live = [i for i in order if token_lists[i]]
        for i, tags in zip(live, tag([token_lists[i] for i in live]) if live else []):
            out[i] = tags
        return [o or [] for o in out]

    return predict


# ------------------------------------------------------------------------------------------ timing
def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def run_interleaved(contenders, patterns, repeats):
    """Every repeat times every (contender, pattern), contenders in a rotating order; warm-up first."""
    for c in contenders:
        for name, (fn, _) in patterns.items():
            fn(c)()
            c.times[name] = []
    for r in range(repeats):
        shift = r % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            for name, (fn, _) in patterns.items():
                c.times[name].append(timed(fn(c)))
        print(f"repeat {r + 1}/{repeats} done", flush=True)


def rates(times, count):
    return count / statistics.median(t[0] for t in times), count / statistics.median(t[1] for t in times)


def table(contenders, patterns, baselines):
    """Markdown rows: per pattern, rate wall / per CPU-s and the ratio to the best of `baselines` (higher is better).

    The best baseline is taken per pattern and per measure (wall, CPU).
    """
    head = "| contender | " + " | ".join(
        f"{p}: {unit} wall / per CPU-s | vs baseline" for p, (_, (_, unit)) in patterns.items()
    ) + " |"
    lines = [head, "|---" * (1 + 2 * len(patterns)) + "|"]
    best = {}
    for p, (_, (count, _)) in patterns.items():
        r = [rates(b.times[p], count) for b in baselines]
        best[p] = (max(x[0] for x in r), max(x[1] for x in r))
    for c in contenders:
        cells = []
        for p, (_, (count, _)) in patterns.items():
            wall, cpu = rates(c.times[p], count)
            cells += [f"{wall:.0f} / {cpu:.0f}", f"**{wall / best[p][0]:.2f}x** / **{cpu / best[p][1]:.2f}x**"]
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------------------------------ models
def keras_quiet(clf, max_length):
    """`clf.predict_proba` at `max_length` tokens, without its per-call truncation warning."""

    def predict(texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return clf.predict_proba(texts, batch_size=64, max_length=max_length)

    return predict


def bench_classifier(args):
    import tensorflow as tf

    import rnnzoo
    from rnnzoo.data.paths import dataset_path
    from rnnzoo.data.tables import name_labels, read_table

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    clf = rnnzoo.load("bilstm_imdb")
    all_texts, all_labels = read_table(dataset_path("imdb", "test.csv.gz"), "csv")
    all_labels = name_labels(all_labels, clf.labels)
    chosen = random.Random(0).sample(range(len(all_texts)), max(args.texts, args.check))
    texts = [all_texts[i] for i in chosen[: args.texts]]
    check = [all_texts[i] for i in chosen[: args.check]]
    gold = np.array([clf.labels.index(all_labels[i]) for i in chosen[: args.check]])
    own = clf.preprocessor.max_length
    budget = args.max_length

    # Correctness first: fp32 within 1e-4 of Keras, int8 agreement and test accuracy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the truncation warnings
        keras_probs = {m: clf.predict_proba(check, max_length=m) for m in (budget, own)}
    report = []
    for quant in (None, "int8", "int8_per_channel"):
        for m in (budget, own):
            mine = ours_classifier(clf, quant, m, args.threads)(check)
            diff = float(np.abs(mine - keras_probs[m]).max())
            agree = float(np.mean(mine.argmax(1) == keras_probs[m].argmax(1)))
            acc = float(np.mean(mine.argmax(1) == gold))
            report.append(f"| {quant or 'fp32'} | {m} | {diff:.2e} | {100 * agree:.2f}% | {100 * acc:.2f}% |")
    keras_acc = {m: float(np.mean(keras_probs[m].argmax(1) == gold)) for m in keras_probs}
    print("\n".join(report))

    # Tokenization cost (64 reviews), cold and warm cache.
    tok = ClassifierText(clf, budget)
    blocks = [texts[i : i + 64] for i in range(0, len(texts) - 63, 64)]
    start = time.process_time()
    for b in blocks:
        [tok.ids(t) for t in b]
    cold = (time.process_time() - start) / len(blocks)
    warm = statistics.median(timed(lambda b=b: [tok.ids(t) for t in b])[1] for b in blocks)

    keras_io, keras_io_on_batch, keras_io_batched = keras_recipe("keras_io", clf, threads=args.threads)
    same_sizes, _, _ = keras_recipe("ours", clf, threads=args.threads)
    batched = Contender("keras.io recipe, ONE `model.predict(all texts, batch_size=64)` (batch-1 column: "
                        "`predict` per text)", keras_io_batched)
    batched.all_at_once = True
    contenders = [
        Contender("keras.io recipe `model.predict` per call (ids pre-padded to 200)", keras_io),
        Contender("keras.io recipe `predict_on_batch` per call (ids pre-padded to 200)", keras_io_on_batch),
        batched,
        Contender("recipe with bilstm_imdb's sizes, `model.predict` (ids pre-padded to 200)", same_sizes),
        Contender(f"bilstm_imdb Keras `predict_proba`, {budget} tokens", keras_quiet(clf, budget)),
    ]
    for m in (budget, own):
        for quant in (None, "int8"):
            contenders.append(Contender(f"ours: ONNX Runtime {quant or 'fp32'}, {m} tokens",
                                        ours_classifier(clf, quant, m, args.threads), ours=True))
    for m in (budget, own):
        for quant in (None, "int8"):
            runtime = runtime_contender("bilstm_imdb", "onnx", {"batch_size": 64, "max_length": m},
                                        quantize=quant, threads=args.threads)
            if runtime is not None:
                contenders.append(Contender(f"rnnzoo.load(..., runtime='onnx', quantize={quant!r}), {m} tokens",
                                            runtime, ours=True))
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    singles = texts[: args.singles]
    singles_lists = [[s] for s in singles]
    for c in contenders:  # the recipe's ids: vectorized once, outside the timing
        for t in batches + singles_lists + [texts]:
            getattr(c.predict, "prepare", lambda t: None)(t)

    def batch64(c):
        if getattr(c, "all_at_once", False):
            return lambda: c.predict(texts)
        return lambda: [c.predict(b) for b in batches]

    patterns = {
        "batch 64": (batch64, (len(texts), "texts/s")),
        "batch 1": (lambda c: lambda: [c.predict(s) for s in singles_lists], (len(singles), "texts/s")),
    }
    run_interleaved(contenders, patterns, args.repeats)
    lines = [
        f"bilstm_imdb vs the keras.io recipe: {len(texts)} random IMDB test reviews; batch 64 = one call per 64 "
        f"reviews, batch 1 = one call per review ({len(singles)} reviews). Medians of {args.repeats} interleaved "
        f"repeats; {args.threads} threads allowed on every side; {os.cpu_count()} CPUs ({platform.machine()}), "
        f"load average {os.getloadavg()[0]:.1f} at the end (shared machine). Our rows read raw strings "
        "(tokenization included); the recipe's start from padded ids. Ratios are to the best of the three "
        "keras.io-recipe rows in each column.",
        "",
        *table(contenders, patterns, contenders[:3]),
        "",
        f"Tokenization + lookup of 64 reviews (`ClassifierText`, {budget} tokens): {1000 * cold:.1f} ms with a "
        f"cache filling from empty, {1000 * warm:.1f} ms warm (CPU time).",
        "",
        f"Predictions on {len(check)} of these reviews vs Keras `predict_proba` at the same budget (Keras accuracy: "
        + ", ".join(f"{100 * v:.2f}% at {m}" for m, v in keras_acc.items()) + "):",
        "",
        "| ours | tokens | max abs prob diff | label agreement | accuracy |",
        "|---|---|---|---|---|",
        *report,
    ]
    return lines


def bench_tagger(args):
    import tensorflow as tf
    import torch

    import rnnzoo
    from rnnzoo.data.conll import read_conll
    from rnnzoo.data.paths import dataset_path
    from rnnzoo.metrics import entity_scores
    from rnnzoo.models.tagger.spans import iobes_tag_to_bio

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tagger = rnnzoo.load("bilstm_ner")
    sentences, gold = read_conll(dataset_path("conll2003", "test.txt"))
    raw_all = [" ".join(s) for s in sentences]

    # Correctness on the whole test set: tokens, tags identical (fp32), agreement and F1 (int8).
    # Raw strings (retokenized): identical results; gold token lists: test F1.
    keras_out = tagger.predict(raw_all, batch_size=64)
    keras_tags = [r["tags"] for r in keras_out]
    keras_gold_tokens = [r["tags"] for r in tagger.predict(sentences, batch_size=64)]
    report = []
    tokens = sum(len(t) for t in keras_tags)
    bio = lambda tag_lists: [[iobes_tag_to_bio(t) for t in tags] for tags in tag_lists]  # noqa: E731
    for quant in (None, "int8"):
        ours = ours_tagger(tagger, quant, args.threads)
        mine = ours(raw_all)
        same = sum(a == b for a, b in zip(mine, keras_out))
        same_tokens = all(a["tokens"] == b["tokens"] for a, b in zip(mine, keras_out))
        agree = sum(x == y for a, b in zip(mine, keras_tags) for x, y in zip(a["tags"], b)) / tokens
        f1 = entity_scores(gold, bio(r["tags"] for r in ours(sentences)))["f1"]
        report.append(f"| {quant or 'fp32'} | {same_tokens} | {100 * agree:.3f}% | {same}/{len(raw_all)} "
                      f"| {f1:.2f} |")
    keras_f1 = entity_scores(gold, bio(keras_gold_tokens))["f1"]
    twin_tags = torch_tagger_contender(tagger, args.threads)(raw_all)
    twin_agree = sum(x == y for a, b in zip(twin_tags, keras_tags) for x, y in zip(a, b)) / tokens
    print("\n".join(report))

    order = random.Random(0).sample(range(len(raw_all)), min(args.texts, len(raw_all)))
    texts = [raw_all[i] for i in order]
    contenders = [
        Contender(f"PyTorch {torch.__version__} twin, {args.threads} threads (raw string -> tokenize -> tags)",
                  torch_tagger_contender(tagger, args.threads)),
        Contender(f"PyTorch {torch.__version__} twin, 1 thread", torch_tagger_contender(tagger, 1)),
        Contender("bilstm_ner Keras `predict`", lambda t: tagger.predict(t, batch_size=64)),
        Contender("ours: ONNX Runtime fp32", ours_tagger(tagger, None, args.threads), ours=True),
        Contender("ours: ONNX Runtime int8", ours_tagger(tagger, "int8", args.threads), ours=True),
    ]
    for quant in (None, "int8"):
        runtime = runtime_contender("bilstm_ner", "onnx", {"batch_size": 64}, quantize=quant, threads=args.threads)
        if runtime is not None:
            contenders.append(Contender(f"rnnzoo.load(..., runtime='onnx', quantize={quant!r})", runtime, ours=True))
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    singles = [[s] for s in texts[: args.singles]]
    patterns = {
        "batch 64": (lambda c: lambda: [c.predict(b) for b in batches], (len(texts), "sentences/s")),
        "batch 1": (lambda c: lambda: [c.predict(s) for s in singles], (len(singles), "sentences/s")),
    }
    # The Keras tagger compiles XLA programs for small shapes on a background thread: let them finish.
    for s in singles:
        tagger.predict(s)
    compiles = getattr(tagger._emissions_fn(), "compiles", None)
    if compiles is not None:
        compiles.wait()
    run_interleaved(contenders, patterns, args.repeats)
    lat = {c.name: 1000 / rates(c.times["batch 1"], len(singles))[0] for c in contenders}
    lines = [
        f"bilstm_ner vs its PyTorch twin: {len(texts)} random CoNLL-2003 test sentences (tokens joined by spaces: raw "
        f"strings); batch 64 = one call per 64 sentences, batch 1 = one call per sentence ({len(singles)}). Medians of "
        f"{args.repeats} interleaved repeats; {args.threads} threads allowed on every side; {os.cpu_count()} CPUs "
        f"({platform.machine()}), load average {os.getloadavg()[0]:.1f} at the end (shared machine). Every side "
        "includes its tokenization; ours and Keras also build entity spans.",
        "",
        *table(contenders, patterns, contenders[:2]),
        "",
        "Ratios are to the faster PyTorch row of each column (PyTorch's OpenMP threads wait badly on a busy machine).",
        "",
        "Batch-1 latency (wall, ms): " + ", ".join(f"{n.split(' (')[0]} {v:.2f}" for n, v in lat.items()) + ".",
        "",
        f"Predictions on all {len(raw_all)} test sentences ({tokens} tokens) vs Keras `predict` (Keras F1 "
        f"{keras_f1:.2f}; the PyTorch twin agrees with Keras on {100 * twin_agree:.3f}% of tags):",
        "",
        "| ours | same tokens | tag agreement | identical results (tokens, tags, entities with scores) | test F1 (gold tokens) |",
        "|---|---|---|---|---|",
        *report,
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("bilstm_imdb", "bilstm_ner"), default="bilstm_imdb")
    parser.add_argument("--texts", type=int, default=1024, help="texts timed at batch 64")
    parser.add_argument("--singles", type=int, default=100, help="texts timed one per call (batch 1)")
    parser.add_argument("--check", type=int, default=2000, help="classifier: test reviews for the accuracy check")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed repeats (after one warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads every side may use")
    parser.add_argument("--max-length", type=int, default=200, help="classifier: tokens read (the recipe's 200)")
    parser.add_argument("--append", help="append a results section to this Markdown file")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_ner's twin
    lines = (bench_classifier if args.model == "bilstm_imdb" else bench_tagger)(args)
    text = "\n".join(lines)
    print(text)
    if args.append:
        command = "python benchmarks/bench_serving.py " + " ".join(argv if argv is not None else sys.argv[1:])
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(args.append, "a", encoding="utf-8") as f:
            f.write(f"\n## Served path, {args.model} (bench_serving.py), {stamp}\n\nCommand: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
