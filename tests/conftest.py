"""Shared fixtures: tiny CoNLL data and tiny configs written on the fly (no real data needed)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from rnnzoo.data.paths import data_root  # noqa: E402

TINY_SENTENCES = [
    (["Pankaj", "lives", "in", "Munich", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
    (["Angela", "Merkel", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Siemens", "opened", "an", "office", "in", "Berlin"], ["B-ORG", "O", "O", "O", "O", "B-LOC"]),
    (["The", "German", "team", "won"], ["O", "B-MISC", "O", "O"]),
    (["Maria", "works", "for", "Google", "in", "London"], ["B-PER", "O", "O", "B-ORG", "O", "B-LOC"]),
    (["Reuters", "reported", "from", "New", "York"], ["B-ORG", "O", "O", "B-LOC", "I-LOC"]),
]


def write_conll(path, sentences, repeat=1):
    with open(path, "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- -X- O\n\n")
        for _ in range(repeat):
            for tokens, tags in sentences:
                for token, tag in zip(tokens, tags):
                    f.write(f"{token} NNP B-NP {tag}\n")
                f.write("\n")
    return path


@pytest.fixture(scope="session")
def tiny_conll_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("conll")
    write_conll(root / "train.txt", TINY_SENTENCES, repeat=8)
    write_conll(root / "valid.txt", TINY_SENTENCES[:3])
    write_conll(root / "test.txt", TINY_SENTENCES[3:])
    return root


@pytest.fixture(scope="session")
def tiny_tagger_config(tiny_conll_dir):
    return {
        "name": "tiny_tagger",
        "family": "tagger",
        "architecture": {
            "cell": "lstm",
            "units": 16,
            "embedding_dim": 16,
            "embeddings": None,
            "char_encoder": "cnn",
            "char_embedding_dim": 8,
            "char_units": 8,
            "max_chars": 12,
            "dropout": 0.1,
        },
        "data": {"reader": "conll", "root": str(tiny_conll_dir), "train": "train.txt",
                 "validation": "valid.txt", "test": "test.txt"},
        "training": {"optimizer": "adam", "learning_rate": 0.02, "clipnorm": 5.0, "batch_size": 8, "epochs": 6},
    }


@pytest.fixture(scope="session")
def tiny_tagger(tiny_tagger_config, tmp_path_factory):
    """A tagger trained for a few seconds on the tiny corpus, saved as an artifact."""
    import rnnzoo

    out = tmp_path_factory.mktemp("models") / "tiny_tagger"
    task = rnnzoo.train(tiny_tagger_config, output_dir=str(out), verbose=0)
    return task, out


def real_data(*parts):
    """Path under $RNNZOO_DATA, or skip the test with the reason."""
    path = os.path.join(data_root(), *parts)
    if not os.path.exists(path):
        pytest.skip(f"real dataset {path} not found (set RNNZOO_DATA to the datasets folder)")
    return path
