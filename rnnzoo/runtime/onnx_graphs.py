"""Hand-built ONNX graphs of the zoo's BiLSTM classifiers and taggers: the fast ONNX export, onnx + NumPy only.

tf2onnx converts any task, but Keras' masked bidirectional LSTM becomes two
`LSTM` ops plus the gathers that reverse each row within its length; the
graphs here use ONE bidirectional `LSTM` op with `sequence_lens` (each row's
count of non-zero ids), whose reverse direction starts at each row's last
real token, as the Keras model's right-padded path does. Weights are read
from the Keras task; nothing is traced, so building takes well under a
second (tf2onnx: seconds).

What is built (`build_onnx`; `unsupported` says why a task is not):

- classifier (`TextClassifier` on a `ClassifierBackbone`): `token_ids (batch,
  time) int32` -> word embedding -> one bidirectional LSTM layer ->
  `"max"`, `"mean"` or `"max_mean"` pooling over the real steps -> optional
  ReLU dense -> logits -> `probabilities (batch, labels)` (binary: `[1 - p,
  p]`, multiclass: softmax, multilabel: sigmoids);
- tagger (`BidirectionalTagger` on a `TaggerBackbone`): `token_ids (batch,
  time)`, `char_ids (batch, time, chars)` int32 -> word embedding and the
  char CNN (`"same"`, odd kernel, tanh after a max over real characters; as
  per-tap lookup tables, `tap_k = char_embedding @ conv_kernel[k]`) -> one
  bidirectional LSTM layer -> `emissions (batch, time, tags)` (the CRF's
  Viterbi, or the softmax head's argmax, runs in NumPy).

Every other architecture (GRU, the vanilla cell, stacked or unidirectional
layers, `"last"` pooling, a char BiLSTM, language models, layers this
module does not know) is left to tf2onnx: `unsupported` checks the layer
types and settings explicitly and never builds a graph it cannot vouch for.

Inputs must be right-padded (0 = padding after a row's tokens), as the
Keras models assume and the predictors write them. ONNX Runtime writes zeros
to an `LSTM`'s outputs past each row's length (its behaviour, not the ONNX
spec); the pooling relies on it, and tests check the probabilities against
Keras on mixed-length batches.

Example:
>>> import rnnzoo                                                     # doctest: +SKIP
>>> model = build_onnx(rnnzoo.load("bilstm_imdb"), "classifier")       # doctest: +SKIP
>>> [o.name for o in model.graph.output]                               # doctest: +SKIP
['probabilities']
"""

import numpy as np

#: The ONNX opset and IR version of the graphs (ONNX Runtime >= 1.14 runs them).
OPSET = 17
IR_VERSION = 8
#: What `processing.json` records as the converter of a hand-built graph.
CONVERTER = "rnnzoo.runtime.onnx_graphs (hand-built: one bidirectional LSTM op with sequence_lens)"


def _activation(fn):
    import keras

    try:
        return keras.activations.serialize(fn)
    except Exception:  # a custom callable: not one we build
        return repr(fn)


def _check_bilstm(layer, return_sequences=True):
    """Why the `rnn_0` layer is not one bidirectional Keras LSTM this module builds, or None."""
    import keras

    if not isinstance(layer, keras.layers.Bidirectional):
        return f"the recurrent layer is {type(layer).__name__}, not a Bidirectional LSTM"
    if layer.merge_mode != "concat":
        return f"the bidirectional merge mode is {layer.merge_mode!r}, not 'concat'"
    forward, backward = layer.forward_layer, layer.backward_layer
    for which, sub, backwards in (("forward", forward, False), ("backward", backward, True)):
        if type(sub) is not keras.layers.LSTM:
            return f"the {which} layer is {type(sub).__name__}, not keras.layers.LSTM"
        settings = (_activation(sub.activation), _activation(sub.recurrent_activation), sub.use_bias,
                    bool(sub.go_backwards), bool(sub.return_sequences), bool(sub.stateful), bool(sub.return_state))
        if settings != ("tanh", "sigmoid", True, backwards, return_sequences, False, False):
            return (f"the {which} LSTM's settings (activation, recurrent activation, bias, go_backwards, "
                    f"return_sequences, stateful, return_state) are {settings}")
        if sub.compute_dtype != "float32":
            return f"the {which} LSTM computes in {sub.compute_dtype}, not float32"
    if forward.units != backward.units:
        return "the two directions have different sizes"
    return None


