"""The many-to-one text classifier family: pooling, preprocessing, fit/predict, fine-tune, export, presets."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.config import load_config  # noqa: E402
from rnnzoo.data.paths import data_root  # noqa: E402
from rnnzoo.models.classifier import ClassifierBackbone, MaskedPooling, TextClassifier  # noqa: E402
from rnnzoo.models import get_family  # noqa: E402
from rnnzoo.models.classifier import family  # noqa: E402

CLASSIFIER = get_family("classifier")
from rnnzoo.models.classifier.preprocessor import make_preprocessor  # noqa: E402

POSITIVE = ["a good film", "great acting , loved it", "wonderful and moving", "good fun", "loved the music"]
NEGATIVE = ["terrible plot", "boring and bad", "awful acting", "bad , bad film", "hated the ending"]
TEXTS = POSITIVE + NEGATIVE
LABELS = ["positive"] * 5 + ["negative"] * 5


def tiny_config(**architecture):
    values = {
        "name": "tiny_classifier",
        "family": "classifier",
        "architecture": {
            "cell": "gru",
            "units": 8,
            "embedding_dim": 8,
            "dropout": 0.0,
            "head": "binary",
            "pooling": "max_mean",
            **architecture,
        },
        "data": {"reader": "csv", "labels": ["negative", "positive"], "max_length": 12},
        "training": {"epochs": 1, "batch_size": 4, "learning_rate": 0.01},
    }
    return load_config(values)


def tiny_classifier(**architecture):
    keras.utils.set_random_seed(0)
    config = tiny_config(**architecture)
    labels = LABELS if architecture.get("head") != "multilabel" else [[label] for label in LABELS]
    clf = CLASSIFIER.build(config, {"train": (TEXTS, labels)})
    clf.compile(optimizer=keras.optimizers.Adam(0.01))
    clf.zoo_config = config
    return clf


@pytest.fixture(scope="module")
def trained():
    clf = tiny_classifier()
    clf.fit(TEXTS * 4, LABELS * 4, epochs=3, verbose=0)
    return clf


# ---------------------------------------------------------------- layers
def test_masked_pooling_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    lengths = np.array([5, 2, 0])
    mask = np.arange(5)[None, :] < lengths[:, None]
    out = np.asarray(MaskedPooling("max_mean")(x, mask=mask))
    for row, n in enumerate(lengths):
        expected = np.concatenate([x[row, :n].max(0), x[row, :n].mean(0)]) if n else np.zeros(8)
        np.testing.assert_allclose(out[row], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell,pooling", [("lstm", "last"), ("gru", "max"), ("vanilla", "mean")])
def test_backbone_ignores_padding(cell, pooling):
    keras.utils.set_random_seed(1)
    backbone = ClassifierBackbone(20, embedding_dim=4, cell=cell, units=3, pooling=pooling, dropout=0.0)
    alone = np.asarray(backbone(np.array([[5, 6, 7]], "int32")))
    padded = np.asarray(backbone(np.array([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0]], "int32")))
    assert alone.shape == (1, 6)
    np.testing.assert_allclose(padded[:1], alone, rtol=1e-5, atol=1e-6)


def test_preprocessor_truncation_and_empty_texts():
    words = [str(i) for i in range(10)]
    text = " ".join(words)  # ids 2..11
    for truncate, expected in (("head", [2, 3, 4, 5]), ("tail", [8, 9, 10, 11]), ("head_tail", [2, 3, 10, 11])):
        p = make_preprocessor(words, ["a", "b"], max_length=4, truncate=truncate)
        assert p(tf.constant([text, "", "  \n", "1 2"])).to_list() == [expected, [1], [1], [3, 4]]


# ---------------------------------------------------------------- task
def test_fit_and_predict_format(trained):
    out = trained.predict(["A good film!", "boring and bad", "never seen words"])
    assert [sorted(r) for r in out] == [["label", "score"]] * 3
    assert all(r["label"] in ("negative", "positive") and 0.5 <= r["score"] <= 1.0 for r in out)
    assert trained.predict("a good film")["label"] == out[0]["label"]
    probabilities = trained.predict_proba(TEXTS)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    # Three epochs on ten distinct texts are enough to fit them.
    assert trained.score(TEXTS, LABELS)["accuracy"] >= 90.0


def test_fit_on_raw_texts_does_not_warn_that_the_data_ran_out():
    """Bucketed datasets have no known length; one pass is an epoch, and Keras' warning would be noise."""
    import warnings

    clf = tiny_classifier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(TEXTS, LABELS, epochs=2, verbose=0)
        clf.evaluate(TEXTS, LABELS, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # asking for more steps than there are: kept
        warnings.simplefilter("always")
        clf.fit(TEXTS, LABELS, epochs=1, steps_per_epoch=50, verbose=0)
    assert [w for w in caught if "ran out of data" in str(w.message)]


def test_small_batches_run_through_xla_with_the_same_probabilities():
    clf = tiny_classifier()  # its own compiled functions
    texts = ["a good film", "boring and bad " * 30, "never seen words"]
    rows = clf.token_ids(texts)
    assert [len(r) for r in rows] == [3, 12, 3]  # truncated to max_length
    fn = clf._probabilities_fn()
    first = clf.proba_from_ids(rows, batch_size=8)  # a new shape: the plain function answers ...
    fn.compiles.wait()  # ... while XLA compiles it on a background thread
    assert fn.compiles.ready == {(4, 16)} and not fn.compiles.failed
    fast = clf.proba_from_ids(rows, batch_size=8)
    clf.small_batch_xla = False
    plain = clf.proba_from_ids(rows, batch_size=8)
    clf.small_batch_xla = True
    assert fast.shape == plain.shape == (3, 2)
    np.testing.assert_allclose(first, plain, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-5)  # padded steps and rows change nothing
    # Batches above XLA_MAX_BATCH take the plain function and start no compilation.
    np.testing.assert_allclose(clf.proba_from_ids(rows * 4, batch_size=12), np.tile(plain, (4, 1)), rtol=1e-5)
    fn.compiles.wait()
    assert fn.compiles.ready == {(4, 16)}


def test_bucketed_dataset_pads_per_batch(trained):
    texts = ["good"] * 8 + [" ".join(["bad"] * 11)] * 8
    lengths = [x.shape[1] for x, *_ in trained.make_dataset(texts, ["positive"] * 16, batch_size=4, training=True)]
    assert sorted(lengths) == [1, 1, 11, 11]


def test_training_batches_may_be_shorter_than_what_the_model_reads(trained):
    """`make_dataset(max_length=...)` / `data.train_max_length` cut training texts; inference keeps max_length."""
    long_text = " ".join(["bad"] * 11)
    batches = list(trained.make_dataset([long_text] * 4, ["negative"] * 4, batch_size=4, training=True, max_length=5))
    assert [x.shape[1] for x, *_ in batches] == [5]
    assert trained.preprocessor.max_length == 12
    assert [x.shape[1] for x in trained.make_dataset([long_text], batch_size=4)] == [11]
    config = tiny_config()
    config.data.train_max_length = 3
    data = {"train": ([long_text] * 8, ["negative"] * 8)}
    assert {x.shape[1] for x, *_ in CLASSIFIER.train_dataset(trained, data, config)} == {3}


def test_bad_inputs(trained):
    with pytest.raises(ValueError, match="text 1 is int"):
        trained.predict(["fine", 3])
    with pytest.raises(ValueError, match="text 0 is NoneType"):
        trained.fit([None], ["positive"], verbose=0)
    with pytest.raises(ValueError, match=r"'neutral'.*with_labels"):
        trained.fit(["fine"], ["neutral"], verbose=0)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        trained.fit(["fine", "ok"], ["positive"], verbose=0)
    with pytest.raises(ValueError, match="exactly 2 labels"):
        TextClassifier(trained.backbone, make_preprocessor(["a"], ["x", "y", "z"]), head="binary")
    # Empty, whitespace and huge texts give ordinary predictions; the huge one is truncated.
    huge = "good " * 20_000  # 100,000 characters
    out = trained.predict(["", "   \n\t", huge])
    assert all(r["label"] in ("negative", "positive") for r in out)
    assert trained.preprocessor(tf.constant([huge])).row_lengths().numpy().tolist() == [12]


@pytest.mark.slow
def test_with_labels_finetune_and_reload(trained, tmp_path):
    from rnnzoo.artifacts import save_artifact

    three = trained.with_labels(["negative", "neutral", "positive"])
    assert three.head == "multiclass" and three.backbone is trained.backbone
    three.compile(optimizer=keras.optimizers.Adam(0.01))
    history = three.fit(TEXTS + ["it was fine", "okay I guess"], LABELS + ["neutral"] * 2, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    before = three.predict_proba(TEXTS)
    assert before.shape == (10, 3)
    save_artifact(three, trained.zoo_config, str(tmp_path / "three"))
    loaded = rnnzoo.load(str(tmp_path / "three"))
    assert isinstance(loaded, TextClassifier) and loaded.labels == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), before, rtol=1e-5, atol=1e-6)
    with open(tmp_path / "three" / "vocabularies" / "labels.txt") as f:
        assert f.read().split() == ["negative", "neutral", "positive"]


