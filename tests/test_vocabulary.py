"""One word-vocabulary builder (rnnzoo.text.vocabulary) behind both families, with their policies unchanged.

The expected word lists, coverages and matrix fingerprints below were recorded
by running the families' own vocabulary code as it was before it moved here
(`tagger/family.py:build_vocabularies`, `classifier/family.py:build_vocabulary`)
on this fixture corpus and fake GloVe files.
"""

import collections
import doctest
import gzip
import hashlib

import numpy as np
import pytest

import rnnzoo.text.vocabulary
from rnnzoo.config import load_config
from rnnzoo.text.vocabulary import build_word_vocabulary

TAGGER_TRAIN = [["Paris", "is", "big", "."], ["The", "film", "in", "Paris", "."], ["Munich", "is", "good"],
                ["The", "Isar", "river"]]
TAGGER_EXTRA = [["Zebra", "in", "Berlin"], ["Quantum", "film", "Ocean"]]  # the other splits' text
CLASSIFIER_TRAIN = ["A good film.", "A bad film!", "Good, good acting in Paris", "film film film <br /> Zebra"]
#: The fake GloVe: its first file lists words by frequency, the second holds extra dataset words.
GLOVE_TOP = ["the", ".", "in", "is", "film", "good", "a", "bad", "berlin", "paris", "munich", "zebra", "river", "ocean"]
GLOVE_EXTRA = ["quantum", "isar", "acting"]
DIM = 3

TAGGER_WORDS = [".", "is", "paris", "the", "big", "film", "good", "in", "isar", "munich", "river"]
CLASSIFIER_WORDS = ["film", "good", "a", "!", ",", ".", "acting", "bad", "in", "paris", "zebra"]
#: (family, embeddings, max_vocabulary) -> (words, coverage, matrix shape, sha256 of the matrix rounded to 1e-5).
EXPECTED = {
    ("tagger", None, None): (TAGGER_WORDS, None, None, None),
    ("tagger", None, 8): (TAGGER_WORDS, None, None, None),
    ("tagger", "glove_6b_50d", None): (
        TAGGER_WORDS + ["berlin", "zebra", "ocean", "quantum"], 0.9333333333333333, (17, 3), "58e3a4a9f5b8d0b1"),
    ("tagger", "glove_6b_50d", 8): (
        TAGGER_WORDS + ["berlin", "zebra", "ocean", "quantum", "a", "bad"], 0.9411764705882353, (19, 3),
        "87c9abd94733b7b6"),
    ("classifier", None, None): (CLASSIFIER_WORDS, None, None, None),
    ("classifier", None, 5): (["film", "good", "a", "!", ","], None, None, None),
    ("classifier", None, 14): (CLASSIFIER_WORDS, None, None, None),
    ("classifier", "glove_6b_50d", None): (CLASSIFIER_WORDS, 0.8181818181818182, (13, 3), "b15f5dd98e46ee6b"),
    ("classifier", "glove_6b_50d", 5): (["film", "good", "a", "!", ","], 0.6, (7, 3), "accb47521e519692"),
    ("classifier", "glove_6b_50d", 14): (
        CLASSIFIER_WORDS + ["the", "is", "berlin"], 0.8571428571428571, (16, 3), "db34638a9a93027f"),
}
TAGGER_CHARS = [".", "I", "M", "P", "T", "a", "b", "c", "d", "e", "f", "g", "h", "i", "l", "m", "n", "o", "r", "s",
                "u", "v"]


def _vector(i):
    return [i + 0.5, -i - 0.25, i / 8]


@pytest.fixture
def fake_glove(tmp_path, monkeypatch):
    """`glove_6b_50d` resolved under a temporary RNNZOO_DATA holding the two fake files."""
    folder = tmp_path / "glove_6b_50d"
    folder.mkdir()
    vectors = {}
    for name, words, offset in (("glove.6B.50d.top100k.txt.gz", GLOVE_TOP, 0),
                                ("glove.6B.50d.extra_dataset_vocab.txt.gz", GLOVE_EXTRA, 100)):
        with gzip.open(folder / name, "wt", encoding="utf-8") as f:
            for i, word in enumerate(words, offset):
                f.write(f"{word} {' '.join(map(str, _vector(i)))}\n")
                vectors[word] = _vector(i)
    monkeypatch.setenv("RNNZOO_DATA", str(tmp_path))
    return vectors


def _config(family, embeddings, max_vocabulary):
    return load_config({
        "name": "vocabulary_fixture",
        "family": family,
        "architecture": {"embedding_dim": DIM, "embeddings": embeddings, "max_vocabulary": max_vocabulary},
        "data": {"reader": "conll" if family == "tagger" else "csv", "root": "unused", "train": "unused"},
        "training": {"seed": 7},
    })


def _fingerprint(matrix):
    return hashlib.sha256(np.round(matrix, 5).astype("float32").tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("key", list(EXPECTED), ids=["-".join(map(str, k)) for k in EXPECTED])
def test_both_families_build_the_vocabularies_they_built_before(key, fake_glove):
    family, embeddings, max_vocabulary = key
    config = _config(family, embeddings, max_vocabulary)
    if family == "tagger":
        from rnnzoo.models.tagger.family import build_vocabularies

        words, chars, matrix, coverage = build_vocabularies(config, TAGGER_TRAIN, TAGGER_EXTRA)
        assert chars == TAGGER_CHARS
    else:
        pytest.importorskip("tensorflow")  # the classifier counts words with its own (TF) tokenizer
        from rnnzoo.models.classifier.family import build_vocabulary

        words, matrix, coverage = build_vocabulary(config, CLASSIFIER_TRAIN)
    expected_words, expected_coverage, shape, fingerprint = EXPECTED[key]
    assert words == expected_words
    assert coverage == expected_coverage
    if shape is None:
        assert matrix is None
        return
    assert matrix.shape == shape and matrix.dtype == np.float32 and _fingerprint(matrix) == fingerprint
    assert not matrix[0].any()  # padding
    for row, word in enumerate(words, 2):  # GloVe rows hold the file's vectors
        if word in fake_glove:
            np.testing.assert_array_equal(matrix[row], np.float32(fake_glove[word]))


def test_the_cap_counts_every_word_and_extra_words_come_before_glove_top(fake_glove):
    counts = collections.Counter(["film", "film", "good", "unseen"])
    words, matrix, coverage = build_word_vocabulary(
        counts, "glove_6b_50d", DIM, cap=5, extra_words={"ocean", "acting", "nowhere"}, glove_top=3)
    # training words, then the extra words GloVe knows (in its file order), then its top words, cut at 5
    assert words == ["film", "good", "unseen", "ocean", "acting"]
    assert matrix.shape == (7, DIM) and coverage == pytest.approx(4 / 5)
    words, _, _ = build_word_vocabulary(counts, "glove_6b_50d", DIM, glove_top=3)
    assert words == ["film", "good", "unseen", "the", ".", "in"]
    assert build_word_vocabulary(counts, None, cap=1) == (["film"], None, None)


def test_docstring_examples_run():
    result = doctest.testmod(rnnzoo.text.vocabulary)
    assert result.attempted > 0 and result.failed == 0, result
