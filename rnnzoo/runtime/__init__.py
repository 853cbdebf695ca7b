"""Portable runtimes: the zoo's models exported to ONNX or TFLite, served without TensorFlow.

Taggers and classifiers export their whole tensor model; language models
their one step (ids + states -> logits + states), decoded greedily in NumPy.

- `export_portable(task, directory, format)`: write `directory/<version>/`
  with `model.onnx` or `model.tflite`, the vocabularies, `processing.json`
  and a standalone `portable.py` (`rnnzoo.runtime.convert`; needs TensorFlow;
  ONNX: a hand-built graph for BiLSTM classifiers and taggers,
  `rnnzoo.runtime.onnx_graphs`, tf2onnx for the others);
- `load_portable(directory)`: a predictor over such a folder whose `predict`
  takes and returns what the Keras task's does (`rnnzoo.runtime.predictor`;
  needs NumPy and onnxruntime or ai-edge-litert only; an ONNX predictor runs
  a call's rows in length-sorted sub-batches on `threads` threads);
- `rnnzoo.load(name, runtime="onnx" | "tflite")`: the same predictor for a
  zoo model, exported once into the cache (`$RNNZOO_HOME/runtimes/`) and
  reused (`cached_export`).

Importing this package imports neither TensorFlow nor a runtime.

Example:
>>> import rnnzoo
>>> tagger = rnnzoo.load("bilstm_ner", runtime="onnx")            # doctest: +SKIP
>>> tagger.predict("Pankaj lives in Munich")["entities"][1]["text"]  # doctest: +SKIP
'Munich'
"""

import hashlib
import json
import os

#: The portable runtimes (`rnnzoo.load(..., runtime=...)`); "keras" (also "tf") is the Keras task itself.
RUNTIMES = ("onnx", "tflite")
KERAS_RUNTIMES = ("keras", "tf")


def export_portable(task, directory, format, version=None, overwrite=False, quantize=None, verbose=True):
    """Write a portable ONNX or TFLite export of `task`; see `rnnzoo.runtime.convert.export_portable`."""
    from rnnzoo.runtime.convert import export_portable as _export

    return _export(task, directory, format, version=version, overwrite=overwrite, quantize=quantize, verbose=verbose)


def load_portable(directory, threads=None):
    """A predictor over a portable export folder; see `rnnzoo.runtime.predictor.load_portable`."""
    from rnnzoo.runtime.predictor import load_portable as _load

    return _load(directory, threads=threads)


def check_runtime(runtime, quantize=None):
    """`runtime` as `"keras"`, `"onnx"` or `"tflite"` (`"tf"` means `"keras"`); a `ValueError` otherwise.

    Example:
    >>> check_runtime("tf"), check_runtime("onnx", "int8")
    ('keras', 'onnx')
    """
    if runtime is None or runtime in KERAS_RUNTIMES:
        if quantize is not None:
            raise ValueError(f"quantize={quantize!r} needs runtime='onnx' or 'tflite' (the Keras task runs float32).")
        return "keras"
    if runtime not in RUNTIMES:
        raise ValueError(
            f"unknown runtime {runtime!r}; choose 'keras' (or 'tf': the Keras task), 'onnx' (ONNX Runtime) "
            "or 'tflite' (LiteRT)."
        )
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8' (dynamic-range int8 weights), got {quantize!r}.")
    return runtime


def source_digest(kind, path):
    """The SHA-256 that identifies the weights and vocabularies of an artifact folder or `.keras` file.

    A folder: of its `checksums.json` (which lists `model.keras` and the
    vocabularies' hashes); a `.keras` file: of the file.
    """
    from rnnzoo.artifacts import CHECKSUMS
    from rnnzoo.utils import sha256

    if kind == "folder":
        with open(os.path.join(path, CHECKSUMS), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    return sha256(path)


def cache_folder(name, digest, runtime, quantize=None):
    """Where the cache keeps a model's export: `$RNNZOO_HOME/runtimes/<name>/<digest[:12]>-<runtime>[-int8]-v<n>`."""
    from rnnzoo.downloads import cache_dir
    from rnnzoo.runtime.convert import EXPORT_VERSION

    suffix = f"-{quantize}" if quantize else ""
    return os.path.join(cache_dir(), "runtimes", name, f"{digest[:12]}-{runtime}{suffix}-v{EXPORT_VERSION}")


def cached_export(kind, path, runtime, quantize, load_task):
    """The cached portable export of an artifact (`rnnzoo.zoo.resolve_artifact`'s `kind`, `path`), written if missing.

    Keyed by the weights' digest (`source_digest`), the runtime, the
    quantization and `EXPORT_VERSION`, so new weights or a new export format
    get a new folder. The first call converts (`load_task()` gives the Keras
    task; seconds to a minute); later calls, in any process, reuse the folder.
    A file lock keeps two processes from converting the same model at once.

    Returns:
        The export folder.
    """
    import importlib.util

    from filelock import FileLock

    from rnnzoo.runtime.convert import write_portable
    from rnnzoo.runtime.predictor import require_runtime
    from rnnzoo.utils import MissingPackageError

    require_runtime(runtime)  # before a conversion that could not be served
    from rnnzoo.runtime.processing import MODEL_FILES, SETTINGS_FILE

    digest = source_digest(kind, path)
    name = os.path.basename(os.path.normpath(path))
    if kind == "keras_file":
        name = os.path.splitext(name)[0]
    folder = cache_folder(name, digest, runtime, quantize)

    def complete():
        settings_path = os.path.join(folder, SETTINGS_FILE)
        if not (os.path.exists(settings_path) and os.path.exists(os.path.join(folder, MODEL_FILES[runtime]))):
            return False
        with open(settings_path, encoding="utf-8") as f:
            return (json.load(f).get("source") or {}).get("sha256") == digest

    if complete():
        return folder
    if runtime == "onnx" and importlib.util.find_spec("onnx") is None:
        raise MissingPackageError("ONNX export needs the onnx package: pip install 'rnnzoo[onnx]' (or pip install onnx).")
    if runtime == "onnx" and quantize:  # int8 from the float32 export: quantizing it needs no TensorFlow
        from rnnzoo.runtime.convert import quantize_onnx_export

        float32 = cached_export(kind, path, runtime, None, load_task)
        with FileLock(folder + ".lock"):
            if not complete():
                quantize_onnx_export(float32, folder)
        return folder
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    with FileLock(folder + ".lock"):
        if not complete():
            write_portable(load_task(), folder, runtime, quantize=quantize, overwrite=True,
                           source={"sha256": digest, "path": os.path.abspath(path)})
    return folder


def _register():
    from rnnzoo.export import register_portable_writer

    register_portable_writer(RUNTIMES, export_portable)


_register()

__all__ = ["RUNTIMES", "cached_export", "check_runtime", "export_portable", "load_portable"]