@pytest.mark.slow
def test_multilabel_head():
    clf = tiny_classifier(head="multilabel")
    labels = [["good", "film"] if "film" in t else ["good"] for t in POSITIVE] + [["bad"]] * 5
    clf = clf.with_labels(["bad", "film", "good"])
    clf.compile(optimizer=keras.optimizers.Adam(0.02))
    clf.fit(TEXTS * 4, labels * 4, epochs=4, verbose=0)
    out = clf.predict(["a good film", "boring", "wonderful and moving"])
    assert all(isinstance(r, list) for r in out)
    assert all(set(d) == {"label", "score"} and d["score"] >= 0.5 for r in out for d in r)
    # Not just well-formed: an all-empty prediction (nothing over the threshold) fails here.
    names = [[d["label"] for d in r] for r in out]
    assert "good" in names[0] and "bad" not in names[0]
    assert names[1] == ["bad"] and names[2] == ["good"]
    for r in out:  # most probable first
        assert [d["score"] for d in r] == sorted((d["score"] for d in r), reverse=True)
    result = clf.score(TEXTS, labels)
    assert set(result) == {"accuracy", "micro_f1", "examples"}
    assert result["micro_f1"] >= 90 and result["accuracy"] >= 80, result


@pytest.mark.slow
def test_export_runs_in_a_fresh_process(trained, tmp_path):
    path = trained.export(str(tmp_path / "exported"), verbose=False)
    texts = ["A good film!", "boring and bad", "", "never seen words " * 300]
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['serving_default'](text=tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}, default=lambda b: b.decode()))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script, path, json.dumps(texts)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(served["probabilities"], trained.predict_proba(texts), rtol=1e-5, atol=1e-6)
    assert served["labels"] == [["negative", "positive"]] * len(texts)  # batch-major, for TF Serving's row format
    assert served["score"] == [r["score"] for r in trained.predict(texts)]
    assert served["label"] == [r["label"] for r in trained.predict(texts)]


