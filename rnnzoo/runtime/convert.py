"""Portable exports: a task's tensor model as ONNX or TFLite/LiteRT, with what serves it without TensorFlow.

What a portable export folder holds:

- `model.onnx` or `model.tflite`: the backbone and head (token ids in,
  `probabilities` or `emissions` out; a language model's one step: ids and
  states in, `logits` and `next_<state>` out), weights frozen as constants;
- `vocabularies/*.txt`: the word (and character, tag) vocabularies, id = line;
- `processing.json`: the settings of the steps around the model (family,
  labels, tag scheme and CRF transitions, lower-casing, max lengths,
  truncation, inputs and outputs, how it was converted);
- `portable.py`: `rnnzoo.runtime.processing` and `rnnzoo.runtime.predictor`
  with the pure-Python modules they use (tokenizer, spans, batching, checks)
  in one file, so an app serves the folder with only NumPy and onnxruntime
  or ai-edge-litert installed: `portable.load_portable(folder).predict(texts)`.

ONNX: classifiers and taggers with one bidirectional LSTM layer (the shipped
`bilstm_imdb`, `bilstm_ner`) get a hand-built graph (`rnnzoo.runtime.onnx_graphs`:
one bidirectional `LSTM` op with `sequence_lens`, the tagger's char CNN as
lookup tables; onnx and NumPy only); every other model goes through tf2onnx
from a `tf.function` of the model (opset `ONNX_OPSET`; Keras' LSTM becomes
ONNX's `LSTM` op, GRU and the vanilla cell an ONNX `Loop`).
`processing.json`'s `onnx.converter` says which one wrote the file.
TFLite: `tf.lite.TFLiteConverter` on builtin ops only. Keras' recurrences
are TensorFlow while loops over tensor lists, which the converter lowers to
builtins only for a fixed batch size; the model gets one signature per size
(`TFLITE_BATCH_SIZES`: `batch_1`, `batch_8`, `batch_32`), sharing one copy of
the weights, and the predictor pads a batch to the next size. Their cost grows
with the square of the length (LiteRT's WHILE copies the loop's tensor-list
buffer every step): fine for sentences, slow for long reviews (ONNX is not
affected). Only if a model
needs TensorFlow ops (Select/Flex) are they allowed, with a warning: the
`ai_edge_litert` interpreter cannot run those (TensorFlow's can).
`quantize="int8"`: dynamic-range int8 weights (ONNX Runtime's
`quantize_dynamic`; the converter's `Optimize.DEFAULT` without calibration
data), activations stay float.
"""

import ast
import collections
import contextlib
import datetime
import importlib.util
import json
import logging
import os
import shutil
import time
import warnings

import numpy as np

from rnnzoo.models.tagger.batching import MAX_LENGTH
from rnnzoo.runtime.processing import MODEL_FILES, SETTINGS_FILE, VOCABULARY_FOLDER

FORMATS = tuple(MODEL_FILES)
QUANTIZATIONS = (None, "int8")
#: The ONNX opset of the exports (tf2onnx's and the hand-built graphs').
ONNX_OPSET = 17
#: The LiteRT model's signatures: one per batch size (`batch_<n>`).
TFLITE_BATCH_SIZES = (1, 8, 32)
#: Families with a portable export (a language model exports its one-step model: ids + states -> logits + states).
FAMILIES = ("classifier", "tagger", "language_model")
#: Bumped when what an export holds changes: cached exports of other versions are rewritten.
EXPORT_VERSION = 2  # 2: hand-built BiLSTM graphs (rnnzoo.runtime.onnx_graphs), single-threaded sessions
#: The standalone module written into each export.
BUNDLE = "portable.py"
#: The modules `portable.py` is made of, in dependency order.
BUNDLED_MODULES = (
    "rnnzoo.models.checks",
    "rnnzoo.text.tokenize",
    "rnnzoo.models.tagger.spans",
    "rnnzoo.models.tagger.batching",
    "rnnzoo.models.classifier.text",
    "rnnzoo.runtime.processing",
    "rnnzoo.runtime.predictor",
)