def _check_dense(layer, activation):
    import keras

    if type(layer) is not keras.layers.Dense:
        return f"layer {layer.name!r} is {type(layer).__name__}, not Dense"
    if (_activation(layer.activation), layer.use_bias) != (activation, True):
        return (f"dense layer {layer.name!r} has activation {_activation(layer.activation)!r} and bias "
                f"{layer.use_bias}; expected {activation!r} with a bias")
    return None


def _unexpected_layers(model, allowed):
    """Why `model` holds a layer outside `allowed` (`{name: class}`), or None."""
    for layer in model.layers:
        expected = allowed.get(layer.name)
        if expected is None or not isinstance(layer, expected):
            return f"layer {layer.name!r} ({type(layer).__name__}) is not part of the architecture this builder knows"
    return None


def _check_task(task, task_class, backbone_class):
    """Why `task` is not a `task_class` on a `backbone_class` with one bidirectional LSTM layer, or None."""
    if not isinstance(task, task_class) or not isinstance(getattr(task, "backbone", None), backbone_class):
        return f"{type(task).__name__} is not a {task_class.__name__} on a {backbone_class.__name__}"
    bb = task.backbone
    if (bb.cell, bb.num_layers, bool(bb.bidirectional)) != ("lstm", 1, True):
        return (f"the encoder is {bb.num_layers} layer(s) of {bb.cell!r} (bidirectional={bb.bidirectional}), "
                "not one bidirectional LSTM layer")
    return None


