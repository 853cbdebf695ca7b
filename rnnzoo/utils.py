"""Small shared helpers."""

import sys


def progress(iterable, desc=None, unit="it", total=None):
    """A tqdm progress bar on stderr when it is a terminal or `RNNZOO_PROGRESS=1`."""
    import os

    enabled = sys.stderr.isatty() or os.environ.get("RNNZOO_PROGRESS") == "1"
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, file=sys.stderr)
