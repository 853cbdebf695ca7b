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


def export_tagger(tagger, filepath, verbose=True):
    """Export a `BidirectionalTagger` as a SavedModel.

    `serving_default(text: tf.string [batch])` returns `tokens` and `tags`
    (`[batch, time]` strings, "" past each sentence's end) and `lengths`
    (`[batch]` int64). Tokenization follows `rnnzoo.text.tokenize`.
    """
    _require_tensorflow_backend("export")
    import keras
    import tensorflow as tf

    preprocessor = tagger.preprocessor
    labels = tf.constant(tagger.output_tags)

    def serve(text):
        tokens = preprocessor.from_strings(text)[0]
        lengths = tokens.row_lengths()
        # At least one time step, so empty strings and empty batches stay valid.
        dense = tokens.to_tensor(default_value="")
        dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]], constant_values="")
        features = preprocessor(dense)
        tags, _ = tagger.decode(features, tagger(features, training=False))
        tag_names = tf.gather(labels, tags)
        tag_names = tf.where(tf.not_equal(dense, ""), tag_names, tf.fill(tf.shape(tag_names), ""))
        return {"tokens": dense, "tags": tag_names, "lengths": lengths}

    archive = keras.export.ExportArchive()
    archive.track(tagger)
    archive.track(preprocessor)
    archive.add_endpoint(
        "serving_default", serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    return write_archive(archive, filepath, verbose=verbose)
