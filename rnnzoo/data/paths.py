"""Where the real datasets live (`$RNNZOO_DATA`, default `../shared/datasets`), and paths that stay inside a folder.

Paths that come from configs or artifacts (data file names, checksum entries,
downloaded files) are joined with `contained_path`, so `..` segments, absolute
names and symbolic links cannot lead outside the folder they belong to.
"""

import os

from rnnzoo.utils import contained_path  # in rnnzoo.utils: rnnzoo.artifacts and rnnzoo.downloads use it too

DEFAULT_DATA = os.path.join("..", "shared", "datasets")


def data_root():
    """The datasets folder (`RNNZOO_DATA` or `../shared/datasets`), absolute."""
    return os.path.abspath(os.environ.get("RNNZOO_DATA", DEFAULT_DATA))


def dataset_path(*parts, must_exist=True):
    """Join `parts` (`data.root`, then file names) under `data_root()`, or under `parts[0]` when it is absolute.

    A relative `data.root` stays inside `data_root()` (the dataset folder
    itself may be a symbolic link to elsewhere: whoever set up `RNNZOO_DATA`
    put it there). The file names after it stay inside that dataset folder,
    symbolic links included (see `contained_path`). An absolute first part
    is a folder the user chose, and is taken as it is.

    Raises:
        ValueError: a part would lead out of its folder.
        FileNotFoundError: naming the setting to fix, when `must_exist` and missing.
    """
    parts = [os.fspath(p) for p in parts if p]
    if parts and os.path.isabs(parts[0]):
        folder = os.path.normpath(parts[0])
    else:
        what = "dataset folder (data.root)" if len(parts) > 1 else "dataset path"
        folder = contained_path(data_root(), *parts[:1], what=what, follow_symlinks=False)
    if parts[1:]:
        path = contained_path(folder, *parts[1:], what="data file (data.train/validation/test)")
    else:
        path = folder
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