def check_format(format, quantize=None):
    """`(format, quantize)` checked: a `ValueError` naming the choices otherwise."""
    if format not in FORMATS:
        raise ValueError(f"portable format must be one of {', '.join(FORMATS)}, got {format!r}.")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be None or 'int8' (dynamic-range int8 weights), got {quantize!r}.")
    return format, quantize


def family_name(task, format="onnx"):
    """The task's family name, or a `ValueError` saying which formats it exports to."""
    from rnnzoo.models import Family, family_of

    family = family_of(task, default=Family())
    if family.name not in FAMILIES:
        what = f"the {family.name!r} family" if family.name else f"{type(task).__name__} (no rnnzoo family)"
        raise ValueError(
            f"format={format!r} is not supported for {what}: ONNX and TFLite exports (formats "
            f"{', '.join(FORMATS)}) cover the {', '.join(FAMILIES[:-1])} and {FAMILIES[-1]} families; export it "
            "as a SavedModel (format='saved_model') instead."
        )
    return family.name


def export_portable(task, directory, format, version=None, overwrite=False, quantize=None, verbose=True):
    """Write `task` as a portable ONNX or TFLite export in `directory/<version>/`.

    The export holds the tensor model, its vocabularies, `processing.json` and
    `portable.py` (see the module docstring); `rnnzoo.runtime.load_portable`
    (or the standalone `portable.py` beside it) serves it without TensorFlow.
    Written atomically (a staging folder renamed into place).

    Args:
        task: a tagger or classifier task (`rnnzoo.load(name)`).
        directory: the export root; versions are its numbered sub-folders (as
            TF Serving lays them out).
        format: `"onnx"` or `"tflite"`.
        version: the version folder's name (an int >= 0); default: one more
            than the highest version there (1 for a new root).
        overwrite: replace an existing version folder; otherwise it raises
            `FileExistsError`.
        quantize: None (float32) or `"int8"` (dynamic-range int8 weights).
        verbose: print what was written.

    Returns:
        The version folder's absolute path.

    Example:
    >>> import rnnzoo
    >>> from rnnzoo.runtime import export_portable
    >>> export_portable(rnnzoo.load("bigru_sst2"), "exported/bigru_sst2", "onnx")   # doctest: +SKIP
    '/.../exported/bigru_sst2/1'
    """
    check_format(format, quantize)
    family_name(task, format)
    from rnnzoo.export import version_directory

    with version_directory(directory, version=version, overwrite=overwrite) as versioned:
        settings = write_portable(task, versioned.staging, format, quantize=quantize, overwrite=True)
    target = versioned.path
    if verbose:
        size = os.path.getsize(os.path.join(target, MODEL_FILES[format])) / 2**20
        print(
            f"{format} export written to {target} ({MODEL_FILES[format]} {size:.1f} MB"
            f"{', int8 weights' if quantize else ''}, converted in {settings['conversion_seconds']} s); "
            f"serve it with rnnzoo.runtime.load_portable({target!r}) or its {BUNDLE}"
        )
    return target


