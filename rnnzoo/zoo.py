"""The zoo: names -> configs (`zoo_configs/`) -> artifacts (`saved_models/`, or downloaded).

What an artifact folder holds, where configs and artifacts live, and how one
is written and verified is `rnnzoo.artifacts`; fetching a published one into
the cache is `rnnzoo.downloads`. This module resolves names, configs and
sources to those folders, and loads them (`load`).
"""

import difflib
import json
import os
import warnings

from rnnzoo.artifacts import (
    CHECKSUMS,
    MODEL_FILE,
    check_model_name,
    configs_dir,
    is_model_name,
    models_dir,
    verify_checksums,
)


def list_models(trained_only=False):
    """Names of the zoo's models (configs), or only those with a shipped artifact."""
    names = set()
    if os.path.isdir(configs_dir()):
        names |= {f[:-5] for f in os.listdir(configs_dir()) if f.endswith(".yaml")}
    trained = set()
    if os.path.isdir(models_dir()):
        trained = {d for d in os.listdir(models_dir()) if os.path.exists(os.path.join(models_dir(), d, MODEL_FILE))}
    if trained_only:
        return sorted(trained)
    from rnnzoo.downloads import read_index

    return sorted(names | trained | {n for n in read_index() if is_model_name(n)})


def _unknown_name(name):
    available = list_models()
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown model {name!r}.{hint} Available: {', '.join(available) or '(none)'}.")


def resolve_config(name_or_config, overrides=None):
    """A validated `ZooConfig` from a zoo name, a YAML path, a dict or a `ZooConfig`."""
    from rnnzoo.config import ZooConfig, load_config

    source = name_or_config
    if isinstance(source, str) and not os.path.exists(source) and not source.endswith((".yaml", ".yml")):
        if not is_model_name(source):  # not a file here, and no zoo name either: never joined under configs_dir
            raise _unknown_name(source)
        path = os.path.join(configs_dir(), source + ".yaml")
        if not os.path.exists(path):
            raise _unknown_name(source)
        source = path
    elif isinstance(source, str) and not os.path.exists(source):
        raise FileNotFoundError(f"config file {source!r} not found.")
    if not isinstance(source, (str, dict, ZooConfig, os.PathLike)):
        raise ValueError(f"expected a zoo name, YAML path, dict or ZooConfig, got {type(source).__name__}.")
    return load_config(source, overrides)


def build(name_or_config, overrides=None, data=None):
    """An untrained task for a zoo name or config (vocabularies from its training data)."""
    from rnnzoo.models import get_family

    config = resolve_config(name_or_config, overrides)
    family = get_family(config.family)
    return family.build(config, data if data is not None else family.load_data(config))


def _is_url(text):
    return isinstance(text, str) and text.split("://", 1)[0].lower() in ("http", "https", "file") and "://" in text


def local_artifact(name):
    """`name`'s artifact already on this machine (the checkout's `saved_models/` or the cache), or None."""
    from rnnzoo.downloads import cached_artifact

    path = os.path.join(models_dir(), check_model_name(name))
    if os.path.isdir(path) and os.path.exists(os.path.join(path, MODEL_FILE)):
        return path
    return cached_artifact(name)


def artifact_dir(name_or_path, download=True):
    """The artifact folder of a zoo name or folder path; a published artifact is downloaded to the cache."""
    from rnnzoo.downloads import fetch_artifact, read_index

    if os.path.isdir(name_or_path):
        return name_or_path
    path = local_artifact(name_or_path)
    if path:
        return path
    entry = read_index().get(name_or_path)
    if entry is not None and download:
        return fetch_artifact(name_or_path, entry)
    if entry is not None or os.path.exists(os.path.join(configs_dir(), name_or_path + ".yaml")):
        where = "not downloaded yet" if entry is not None else "no published artifact and none in " + models_dir()
        raise FileNotFoundError(
            f"model {name_or_path!r} has a config but no trained artifact here ({where}); "
            + (f"run `rnnzoo download {name_or_path}`." if entry is not None else
               f"train it with `rnnzoo train {name_or_path} --output-dir {os.path.join(models_dir(), name_or_path)}`.")
        )
    raise _unknown_name(name_or_path)


