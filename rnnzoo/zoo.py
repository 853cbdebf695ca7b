"""The zoo: names -> configs (`zoo_configs/`) -> artifacts (`saved_models/`).

An artifact is a folder holding `model.keras` (the whole task: weights,
architecture and vocabularies), `config.yaml` (the resolved zoo config),
readable copies of the vocabularies, `metrics.json` and `MODEL_CARD.md`
(written by `rnnzoo evaluate`), and `checksums.json` (SHA-256 of every other
file, verified by `load`).
"""

import difflib
import hashlib
import json
import os
import shutil
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKSUMS = "checksums.json"
MODEL_FILE = "model.keras"


def configs_dir():
    """`$RNNZOO_CONFIGS`, or the repository's `zoo_configs/`."""
    return os.environ.get("RNNZOO_CONFIGS", os.path.join(_ROOT, "zoo_configs"))


def models_dir():
    """`$RNNZOO_MODELS`, or the repository's `saved_models/`."""
    return os.environ.get("RNNZOO_MODELS", os.path.join(_ROOT, "saved_models"))


def list_models(trained_only=False):
    """Names of the zoo's models (configs), or only those with a shipped artifact."""
    names = set()
    if os.path.isdir(configs_dir()):
        names |= {f[:-5] for f in os.listdir(configs_dir()) if f.endswith(".yaml")}
    trained = set()
    if os.path.isdir(models_dir()):
        trained = {d for d in os.listdir(models_dir()) if os.path.exists(os.path.join(models_dir(), d, MODEL_FILE))}
    return sorted(trained if trained_only else names | trained)


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


def artifact_dir(name_or_path):
    if os.path.isdir(name_or_path):
        return name_or_path
    path = os.path.join(models_dir(), name_or_path)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, MODEL_FILE)):
        return path
    if os.path.exists(os.path.join(configs_dir(), name_or_path + ".yaml")):
        raise FileNotFoundError(
            f"model {name_or_path!r} has a config but no trained artifact in {models_dir()}; "
            f"train it with `rnnzoo train {name_or_path} --output-dir {path}`."
        )
    raise _unknown_name(name_or_path)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(directory):
    """(Re)write `checksums.json` over every file of an artifact folder."""
    sums = {}
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), directory)
            if rel != CHECKSUMS:
                sums[rel] = _sha256(os.path.join(root, name))
    with open(os.path.join(directory, CHECKSUMS), "w") as f:
        json.dump(dict(sorted(sums.items())), f, indent=2)
    return sums


def verify_checksums(directory):
    """Raise `ValueError` naming the first missing, truncated or tampered file."""
    path = os.path.join(directory, CHECKSUMS)
    if not os.path.exists(path):
        raise ValueError(f"{directory} has no {CHECKSUMS}; refusing to load an unverified artifact.")
    with open(path) as f:
        sums = json.load(f)
    for rel, expected in sums.items():
        file = os.path.join(directory, rel)
        if not os.path.exists(file):
            raise ValueError(f"checksum error: {file} is missing from the artifact.")
        if _sha256(file) != expected:
            raise ValueError(
                f"checksum error: {file} does not match {CHECKSUMS} (tampered, truncated or "
                "half-written); restore it or retrain the model."
            )


def save_artifact(task, config, directory):
    """Write a task and its config as a zoo artifact, atomically.

    Everything is written to a temporary folder beside `directory`, then
    swapped in with renames, so a crash never leaves a half-written artifact
    where a good one was. `metrics.json`/`MODEL_CARD.md` of an earlier artifact
    are dropped: they described other weights.
    """
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".staging-{os.getpid()}-{os.urandom(6).hex()}")
    os.mkdir(staging)  # not mkdtemp: its 0700 would become the artifact's; mkdir respects the umask
    try:
        # Save an uncompiled copy: optimizer state would triple the file size.
        clean = task.__class__.from_config(task.get_config())
        clean.set_weights(task.get_weights())
        clean.save(os.path.join(staging, MODEL_FILE))
        config.to_yaml(os.path.join(staging, "config.yaml"))
        vocab_dir = os.path.join(staging, "vocabularies")
        os.makedirs(vocab_dir)
        for name, items in task.vocabularies().items():
            with open(os.path.join(vocab_dir, name + ".txt"), "w", encoding="utf-8") as f:
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


def load(name_or_path, compile=True, verify=True):
    """Load a trained zoo model (a `keras.Model` task) by name or folder, offline.

    Args:
        name_or_path: a zoo name (`"bilstm_ner"`) or an artifact folder.
        compile: compile with the config's optimizer so `fit` fine-tunes at once.
        verify: check every file against `checksums.json` first.

    Example:
    >>> import rnnzoo
    >>> tagger = rnnzoo.load("bilstm_ner")  # doctest: +SKIP
    """
    import keras

    import rnnzoo.models.registered  # noqa: F401  (registers the serializable classes)
    from rnnzoo.config import load_config

    directory = artifact_dir(os.fspath(name_or_path))
    if verify:
        verify_checksums(directory)
    task = keras.saving.load_model(os.path.join(directory, MODEL_FILE), compile=False)
    config = load_config(os.path.join(directory, "config.yaml"))
    task.zoo_config = config
    if compile:
        from rnnzoo.training.trainer import make_optimizer

        task.compile(optimizer=make_optimizer(config.training))
    return task


def read_metrics(name_or_path):
    with open(os.path.join(artifact_dir(name_or_path), "metrics.json")) as f:
        return json.load(f)
