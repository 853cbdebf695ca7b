"""`Task`: a functional `keras.Model` that takes raw inputs in fit/evaluate/predict.

Like keras-hub's tasks: the model graph is backbone + head over already
vectorized tensors (so it runs on every backend), and a TF-side preprocessor
turns raw strings into those tensors inside `tf.data`. `fit`, `evaluate` and
`predict` accept raw inputs and vectorize them; already vectorized inputs
(dicts of arrays, `tf.data` of tensors) pass straight through to Keras.
"""

import contextlib
import os
import warnings

import keras


class Task(keras.Model):
    """Base class of the families' tasks. Subclasses implement `make_dataset`."""

    #: Default batch size of the raw-input pipelines.
    default_batch_size = 32

    def _is_raw(self, x):
        """True when `x` holds raw text (or a CoNLL path) the preprocessor must vectorize."""
        if x is None:
            return False
        if isinstance(x, (str, os.PathLike)):
            return True
        if isinstance(x, (list, tuple)):
            return len(x) == 0 or isinstance(x[0], (str, bytes, list, tuple)) or x[0] is None
        try:
            import numpy as np

            if isinstance(x, np.ndarray):
                return x.dtype.kind in "OUS"
        except ImportError:  # pragma: no cover
            pass
        if type(x).__module__.startswith("tensorflow"):
            import tensorflow as tf

            if isinstance(x, tf.data.Dataset):
                spec = x.element_spec
                first = spec[0] if isinstance(spec, tuple) else spec
                return getattr(first, "dtype", None) == tf.string
        return False

    def make_dataset(self, x, y=None, batch_size=None, training=False):  # pragma: no cover
        raise NotImplementedError

    def _vectorize(self, x, y, batch_size, training):
        if self._is_raw(x):
            if isinstance(x, (str, os.PathLike)) or y is not None or not _is_dataset(x):
                return self.make_dataset(x, y, batch_size=batch_size, training=training), None, None
            return self.make_dataset(x, None, batch_size=batch_size, training=training), None, None
        return x, y, batch_size

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, **kwargs):
        """`keras.Model.fit`, also on raw inputs (see the family's `make_dataset`)."""
        x, y, batch_size = self._vectorize(x, y, batch_size, training=True)
        if _is_dataset(x):
            # Datasets (ours included) shuffle themselves; Keras would only warn.
            kwargs.setdefault("shuffle", False)
        if validation_data is not None:
            vx, vy = _split_validation(validation_data)
            if self._is_raw(vx):
                validation_data = self.make_dataset(vx, vy, batch_size=batch_size, training=False)
        with _one_pass_per_epoch(kwargs.get("steps_per_epoch")):
            return super().fit(x, y, batch_size=batch_size, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate`, also on raw inputs."""
        x, y, batch_size = self._vectorize(x, y, batch_size, training=False)
        with _one_pass_per_epoch(kwargs.get("steps")):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def save_to_preset(self, preset_dir, overwrite=False):
        """Save as a zoo artifact folder that `rnnzoo.load(preset_dir)` reads back.

        This is the small file to share a fine-tuned model: weights and
        vocabularies only, without the optimizer state and embedding slots
        `model.save` adds (bilstm_ner: 23 MB instead of 71 MB), plus readable
        vocabularies, `checksums.json` and the zoo config (`config.yaml`) when
        the task has one. Written atomically.

        Args:
            preset_dir: the folder to write.
            overwrite: replace an existing artifact there; otherwise an existing
                non-empty folder raises `FileExistsError` and is left alone.

        Returns:
            The folder's absolute path.

        Example:
        >>> hero.save_to_preset("hero_tagger")       # doctest: +SKIP
        >>> rnnzoo.load("hero_tagger").predict(["Ironman punched Hulk"])  # doctest: +SKIP
        """
        from rnnzoo.zoo import CHECKSUMS, MODEL_FILE, save_artifact

        preset_dir = os.path.abspath(os.fspath(preset_dir))
        is_artifact = any(os.path.exists(os.path.join(preset_dir, f)) for f in (MODEL_FILE, CHECKSUMS))
        if overwrite and os.path.isdir(preset_dir) and os.listdir(preset_dir) and not is_artifact:
            raise FileExistsError(f"{preset_dir} holds other files, not an rnnzoo artifact; refusing to replace it.")
        return save_artifact(self, getattr(self, "zoo_config", None), preset_dir, overwrite=overwrite)

    def get_config(self):
        # Functional config is replaced by the constructor arguments, as in keras-hub;
        # subclasses add their own arguments to this.
        preprocessor = getattr(self, "preprocessor", None)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(preprocessor) if preprocessor is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@contextlib.contextmanager
def _one_pass_per_epoch(steps):
    """Silence Keras' "Your input ran out of data" when no step count was asked for.

    Keras 3 warns at the end of every dataset of unknown length (bucketed
    `tf.data` pipelines, ours included) even without `steps_per_epoch`, where
    one pass over the data is exactly what an epoch is. With a step count the
    warning means something, and is kept.
    """
    with warnings.catch_warnings():
        if steps is None:
            warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
        yield


def _is_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def _split_validation(validation_data):
    if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
        return validation_data[0], validation_data[1]
    return validation_data, None
