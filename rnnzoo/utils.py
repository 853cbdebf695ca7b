"""Small shared helpers."""

import hashlib
import sys


def progress(iterable, desc=None, unit="it", total=None):
    """A tqdm progress bar on stderr when it is a terminal or `RNNZOO_PROGRESS=1`."""
    import os

    enabled = sys.stderr.isatty() or os.environ.get("RNNZOO_PROGRESS") == "1"
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, file=sys.stderr)


def sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
