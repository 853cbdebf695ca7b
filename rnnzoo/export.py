"""Exports in the TF Serving layout: `DIR/<version>/`, written atomically, never replaced by accident.

`Task.export(directory, format=...)` writes one version folder under
`directory`, the layout TF Serving (and most model servers) watch: each
integer subfolder is a version of the model, the highest one is served.

- `version_directory`: the shared version-folder logic of every format (pick
  or check the version, refuse to replace one unless asked, write into a
  staging folder and rename it into place).
- `export_saved_model`: the SavedModel whose `serving_default` is the task's
  `serving_signature()` (raw strings in, everything `predict` returns out).
- `describe_saved_model`: the inputs and outputs of a written signature, read
  from `saved_model.pb` alone (what `rnnzoo export` prints).
- `register_portable_writer` / `portable_writer`: the writer of the portable
  formats (`"tflite"`, `"onnx"`). `rnnzoo.runtime` registers it: it sits
  above the models (it serves them without TensorFlow), so `Task.export`
  reaches it through this registry instead of importing it.

TensorFlow is imported only when a SavedModel is written or read.
"""

import os
import shutil

#: The formats `Task.export` writes (`"tf_saved_model"` is an old name of `"saved_model"`).
FORMATS = ("saved_model", "tflite", "onnx")
_ALIASES = {"tf_saved_model": "saved_model"}
#: format -> `writer(task, directory, format=, version=, overwrite=, quantize=, verbose=)`.
_PORTABLE_WRITERS = {}


def register_portable_writer(formats, writer):
    """Make `writer` the one `Task.export(format=...)` calls for each of `formats` (not `"saved_model"`)."""
    for format in formats:
        if check_format(format) == "saved_model":
            raise ValueError("the SavedModel export is written by rnnzoo.export itself; register other formats.")
        _PORTABLE_WRITERS[format] = writer


def portable_writer(format):
    """The registered writer of a portable `format` (`rnnzoo.runtime.export_portable` once `rnnzoo` is imported)."""
    format = check_format(format)
    if format not in _PORTABLE_WRITERS:
        raise ValueError(
            f"no writer of the {format!r} export is registered; `import rnnzoo.runtime` registers the TFLite and "
            "ONNX writers (`import rnnzoo` does it too)."
        )
    return _PORTABLE_WRITERS[format]


def check_format(format):
    """`format` by its canonical name (`"tf_saved_model"` -> `"saved_model"`), or a `ValueError` listing the formats."""
    name = _ALIASES.get(format, format)
    if name not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {' | '.join(FORMATS)}.")
    return name


