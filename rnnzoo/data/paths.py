"""Where the real datasets live: `$RNNZOO_DATA`, default `../shared/datasets`."""

import os

DEFAULT_DATA = os.path.join("..", "shared", "datasets")


def data_root():
    """The datasets folder (`RNNZOO_DATA` or `../shared/datasets`), absolute."""
    return os.path.abspath(os.environ.get("RNNZOO_DATA", DEFAULT_DATA))


def dataset_path(*parts, must_exist=True):
    """Join `parts` under `data_root()` (or under `parts[0]` when it is absolute).

    Raises:
        FileNotFoundError: naming the setting to fix, when `must_exist` and missing.
    """
    parts = [p for p in parts if p]
    path = os.path.join(*parts) if parts and os.path.isabs(parts[0]) else os.path.join(data_root(), *parts)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(
            f"dataset file {path!r} not found. Set RNNZOO_DATA to the folder holding "
            f"the datasets (now {data_root()!r})."
        )
    return path


def split_files(names):
    """A split's `data.*` entry -> its file names: one name, a list of names, or none."""
    if not names:
        return []
    return [names] if isinstance(names, str) else list(names)


def read_splits(data_config, read):
    """`{"train": (xs, ys), "validation": ..., "test": ...}` for the splits a data config names.

    `read(path)` returns one file's `(xs, ys)` lists; a split listing several
    files gets them concatenated in order. Splits naming no file are absent.
    """
    splits = {}
    for split in ("train", "validation", "test"):
        for name in split_files(getattr(data_config, split)):
            xs, ys = read(dataset_path(data_config.root, name))
            previous = splits.setdefault(split, ([], []))
            previous[0].extend(xs)
            previous[1].extend(ys)
    if "train" not in splits:
        raise ValueError("data.train must name the training file.")
    return splits
