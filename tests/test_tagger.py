"""The tagger family end to end on a tiny corpus: train, save/load, predict, fine-tune, export, bad input."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

import rnnzoo
from conftest import TINY_SENTENCES

pytestmark = pytest.mark.slow


def test_training_writes_a_complete_artifact(tiny_tagger):
    _, out = tiny_tagger
    names = set(os.listdir(out))
    assert {"model.keras", "config.yaml", "checksums.json", "vocabularies"} <= names
    with open(out / "checksums.json") as f:
        sums = json.load(f)
    assert "model.keras" in sums and "vocabularies/labels.txt" in sums
    assert not [n for n in os.listdir(out.parent) if n.startswith(".staging")]


def test_tiny_tagger_learns_and_reloads(tiny_tagger):
    task, out = tiny_tagger
    loaded = rnnzoo.load(str(out))
    sentence = "Pankaj lives in Munich ."
    a, b = task.predict([sentence])[0], loaded.predict([sentence])[0]
    assert a["tags"] == b["tags"] == ["B-PER", "O", "O", "B-LOC", "O"]
    assert [(e["text"], e["type"]) for e in b["entities"]] == [("Pankaj", "PER"), ("Munich", "LOC")]
    tokens, tags = zip(*TINY_SENTENCES)
    assert loaded.score(list(tokens), list(tags))["f1"] > 90.0


def test_predict_offsets_and_pretokenized_input(tiny_tagger):
    task, _ = tiny_tagger
    text = "  Pankaj   lives in Munich."
    result = task.predict(text)
    for entity in result["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    tokens = ["Maria", "works", "for", "Google"]
    result = task.predict([tokens])[0]
    assert result["tokens"] == tokens and len(result["tags"]) == 4


def test_bad_and_odd_inputs(tiny_tagger):
    task, _ = tiny_tagger
    # One token alone: the tiny corpus tags Munich B-LOC every time it appears.
    assert task.predict("Munich")["tags"] == ["B-LOC"]
    assert task.predict(["Munich"], batch_size=1)[0]["tags"] == ["B-LOC"]
    assert task.predict([["Munich"]])[0]["tags"] == ["B-LOC"]
    results = task.predict(["", "   ", "Munich 😀 東京 Москва", "Pankaj lives in Munich"])
    assert results[0] == results[1] == {"tokens": [], "tags": [], "entities": []}
    assert len(results[2]["tags"]) == 4
    assert results[3]["tags"][0] == "B-PER"  # one odd item never loses the others
    with pytest.warns(UserWarning, match="max_length=256"):
        long = task.predict(" ".join(["Munich"] * 5000))
    assert len(long["tags"]) == 5000
    with pytest.raises(ValueError, match="item 1 is int"):
        task.predict(["ok", 3])
    with pytest.raises(ValueError, match="not valid UTF-8"):
        task.predict([b"\xff\xfe bad"])
    assert task.predict([b"Pankaj lives in Munich"])[0]["tags"][0] == "B-PER"


def test_fit_on_raw_data_and_new_tags(tiny_tagger, tmp_path):
    task, out = tiny_tagger
    tuned = rnnzoo.load(str(out))
    tokens = [["Ironman", "punched", "Hulk"], ["Thor", "met", "Pankaj"]] * 4
    tags = [["B-HERO", "O", "B-HERO"], ["B-HERO", "O", "B-PER"]] * 4
    with pytest.raises(ValueError, match="with_labels"):
        tuned.fit(tokens, tags, epochs=1, verbose=0)
    tuned = tuned.with_labels(tuned.labels + ["B-HERO", "I-HERO"])
    tuned.compile(optimizer="adam")
    history = tuned.fit(tokens, tags, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "tuned.keras"
    tuned.save(path)
    import keras

    reloaded = keras.saving.load_model(path)
    assert "B-HERO" in reloaded.labels
    assert reloaded.predict(tokens[:1])[0]["tags"] == tuned.predict(tokens[:1])[0]["tags"]


def test_fit_accepts_a_conll_path_and_evaluate_raw(tiny_tagger, tiny_conll_dir):
    task, _ = tiny_tagger
    history = task.fit(str(tiny_conll_dir / "valid.txt"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    loss = task.evaluate(str(tiny_conll_dir / "test.txt"), verbose=0)
    assert np.isfinite(loss)
    with pytest.raises(ValueError, match="3 tokens but 2 tags"):
        task.fit([["a", "b", "c"]], [["O", "O"]], verbose=0)


def test_export_serves_raw_strings_in_a_fresh_process(tiny_tagger, tmp_path):
    task, _ = tiny_tagger
    export_dir = tmp_path / "exported"
    path = task.export(str(export_dir), verbose=False)
    sentences = ["Pankaj lives in Munich .", "", "Maria works for Google in London"]
    code = (
        "import json, sys, tensorflow as tf\n"
        f"m = tf.saved_model.load({path!r})\n"
        f"out = m.signatures['serving_default'](tf.constant({sentences!r}))\n"
        "print(json.dumps({k: [[x.decode() if isinstance(x, bytes) else x for x in row] if isinstance(row, list) else row "
        "for row in v.numpy().tolist()] for k, v in out.items()}))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = task.predict(sentences)
    for row, result in enumerate(expected):
        n = served["lengths"][row]
        assert served["tokens"][row][:n] == result["tokens"]
        assert served["tags"][row][:n] == result["tags"]


def test_tampered_or_truncated_artifact_fails_to_load(tiny_tagger, tmp_path):
    _, out = tiny_tagger
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "vocabularies" / "words.txt", "a") as f:
        f.write("evil\n")
    with pytest.raises(ValueError, match="words.txt"):
        rnnzoo.load(str(copy))
    shutil.rmtree(copy)
    shutil.copytree(out, copy)
    with open(copy / "model.keras", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="model.keras"):
        rnnzoo.load(str(copy))


@pytest.mark.parametrize("cell,bidirectional,head,char_encoder", [
    ("vanilla", False, "softmax", None),
    ("gru", True, "crf", "bilstm"),
])
def test_other_cells_and_heads_train(tiny_tagger_config, cell, bidirectional, head, char_encoder):
    overrides = {
        "architecture.cell": cell,
        "architecture.bidirectional": bidirectional,
        "architecture.head": head,
        "architecture.char_encoder": char_encoder,
        "training.epochs": 2,
    }
    task = rnnzoo.train(tiny_tagger_config, overrides=overrides, verbose=0)
    assert task.backbone.cell == cell and task.head == head
    assert len(task.predict("Pankaj lives in Munich")["tags"]) == 4
    _assert_host_decoding_matches_the_graph(task)


def _assert_host_decoding_matches_the_graph(task):
    """`predict` decodes on the host (NumPy Viterbi); the in-graph decoder gives the same tags and scores."""
    sentences = [["Pankaj", "lives", "in", "Munich"], ["Maria"], ["A", "B", "C", "D", "E", "F", "G"], ["x", "y"]]
    results = task.predict(sentences, batch_size=4)
    graph = task.get_decoder().predict_on_batch(task.vectorize_tokens(sentences))
    for row, (tokens, result) in enumerate(zip(sentences, results)):
        n = len(tokens)
        assert result["tags"] == [task.output_tags[t] for t in np.asarray(graph["tags"])[row, :n]]
        entity_scores = [e["score"] for e in result["entities"]]
        assert all(0.0 <= score <= 1.0 for score in entity_scores)
    tags, confidence = task._decode_on_host(task.vectorize_tokens(sentences), [len(s) for s in sentences])
    mask = task.vectorize_tokens(sentences)["token_ids"] != 0
    np.testing.assert_array_equal(tags[mask], np.asarray(graph["tags"])[mask])
    np.testing.assert_allclose(confidence[mask], np.asarray(graph["confidence"])[mask], rtol=1e-5, atol=1e-6)


def test_host_decoding_matches_the_graph_decoder(tiny_tagger):
    task, _ = tiny_tagger
    _assert_host_decoding_matches_the_graph(task)


def test_evaluation_writes_metrics_and_model_card(tiny_tagger, tmp_path):
    from rnnzoo.evaluation import evaluate_model
    from rnnzoo.artifacts import verify_checksums, write_checksums

    _, out = tiny_tagger
    copy = tmp_path / "evaluated"
    shutil.copytree(out, copy)
    record = evaluate_model(str(copy))
    with open(copy / "metrics.json") as f:
        written = json.load(f)
    assert written["f1"] == record["f1"] and written["split"] == "test" and written["metric"] == "f1"
    card = (copy / "MODEL_CARD.md").read_text()
    assert f"f1 = {record['f1']}" in card and "## Architecture" in card
    assert written["split_name"] == "test" and "## Results (test split" in card
    verify_checksums(str(copy))  # checksums were refreshed
    # A config may name its test file's split for reports (SST-2's is the GLUE dev set).
    config_file = copy / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["data"]["test_name"] = "held-out"
    config_file.write_text(yaml.safe_dump(config))
    write_checksums(str(copy))
    record = evaluate_model(str(copy))
    assert record["split"] == "test" and record["split_name"] == "held-out"
    assert "## Results (held-out split" in (copy / "MODEL_CARD.md").read_text()


def test_frozen_word_embeddings_stay_fixed_and_survive_saving(tiny_tagger_config, tmp_path):
    task = rnnzoo.train(tiny_tagger_config, overrides={"architecture.trainable_embeddings": False,
                                                       "training.epochs": 1}, verbose=0)
    embedding = task.backbone.get_layer("word_embedding")
    assert not embedding.trainable and all(v is not embedding.embeddings for v in task.trainable_variables)
    before = np.array(embedding.embeddings)
    x = [["Pankaj", "lives", "in", "Munich"]]
    task.fit(x, [["B-PER", "O", "O", "B-LOC"]], epochs=1, verbose=0)
    np.testing.assert_array_equal(np.array(embedding.embeddings), before)
    task.save(tmp_path / "frozen.keras")
    import keras

    reloaded = keras.saving.load_model(tmp_path / "frozen.keras")
    assert not reloaded.backbone.get_layer("word_embedding").trainable
    assert reloaded.predict(x)[0]["tags"] == task.predict(x)[0]["tags"]


def test_train_may_list_several_files(tiny_tagger_config, tiny_conll_dir):
    from rnnzoo.models import get_family

    family = get_family("tagger")
    from rnnzoo.zoo import resolve_config

    one = family.load_data(resolve_config(tiny_tagger_config))
    both = family.load_data(resolve_config(tiny_tagger_config, {"data.train": ["train.txt", "valid.txt"]}))
    valid = family.load_data(resolve_config(tiny_tagger_config, {"data.train": "valid.txt"}))["train"]
    assert both["train"][0] == one["train"][0] + valid[0] and both["train"][1] == one["train"][1] + valid[1]


def test_tfds_builder_reads_local_conll(tiny_conll_dir, tmp_path):
    from rnnzoo.data.tfds_conll import load_conll2003

    ds = load_conll2003("test", data_dir=str(tmp_path), manual_dir=str(tiny_conll_dir))
    examples = [ex["tokens"].numpy().tolist() for ex in ds]
    assert [b"The", b"German", b"team", b"won"] in examples
    assert len(examples) == 3


def test_with_vocabulary_adds_words_and_keeps_everything_else(tiny_tagger):
    task, _ = tiny_tagger
    dim = task.backbone.embedding_dim
    vectors = {"zyxw": np.full(dim, 0.5, "float32"), "pankaj": np.ones(dim, "float32")}
    extended = task.with_vocabulary(vectors)
    words = extended.preprocessor.word_lookup.get_vocabulary()
    assert words[-1] == "zyxw" and words[: len(words) - 1] == task.preprocessor.word_lookup.get_vocabulary()
    matrix = extended.backbone.get_layer("word_embedding").get_weights()[0]
    np.testing.assert_allclose(matrix[-1], 0.5)
    sentences = [["Maria", "works", "for", "Google"], ["Pankaj", "lives", "in", "Munich", "."]]
    assert [r["tags"] for r in extended.predict(sentences)] == [r["tags"] for r in task.predict(sentences)]


def test_numpy_vectorization_matches_the_tensorflow_preprocessor(tiny_tagger):
    import tensorflow as tf

    task, _ = tiny_tagger
    sentences = [["Pankaj", "ÉMILE", "Straße", "UNSEEN", "x" * 40], ["😀", "東京"], ["Munich"]]
    fast = task.preprocessor.vectorize_numpy(sentences)
    width = max(len(s) for s in sentences)
    padded = tf.constant([s + [""] * (width - len(s)) for s in sentences])
    reference = task.preprocessor(padded)
    again = task.preprocessor.vectorize_numpy(sentences)  # served from the token cache
    for key in ("token_ids", "char_ids"):
        np.testing.assert_array_equal(fast[key], reference[key].numpy())
        np.testing.assert_array_equal(again[key], reference[key].numpy())


def test_small_batches_run_through_xla_with_the_same_results(tiny_tagger):
    task, _ = tiny_tagger
    sentences = [["Pankaj"], ["Maria", "works", "for", "Google", "in", "London"] + ["."] * 3, ["x"] * 97]
    features = task.vectorize_tokens(sentences)
    assert features["token_ids"].shape == (3, 97)  # padded to (4, 104) for XLA
    fn = task._emissions_fn()
    assert (4, 104) not in fn.compiles.ready
    first = np.asarray(fn(features)["emissions"])  # a new shape: answered by the plain function ...
    fn.compiles.wait()  # ... while XLA compiles it on a background thread
    assert (4, 104) in fn.compiles.ready and not fn.compiles.failed
    fast = np.asarray(fn(features)["emissions"])
    task.small_batch_xla = False
    try:
        plain = np.asarray(fn(features)["emissions"])
        plain_results = task.predict(sentences)
    finally:
        task.small_batch_xla = True
    assert fast.shape == plain.shape == first.shape == (3, 97, len(task.model_tags))
    mask = features["token_ids"] != 0
    np.testing.assert_allclose(fast[mask], plain[mask], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first[mask], plain[mask], rtol=1e-5, atol=1e-6)
    assert [r["tags"] for r in task.predict(sentences)] == [r["tags"] for r in plain_results]


def test_trimming_padding_char_columns_changes_nothing(tiny_tagger):
    from rnnzoo.models.tagger.tagger import _trim_chars

    task, _ = tiny_tagger
    sentences = [["Pankaj", "lives", "in", "Munich"], ["Maria", "works", "for", "Google"], ["a", "b"]]
    features = task.vectorize_tokens(sentences)
    trimmed = _trim_chars(features, 1)
    assert trimmed["char_ids"].shape[-1] == len("Pankaj") + 1 < features["char_ids"].shape[-1]
    np.testing.assert_allclose(
        np.asarray(task(trimmed, training=False)), np.asarray(task(features, training=False)), rtol=1e-5, atol=1e-6
    )
    # Batches above the XLA size take the trimmed plain path; tags match the full-width graph decoder.
    many = sentences * 4
    graph = task.get_decoder().predict_on_batch(task.vectorize_tokens(many))
    for row, result in enumerate(task.predict(many, batch_size=16)):
        assert result["tags"] == [task.output_tags[t] for t in np.asarray(graph["tags"])[row, : len(many[row])]]
