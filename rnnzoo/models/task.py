"""`Task`: a functional `keras.Model` that takes raw inputs in fit/evaluate/predict.

Like keras-hub's tasks: the model graph is backbone + head over already
vectorized tensors (so it runs on every backend), and a TF-side preprocessor
turns raw strings into those tensors inside `tf.data`. `fit`, `evaluate` and
`predict` accept raw inputs and vectorize them; already vectorized inputs
(dicts of arrays, `tf.data` of tensors) pass straight through to Keras.
"""

import contextlib
import numbers
import os
import warnings

import keras

from rnnzoo.models.checks import (  # noqa: F401  (re-exported: the tasks' input checks)
    InputError,
    as_text,
    check_batch_size,
    check_encodable,
    check_positive_int,
    check_texts,
    describe as _describe,
    warn_near_prior,
    warn_truncated,
)
from rnnzoo.utils import keep_arguments, kept_arguments


class Task(keras.Model):
    """Base of the families' tasks: a functional `keras.Model` (backbone + head) that also takes raw inputs.

    The contract every family implements (the CLI, `rnnzoo evaluate`, the
    artifact writer and the export rely on it):

    - `predict(x)`: raw inputs -> readable results (vectorized inputs go to Keras);
    - `score(x, y)`: the family's metrics on labelled raw data (`rnnzoo.metrics`);
    - `vocabularies()`: `{name: list of str}` written beside the weights;
    - `serving_signature()`: what the exported SavedModel serves (`export`);
    - `with_labels(labels)`: the same backbone with a head for a new label set
      (families with labels);
    - `examples(x, y)`: raw data -> single examples, behind the one
      `make_dataset` (the preprocessor, a `rnnzoo.models.preprocessor.Preprocessor`,
      says how they are batched).

    `fit`, `evaluate` and `make_dataset` are written here once: raw data goes
    through the family's hooks inside `tf.data` (shuffling, length buckets,
    JAX padding to a few shapes); already vectorized data passes straight to
    Keras.
    """

    #: Default batch size of the raw-input pipelines.
    default_batch_size = 32
    #: `make_dataset` caches the examples (`examples` output) when training: worth it when they are vectorized ids.
    cache_examples = False

    #: NumPy dtype kinds of arrays the family reads as raw inputs (`predict`/`fit` vectorize them):
    #: strings by default. An image family adds "u" (uint8 pixels are raw images, not ids).
    raw_dtype_kinds = "OUS"

    def _is_raw(self, x):
        """True when `x` holds raw inputs (text, a CoNLL path, or arrays of `raw_dtype_kinds`) to vectorize."""
        if x is None:
            return False
        if isinstance(x, (str, os.PathLike)):
            return True
        if isinstance(x, (list, tuple)):
            return len(x) == 0 or isinstance(x[0], (str, bytes, list, tuple)) or x[0] is None
        import numpy as np

        if isinstance(x, np.ndarray):
            return x.dtype.kind in self.raw_dtype_kinds
        if type(x).__module__.startswith("tensorflow"):
            import tensorflow as tf

            if isinstance(x, tf.data.Dataset):
                spec = x.element_spec
                first = spec[0] if isinstance(spec, tuple) else spec
                dtype = getattr(first, "dtype", None)
                if dtype is None or dtype == tf.string:
                    return dtype == tf.string
                return np.dtype(dtype.as_numpy_dtype).kind in self.raw_dtype_kinds.replace("O", "")
        return False

    # ------------------------------------------------------------- the raw-data pipeline
    def make_dataset(self, x, y=None, batch_size=None, training=False, **options):
        """Raw data -> a vectorized `tf.data.Dataset` of `(inputs, targets[, sample_weight])` batches.

        The task's `examples` reads `x`/`y` into a dataset of single
        examples. Training shuffles them and groups them into batches of
        similar length (the preprocessor's `bucket_boundaries` and
        `example_length`), so a batch is padded to its own longest example;
        evaluation batches them in order. The preprocessor's `batch_inputs`
        then turns each batch into the model's tensors. On JAX, batches are
        padded to `batch_size` rows and a few time lengths (its `time_axes`),
        so the jitted step compiles a few programs, not one per shape.

        Args:
            x, y: raw data, as the family's `examples` reads it.
            batch_size: examples per batch (default `default_batch_size`).
            training: shuffle and bucket by length.
            **options: passed to `examples` (e.g. the classifier's `max_length`).
        """
        import tensorflow as tf

        batch_size = self._batch_size(batch_size)
        dataset, count = self.examples(x, y, **options)
        p = self.preprocessor
        if training:
            if self.cache_examples:
                dataset = dataset.cache()
            dataset = dataset.shuffle(count or 10_000, reshuffle_each_iteration=True)
            boundaries = list(p.bucket_boundaries(**options))
            dataset = dataset.bucket_by_sequence_length(
                p.example_length,
                bucket_boundaries=boundaries,
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
                padding_values=p.example_padding(),
            )
        else:
            dataset = dataset.padded_batch(batch_size, padding_values=p.example_padding())
        dataset = dataset.map(p.batch_inputs, num_parallel_calls=tf.data.AUTOTUNE)
        if keras.backend.backend() == "jax":
            from rnnzoo.models.compiled import tf_pad_batch

            def pad(*batch):
                return tf_pad_batch(batch, batch_size, p.time_axes(labelled=len(batch) > 1))

            dataset = dataset.map(pad)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def examples(self, x, y=None, **options):  # pragma: no cover
        """Raw `x`/`y` -> `(tf.data.Dataset of single examples, count or None)`, checked."""
        raise NotImplementedError(f"{type(self).__name__} does not read raw data")

    # ------------------------------------------------------------- the contract
    def score(self, x, y=None, batch_size=None):  # pragma: no cover
        """The family's metrics (`rnnzoo.metrics`) on labelled raw data."""
        raise NotImplementedError(f"{type(self).__name__} does not implement score")

    def vocabularies(self):
        """`{name: list of str}`: readable copies of the vocabularies, written beside the weights."""
        return self.preprocessor.vocabularies()

    def with_labels(self, labels):  # pragma: no cover
        """The same backbone with a fresh head for `labels` (families with labels)."""
        raise NotImplementedError(f"{type(self).__name__} has no label set to change")

    def serving_signature(self):  # pragma: no cover
        """`(serve, input_signature, trackables)`: the exported `serving_default` (see `export`)."""
        raise NotImplementedError(f"{type(self).__name__} has no serving signature")

    #: The exported `serving_default`, documented in the model card (see `serving_docs`): each input and
    #: output name -> `(dtype, shape, meaning)`. The families fill them in next to `serving_signature`.
    serving_inputs = {}
    serving_outputs = {}
    #: An input for the card's `saved_model_cli run` example, and what else the card says about serving.
    serving_example = ""
    serving_note = ""

    def serving_docs(self):
        """`{"inputs": {...}, "outputs": {...}}`: this task's `serving_inputs`/`serving_outputs` (name -> dtype, shape, meaning).

        What the model card's serving section is written from; a family whose
        outputs depend on the head (the classifier's multilabel outputs)
        leaves out those this task does not export.
        """
        return {"inputs": dict(self.serving_inputs), "outputs": dict(self.serving_outputs)}

    def export(self, directory, format="saved_model", version=None, overwrite=False, verbose=True, quantize=None,
               **kwargs):
        """Write the task for serving, in the TF Serving layout `directory/<version>/`.

        `"saved_model"`: a TensorFlow SavedModel whose `serving_default` takes
        raw inputs and returns everything `predict` does, named
        (`serving_signature`; documented in the model card and by
        `serving_docs`); load it with `tf.saved_model.load(path)` or serve
        `directory` with TF Serving. TensorFlow backend only. `"tflite"` and
        `"onnx"` are written by `rnnzoo.runtime.export_portable`.

        Written atomically into a new version folder (see
        `rnnzoo.export.version_directory`): an existing version is never
        replaced unless `overwrite=True`.

        Args:
            directory: the model's folder; each version is an integer subfolder.
            format: `"saved_model"` (also its old name `"tf_saved_model"`),
                `"tflite"` or `"onnx"`.
            version: the version folder to write (an int), or None for 1 + the
                highest existing one (1 in a new folder).
            overwrite: replace that version if it exists (else `FileExistsError`).
            verbose: print the path written and the signature.
            quantize: `"int8"` for a dynamic-range int8 model (tflite/onnx only).
            **kwargs: the family's export options (e.g. the language model's decoding).

        Returns:
            The version folder's absolute path.

        Example:
        >>> tagger.export("exported/bilstm_ner")          # doctest: +SKIP
        '/abs/exported/bilstm_ner/1'
        """
        from rnnzoo.export import check_format, export_saved_model, portable_writer

        format = check_format(format)
        if format != "saved_model":
            if kwargs:
                raise TypeError(f"{type(self).__name__}.export(format={format!r}) got unexpected options {sorted(kwargs)}.")
            return portable_writer(format)(self, directory, format=format, version=version, overwrite=overwrite,
                                           quantize=quantize, verbose=verbose)
        if quantize is not None:
            raise ValueError(
                f"quantize={quantize!r} applies to the tflite and onnx formats; a SavedModel keeps float weights."
            )
        if kwargs:
            raise TypeError(f"{type(self).__name__}.export got unexpected options {sorted(kwargs)}.")
        return export_saved_model(self, directory, version=version, overwrite=overwrite, verbose=verbose)

    # ------------------------------------------------------------- input checks
    #: What `predict` reads, for error messages (the families say it in their own words).
    accepted_inputs = "raw inputs or vectorized arrays"

    def _batch_size(self, batch_size):
        """The validated batch size (`default_batch_size` for None); see `check_batch_size`."""
        return check_batch_size(batch_size, self.default_batch_size)

    def _input_names(self):
        inputs = self.input
        if isinstance(inputs, dict):
            return sorted(inputs)
        return sorted(getattr(t, "name", str(t)) for t in keras.tree.flatten(inputs))

    def _check_input(self, x, method="predict"):
        """Refuse a top-level `x` that no path of `method` can read, saying what is accepted.

        Raw inputs (str, bytes, lists, tuples) pass: the family checks their
        items and names a bad one by index. Vectorized inputs pass to Keras as
        before: arrays and tensors (anything with `shape` and `dtype`),
        `tf.data` datasets, `keras.utils.PyDataset`s and generators, and dicts
        keyed by the model's input names; NumPy id arrays are checked
        (`_check_ids`). Costs a few isinstance checks (and a min/max over id arrays).
        """
        if isinstance(x, (str, bytes, list, tuple)):
            return
        if isinstance(x, dict):
            names = self._input_names()
            if sorted(map(str, x)) != names:
                raise InputError(
                    f"{method} got a dict with keys {sorted(map(str, x))}; a dict input must map this "
                    f"model's inputs {names} to arrays. {method} takes {self.accepted_inputs}."
                )
            self._check_ids(x, method)
            return
        vectorized = (hasattr(x, "shape") and hasattr(x, "dtype")) or _is_dataset(x)
        if not vectorized and x is not None and not isinstance(x, (numbers.Number, os.PathLike, set, frozenset)):
            vectorized = isinstance(x, keras.utils.PyDataset) or hasattr(x, "__next__")
        if not vectorized:
            hint = " (a file path: `score`/`fit`/`evaluate` read files, `predict` reads sentences)" if isinstance(
                x, os.PathLike
            ) else ""
            raise InputError(f"{method} takes {self.accepted_inputs}; got {_describe(x)}{hint}.")
        self._check_ids(x, method)

    def id_limits(self):
        """`{input name: number of ids}` of the model's id inputs, for the checks of vectorized `predict` inputs.

        Default: `token_ids` reads `backbone.vocabulary_size` ids. A family
        with other id inputs (the tagger's `char_ids`) adds them.
        """
        size = getattr(getattr(self, "backbone", None), "vocabulary_size", None)
        return {"token_ids": int(size)} if size else {}

    def _check_ids(self, x, method="predict"):
        """Refuse vectorized NumPy id arrays the model would misread, naming the input and the row.

        Keras would turn NaN/inf or out-of-range ids into an `InvalidArgumentError`
        deep in the graph (or, for negative ids, silently read another
        embedding row), and an empty batch into an `UnboundLocalError`. Checked
        here: the dtype (numbers), the rank of each input, at least one row and
        one time step, the same number of rows in every input, and ids that are
        whole numbers in `[0, id_limits()[name])`. NumPy arrays only (tensors
        and datasets pass as they are); costs a min/max over the arrays.
        """
        import numpy as np

        if isinstance(x, dict):
            arrays = {str(k): v for k, v in x.items()}
        elif isinstance(x, np.ndarray) and x.dtype.kind not in self.raw_dtype_kinds:
            names = self._input_names()
            arrays = {names[0]: x} if len(names) == 1 else {}
        else:
            return
        limits = self.id_limits()
        ranks = _input_ranks(self.input)
        rows = {}
        for name, array in sorted(arrays.items()):
            if not isinstance(array, np.ndarray) or name not in limits:
                continue
            if array.dtype.kind not in "iuf":
                raise InputError(
                    f"{method}: input {name!r} holds {array.dtype} values; vectorized inputs are arrays of int ids "
                    f"(0 padding). Pass raw text to {method} instead, or convert the ids with .astype('int32')."
                )
            rank = ranks.get(name)
            if rank is not None and array.ndim != rank:
                raise InputError(
                    f"{method}: input {name!r} must be {rank}-D {_AXES[rank]}, got shape {array.shape}."
                )
            if array.ndim and array.shape[0] == 0:
                raise InputError(f"{method}: input {name!r} has no rows (shape {array.shape}); pass at least one.")
            if array.ndim > 1 and array.shape[1] == 0:
                raise InputError(
                    f"{method}: input {name!r} has no time steps (shape {array.shape}); every row needs at least "
                    "one id (pad empty rows with a 1, the out-of-vocabulary id)."
                )
            rows[name] = array.shape[0] if array.ndim else None
            if array.size == 0:
                continue
            limit = limits[name]
            with np.errstate(invalid="ignore"):
                whole = array.dtype.kind != "f" or bool(np.isfinite(array).all() and (array == np.round(array)).all())
                if whole and array.min() >= 0 and array.max() < limit:
                    continue
                bad = (array < 0) | (array >= limit)
                if not whole:
                    bad |= ~np.isfinite(array) | (array != np.round(array))
            where = tuple(np.argwhere(bad)[0])  # the first bad id, row by row
            raise InputError(
                f"{method}: input {name!r} row {where[0]} holds id {array[where].item()!r}; ids are whole numbers "
                f"from 0 to {limit - 1} (0 padding, 1 out-of-vocabulary), never NaN or inf."
            )
        if len(set(rows.values())) > 1:
            raise InputError(f"{method}: the inputs have different numbers of rows: {rows}.")

    def _vectorize(self, x, y, batch_size, training):
        if self._is_raw(x):
            if isinstance(x, (str, os.PathLike)) or y is not None or not _is_dataset(x):
                return self.make_dataset(x, y, batch_size=batch_size, training=training), None, None
            return self.make_dataset(x, None, batch_size=batch_size, training=training), None, None
        return x, y, batch_size

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, **kwargs):
        """`keras.Model.fit`, also on raw inputs (see the family's `make_dataset`)."""
        self._check_fit_inputs(x, batch_size, "fit")
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
        if not kwargs.get("_use_cached_eval_dataset"):  # Keras' own call from `fit` for validation
            self._check_fit_inputs(x, batch_size, "evaluate")
        x, y, batch_size = self._vectorize(x, y, batch_size, training=False)
        with _one_pass_per_epoch(kwargs.get("steps")):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    @contextlib.contextmanager
    def training_session(self, dataset):
        """The context a training loop (`fit`, rnnzoo's custom loop) runs in over `dataset`; yields extra callbacks.

        Default: nothing. The language model carries its recurrent state across
        batches inside it (truncated BPTT).
        """
        yield []

    def _check_fit_inputs(self, x, batch_size, method):
        check_batch_size(batch_size, self.default_batch_size)
        if x is None:
            raise InputError(f"{method} needs data: x is None.")
        if isinstance(x, (numbers.Number, set, frozenset)):
            raise InputError(f"{method} takes raw data (see `make_dataset`) or vectorized arrays; got {_describe(x)}.")

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
        from rnnzoo.artifacts import CHECKSUMS, MODEL_FILE, save_artifact

        preset_dir = os.path.abspath(os.fspath(preset_dir))
        is_artifact = any(os.path.exists(os.path.join(preset_dir, f)) for f in (MODEL_FILE, CHECKSUMS))
        if overwrite and os.path.isdir(preset_dir) and os.listdir(preset_dir) and not is_artifact:
            raise FileExistsError(f"{preset_dir} holds other files, not an rnnzoo artifact; refusing to replace it.")
        return save_artifact(self, getattr(self, "zoo_config", None), preset_dir, overwrite=overwrite)

    def _keep_arguments(self, backbone, preprocessor, **arguments):
        """Keep the constructor's arguments as attributes (after `super().__init__`); `get_config` returns them."""
        self.backbone = backbone
        self.preprocessor = preprocessor
        keep_arguments(self, arguments)
        self.small_batch_xla = True  # small predict batches through XLA on TensorFlow (see `CompiledCall`)

    def _derive(self, new):
        """`new`, a task made from this one (`with_labels`, ...), keeps its zoo config (`save_to_preset` writes it)."""
        if getattr(self, "zoo_config", None) is not None:
            new.zoo_config = self.zoo_config
        return new

    def get_config(self):
        # Functional config is replaced by the constructor arguments, as in keras-hub.
        preprocessor = getattr(self, "preprocessor", None)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(preprocessor) if preprocessor is not None else None,
            **kept_arguments(self),
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


#: How error messages describe an input of each rank.
_AXES = {1: "(batch,)", 2: "(batch, time)", 3: "(batch, time, features)"}


def _input_ranks(inputs):
    """`{name: rank}` of a functional model's inputs (a dict of them, or tensors with names)."""
    if isinstance(inputs, dict):
        return {str(k): len(v.shape) for k, v in inputs.items()}
    return {getattr(t, "name", ""): len(t.shape) for t in keras.tree.flatten(inputs)}


def _is_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def _split_validation(validation_data):
    if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
        return validation_data[0], validation_data[1]
    return validation_data, None