# ---------------------------------------------------------------- data
def test_read_table_csv_and_tsv(tmp_path):
    csv_path = tmp_path / "reviews.csv"
    csv_path.write_text('id,label,text\n1,1,"Great, really ""great"" film"\n2,0,awful\n')
    tsv_path = tmp_path / "train.tsv"
    tsv_path.write_text('sentence\tlabel\n"quoted" start\t1\nplain\t0\n')
    config = tiny_config()
    config.data.root = str(tmp_path)
    config.data.train = "reviews.csv"
    assert CLASSIFIER.load_data(config)["train"] == (['Great, really "great" film', "awful"], ["positive", "negative"])
    config.data.reader, config.data.train = "tsv", "train.tsv"
    assert CLASSIFIER.load_data(config)["train"] == (['"quoted" start', "plain"], ["positive", "negative"])
    config.data.train = ["train.tsv", "train.tsv"]  # a list of files is read one after another
    assert CLASSIFIER.load_data(config)["train"] == (['"quoted" start', "plain"] * 2, ["positive", "negative"] * 2)
    config.data.text_column = "review"
    with pytest.raises(ValueError, match="data.text_column"):
        CLASSIFIER.load_data(config)


def test_sentence_validation_split_keeps_phrases_of_held_out_sentences_out_of_training(tmp_path):
    # A sentence + phrase corpus shaped like GLUE SST-2: every sentence comes with some of its phrases.
    rows = [("the plot is dull but the cast is great", 1), ("the plot is dull", 0), ("the cast is great", 1),
            ("dull", 0), ("great", 1), ("a moving , funny film", 1), ("funny film", 1), ("funny", 1),
            ("not funny at all", 0), ("at all", 0), ("a dull film", 0), ("film", 1)]
    (tmp_path / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    config = tiny_config()
    config.data.root, config.data.reader, config.data.train = str(tmp_path), "tsv", "train.tsv"
    config.data.train_validation_split = 0.5
    config.data.train_validation_unit = "sentence"
    whole = {rows[i][0] for i in (0, 5, 8, 10)}  # the rows that are inside no other row
    for seed in range(8):
        config.training.seed = seed
        data = CLASSIFIER.load_data(config)
        train, held = data["train"][0], data["validation"][0]
        assert len(held) == 2 and set(held) <= whole
        assert not set(train) & set(held)
        for text, _ in rows:
            inside = [w for w in whole if f" {text} " in f" {w} "]
            # a row leaves training exactly when every whole text holding it is held out
            assert (text in train) == (not set(inside) <= set(held)), (seed, text)
        labels = dict(zip(*data["train"])) | dict(zip(*data["validation"]))
        assert all(labels[t] == ("positive" if y else "negative") for t, y in rows if t in labels)

    config.data.train_validation_unit = "row"  # the default: a random part of the rows
    assert len(CLASSIFIER.load_data(config)["validation"][0]) == 6


def test_sentence_validation_split_refuses_long_documents(monkeypatch):
    from rnnzoo.data import splits

    monkeypatch.setattr(splits, "MAX_SPAN_WORK", 1000)
    with pytest.raises(ValueError, match="sentence \\+ phrase corpora.*train_validation_unit: row"):
        splits.hold_out_sentences([" ".join(["word"] * 100)], 0.1, seed=0)


# ---------------------------------------------------------------- shipped presets
SHIPPED = ("bilstm_imdb", "bigru_sst2", "vanilla_rnn_sst2")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_accuracy_on_a_fixed_sample(name):
    """The shipped model reproduces, on the fixed 500-example sample, what `rnnzoo evaluate` recorded."""
    from rnnzoo.evaluation import sample_split
    from rnnzoo.artifacts import models_dir
    from rnnzoo.zoo import read_metrics

    directory = os.path.join(models_dir(), name)
    if not os.path.exists(os.path.join(directory, "metrics.json")):
        pytest.skip(f"{directory} has no trained, evaluated artifact (train it, then run `rnnzoo evaluate {name}`).")
    metrics = read_metrics(name)
    clf = rnnzoo.load(name)
    root = os.path.join(data_root(), clf.zoo_config.data.root)
    if not os.path.isdir(root):
        pytest.skip(f"dataset folder {root} is absent (set RNNZOO_DATA).")
    data = CLASSIFIER.load_data(clf.zoo_config)
    assert metrics["examples"] == len(data[metrics["split"]][0])
    assert metrics["sample"]["size"] == CLASSIFIER.sample_size == 500
    result = CLASSIFIER.evaluate(clf, sample_split(data, metrics["split"], CLASSIFIER.sample_size), split=metrics["split"])
    assert result["examples"] == 500
    assert abs(result["accuracy"] - metrics["sample"]["accuracy"]) <= 1.5, (result["accuracy"], metrics["sample"])


# ---------------------------------------------------------------- examples/pretrain_encoder_lm.py
def test_language_model_pretrained_encoder_initialises_a_classifier(tmp_path):
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "pretrain_encoder_lm.py")
    spec = importlib.util.spec_from_file_location("pretrain_encoder_lm", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    clf = tiny_classifier(bidirectional=True)
    vocabulary, dim = clf.backbone.get_layer("word_embedding").get_weights()[0].shape
    rng = np.random.default_rng(0)
    stream = tmp_path / "stream.npz"
    np.savez(stream, stream=rng.integers(0, vocabulary, 3000).astype("uint16"),
             embedding=rng.normal(size=(vocabulary, dim)).astype("float32"),
             meta=np.array(json.dumps({"units": 8, "cell": "gru", "vocabulary": int(vocabulary)})))
    encoder = tmp_path / "encoder.npz"
    example.main(["train", "--stream", str(stream), "--out", str(encoder), "--epochs", "2", "--batch-size", "8",
                  "--length", "8", "--output-words", "16"])
    saved = np.load(encoder)
    assert json.loads(str(saved["meta"]))["epochs"] == 2
    example.load_encoder(clf, encoder)
    np.testing.assert_array_equal(clf.backbone.get_layer("word_embedding").get_weights()[0], saved["embedding"])
    rnn = clf.backbone.get_layer("rnn_0")
    for name, layer in (("forward", rnn.forward_layer), ("backward", rnn.backward_layer)):
        for i, w in enumerate(layer.get_weights()):
            np.testing.assert_array_equal(w, saved[f"{name}_{i}"])
    assert len(clf.predict(["a good film"])) == 1
    # A stream prepared for another vocabulary is refused with a clear message.
    np.savez(encoder, embedding=np.zeros((vocabulary + 1, dim), "float32"))
    with pytest.raises(ValueError, match="does not match"):
        example.load_encoder(clf, encoder)