def resolve_artifact(source, download=True):
    """Where `load` reads `source` from: `(kind, path)` with kind `"folder"` or `"keras_file"`.

    `source` is an artifact folder, a `.keras` file, an http(s)/file URL of
    either, or a zoo name (the checkout's artifact, else the cache, else a
    download). The error says what `source` was tried as, and why each failed.
    """
    from rnnzoo.downloads import fetch_url

    source = os.fspath(source)
    if _is_url(source):
        path = fetch_url(source)
        return ("keras_file", path) if path.endswith(".keras") else ("folder", path)
    if os.path.isdir(source):
        if not os.path.exists(os.path.join(source, MODEL_FILE)):
            raise FileNotFoundError(f"{source} is a folder but not an rnnzoo artifact: it has no {MODEL_FILE}.")
        return "folder", source
    if os.path.isfile(source):
        folder = os.path.dirname(os.path.abspath(source))
        if os.path.basename(source) == MODEL_FILE and os.path.exists(os.path.join(folder, CHECKSUMS)):
            return "folder", folder  # the model.keras of an artifact: verify it with its folder
        if not source.endswith(".keras"):
            raise ValueError(f"{source} is a file but not a .keras model; give a zoo name, an artifact folder, "
                             "a .keras file or a URL.")
        return "keras_file", source
    looks_like_path = os.sep in source or "/" in source or source.endswith((".keras", ".zip", ".h5"))
    known = list_models()
    if source in known:
        return "folder", artifact_dir(source, download=download)
    close = difflib.get_close_matches(source, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if looks_like_path:
        raise FileNotFoundError(
            f"{source!r} is not a zoo name{hint} and no such file or folder exists "
            f"({os.path.abspath(source)}); nor is it an http(s):// or file:// URL."
        )
    raise _unknown_name(source)


def artifact_config(directory):
    """The `ZooConfig` saved in an artifact folder (`config.yaml`), or None without one.

    Read with `legacy=True`: artifacts saved before the families had their own
    config sections hold the other families' keys at their old defaults.
    """
    from rnnzoo.config import load_config

    path = os.path.join(directory, "config.yaml")
    return load_config(path, legacy=True) if os.path.exists(path) else None


def load(name_or_path, compile=True, verify=True, runtime="keras", quantize=None, threads=None):
    """Load a trained model (a `keras.Model` task, or a portable predictor) from a zoo name, folder, `.keras` file or URL.

    Args:
        name_or_path: a zoo name (`"bilstm_ner"`: the checkout's
            `saved_models/`, else the cache `$RNNZOO_HOME`, else downloaded
            and verified into it), an artifact folder (written by
            `task.save_to_preset` or `rnnzoo train --output-dir`), a `.keras`
            file (e.g. from `model.save`: loaded without checksums or config),
            or an http(s):// / file:// URL of an artifact folder or `.keras`
            file (cached after the first download).
        compile: compile with the config's optimizer so `fit` fine-tunes at
            once (Adam with its defaults when there is no config).
        verify: check the weights and vocabularies against `checksums.json`.
        runtime: `"keras"` (default; `"tf"` is the same): the Keras task, a
            `keras.Model` that trains, evaluates and exports. `"onnx"` (ONNX
            Runtime) or `"tflite"` (LiteRT): a portable predictor
            (`rnnzoo.runtime.predictor`; taggers and classifiers), not a
            `keras.Model`: its `predict` takes the same inputs and returns the
            same results, faster and without TensorFlow at serving time. The
            model is converted once into the cache (`$RNNZOO_HOME/runtimes/`,
            keyed by its checksums, the runtime and `quantize`) and reused.
        quantize: with `runtime="onnx"` or `"tflite"`: None (float32) or
            `"int8"` (dynamic-range int8 weights; see each model card's
            runtime table for the accuracy change).
        threads: threads a portable predictor's call may use (default: the
            cores available). ONNX: a call's rows, sorted by length and cut
            into sub-batches, run on this many threads over one
            single-threaded session (`threads=1`: inline); LiteRT: the
            interpreter's threads (see `rnnzoo.runtime.load_portable`).

    Files are read in Keras safe mode (`load_keras_file`): a model file that
    holds Python code (a `Lambda` layer's lambda) is refused, never run.

    Example:
    >>> import rnnzoo
    >>> tagger = rnnzoo.load("bilstm_ner")  # doctest: +SKIP
    >>> tagger.save_to_preset("my_tagger")  # doctest: +SKIP
    >>> rnnzoo.load("my_tagger")            # doctest: +SKIP
    >>> fast = rnnzoo.load("bilstm_ner", runtime="onnx")  # doctest: +SKIP
    """
    from rnnzoo.runtime import check_runtime

    runtime = check_runtime(runtime, quantize)
    kind, path = resolve_artifact(name_or_path)  # first: a wrong name fails before Keras is imported
    if runtime != "keras":
        from rnnzoo.runtime import cached_export, load_portable

        if kind == "folder" and verify:
            verify_checksums(path)
        folder = cached_export(kind, path, runtime, quantize, lambda: load(path, compile=False, verify=False))
        return load_portable(folder, threads=threads)

    from rnnzoo.models import get_family, import_all_tasks

    if kind == "keras_file":
        file, config = path, None
    else:
        if verify:
            verify_checksums(path)
        file = os.path.join(path, MODEL_FILE)
        config = artifact_config(path)
    # Importing the task class registers the family's Keras-serializable classes.
    if config is not None:
        get_family(config.family).task_class()
    else:
        import_all_tasks()
    task = load_keras_file(file, name_or_path)
    task.zoo_config = config
    if config is None:
        what = "a plain .keras file: no checksums verified, " if kind == "keras_file" else ""
        warnings.warn(
            f"{name_or_path}: {what}no zoo config (config.yaml)"
            + ("; compiled with Adam's defaults: call compile() to choose the optimizer." if compile else "."),
            stacklevel=2,
        )
    if compile:
        from rnnzoo.training.optimizers import make_optimizer

        task.compile(optimizer=make_optimizer(config.training) if config is not None else "adam")
    return task


def load_keras_file(file, source=None):
    """`keras.saving.load_model(file, compile=False)` in safe mode: code in the file is refused, never run.

    A `.keras` file may carry Python bytecode (a `Lambda` layer's lambda) that
    would run while the model is rebuilt; Keras' safe mode refuses it, and so
    does `rnnzoo.load`, whatever `keras.config.enable_unsafe_deserialization()`
    set. There is no switch here: for a file you wrote yourself or trust,
    `keras.saving.load_model(path, safe_mode=False)` runs that code (dangerous
    for files from elsewhere).

    Raises:
        ValueError: the file holds code; says what was refused and the way out.
    """
    import contextlib

    import keras

    try:
        # Keras lets a global `enable_unsafe_deserialization()` (any library in the process may call it) win
        # over load_model's own safe_mode=True; its scope puts safe mode back for this call.
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover (a Keras without it: load_model's own safe mode)
        SafeModeScope = None
    try:
        with SafeModeScope(True) if SafeModeScope is not None else contextlib.nullcontext():
            return keras.saving.load_model(file, compile=False, safe_mode=True)
    except ValueError as error:
        if "safe_mode" not in str(error):
            raise
        raise ValueError(
            f"{source or file}: refusing to load {file}: it holds Python code (e.g. a Lambda layer's lambda) that "
            "would run while loading, and rnnzoo.load never runs code from a model file (Keras safe mode). If you "
            "wrote the file or trust its source, keras.saving.load_model(path, safe_mode=False) loads it and runs "
            "that code."
        ) from None


def read_metrics(name_or_path):
    with open(os.path.join(artifact_dir(name_or_path), "metrics.json")) as f:
        return json.load(f)
