"""The shipped `bilstm_ner` model: loads offline, tags the seed sentences, keeps its measured quality."""

import json
import os

import pytest

import rnnzoo
from conftest import real_data
from rnnzoo.artifacts import models_dir

pytestmark = pytest.mark.slow

ARTIFACT = os.path.join(models_dir(), "bilstm_ner")


@pytest.fixture(scope="module")
def tagger():
    if not os.path.exists(os.path.join(ARTIFACT, "model.keras")):
        pytest.skip(f"no shipped artifact at {ARTIFACT}")
    return rnnzoo.load("bilstm_ner")


def test_load_returns_a_keras_model(tagger):
    import keras

    assert isinstance(tagger, keras.Model)
    assert tagger.labels[0] == "O" and "B-PER" in tagger.labels


def test_seed_sentences(tagger):
    first, second = tagger.predict(["Pankaj lives in Munich", "Ironman punched on hulk's face"])
    assert [(e["text"], e["type"]) for e in first["entities"]] == [("Pankaj", "PER"), ("Munich", "LOC")]
    assert first["entities"][1]["start"] == 16 and first["entities"][1]["end"] == 22
    assert second["tokens"] == ["Ironman", "punched", "on", "hulk", "'s", "face"]


def test_sample_f1_matches_metrics_json(tagger):
    from rnnzoo.data.conll import read_conll
    from rnnzoo.evaluation import sample_indices

    path = real_data("conll2003", "test.txt")
    with open(os.path.join(ARTIFACT, "metrics.json")) as f:
        metrics = json.load(f)
    sentences, tags = read_conll(path)
    keep = sample_indices(len(sentences), metrics["sample"]["size"], metrics["sample"]["seed"])
    scores = tagger.score([sentences[i] for i in keep], [tags[i] for i in keep])
    assert metrics["sample"]["size"] == 300
    assert abs(scores["f1"] - metrics["sample"]["f1"]) <= 1.0
    # The sample tracks the full test split too.
    assert abs(scores["f1"] - metrics["f1"]) <= 3.0