def _existing_versions(directory):
    """The integer-named subfolders of `directory` (TF Serving's versions), as ints."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(n) for n in os.listdir(directory) if n.isdigit() and os.path.isdir(os.path.join(directory, n)))


def _check_version(version):
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            f"version must be a non-negative int (the name of the version folder TF Serving reads) or None "
            f"for the next free one, got {version!r}."
        )
    return int(version)


class VersionDirectory:
    """One version folder `directory/<version>/` being written: see `version_directory`.

    Attributes:
        path: the version folder's absolute path (exists once the `with` block succeeded).
        version: the version number (int).
        staging: a fresh empty folder beside it to write into (inside the `with` block).
    """

    def __init__(self, directory, version=None, overwrite=False):
        directory = os.path.abspath(os.fspath(directory))
        version = _check_version(version)
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise FileExistsError(f"{directory} is a file; export to a folder (its versions go in subfolders).")
        if os.path.exists(os.path.join(directory, "saved_model.pb")):
            raise FileExistsError(
                f"{directory} is itself a SavedModel (the layout before versions); export to another folder, "
                f"or move it to {os.path.join(directory, '1')} first."
            )
        existing = _existing_versions(directory)
        if version is None:
            version = existing[-1] + 1 if existing else 1
        self.directory, self.version, self.overwrite = directory, version, bool(overwrite)
        self.path = os.path.join(directory, str(version))
        self.staging = None
        self._refuse_existing()

    def _refuse_existing(self):
        if os.path.exists(self.path) and not self.overwrite:
            free = (_existing_versions(self.directory) or [0])[-1] + 1
            raise FileExistsError(
                f"{self.path} exists: version {self.version} was already exported there. Pass overwrite=True "
                f"(rnnzoo export --overwrite) to replace it, or another version (the next free one is {free}; "
                "version=None picks it)."
            )

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        # Hidden, not an integer: a server watching `directory` never sees a half-written version.
        # Not mkdtemp: its 0700 mode would stay on the version folder; mkdir respects the umask.
        self.staging = os.path.join(self.directory, f".staging-{self.version}-{os.getpid()}-{os.urandom(4).hex()}")
        os.mkdir(self.staging)
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                self._commit()
        finally:
            if self.staging and os.path.exists(self.staging):
                shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        return False

    def _commit(self):
        self._refuse_existing()  # another export may have taken the version meanwhile
        old = None
        if os.path.exists(self.path):
            old = f"{self.staging}.old"
            os.rename(self.path, old)
        try:
            os.rename(self.staging, self.path)
        except OSError as error:
            if old:
                os.rename(old, self.path)
            raise FileExistsError(f"could not write {self.path} ({error}); nothing was replaced.") from error
        if old:
            shutil.rmtree(old, ignore_errors=True)


def version_directory(directory, version=None, overwrite=False):
    """The version folder `directory/<version>/` an export writes, as TF Serving lays out models.

    Checks everything before the (slow) export runs: `version` must be a
    non-negative int or None (then 1 + the highest integer subfolder, or 1);
    an existing version folder raises `FileExistsError` unless `overwrite`.
    Use it as a context manager and write into `staging`: on success the
    staging folder is renamed to `path` (replacing the old version only then),
    on an error it is removed and nothing changes.

    Args:
        directory: the model's folder (created if missing); its integer
            subfolders are the versions.
        version: the version to write, or None for the next free one.
        overwrite: replace an existing version folder.

    Returns:
        A `VersionDirectory` (`path`, `version`, and `staging` inside `with`).

    Example:
    >>> with version_directory("exported/my_model") as target:   # doctest: +SKIP
    ...     write_files(target.staging)
    >>> target.path                                               # doctest: +SKIP
    '/abs/exported/my_model/1'
    """
    return VersionDirectory(directory, version=version, overwrite=overwrite)


def _require_tensorflow_backend(what):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{what} writes a TensorFlow SavedModel and needs the TensorFlow backend; "
            f"run with KERAS_BACKEND=tensorflow (now {keras.backend.backend()!r})."
        )


def export_saved_model(task, directory, version=None, overwrite=False, verbose=True):
    """Write `task` as a SavedModel in `directory/<version>/` whose `serving_default` is `task.serving_signature()`.

    The one SavedModel export of every family: the task says what its
    signature takes (raw strings, or encoded image bytes) and returns
    (everything `predict` returns, named); this tracks the task and the
    preprocessor layers that hold its vocabularies (their lookup tables must
    be tracked explicitly) and writes the version folder atomically (see
    `version_directory`). TensorFlow backend only.

    Returns:
        The version folder's absolute path.
    """
    _require_tensorflow_backend(f"{type(task).__name__}.export")
    import keras

    target = version_directory(directory, version=version, overwrite=overwrite)
    serve, input_signature, trackables = task.serving_signature()
    archive = keras.export.ExportArchive()
    archive.track(task)
    for trackable in trackables:
        if hasattr(trackable, "build") and not trackable.built:
            trackable.build(None)  # e.g. a loaded model's StringLookup, never called before (as Keras builds it)
        archive.track(trackable)
    archive.add_endpoint("serving_default", serve, input_signature=input_signature)
    with target:
        archive.write_out(target.staging, verbose=False)
    if verbose:
        print(f"SavedModel version {target.version} written to {target.path}")
        print(format_signature(describe_saved_model(target.path), task.serving_docs()))
    return target.path


def describe_saved_model(path, signature="serving_default", tag="serve"):
    """A SavedModel signature's inputs and outputs, read from `saved_model.pb` (nothing is loaded or run).

    Returns:
        `{"inputs": {name: (dtype, shape)}, "outputs": {name: (dtype, shape)}}`,
        dtype a TensorFlow dtype name (`"string"`, `"float32"`), shape a tuple
        with None for unknown sizes.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    graphs = [g for g in model.meta_graphs if tag in g.meta_info_def.tags]
    if not graphs or signature not in graphs[0].signature_def:
        raise ValueError(f"{path} has no {signature!r} signature under tag {tag!r}.")
    signature_def = graphs[0].signature_def[signature]

    def describe(tensors):
        out = {}
        for name in sorted(tensors):
            info = tensors[name]
            shape = None if info.tensor_shape.unknown_rank else tuple(
                None if d.size < 0 else d.size for d in info.tensor_shape.dim
            )
            out[name] = (tf.dtypes.as_dtype(info.dtype).name, shape)
        return out

    return {"inputs": describe(signature_def.inputs), "outputs": describe(signature_def.outputs)}


def format_signature(description, docs=None, signature="serving_default"):
    """`describe_saved_model`'s result as text: one line per input and output (name, dtype, shape, meaning).

    Args:
        description: `describe_saved_model(path)`.
        docs: the task's `serving_docs()`: their shapes (with named axes) and
            meanings are shown where a name matches.
    """
    docs = docs or {}

    def shape(s):
        return "?" if s is None else "[" + ", ".join("?" if d is None else str(d) for d in s) + "]"

    lines = [f"signature {signature}:"]
    for kind in ("inputs", "outputs"):
        lines.append(f"  {kind}:")
        for name, (dtype, s) in description[kind].items():
            doc = docs.get(kind, {}).get(name)
            lines.append(f"    {name:20s} {dtype:8s} {doc[1] if doc else shape(s):22s} {doc[2] if doc else ''}".rstrip())
    return "\n".join(lines)


def tf_at_least_one_row(strings):
    """`(strings with one "" appended when the batch is empty, the batch size)`, in a TensorFlow graph.

    The signatures run an empty batch on one empty input and return the first
    `batch size` (zero) rows of each output: recurrent layers cannot stack the
    outputs of an empty batch, and generation gathers per row.
    """
    import tensorflow as tf

    rows = tf.shape(strings)[0]
    return tf.concat([strings, tf.fill([tf.maximum(1 - rows, 0)], "")], axis=0), rows


def tf_round(x, decimals=4):
    """`round(float(v), decimals)` of each element of `x`, in a TensorFlow graph: float64.

    How the signatures return the scores `predict` rounds, so that the served
    numbers equal the Python ones exactly: the value is printed with
    `decimals` digits (correctly rounded, half to even on the exact binary
    value, as `round` does) and parsed back (the nearest float64, as Python
    reads the rounded decimal). Scaling, rounding and dividing would not do:
    TensorFlow turns the division by 10**decimals into a multiplication by an
    inexact reciprocal (0.9812000000000001 for 0.9812).
    """
    import tensorflow as tf

    printed = tf.strings.as_string(tf.cast(x, tf.float64), precision=decimals)
    return tf.strings.to_number(printed, tf.float64)