def unsupported(task, family):
    """Why `task` has no hand-built graph (a str: tf2onnx converts it then), or None when `build_onnx` builds it.

    Args:
        task: a Keras task.
        family: its family name (`"classifier"`, `"tagger"`, ...).
    """
    import keras

    if family == "classifier":
        from rnnzoo.models.classifier.backbone import ClassifierBackbone, MaskedPooling
        from rnnzoo.models.classifier.classifier import TextClassifier

        reason = _check_task(task, TextClassifier, ClassifierBackbone)
        if reason:
            return reason
        bb = task.backbone
        if bb.pooling not in ("max", "mean", "max_mean"):
            return f"pooling {bb.pooling!r} (the builder does 'max', 'mean' and 'max_mean')"
        reason = _unexpected_layers(bb, {
            "token_ids": keras.layers.InputLayer, "word_embedding": keras.layers.Embedding,
            "embedding_dropout": keras.layers.Dropout, "rnn_0": keras.layers.Bidirectional, "pooling": MaskedPooling,
        }) or _check_bilstm(bb.get_layer("rnn_0"))
        if reason:
            return reason
        if bb.get_layer("pooling").mode != bb.pooling:
            return f"the pooling layer's mode {bb.get_layer('pooling').mode!r} is not the backbone's {bb.pooling!r}"
        allowed = {"token_ids": keras.layers.InputLayer, bb.name: ClassifierBackbone,
                   "head_dropout": keras.layers.Dropout, "logits": keras.layers.Dense}
        if task.dense_units:
            allowed["head_dense"] = keras.layers.Dense
        reason = _unexpected_layers(task, allowed) or _check_dense(task.get_layer("logits"), "linear")
        if not reason and task.dense_units:
            reason = _check_dense(task.get_layer("head_dense"), "relu")
        if not reason and task.head not in ("binary", "multiclass", "multilabel"):
            reason = f"head {task.head!r}"
        return reason
    if family == "tagger":
        from rnnzoo.layers import CRF, WordDropout
        from rnnzoo.models.tagger.backbone import CharEncoder, TaggerBackbone
        from rnnzoo.models.tagger.tagger import BidirectionalTagger

        reason = _check_task(task, BidirectionalTagger, TaggerBackbone)
        if reason:
            return reason
        bb = task.backbone
        allowed = {
            "token_ids": keras.layers.InputLayer, "char_ids": keras.layers.InputLayer,
            "word_dropout": WordDropout, "word_embedding": keras.layers.Embedding, "char_encoder": CharEncoder,
            "features": keras.layers.Concatenate, "embedding_dropout": keras.layers.Dropout,
            "rnn_0": keras.layers.Bidirectional,
        }
        reason = _unexpected_layers(bb, allowed) or _check_bilstm(bb.get_layer("rnn_0"))
        if reason:
            return reason
        names = {layer.name for layer in bb.layers}
        if "char_encoder" not in names or "features" not in names:
            return "the tagger reads no characters (the builder takes word + char-CNN features)"
        encoder = bb.get_layer("char_encoder")
        if encoder.encoder != "cnn":
            return f"the char encoder is {encoder.encoder!r}, not 'cnn'"
        conv = encoder.conv
        if (type(conv) is not keras.layers.Conv1D or conv.padding != "same" or tuple(conv.strides) != (1,)
                or tuple(conv.dilation_rate) != (1,) or conv.groups != 1 or not conv.use_bias
                or _activation(conv.activation) != "tanh" or conv.kernel_size[0] % 2 != 1):
            return "the char CNN is not a Conv1D with 'same' padding, stride 1, an odd kernel, a bias and tanh"
        if type(encoder.embedding) is not keras.layers.Embedding or encoder.compute_dtype != "float32":
            return "the char encoder's embedding is not a float32 keras Embedding"
        if bb.get_layer("features").axis not in (-1, 2):
            return "the features are not concatenated on the last axis"
        allowed = {"token_ids": keras.layers.InputLayer, "char_ids": keras.layers.InputLayer,
                   bb.name: TaggerBackbone, "head_dropout": keras.layers.Dropout, "emissions": keras.layers.Dense}
        if task.head == "crf":
            allowed["crf"] = CRF
        elif task.head != "softmax":
            return f"head {task.head!r}"
        return _unexpected_layers(task, allowed) or _check_dense(task.get_layer("emissions"), "linear")
    return f"no hand-built graph for the {family!r} family"


def build_onnx(task, family):
    """The hand-built ONNX model (`onnx.ModelProto`, checked) of a supported classifier or tagger.

    Raises:
        ValueError: saying why, when `unsupported(task, family)` (convert it with tf2onnx instead).
    """
    reason = unsupported(task, family)
    if reason:
        raise ValueError(f"no hand-built ONNX graph for {task.name!r}: {reason}.")
    return classifier_graph(task) if family == "classifier" else tagger_graph(task)


# ---------------------------------------------------------------------------------------------------- pieces
def lstm_weights(bidirectional):
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


def _weights(layer):
    return [np.asarray(w, "float32") for w in layer.get_weights()]


