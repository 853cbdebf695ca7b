"""Small shared helpers."""

import argparse
import hashlib
import os
import sys
import time


class MissingPackageError(ImportError):
    """An optional package a feature needs is not installed; the message names the extra that installs it."""


def require_package(module, package, extra, what):
    """Import `module`, or raise a `MissingPackageError` saying `what` needs `package` and how to install it.

    Example:
    >>> require_package("json", "json", "onnx", "reading JSON").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(
            f"{what} needs the {package} package: pip install 'rnnzoo[{extra}]' (or pip install {package})."
        ) from None


def _int_at_least(text, minimum, kind):
    """`text` as an int >= `minimum`, else an argparse usage error saying `expected a <kind> integer`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {value}")
    return value


def positive_int(text):
    """argparse type for counts and sizes: an integer >= 1, else a usage error (exit 2)."""
    return _int_at_least(text, 1, "positive")


def non_negative_int(text):
    """argparse type for versions and offsets: an integer >= 0, else a usage error (exit 2)."""
    return _int_at_least(text, 0, "non-negative")


def progress(iterable, desc=None, unit="it", total=None):
    """Progress on stderr: a tqdm bar on a terminal, plain lines elsewhere.

    A terminal gets a bar. A log file or pipe gets nothing unless
    `RNNZOO_PROGRESS=1`, and then plain lines (about every tenth of the way and
    at the end), never a bar's carriage returns.
    """
    if sys.stderr is None:
        return iterable
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, unit=unit, total=total, file=sys.stderr)
    if os.environ.get("RNNZOO_PROGRESS") == "1":
        return _progress_lines(iterable, desc or "progress", unit, total)
    return iterable


def _progress_lines(iterable, desc, unit, total):
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    every = max(1, total // 10) if total else 100
    start = time.time()
    done = 0
    for done, item in enumerate(iterable, 1):
        yield item
        if done % every == 0 and done != total:
            _progress_line(desc, done, total, unit, start)
    _progress_line(desc, done, total, unit, start)


def _progress_line(desc, done, total, unit, start):
    of = f"/{total}" if total else ""
    print(f"{desc}: {done}{of} {unit} ({time.time() - start:.1f}s)", file=sys.stderr, flush=True)


def sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep_arguments(model, arguments):
    """Set each constructor argument as an attribute of a Keras `model` and remember their names.

    The `Backbone` and `Task` bases' `get_config` returns them (`kept_arguments`),
    as keras-hub's do. The names live outside Keras' attribute tracking.
    """
    for name, value in arguments.items():
        setattr(model, name, value)
    model.__dict__["_config_arguments"] = tuple(arguments)


def kept_arguments(model):
    """`{name: value}` of the arguments `keep_arguments` kept."""
    return {name: getattr(model, name) for name in model.__dict__.get("_config_arguments", ())}


def _inside(path, base):
    return path == base or os.path.commonpath([path, base]) == base


def contained_path(base, *parts, what="path", follow_symlinks=True):
    """`base` joined with relative `parts`; a `ValueError` when the result would leave `base`.

    Refused: an absolute part (it would replace `base`), `..` segments that
    climb out of `base`, and (with `follow_symlinks`) a path whose real
    location (`os.path.realpath`, symbolic links resolved) is outside the
    real `base`.

    Args:
        base: the folder the path must stay in.
        *parts: relative path pieces (from a config, a checksum list, a URL listing).
        what: what the parts are, for the error message (e.g. "data file").
        follow_symlinks: also check where symbolic links lead.

    Returns:
        The joined, normalized path.

    Example:
    >>> contained_path("/data", "conll2003", "train.txt", follow_symlinks=False)
    '/data/conll2003/train.txt'
    >>> contained_path("/data", "../etc/passwd", follow_symlinks=False)
    Traceback (most recent call last):
    ...
    ValueError: path '../etc/passwd' leaves /data ('..' segments); it must stay inside that folder.
    """
    base = os.path.abspath(os.fspath(base))
    parts = [os.fspath(p) for p in parts]
    shown = "/".join(parts)
    for part in parts:
        if "\0" in part:
            raise ValueError(f"{what} {shown!r} holds a NUL character.")
        if os.path.isabs(part) or (os.sep != "/" and part.startswith("/")):
            raise ValueError(f"{what} {shown!r} is an absolute path; it must be relative to {base}.")
    path = os.path.normpath(os.path.join(base, *parts))
    if not _inside(path, base):
        raise ValueError(f"{what} {shown!r} leaves {base} ('..' segments); it must stay inside that folder.")
    if follow_symlinks:
        real, real_base = os.path.realpath(path), os.path.realpath(base)
        if not _inside(real, real_base):
            raise ValueError(
                f"{what} {shown!r} leads out of {base} through a symbolic link (to {real}); copy the file into "
                "the folder instead."
            )
    return path