def write_portable(task, target, format, quantize=None, overwrite=False, source=None,
                   tflite_batch_sizes=TFLITE_BATCH_SIZES):
    """Write the portable export of `task` into exactly `target` (no version folder), atomically.

    Args:
        task: a tagger or classifier task.
        target: the folder to write (replaced when `overwrite`).
        format, quantize: as in `export_portable`.
        source: a description of the weights exported (e.g. their SHA-256),
            recorded in `processing.json` (the runtime cache keys on it).
        tflite_batch_sizes: the LiteRT model's batch sizes (signatures).

    Returns:
        The settings written (`processing.json`).
    """
    check_format(format, quantize)
    family = family_name(task, format)
    target = os.path.abspath(os.fspath(target))
    if os.path.exists(target) and os.listdir(target) and not overwrite:
        raise FileExistsError(f"{target} is not empty; pass overwrite=True to replace it.")
    with _staged_folder(target) as staging:
        body, specs, outputs = _tensor_model(task, family)
        model_path = os.path.join(staging, MODEL_FILES[format])
        start = time.time()
        if format == "onnx":
            details = _to_onnx(task, family, body, specs, model_path, quantize, staging)
        else:
            details = _to_tflite(body, specs, model_path, quantize, tflite_batch_sizes, staging)
        seconds = round(time.time() - start, 1)
        _write_vocabularies(task, os.path.join(staging, VOCABULARY_FOLDER))
        settings = _settings(task, family, format, quantize, specs, outputs, details, seconds, source)
        _write_settings(staging, settings)
        with open(os.path.join(staging, BUNDLE), "w", encoding="utf-8") as f:
            f.write(bundle_source())
    return settings


