"""GloVe vectors from the local text files (`word v1 ... vN`, optionally gzip)."""

import gzip
import os

import numpy as np

from rnnzoo.data.paths import dataset_path

GLOVE_FILES = {
    "glove_6b_50d": (
        "glove_6b_50d/glove.6B.50d.top100k.txt.gz",
        "glove_6b_50d/glove.6B.50d.extra_dataset_vocab.txt.gz",
    ),
}


def read_glove(name_or_paths, words=None, top=None):
    """Read GloVe vectors.

    Args:
        name_or_paths: a known name (`"glove_6b_50d"`, read under `RNNZOO_DATA`)
            or a list of file paths.
        words: optional set of (lower-cased) words to keep; others skipped.
        top: keep only the first `top` lines of the first file (GloVe lists
            words by frequency) in addition to `words`.

    Returns:
        `dict` word -> float32 vector.
    """
    paths = GLOVE_FILES.get(name_or_paths, name_or_paths)
    if isinstance(paths, str):
        paths = [paths]
    vectors = {}
    for file_index, path in enumerate(paths):
        path = dataset_path(path) if not os.path.isabs(path) else path
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line_number, line in enumerate(f):
                word, _, rest = line.rstrip("\n").partition(" ")
                in_top = file_index == 0 and top is not None and line_number < top
                if in_top or (words is not None and word in words) or (words is None and top is None):
                    vectors[word] = np.asarray(rest.split(" "), dtype="float32")
    return vectors


def embedding_matrix(vocabulary, vectors, dim, seed=0, reserved=2):
    """Rows for `[padding, OOV] + vocabulary`: GloVe where known (lower-cased), small random otherwise.

    Returns:
        `(matrix, coverage)`: float32 `(len(vocabulary) + reserved, dim)` and the
        fraction of vocabulary words found in GloVe.
    """
    rng = np.random.default_rng(seed)
    scale = np.sqrt(3.0 / dim)
    matrix = rng.uniform(-scale, scale, size=(len(vocabulary) + reserved, dim)).astype("float32")
    matrix[0] = 0.0
    found = 0
    for i, word in enumerate(vocabulary, reserved):
        vector = vectors.get(word.lower())
        if vector is not None:
            matrix[i] = vector
            found += 1
    return matrix, found / max(1, len(vocabulary))
