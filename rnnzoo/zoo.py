"""The zoo: names -> configs (`zoo_configs/`) -> artifacts (`saved_models/`, or downloaded).

An artifact is a folder holding `model.keras` (the whole task: weights,
architecture and vocabularies), `config.yaml` (the resolved zoo config),
readable copies of the vocabularies, `metrics.json` and `MODEL_CARD.md`
(written by `rnnzoo evaluate`), and `checksums.json`: the SHA-256 of the files
that decide predictions (`model.keras` and `vocabularies/`), verified by
`load`. Documentation (`MODEL_CARD.md`, `metrics.json`) and `config.yaml` are
left out so that editing them, or a checkout that converts their line endings,
never bricks a model: `config.yaml` only sets the fine-tuning optimizer and the
evaluation data, and is validated against the schema when read.

In a checkout (editable install) configs and artifacts are read from the
repository; a wheel carries the configs and the download record as package
data (`rnnzoo/_packaged/`, copied there by setup.py) and fetches artifacts into
the cache (`rnnzoo.downloads`).
"""

import difflib
import json
import os
import shutil
import tempfile
import warnings

from rnnzoo.utils import sha256

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_PACKAGE)
CHECKSUMS = "checksums.json"
MODEL_FILE = "model.keras"
#: Files (or folders, ending in "/") whose bytes decide predictions: what `checksums.json` covers.
VERIFIED = (MODEL_FILE, "vocabularies/")


def _in_checkout(*parts):
    """`parts` under the repository when rnnzoo runs from a checkout (editable install), else None."""
    if os.path.exists(os.path.join(_ROOT, "setup.cfg")):
        return os.path.join(_ROOT, *parts)
    return None


def packaged_dir():
    """Package data of a built wheel: `zoo_configs/` and `index.json` (absent in a checkout)."""
    return os.path.join(_PACKAGE, "_packaged")


def configs_dir():
    """`$RNNZOO_CONFIGS`, or the repository's `zoo_configs/`, or the copy shipped in the package."""
    if os.environ.get("RNNZOO_CONFIGS"):
        return os.environ["RNNZOO_CONFIGS"]
    checkout = _in_checkout("zoo_configs")
    if checkout and os.path.isdir(checkout):
        return checkout
    return os.path.join(packaged_dir(), "zoo_configs")


def models_dir():
    """`$RNNZOO_MODELS`, or the repository's `saved_models/` (absent in an installed wheel)."""
    if os.environ.get("RNNZOO_MODELS"):
        return os.environ["RNNZOO_MODELS"]
    return _in_checkout("saved_models") or os.path.join(_ROOT, "saved_models")


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

    return sorted(names | trained | set(read_index()))


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

    path = os.path.join(models_dir(), name)
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


def _verified(rel):
    rel = rel.replace(os.sep, "/")
    return any(rel == v or (v.endswith("/") and rel.startswith(v)) for v in VERIFIED)


def write_checksums(directory):
    """(Re)write `checksums.json` over the files of an artifact folder that decide predictions (`VERIFIED`)."""
    sums = {}
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/")
            if _verified(rel):
                sums[rel] = sha256(os.path.join(root, name))
    with open(os.path.join(directory, CHECKSUMS), "w") as f:
        json.dump(dict(sorted(sums.items())), f, indent=2)
        f.write("\n")
    return sums


def verify_checksums(directory):
    """Raise `ValueError` naming the first missing, truncated or tampered weights or vocabulary file.

    Entries outside `VERIFIED` (documentation, listed by artifacts written
    before rnnzoo 0.1.1) are ignored: they do not change predictions.
    """
    path = os.path.join(directory, CHECKSUMS)
    if not os.path.exists(path):
        raise ValueError(f"{directory} has no {CHECKSUMS}; refusing to load an unverified artifact.")
    with open(path) as f:
        sums = json.load(f)
    if MODEL_FILE not in sums:
        raise ValueError(f"checksum error: {path} does not list {MODEL_FILE}; refusing to load unverified weights.")
    for rel, expected in sums.items():
        if not _verified(rel):
            continue
        file = os.path.join(directory, *rel.split("/"))
        if not os.path.exists(file):
            raise ValueError(f"checksum error: {file} is missing from the artifact.")
        if sha256(file) != expected:
            raise ValueError(
                f"checksum error: {file} does not match {CHECKSUMS} (tampered, truncated or "
                "half-written); restore it or retrain the model."
            )


