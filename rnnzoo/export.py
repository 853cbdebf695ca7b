"""SavedModel export: `serving_default` takes raw strings, ready for TF Serving."""

import os
import shutil
import tempfile


def _require_tensorflow_backend(what):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{what} writes a TensorFlow SavedModel and needs the TensorFlow backend; "
            f"run with KERAS_BACKEND=tensorflow (now {keras.backend.backend()!r})."
        )


def write_archive(archive, filepath, verbose=True):
    """Write an `ExportArchive` atomically (temp folder, then rename)."""
    filepath = os.path.abspath(os.fspath(filepath))
    parent = os.path.dirname(filepath)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-export-", dir=parent)
    try:
        target = os.path.join(staging, "saved_model")
        archive.write_out(target, verbose=False)
        if os.path.exists(filepath):
            shutil.rmtree(filepath)
        os.rename(target, filepath)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if verbose:
        print(f"SavedModel written to {filepath} (signature serving_default: raw strings in)")
    return filepath


def export_saved_model(task, filepath, verbose=True):
    """Write `task` as a SavedModel whose `serving_default` is `task.serving_signature()`.

    The one export of every family: the task says what its signature takes
    (raw strings, or encoded image bytes) and returns (readable outputs);
    this tracks the task and the preprocessor layers that hold its
    vocabularies (their lookup tables must be tracked explicitly) and writes
    the archive atomically. TensorFlow backend only.

    Returns:
        The absolute path written.
    """
    _require_tensorflow_backend(f"{type(task).__name__}.export")
    import keras

    serve, input_signature, trackables = task.serving_signature()
    archive = keras.export.ExportArchive()
    archive.track(task)
    for trackable in trackables:
        if hasattr(trackable, "build") and not trackable.built:
            trackable.build()
        archive.track(trackable)
    archive.add_endpoint("serving_default", serve, input_signature=input_signature)
    return write_archive(archive, filepath, verbose=verbose)
