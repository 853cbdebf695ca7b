"""The artifact folder: where artifacts and configs live, and how one is written and verified.

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
data (`rnnzoo/_packaged/`, copied there by setup.py).

A low module: it imports no other part of rnnzoo but `rnnzoo.utils`, so the
zoo (`rnnzoo.zoo`), the downloads (`rnnzoo.downloads`), the tasks
(`Task.save_to_preset`) and the trainer all build on it.
"""

import json
import os
import shutil
import tempfile

from rnnzoo.utils import contained_path, sha256

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


def is_model_name(name):
    """Whether `name` can name a zoo model: one path component, not `.` or `..` (see `check_model_name`)."""
    return (isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")
            and os.sep not in name and not os.path.isabs(name))


def check_model_name(name):
    """`name` if it can name a zoo model (one path component: no `/`, `\\`, `..`), else a `ValueError`.

    Zoo names are joined under `saved_models/`, the configs folder and the
    download cache; a name like `../../x` would lead out of them (and
    `clear_cache("../..")` would delete the folder above the cache).

    Example:
    >>> check_model_name("bilstm_ner")
    'bilstm_ner'
    """
    if not is_model_name(name):
        raise ValueError(
            f"{name!r} is not a zoo model name (names are one word like 'bilstm_ner', without '/', '\\' or '..'); "
            "to use a folder or file, pass its path where a path is taken."
        )
    return name


def verify_checksums(directory):
    """Raise `ValueError` naming the first missing, truncated or tampered weights or vocabulary file.

    Entries outside `VERIFIED` (documentation, listed by artifacts written
    before rnnzoo 0.1.1) are ignored: they do not change predictions. An
    entry that leads out of the folder (`..`, an absolute path, a symbolic
    link to elsewhere) is refused (`rnnzoo.utils.contained_path`).
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
        # An entry (or a symbolic link) leading out of the folder is refused, not hashed.
        file = contained_path(directory, *rel.split("/"), what=f"checksum error: {CHECKSUMS} entry")
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


TRAINING_LOG = "training_log.json"


def write_training_log(task, directory):
    """`training_log.json`: the per-epoch logs of the `fit` that trained `task` (`task.history`), if any.

    `rnnzoo evaluate` draws the model card's learning curve from it.
    """
    logs = getattr(getattr(task, "history", None), "history", None)
    if not logs:
        return None
    epochs = max(len(v) for v in logs.values())
    rows = [
        {"epoch": i + 1, **{k: float(v[i]) for k, v in sorted(logs.items()) if i < len(v)}} for i in range(epochs)
    ]
    path = os.path.join(directory, TRAINING_LOG)
    with open(path, "w") as f:
        json.dump({"epochs": rows}, f, indent=2)
        f.write("\n")
    return path


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
        write_training_log(task, staging)
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