@contextlib.contextmanager
def _staged_folder(target, copy_from=None, ignore=None):
    """A staging folder beside `target` (empty, or a copy of `copy_from`) to write into.

    When the block succeeds it is renamed to `target`, replacing what was
    there; when it fails it is removed and `target` is left as it was.
    """
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".staging-{os.getpid()}-{os.urandom(6).hex()}")
    try:
        if copy_from is None:
            os.mkdir(staging)
        else:
            shutil.copytree(copy_from, staging, ignore=ignore)
        yield staging
        old = None
        if os.path.exists(target):
            old = f"{staging}.old"
            os.rename(target, old)
        os.rename(staging, target)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_settings(folder, settings):
    with open(os.path.join(folder, SETTINGS_FILE), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- the tensor model
def _tensor_model(task, family):
    """`(body, specs, outputs)`: the model as a function of id tensors, its input specs by batch size, output shapes.

    The weights are read once and become constants inside the traced
    function (`stateless_call`): tf2onnx then folds Keras' LSTM into ONNX's
    LSTM op, and TFLite needs no variable reads inside its while loops.
    """
    import tensorflow as tf

    trainable = [np.asarray(v) for v in task.trainable_variables]
    non_trainable = [np.asarray(v) for v in task.non_trainable_variables]

    def call(inputs):
        outputs, _ = task.stateless_call(
            [tf.constant(a) for a in trainable], [tf.constant(a) for a in non_trainable], inputs, training=False
        )
        return outputs

    if family == "classifier":
        def body(token_ids):
            return {"probabilities": task.probabilities(call(token_ids))}

        def specs(batch):
            return [tf.TensorSpec([batch, None], tf.int32, name="token_ids")]

        return body, specs, {"probabilities": ["batch", len(task.labels)]}

    if family == "language_model":
        return _step_model(task)

    names = sorted(task.input)  # char_ids, token_ids
    ranks = {name: len(task.input[name].shape) for name in names}

    def body(*arrays):
        return {"emissions": call(dict(zip(names, arrays)))}

    def specs(batch):
        return [tf.TensorSpec([batch] + [None] * (ranks[n] - 1), tf.int32, name=n) for n in names]

    return body, specs, {"emissions": ["batch", "time", len(task.model_tags)]}


def state_names(task):
    """A language model's state tensors by name, layer by layer: `state_<layer>_h` (and `state_<layer>_c` for LSTM)."""
    per_layer = 2 if task.backbone.cell == "lstm" else 1
    return [f"state_{i}_{'hc'[j]}" for i in range(task.backbone.num_layers) for j in range(per_layer)]


def _step_model(task):
    """A language model's one step: `token_ids (batch,)` + states -> `logits (batch, vocab)` + `next_<state>`.

    The generation loop (prompt, greedy decoding) runs around it in NumPy
    (`rnnzoo.runtime.predictor.PortableLanguageModel`), as `generate` runs
    `backbone.step` in its graph loop. Weights become constants through a
    `keras.StatelessScope`.
    """
    import keras
    import tensorflow as tf

    names = state_names(task)
    per_layer = 2 if task.backbone.cell == "lstm" else 1
    units = task.backbone.units
    variables = list(task.variables)
    values = [np.asarray(v) for v in variables]

    def body(token_ids, *states):
        nested = [list(states[i * per_layer : (i + 1) * per_layer]) for i in range(task.backbone.num_layers)]
        mapping = [(v, tf.constant(a)) for v, a in zip(variables, values)]
        with keras.StatelessScope(state_mapping=mapping):
            features, new_states = task.backbone.step(token_ids, nested)
            logits = tf.cast(task.project(features), tf.float32)
        flat = [s for layer in new_states for s in layer]
        return {"logits": logits, **{f"next_{n}": tf.convert_to_tensor(s) for n, s in zip(names, flat)}}

    def specs(batch):
        return [tf.TensorSpec([batch], tf.int32, name="token_ids")] + [
            tf.TensorSpec([batch, units], tf.float32, name=n) for n in names
        ]

    outputs = {"logits": ["batch", task.preprocessor.vocabulary_size]}
    outputs.update({f"next_{n}": ["batch", units] for n in names})
    return body, specs, outputs


@contextlib.contextmanager
def _quiet():
    """Silence tf2onnx's and TensorFlow's Python loggers while converting (the result is checked by tests)."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "root")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _to_onnx(task, family, body, specs, path, quantize, staging):
    """The ONNX model: hand-built (`rnnzoo.runtime.onnx_graphs`) when the architecture is one it builds, else tf2onnx.

    Returns the details `processing.json` records: `converter` (which one
    wrote the file), `opset`, and with tf2onnx `hand_built_unsupported` (why
    the builder left it to tf2onnx).
    """
    from rnnzoo.runtime import onnx_graphs
    from rnnzoo.utils import require_package

    onnx = require_package("onnx", "onnx", "onnx", "ONNX export")

    reason = onnx_graphs.unsupported(task, family) if family != "language_model" else (
        "a language model exports its one step (tf2onnx)")
    if reason is None:
        model = onnx_graphs.build_onnx(task, family)
        details = {"opset": onnx_graphs.OPSET, "converter": onnx_graphs.CONVERTER}
    else:
        import tensorflow as tf

        tf2onnx = require_package(
            "tf2onnx", "tf2onnx", "onnx",
            f"ONNX export of this model ({reason}, so rnnzoo does not build its graph by hand)",
        )
        signature = specs(None)
        function = tf.function(body, input_signature=signature)
        with _quiet():
            model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=ONNX_OPSET)
        details = {"opset": ONNX_OPSET, "converter": f"tf2onnx {tf2onnx.__version__}", "hand_built_unsupported": reason}
    if quantize:
        float_path = os.path.join(staging, "float32.onnx")
        onnx.save_model(model, float_path)
        details.update(_quantize_onnx(float_path, path))
        os.remove(float_path)
    else:
        onnx.save_model(model, path)
        details["ops"] = _onnx_ops(path)
    return details


def _onnx_ops(path):
    import onnx

    return dict(sorted(collections.Counter(n.op_type for n in onnx.load(path).graph.node).items()))


def _quantize_onnx(source, target):
    """Dynamic-range int8 weights (MatMul, LSTM, Gather...), activations quantized per call; returns details."""
    from rnnzoo.utils import require_package

    quantization = require_package("onnxruntime.quantization", "onnxruntime", "onnx", "int8 ONNX export")
    QuantType, quantize_dynamic = quantization.QuantType, quantization.quantize_dynamic
    with _quiet():
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
    return {"quantizer": "onnxruntime.quantization.quantize_dynamic (QInt8 weights)", "ops": _onnx_ops(target)}


def quantize_onnx_export(source, target):
    """An int8 copy of a float32 ONNX export folder (no TensorFlow needed): `quantize_dynamic` on its `model.onnx`.

    The same result as exporting with `quantize="int8"`, from the converted
    model: the runtime cache derives its int8 exports this way. Written
    atomically into `target` (replaced). Returns the new settings.
    """
    from rnnzoo.runtime.processing import read_settings

    settings = read_settings(source)
    if settings["format"] != "onnx" or settings.get("quantize"):
        raise ValueError(f"{source} is not a float32 ONNX export (format {settings['format']!r}, "
                         f"quantize {settings.get('quantize')!r}).")
    target = os.path.abspath(os.fspath(target))
    with _staged_folder(target, copy_from=source, ignore=shutil.ignore_patterns(MODEL_FILES["onnx"])) as staging:
        start = time.time()
        details = _quantize_onnx(os.path.join(source, MODEL_FILES["onnx"]), os.path.join(staging, MODEL_FILES["onnx"]))
        settings["onnx"].update(details)
        settings["quantize"] = "int8"
        settings["conversion_seconds"] = round(settings["conversion_seconds"] + time.time() - start, 1)
        _write_settings(staging, settings)
    return settings


def _to_tflite(body, specs, path, quantize, batch_sizes, staging):
    import tensorflow as tf

    signatures = {}
    for size in sorted(set(int(b) for b in batch_sizes)):
        signatures[f"batch_{size}"] = tf.function(body, input_signature=specs(size)).get_concrete_function()
    saved = os.path.join(staging, ".saved_model")
    with _quiet():
        tf.saved_model.save(tf.Module(), saved, signatures=signatures)

    def convert(select_tf_ops):
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(signatures))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if select_tf_ops:
            converter.target_spec.supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
            converter._experimental_lower_tensor_list_ops = False
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        with _quiet():
            return converter.convert()

    select_tf_ops = False
    try:
        data = convert(False)
    except Exception as error:  # the converter's error names the op that has no builtin
        select_tf_ops = True
        warnings.warn(
            f"this model does not convert to LiteRT builtin ops only ({str(error).strip().splitlines()[-1]}); "
            "writing it with TensorFlow Select ops, which ai_edge_litert's interpreter cannot run "
            "(TensorFlow's tf.lite.Interpreter can).",
            UserWarning,
            stacklevel=4,
        )
        data = convert(True)
    shutil.rmtree(saved, ignore_errors=True)
    with open(path, "wb") as f:
        f.write(data)
    details = {"converter": f"tf.lite.TFLiteConverter (TensorFlow {tf.__version__})",
               "batch_sizes": sorted(int(k[len("batch_"):]) for k in signatures), "select_tf_ops": select_tf_ops}
    if quantize:
        details["quantizer"] = "TFLiteConverter optimizations=[Optimize.DEFAULT] (dynamic-range int8 weights)"
    return details


# ---------------------------------------------------------------- what travels with the model
def _write_vocabularies(task, folder):
    os.makedirs(folder)
    for name, items in task.vocabularies().items():
        bad = next((i for i, item in enumerate(items) if "\n" in item), None)
        if bad is not None:
            raise ValueError(f"vocabulary {name!r} entry {bad} holds a line break; it cannot be written one a line.")
        with open(os.path.join(folder, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(items) + "\n")


def _settings(task, family, format, quantize, specs, outputs, details, seconds, source):
    import rnnzoo

    config = getattr(task, "zoo_config", None)
    inputs = {
        s.name: {"dtype": s.dtype.name, "shape": ["batch", "time", "chars"][: len(s.shape)]
                 if s.dtype.name == "int32" else ["batch", s.shape[-1]]}
        for s in specs(None)
    }
    settings = {
        "format": format,
        "family": family,
        "model": config.name if config is not None else task.name,
        "quantize": quantize,
        "inputs": inputs,
        "outputs": {name: {"dtype": "float32", "shape": shape} for name, shape in outputs.items()},
        "rnnzoo_version": rnnzoo.__version__,
        "export_version": EXPORT_VERSION,
        "created_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversion_seconds": seconds,
        "source": source,
        format: details,
    }
    if family == "language_model":
        p = task.preprocessor
        settings["language_model"] = {
            "level": p.level,
            "lowercase": bool(p.lowercase),
            "tokens": list(p.tokens),  # exact (the vocabulary files escape control characters)
            "boundary_id": int(p.boundary_id),
            "end_id": None if p.end_id is None else int(p.end_id),
            "states": state_names(task),
            "units": int(task.backbone.units),
            "cell": task.backbone.cell,
            "default_batch_size": int(task.default_batch_size),
        }
    elif family == "classifier":
        p = task.preprocessor
        settings["classifier"] = {
            "head": task.head,
            "labels": list(task.labels),
            "threshold": float(task.threshold),
            "max_length": int(p.max_length),
            "truncate": p.truncate,
            "text": "HTML line breaks to spaces, lower-cased, rnnzoo.text.tokenize rules (rnnzoo.models.classifier.text)",
        }
    else:
        p = task.preprocessor
        backbone = task.backbone
        reads_chars = backbone.char_vocabulary_size > 0
        encoder = backbone.get_layer("char_encoder") if reads_chars else None
        tagger = {
            "head": task.head,
            "tag_scheme": task.tag_scheme,
            "model_tags": task.model_tags,
            "output_tags": task.output_tags,
            "lowercase": bool(p.word_lookup.lowercase),
            "max_chars": int(p.max_chars),
            "char_window": encoder.kernel_size // 2 if encoder is not None and encoder.encoder == "cnn" else 0,
            "reads_chars": bool(reads_chars),
            "max_length": MAX_LENGTH,
        }
        if task.head == "crf":
            crf = task.get_layer("crf")
            tagger["crf"] = {
                "transitions": np.asarray(crf.transitions, "float32").tolist(),
                "start": np.asarray(crf.start_transitions, "float32").tolist(),
                "end": np.asarray(crf.end_transitions, "float32").tolist(),
            }
        settings["tagger"] = tagger
    return settings


def bundle_source():
    """`portable.py`: `BUNDLED_MODULES` in one file, their imports of each other removed.

    A generated copy, so an app needs neither TensorFlow, Keras nor rnnzoo
    installed; the modules themselves stay the one source. Raises
    `ValueError` when two modules define one top-level name differently, or
    import one another under another name (the copy would break).
    """
    import rnnzoo

    header = f'''"""Serve this exported rnnzoo model with NumPy and ONNX Runtime or LiteRT only (no TensorFlow, Keras, rnnzoo).

Generated by rnnzoo {rnnzoo.__version__} (`rnnzoo.runtime.convert.bundle_source`) from its modules
{", ".join(BUNDLED_MODULES)}: the same text steps as the model's `predict`.

Example (run beside this file; pip install numpy onnxruntime, or ai-edge-litert for model.tflite):

    import os, portable
    model = portable.load_portable(os.path.dirname(os.path.abspath(portable.__file__)))
    model.predict(["Pankaj lives in Munich"])
"""
'''
    parts, defined = [header], {}
    for module in BUNDLED_MODULES:
        path = importlib.util.find_spec(module).origin
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source)
        dropped = set()
        for node in tree.body:
            internal = (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnzoo")) or (
                isinstance(node, ast.Import) and any(a.name.startswith("rnnzoo") for a in node.names)
            )
            if internal:
                if any(a.asname for a in node.names):
                    raise ValueError(f"{module} imports {ast.unparse(node)!r} under another name; portable.py needs "
                                     "rnnzoo's modules imported by their own names.")
                dropped.update(range(node.lineno, node.end_lineno + 1))
            for name in _top_level_names(node):
                if name in defined and defined[name] != module:
                    raise ValueError(f"{module} and {defined[name]} both define {name!r}; portable.py would mix them.")
                defined[name] = module
        lines = source.splitlines(keepends=True)
        kept = "".join(line for i, line in enumerate(lines, 1) if i not in dropped)
        parts.append(f"\n\n# {'-' * 30} {module} {'-' * 30}\n{kept}")
    return "".join(parts)


def _top_level_names(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []
