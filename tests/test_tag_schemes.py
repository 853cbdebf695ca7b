"""IOBES tagging (the head predicts S-/E- tags; data in and tags out stay BIO) and word dropout."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest

import rnnzoo
from conftest import TINY_SENTENCES
from rnnzoo.models.tagger.spans import bio_to_iobes, bio_to_spans, iobes_labels, iobes_tag_to_bio


def _random_bio(rng, n):
    """Random BIO sequences, stray I- tags and type switches included."""
    return [rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) for _ in range(n)]


def test_bio_iobes_round_trip_keeps_the_spans():
    rng = random.Random(0)
    for _ in range(300):
        bio = _random_bio(rng, rng.randint(1, 12))
        iobes = bio_to_iobes(bio)
        assert len(iobes) == len(bio)
        assert all(t == "O" or t[:2] in ("B-", "I-", "E-", "S-") for t in iobes)
        back = [iobes_tag_to_bio(t) for t in iobes]
        assert bio_to_spans(back) == bio_to_spans(bio)
        # A well-formed BIO sequence comes back exactly.
        assert bio_to_iobes(back) == iobes
    assert bio_to_iobes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-LOC", "S-ORG"
    ]
    assert iobes_labels(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) == [
        "O", "B-PER", "S-PER", "I-PER", "E-PER", "B-LOC", "S-LOC", "I-LOC", "E-LOC"
    ]


def test_in_graph_conversion_matches_python():
    import tensorflow as tf

    from rnnzoo.models.tagger.spans import tf_bio_to_iobes

    rng = random.Random(1)
    for _ in range(100):
        bio = _random_bio(rng, rng.randint(1, 10))
        got = [t.decode() for t in tf_bio_to_iobes(tf.constant(bio)).numpy()]
        assert got == bio_to_iobes(bio), bio


def test_word_dropout_replaces_words_only_in_training():
    from rnnzoo.layers import WordDropout

    ids = (np.arange(40000, dtype="int32").reshape(4, 10000) % 97) + 2
    ids[:, -100:] = 0  # padding
    layer = WordDropout(0.2, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(ids, training=False)), ids)
    out = np.asarray(layer(ids, training=True))
    changed = out != ids
    assert np.all(out[changed] == 1) and not changed[:, -100:].any()
    assert 0.18 < changed[:, :-100].mean() < 0.22
    clone = WordDropout.from_config(layer.get_config())
    assert clone.rate == 0.2 and clone.oov_id == 1
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        WordDropout(1.0)


@pytest.fixture(scope="module")
def iobes_tagger(tiny_tagger_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "iobes_tagger"
    overrides = {"data.tag_scheme": "iobes", "architecture.word_dropout": 0.1, "training.epochs": 8}
    return rnnzoo.train(tiny_tagger_config, overrides=overrides, output_dir=str(out), verbose=0), out


@pytest.mark.slow
def test_iobes_tagger_learns_reports_bio_and_reloads(iobes_tagger):
    task, out = iobes_tagger
    assert task.tag_scheme == "iobes" and task.backbone.word_dropout == 0.1
    assert {"S-PER", "E-LOC", "B-LOC", "I-LOC", "S-LOC"} <= set(task.model_tags)
    assert task.labels == list(dict.fromkeys(task.output_tags))  # the public tag set is BIO
    assert all(t[:2] in ("B-", "I-") or t == "O" for t in task.output_tags)
    loaded = rnnzoo.load(str(out))
    assert loaded.tag_scheme == "iobes" and loaded.model_tags == task.model_tags
    sentence = "Pankaj lives in Munich ."
    assert task.predict(sentence)["tags"] == loaded.predict(sentence)["tags"] == ["B-PER", "O", "O", "B-LOC", "O"]
    tokens, tags = zip(*TINY_SENTENCES)
    assert loaded.score(list(tokens), list(tags))["f1"] > 90.0
    # "New York" is two tokens: B-LOC I-LOC out, trained as B-LOC E-LOC.
    assert loaded.predict([["Reuters", "reported", "from", "New", "York"]])[0]["tags"][3:] == ["B-LOC", "I-LOC"]

    from test_tagger import _assert_host_decoding_matches_the_graph

    _assert_host_decoding_matches_the_graph(loaded)


@pytest.mark.slow
def test_iobes_tagger_fine_tunes_on_bio_data_and_datasets(iobes_tagger):
    import tensorflow as tf

    task, _ = iobes_tagger
    tokens, tags = zip(*TINY_SENTENCES)
    # A tf.data input of BIO (tokens, tags) pairs is converted in the graph.
    dataset = tf.data.Dataset.from_generator(
        lambda: zip(tokens, tags),
        output_signature=(tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)),
    )
    batch = next(iter(task.make_dataset(dataset, batch_size=8)))
    encoded = batch[1].numpy()
    seen = {task.model_tags[t] for t in encoded.ravel()}
    assert {"E-LOC", "S-PER", "B-PER", "E-PER"} <= seen  # New York, Pankaj, Angela Merkel
    new = task.with_labels(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC", "B-DATE"])
    assert new.tag_scheme == "iobes" and {"S-DATE", "B-DATE"} <= set(new.model_tags) and "E-DATE" not in new.model_tags
    new.compile(optimizer="adam")
    new.fit(list(tokens) + [["Monday", "."]], list(tags) + [["B-DATE", "O"]], epochs=1, verbose=0)
    result = new.predict([["Monday", "."]])[0]
    assert len(result["tags"]) == 2 and all(t in new.output_tags for t in result["tags"])


@pytest.mark.slow
def test_iobes_export_serves_bio_tags(iobes_tagger, tmp_path):
    task, _ = iobes_tagger
    export_dir = tmp_path / "exported"
    path = task.export(str(export_dir), verbose=False)
    sentences = ["Reuters reported from New York", "Pankaj lives in Munich ."]
    code = (
        "import json, tensorflow as tf\n"
        f"m = tf.saved_model.load({path!r})\n"
        f"out = m.signatures['serving_default'](tf.constant({sentences!r}))\n"
        "print(json.dumps([[t.decode() for t in row] for row in out['tags'].numpy().tolist()]))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    served = json.loads(proc.stdout.strip().splitlines()[-1])
    for row, result in zip(served, task.predict(sentences)):
        assert row[: len(result["tags"])] == result["tags"]