def _model(nodes, name, inputs, outputs, initializers):
    import onnx
    from onnx import helper, numpy_helper

    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes, name, inputs, outputs,
        [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items() if n in used],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnnzoo")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _lengths_nodes(n, TensorProto):
    """Nodes: `real (B, T)` bool (id != 0), `lengths (B,)` int32, `lstm_lengths` (at least 1: ORT's LSTM and
    an all-padding row), `has_any (B, 1)` float (1 for a row with a real token)."""
    return [
        n("Equal", ["token_ids", "zero_i"], ["padding"]),
        n("Not", ["padding"], ["real"]),
        n("Cast", ["real"], ["real_i"], to=TensorProto.INT32),
        n("ReduceSum", ["real_i", "axis1"], ["lengths"], keepdims=0),  # (B,)
        n("Max", ["lengths", "one_i"], ["lstm_lengths"]),
        n("Min", ["lengths", "one_i"], ["has_any_i"]),
        n("Cast", ["has_any_i"], ["has_any_b"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["has_any_b", "axis1"], ["has_any"]),  # (B, 1)
    ]


_COMMON = {
    "zero_i": np.array([0], "int32"), "one_i": np.array([1], "int32"),
    "axis0": np.array([0], "int64"), "axis1": np.array([1], "int64"),
}


# ---------------------------------------------------------------------------------------------------- classifier
def classifier_graph(clf):
    """A BiLSTM classifier (see the module docstring): `token_ids (B, T) int32` -> `probabilities (B, labels)`.

    Right-padded ids -> Gather (embedding, time-major) -> one bidirectional
    `LSTM` with `sequence_lens` -> max (`y + (real - 1) * 1e9`, ORT's padded
    outputs being 0) and/or mean (`ReduceSum(y) / length`) over time, in
    Keras' order (max fw, max bw, mean fw, mean bw); zeros for an all-padding
    row, as `MaskedPooling` gives -> [ReLU dense] -> dense -> probabilities.
    """
    from onnx import TensorProto, helper

    bb = clf.backbone
    w, r, b = lstm_weights(bb.get_layer("rnn_0"))
    units, pooling = bb.units, bb.pooling
    n = helper.make_node
    nodes = _lengths_nodes(n, TensorProto) + [
        n("Transpose", ["token_ids"], ["ids_tb"], perm=[1, 0]),
        n("Gather", ["embedding", "ids_tb"], ["x"]),  # (T, B, E)
        n("LSTM", ["x", "W", "R", "B", "lstm_lengths"], ["y"], direction="bidirectional", hidden_size=units),
    ]  # y: (T, 2, B, H), zeros past each row's length
    pooled = []
    if pooling in ("max", "max_mean"):
        nodes += [
            n("Transpose", ["real"], ["real_tb"], perm=[1, 0]),
            n("Cast", ["real_tb"], ["real_tb_f"], to=TensorProto.FLOAT),
            n("Sub", ["real_tb_f", "one"], ["penalty_"]),  # 0 at real steps, -1 at padding
            n("Mul", ["penalty_", "big"], ["penalty__"]),
            n("Unsqueeze", ["penalty__", "axes13"], ["penalty"]),  # (T, 1, B, 1)
            n("Add", ["y", "penalty"], ["y_masked"]),
            n("ReduceMax", ["y_masked"], ["biggest"], axes=[0], keepdims=0),  # (2, B, H)
        ]
        pooled.append("biggest")
    if pooling in ("mean", "max_mean"):
        nodes += [
            n("ReduceSum", ["y", "axis0"], ["total"], keepdims=0),  # padded outputs are 0: the masked sum
            n("Cast", ["lstm_lengths"], ["lengths_f"], to=TensorProto.FLOAT),
            n("Unsqueeze", ["lengths_f", "axes02"], ["count"]),  # (1, B, 1)
            n("Div", ["total", "count"], ["mean"]),
        ]
        pooled.append("mean")
    width = 2 * units * len(pooled)
    nodes += [
        n("Concat", pooled, ["pooled_dbh"], axis=0),  # (2 or 4, B, H)
        n("Transpose", ["pooled_dbh"], ["pooled_bdh"], perm=[1, 0, 2]),
        n("Reshape", ["pooled_bdh", "flat"], ["pooled_"]),  # (B, width)
        n("Mul", ["pooled_", "has_any"], ["pooled"]),  # an all-padding row pools to zeros
    ]
    constants = {
        **_COMMON,
        "embedding": _weights(bb.get_layer("word_embedding"))[0], "W": w, "R": r, "B": b,
        "axes13": np.array([1, 3], "int64"), "axes02": np.array([0, 2], "int64"), "big": np.array(1e9, "float32"),
        "one": np.array(1.0, "float32"), "flat": np.array([-1, width], "int64"),
    }
    features = "pooled"
    if clf.dense_units:
        constants["dense_kernel"], constants["dense_bias"] = _weights(clf.get_layer("head_dense"))
        nodes += [n("MatMul", ["pooled", "dense_kernel"], ["dense_"]), n("Add", ["dense_", "dense_bias"], ["dense__"]),
                  n("Relu", ["dense__"], ["dense"])]
        features = "dense"
    constants["kernel"], constants["bias"] = _weights(clf.get_layer("logits"))
    nodes += [n("MatMul", [features, "kernel"], ["logit_"]), n("Add", ["logit_", "bias"], ["logits"])]
    if clf.head == "binary":
        nodes += [n("Sigmoid", ["logits"], ["positive"]), n("Sub", ["one", "positive"], ["negative"]),
                  n("Concat", ["negative", "positive"], ["probabilities"], axis=1)]
    elif clf.head == "multiclass":
        nodes.append(n("Softmax", ["logits"], ["probabilities"], axis=-1))
    else:
        nodes.append(n("Sigmoid", ["logits"], ["probabilities"]))
    return _model(
        nodes, f"{clf.name}_bilstm_classifier",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT32, ["batch", "time"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(clf.labels)])],
        constants,
    )