def check_artifact_target(directory, overwrite=False):
    """Refuse to write an artifact over a file, or over a non-empty folder unless `overwrite`.

    `save_artifact` checks before writing, and `rnnzoo.train` before training,
    so a shipped model and its metrics are never replaced by accident.

    Raises:
        FileExistsError: saying what is there and how to replace it.
    """
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        return
    if not os.path.isdir(directory):
        raise FileExistsError(f"output folder {directory!r} is an existing file; choose a folder path.")
    if os.listdir(directory) and not overwrite:
        what = "a trained model" if os.path.exists(os.path.join(directory, MODEL_FILE)) else "files"
        raise FileExistsError(
            f"{directory!r} already holds {what}; saving would replace it (and its metrics and model card). "
            "Choose a new folder (e.g. runs/my_model), or pass overwrite=True (rnnzoo train --overwrite) to replace it."
        )


def save_artifact(task, config, directory, overwrite=True):
    """Write a task (and its config, when given) as a zoo artifact, atomically.

    Everything is written to a temporary folder beside `directory`, then
    swapped in with renames, so a crash never leaves a half-written artifact
    where a good one was. `metrics.json`/`MODEL_CARD.md` of an earlier artifact
    are dropped: they described other weights. With `overwrite=False` an
    existing non-empty `directory` raises `FileExistsError` and is left alone.
    """
    directory = os.path.abspath(os.fspath(directory))
    if not overwrite:
        check_artifact_target(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".staging-{os.getpid()}-{os.urandom(6).hex()}")
    os.mkdir(staging)  # not mkdtemp: its 0700 would become the artifact's; mkdir respects the umask
    try:
        # Save an uncompiled copy: optimizer state would triple the file size.
        clean = task.__class__.from_config(task.get_config())
        clean.set_weights(task.get_weights())
        clean.save(os.path.join(staging, MODEL_FILE))
        if config is not None:
            config.to_yaml(os.path.join(staging, "config.yaml"))
        vocab_dir = os.path.join(staging, "vocabularies")
        os.makedirs(vocab_dir)
        for name, items in task.vocabularies().items():
            with open(os.path.join(vocab_dir, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
                f.write("\n".join(items) + "\n")
        write_checksums(staging)
        old = None
        if os.path.exists(directory):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(directory, os.path.join(old, "artifact"))
        os.rename(staging, directory)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


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


def load(name_or_path, compile=True, verify=True):
    """Load a trained model (a `keras.Model` task) from a zoo name, folder, `.keras` file or URL.

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

    Example:
    >>> import rnnzoo
    >>> tagger = rnnzoo.load("bilstm_ner")  # doctest: +SKIP
    >>> tagger.save_to_preset("my_tagger")  # doctest: +SKIP
    >>> rnnzoo.load("my_tagger")            # doctest: +SKIP
    """
    kind, path = resolve_artifact(name_or_path)  # first: a wrong name fails before Keras is imported

    import keras

    from rnnzoo.config import load_config
    from rnnzoo.models import get_family, import_all_tasks

    if kind == "keras_file":
        file, config = path, None
    else:
        if verify:
            verify_checksums(path)
        file = os.path.join(path, MODEL_FILE)
        config_file = os.path.join(path, "config.yaml")
        config = load_config(config_file, legacy=True) if os.path.exists(config_file) else None
    # Importing the task class registers the family's Keras-serializable classes.
    get_family(config.family).task_class() if config is not None else import_all_tasks()
    task = keras.saving.load_model(file, compile=False)
    task.zoo_config = config
    if config is None:
        what = "a plain .keras file: no checksums verified, " if kind == "keras_file" else ""
        warnings.warn(
            f"{name_or_path}: {what}no zoo config (config.yaml)"
            + ("; compiled with Adam's defaults: call compile() to choose the optimizer." if compile else "."),
            stacklevel=2,
        )
    if compile:
        from rnnzoo.training.trainer import make_optimizer

        task.compile(optimizer=make_optimizer(config.training) if config is not None else "adam")
    return task


def read_metrics(name_or_path):
    with open(os.path.join(artifact_dir(name_or_path), "metrics.json")) as f:
        return json.load(f)