# ---------------------------------------------------------------------------------------------------- tagger
def tagger_graph(tagger):
    """A BiLSTM + char-CNN tagger: `token_ids (B, T)`, `char_ids (B, T, C)` int32 -> `emissions (B, T, tags)`.

    Word embedding + char CNN -> one bidirectional `LSTM` op with
    `sequence_lens` -> dense. The char CNN is per-tap lookup tables:
    `conv(x)[t] = sum_k E[c[t + k - half]] @ K[k] + bias`, so tap k reads a
    precomputed `(chars + 1, filters)` table `E @ K[k]` (its extra last row,
    zeros, is the id of the conv's zero padding past the array's edges; the
    bias is folded into the centre tap); then the max over real characters
    (pre-activations of padding characters -1e4 below), tanh, and zeros for
    a token without characters, in the Keras layer's order.
    """
    from onnx import TensorProto, helper

    bb = tagger.backbone
    encoder = bb.get_layer("char_encoder")
    w, r, b = lstm_weights(bb.get_layer("rnn_0"))
    conv_kernel, conv_bias = _weights(encoder.conv)
    kernel, bias = _weights(tagger.get_layer("emissions"))
    kernel_size, half = conv_kernel.shape[0], conv_kernel.shape[0] // 2
    char_embedding = _weights(encoder.embedding)[0]
    taps = {}
    for k in range(kernel_size):
        table = np.concatenate([char_embedding @ conv_kernel[k], np.zeros((1, conv_kernel.shape[2]), "float32")])
        if k == half:
            table[:-1] += conv_bias
        taps[f"tap_{k}"] = table.astype("float32")
    n = helper.make_node
    nodes = _lengths_nodes(n, TensorProto) + [
        n("Transpose", ["token_ids"], ["ids_tb"], perm=[1, 0]),
        n("Gather", ["word_embedding", "ids_tb"], ["words"]),  # (T, B, E)
        n("Transpose", ["char_ids"], ["chars_tbc"], perm=[1, 0, 2]),
        n("Shape", ["chars_tbc"], ["tbc"]),
        n("Slice", ["tbc", "two_l", "three_l"], ["c"]),
        n("Concat", ["minus_one_l", "c"], ["flat_chars"], axis=0),
        n("Reshape", ["chars_tbc", "flat_chars"], ["chars"]),  # (T*B, C)
        n("Pad", ["chars", "char_pads", "border_id"], ["chars_padded"]),  # (T*B, C + 2 half)
        *[n("Slice", ["chars_padded", f"tap_start_{k}", f"tap_end_{k}", "axis1"], [f"tap_ids_{k}"])
          for k in range(kernel_size)],
        *[n("Gather", [f"tap_{k}", f"tap_ids_{k}"], [f"tap_out_{k}"]) for k in range(kernel_size)],  # (T*B, C, F)
        n("Sum", [f"tap_out_{k}" for k in range(kernel_size)], ["z"]),
        n("Equal", ["chars", "zero_i"], ["char_padding"]),
        n("Cast", ["char_padding"], ["char_padding_f"], to=TensorProto.FLOAT),
        n("Mul", ["char_padding_f", "minus_1e4"], ["char_penalty_"]),
        n("Unsqueeze", ["char_penalty_", "two_l"], ["char_penalty"]),  # (T*B, C, 1)
        n("Add", ["z", "char_penalty"], ["z_masked"]),  # real z are far above -1e4: the max over real characters
        n("ReduceMax", ["z_masked"], ["z_max"], axes=[1], keepdims=0),  # (T*B, F)
        n("Tanh", ["z_max"], ["char_features_"]),
        n("Not", ["char_padding"], ["char_real"]),
        n("Cast", ["char_real"], ["char_real_f"], to=TensorProto.FLOAT),
        n("ReduceMax", ["char_real_f"], ["has_chars"], axes=[1], keepdims=1),  # (T*B, 1)
        n("Mul", ["char_features_", "has_chars"], ["char_features"]),
        n("Slice", ["tbc", "zero_l", "two_l"], ["tb"]),
        n("Concat", ["tb", "minus_one_l"], ["tb_f"], axis=0),
        n("Reshape", ["char_features", "tb_f"], ["char_tb"]),  # (T, B, F)
        n("Concat", ["words", "char_tb"], ["x"], axis=2),  # Keras' order: words, then characters
        n("LSTM", ["x", "W", "R", "B", "lstm_lengths"], ["y"], direction="bidirectional",
          hidden_size=bb.units),  # (T, 2, B, H)
        n("Transpose", ["y"], ["y_btdh"], perm=[2, 0, 1, 3]),
        n("Shape", ["token_ids"], ["bt"]),
        n("Concat", ["bt", "minus_one_l"], ["bt_f"], axis=0),
        n("Reshape", ["y_btdh", "bt_f"], ["states"]),  # (B, T, 2H): forward, backward
        n("MatMul", ["states", "kernel"], ["emissions_"]),
        n("Add", ["emissions_", "bias"], ["emissions"]),
    ]
    constants = {
        **_COMMON,
        "word_embedding": _weights(bb.get_layer("word_embedding"))[0],
        **taps,
        "char_pads": np.array([0, half, 0, half], "int64"), "border_id": np.array(len(char_embedding), "int32"),
        **{f"tap_start_{k}": np.array([k], "int64") for k in range(kernel_size)},
        **{f"tap_end_{k}": np.array([k - 2 * half if k < 2 * half else 2**62], "int64") for k in range(kernel_size)},
        "W": w, "R": r, "B": b, "kernel": kernel, "bias": bias,
        "zero_l": np.array([0], "int64"), "two_l": np.array([2], "int64"), "three_l": np.array([3], "int64"),
        "minus_one_l": np.array([-1], "int64"), "minus_1e4": np.array(-1e4, "float32"),
    }
    # `has_any` is not needed: a tagger's padded rows are never read (decoding stops at each row's length).
    drop = {"has_any_i", "has_any_b", "has_any"}
    nodes = [node for node in nodes if not set(node.output) & drop]
    return _model(
        nodes, f"{tagger.name}_bilstm_tagger",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT32, ["batch", "time"]),
         helper.make_tensor_value_info("char_ids", TensorProto.INT32, ["batch", "time", "chars"])],
        [helper.make_tensor_value_info("emissions", TensorProto.FLOAT, ["batch", "time", len(tagger.model_tags)])],
        constants,
    )
