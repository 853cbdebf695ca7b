"""Portable runtimes (`rnnzoo.runtime`): ONNX and LiteRT exports of the shipped taggers and classifiers.

Each shipped model is converted once per format (module-scoped, into a temporary
folder) and must reproduce the Keras model: the same results, warnings and
errors from `predict`, probabilities within 1e-4, identical tags. int8 exports
must mostly agree. The export's `portable.py` must serve it with TensorFlow,
Keras and rnnzoo all unimportable. Conversions take seconds each: slow tests.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import real_data

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFIERS = ("bigru_sst2", "vanilla_rnn_sst2", "bilstm_imdb")
SHIPPED = ("bilstm_ner",) + CLASSIFIERS
FORMATS = ("onnx", "tflite")
NEEDS = {"onnx": ("onnxruntime", "tf2onnx", "onnx"), "tflite": ("ai_edge_litert",)}

TEXTS = [
    "A wonderful, moving film.",
    "Dull and far too long.",
    "",
    "xqzv blorf",
    "It's not the best, but I didn't hate it!<br />Really.",
    "ＡＢＣ İstanbul ΣΑΣ straße",
    " ".join(["good"] * 70 + ["bad"] * 3),  # past SST-2's 64 tokens: a truncation warning
    b"Bytes are read as UTF-8.",
]
SENTENCES = [
    "Pankaj lives in Munich and works for Siemens .",
    "EU rejects German call to boycott British lamb.",
    "",
    "Angela Merkel visited Paris on Tuesday, Reuters reported.",
    ["Peter", "Blackburn"],
    "xqzv",
    "Siemens opened an office in Berlin . " * 45,  # 315 tokens: tagged in windows, with a warning
    b"BRUSSELS 1996-08-22",
]


def requires(format):
    for package in NEEDS[format]:
        pytest.importorskip(package, reason=f"the {format} runtime needs {package} (pip install 'rnnzoo[{format}]')")


@pytest.fixture(scope="module")
def keras_model():
    import rnnzoo

    loaded = {}

    def get(name):
        if name not in loaded:
            loaded[name] = rnnzoo.load(name, compile=False)
            loaded[name].small_batch_xla = False  # the same outputs without compiling XLA programs for a few calls
        return loaded[name]

    return get


@pytest.fixture(scope="module")
def export(keras_model, tmp_path_factory):
    """`export(name, format, quantize=None)` -> the export folder, converted once per module."""
    from rnnzoo.runtime.convert import export_portable, quantize_onnx_export, write_portable

    root = tmp_path_factory.mktemp("exports")
    folders = {}

    def get(name, format, quantize=None):
        requires(format)
        key = (name, format, quantize)
        if key not in folders:
            if format == "onnx" and quantize:
                folders[key] = str(root / f"{name}-onnx-int8")
                quantize_onnx_export(get(name, "onnx"), folders[key])
            elif name == "bilstm_imdb" and format == "onnx":  # the public, versioned entry point
                folders[key] = export_portable(keras_model(name), root / name, format, verbose=False)
            else:
                folders[key] = str(root / f"{name}-{format}-{quantize}")
                # The tagger's LiteRT export has the default signatures (batch 1, 8, 32); fewer here convert faster.
                sizes = {} if name == "bilstm_ner" or format != "tflite" else {"tflite_batch_sizes": (1, 8)}
                write_portable(keras_model(name), folders[key], format, quantize=quantize, **sizes)
        return folders[key]

    return get


@pytest.fixture(scope="module")
def portable(export):
    from rnnzoo.runtime import load_portable

    opened = {}

    def get(name, format, quantize=None):
        key = (name, format, quantize)
        if key not in opened:
            opened[key] = load_portable(export(name, format, quantize))
        return opened[key]

    return get


def _run(predict, x, **kwargs):
    """`(result, [warning messages])` of one predict call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = predict(x, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _assert_same_results(ours, theirs, tolerance=1e-4):
    """Same structure and values; floats (scores) within `tolerance` (they are rounded to 4 digits)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs)
        for key in theirs:
            _assert_same_results(ours[key], theirs[key], tolerance)
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_results(a, b, tolerance)
    elif isinstance(theirs, float):
        assert isinstance(ours, float) and abs(ours - theirs) <= tolerance + 1e-9
    else:
        assert ours == theirs


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("name", SHIPPED)
def test_portable_model_reproduces_the_keras_model(name, format, keras_model, portable):
    model, predictor = keras_model(name), portable(name, format)
    inputs = SENTENCES if name == "bilstm_ner" else TEXTS
    theirs, their_warnings = _run(model.predict, inputs)
    ours, our_warnings = _run(predictor.predict, inputs)
    _assert_same_results(ours, theirs, tolerance=2e-4)
    assert our_warnings == their_warnings and their_warnings  # truncation/windows and unknown-word warnings
    single = inputs[0]
    _assert_same_results(predictor.predict(single), model.predict(single))
    if name == "bilstm_ner":
        assert [r["tags"] for r in ours] == [r["tags"] for r in theirs]  # identical, not just close
        assert predictor.labels == model.labels
    else:
        texts = [t for t in inputs if isinstance(t, str)]
        difference = np.abs(predictor.predict_proba(texts) - model.predict_proba(texts)).max()
        assert difference < 1e-4, difference
        assert predictor.labels == model.labels
    assert predictor.runtime == format and predictor.name == name


@pytest.mark.parametrize("name, format", [("bilstm_ner", "onnx"), ("bigru_sst2", "onnx"), ("vanilla_rnn_sst2", "tflite")])
def test_int8_exports_are_smaller_and_mostly_agree(name, format, keras_model, portable, export):
    model, predictor = keras_model(name), portable(name, format, "int8")
    assert predictor.quantize == "int8"
    sizes = [os.path.getsize(os.path.join(export(name, format, q), f"model.{format}")) for q in (None, "int8")]
    assert sizes[1] < 0.4 * sizes[0], sizes
    if name == "bilstm_ner":
        theirs = [t for r in model.predict(SENTENCES) for t in r["tags"]]
        ours = [t for r in predictor.predict(SENTENCES) for t in r["tags"]]
        assert np.mean([a == b for a, b in zip(ours, theirs)]) >= 0.95
    else:
        texts = [t for t in TEXTS if isinstance(t, str)]
        ours, theirs = predictor.predict_proba(texts), model.predict_proba(texts)
        assert np.mean(ours.argmax(1) == theirs.argmax(1)) >= 0.85
        assert np.abs(ours - theirs).max() < 0.1


@pytest.mark.parametrize("name, format", [("vanilla_rnn_ptb", "onnx"), ("char_lstm_shakespeare", "tflite")])
def test_portable_language_model_decodes_as_keras_greedy(name, format, keras_model, portable):
    model, predictor = keras_model(name), portable(name, format)
    if name == "vanilla_rnn_ptb":
        prompts = ["the company said", "", "xqzv unknown words here", "the stock market fell"]
    else:
        prompts = ["ROMEO:", "", "First Citizen:\nBefore we proceed", "é"]
    theirs = model.generate(prompts, max_length=12, sampler="greedy", return_scores=True)
    ours = predictor.generate(prompts, max_length=12, return_scores=True)
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=2e-3)
    assert predictor.predict(prompts[0], max_length=12) == model.predict(prompts[0], max_length=12, sampler="greedy")
    _assert_same_results(predictor.predict_next(prompts, top_k=3), model.predict_next(prompts, top_k=3))
    with pytest.raises(ValueError, match="decode greedily"):
        predictor.generate(prompts, sampler="top_k")
    with pytest.raises((TypeError, ValueError), match="prompt 1 is int"):
        predictor.generate(["fine", 3])


BAD_INPUTS = [
    (None, {}),
    (5, {}),
    ({1, 2}, {}),
    (pathlib.Path("reviews.txt"), {}),
    ({"ids": np.zeros((1, 3), "int32")}, {}),
    (["fine", None], {}),
    (["fine", 3.5], {}),
    ([b"\xff\xfe"], {}),
    ("fine", {"batch_size": 0}),
    ("fine", {"batch_size": 2.0}),
    ("fine", {"max_length": 0}),
    ("fine", {"max_length": True}),
]


@pytest.mark.parametrize("name", ["bilstm_ner", "bigru_sst2"])
def test_bad_inputs_raise_the_keras_errors(name, keras_model, portable):
    from rnnzoo.models.task import InputError

    model, predictor = keras_model(name), portable(name, "onnx")
    for x, kwargs in BAD_INPUTS:
        with pytest.raises((TypeError, ValueError)) as theirs:
            model.predict(x, **kwargs)
        with pytest.raises((TypeError, ValueError)) as ours:
            predictor.predict(x, **kwargs)
        assert type(ours.value) is type(theirs.value), (x, kwargs, ours.value, theirs.value)
        if isinstance(x, list) or kwargs:  # item and argument errors come from the same checks: same words
            assert str(ours.value) == str(theirs.value)
    with pytest.raises(InputError, match="(item|text) 1 is int"):
        predictor.predict(["fine", 7])


def test_vectorized_inputs_give_what_keras_predict_gives(keras_model, portable):
    clf, fast = keras_model("bigru_sst2"), portable("bigru_sst2", "onnx")
    ids = np.array([[5, 17, 230, 0], [44, 0, 0, 0]], "int32")
    np.testing.assert_allclose(fast.predict(ids), clf.predict(ids, verbose=0), atol=1e-5)
    np.testing.assert_allclose(fast.predict({"token_ids": ids}), clf.predict(ids, verbose=0), atol=1e-5)
    tagger, fast_tagger = keras_model("bilstm_ner"), portable("bilstm_ner", "onnx")
    features = tagger.vectorize_tokens([["Pankaj", "lives", "in", "Munich"], ["EU"]])
    theirs, ours = tagger.predict(features, verbose=0), fast_tagger.predict(features)
    assert sorted(ours) == ["confidence", "tags"]
    mask = features["token_ids"] != 0
    assert (ours["tags"][mask] == np.asarray(theirs["tags"])[mask]).all()
    np.testing.assert_allclose(ours["confidence"][mask], np.asarray(theirs["confidence"])[mask], atol=1e-4)


def test_the_export_folder_holds_what_serving_needs(export):
    from rnnzoo.export import version_directory

    folder = export("bilstm_imdb", "onnx")  # written by export_portable: root/<version>
    assert os.path.basename(folder) == "1"
    assert sorted(os.listdir(folder)) == ["model.onnx", "portable.py", "processing.json", "vocabularies"]
    assert sorted(os.listdir(os.path.join(folder, "vocabularies"))) == ["labels.txt", "words.txt"]
    with open(os.path.join(folder, "processing.json")) as f:
        settings = json.load(f)
    assert settings["classifier"] == {**settings["classifier"], "max_length": 1000, "truncate": "head_tail",
                                      "labels": ["negative", "positive"]}
    # Hand-built: one bidirectional LSTM op (tf2onnx writes one per direction).
    assert settings["onnx"]["opset"] >= 17 and settings["onnx"]["ops"]["LSTM"] == 1
    assert settings["onnx"]["converter"].startswith("rnnzoo.runtime.onnx_graphs")
    root = os.path.dirname(folder)
    assert version_directory(root).path == os.path.join(root, "2")
    with pytest.raises(FileExistsError, match="overwrite"):
        version_directory(root, 1)
    assert version_directory(root, 1, overwrite=True).path == folder
    with pytest.raises(ValueError, match="non-negative int"):
        version_directory(root, "latest")


STANDALONE = r"""
import json, sys
for name in ("tensorflow", "keras", "rnnzoo", "tf2onnx"):
    sys.modules[name] = None  # importing any of them now fails
sys.path.insert(0, sys.argv[1])
import portable
model = portable.load_portable(sys.argv[1])
print(json.dumps(model.predict(json.loads(sys.argv[2]))))
"""


@pytest.mark.parametrize("name, format", [("bilstm_ner", "onnx"), ("bigru_sst2", "tflite")])
def test_portable_py_serves_the_export_without_tensorflow_keras_or_rnnzoo(name, format, keras_model, export):
    folder = export(name, format)
    inputs = [s for s in (SENTENCES if name == "bilstm_ner" else TEXTS)[:6] if not isinstance(s, bytes)]
    out = subprocess.run(
        [sys.executable, "-c", STANDALONE, folder, json.dumps(inputs)],
        capture_output=True, text=True, timeout=120, cwd=str(pathlib.Path(folder).parent),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    _assert_same_results(json.loads(out.stdout), keras_model(name).predict(inputs))


def test_the_runtime_package_imports_without_tensorflow(export):
    folder = export("bigru_sst2", "onnx")
    code = (
        "import sys\nsys.modules['tensorflow'] = None\nsys.modules['keras'] = None\n"
        "from rnnzoo.runtime import load_portable\n"
        f"print(load_portable({folder!r}).predict('A wonderful film.')['label'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "positive"


def test_rnnzoo_load_exports_once_into_the_cache_and_reuses_it(keras_model, export, tmp_path, monkeypatch):
    import rnnzoo
    from rnnzoo.artifacts import models_dir
    from rnnzoo.runtime import cache_folder, cached_export, source_digest
    from rnnzoo.runtime import convert

    requires("onnx")
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path))
    path = os.path.join(models_dir(), "bigru_sst2")
    # Pre-fill the cache from this module's export (a copy): the Keras model is not loaded or converted again.
    digest = source_digest("folder", path)
    shutil.copytree(export("bigru_sst2", "onnx"), cache_folder("bigru_sst2", digest, "onnx"))
    with open(os.path.join(cache_folder("bigru_sst2", digest, "onnx"), "processing.json")) as f:
        settings = json.load(f)
    settings["source"] = {"sha256": digest}
    with open(os.path.join(cache_folder("bigru_sst2", digest, "onnx"), "processing.json"), "w") as f:
        json.dump(settings, f)

    def no_conversion(*args, **kwargs):
        raise AssertionError("the cached export should have been reused")

    monkeypatch.setattr(convert, "write_portable", no_conversion)
    fast = rnnzoo.load("bigru_sst2", runtime="onnx")
    assert not isinstance(fast, __import__("keras").Model)
    _assert_same_results(fast.predict(TEXTS[:3]), keras_model("bigru_sst2").predict(TEXTS[:3]))
    # int8 is derived from the cached float32 export without TensorFlow, then cached too.
    folder = cached_export("folder", path, "onnx", "int8", load_task=no_conversion)
    assert folder == cache_folder("bigru_sst2", digest, "onnx", "int8")
    assert rnnzoo.load("bigru_sst2", runtime="onnx", quantize="int8").quantize == "int8"
    # `rnnzoo predict --runtime onnx` prints what the Keras model prints.
    from rnnzoo.cli import main

    assert main(["predict", "bigru_sst2", "A wonderful, moving film.", "--runtime", "onnx", "--json"]) is None


def test_runtime_arguments_are_checked(tmp_path):
    import keras

    import rnnzoo
    from rnnzoo.runtime import load_portable
    from rnnzoo.runtime.convert import family_name

    with pytest.raises(ValueError, match="unknown runtime 'onnxx'"):
        rnnzoo.load("bigru_sst2", runtime="onnxx")
    with pytest.raises(ValueError, match="needs runtime='onnx' or 'tflite'"):
        rnnzoo.load("bigru_sst2", quantize="int8")
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        rnnzoo.load("bigru_sst2", runtime="onnx", quantize="int4")
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="formats onnx, tflite.*classifier, tagger and language_model families.*SavedModel"):
        family_name(plain, "onnx")
    with pytest.raises(FileNotFoundError, match="not a portable rnnzoo export"):
        load_portable(tmp_path)


def test_viterbi_matches_the_crf_decoder():
    from rnnzoo.layers import crf_decode_numpy
    from rnnzoo.runtime.processing import viterbi

    rng = np.random.default_rng(0)
    emissions = rng.normal(size=(6, 9, 5)).astype("float32")
    lengths = np.array([9, 1, 4, 0, 7, 2])
    crf = [rng.normal(size=(5, 5)), rng.normal(size=5), rng.normal(size=5)]
    assert (viterbi(emissions, lengths, *crf) == crf_decode_numpy(emissions, lengths, *crf)).all()


def test_the_python_text_pipeline_gives_the_tf_ids(keras_model, portable):
    model, predictor = keras_model("bigru_sst2"), portable("bigru_sst2", "onnx")
    texts = [t for t in TEXTS if isinstance(t, str)] + ["a<BR  />b<br/>c<br\u00a0/>", "\u2028x\x85y", "10,000 U.S. 'q'"]
    path = real_data("sst2", "glue", "dev.tsv")
    with open(path, encoding="utf-8") as f:
        texts += [line.split("\t")[0] for line in f.read().splitlines()[1:300]]
    assert [list(r) for r in predictor.token_ids(texts)] == [r.tolist() for r in model.token_ids(texts)]


def test_evaluate_runtime_writes_its_numbers_beside_the_keras_ones(keras_model, export, tmp_path, monkeypatch):
    from rnnzoo.artifacts import models_dir
    from rnnzoo.evaluation import evaluate_runtime
    from rnnzoo.runtime import cache_folder, source_digest

    real_data("sst2", "glue", "dev.tsv")
    requires("onnx")
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path / "home"))
    artifact = shutil.copytree(os.path.join(models_dir(), "vanilla_rnn_sst2"), tmp_path / "vanilla_rnn_sst2")
    digest = source_digest("folder", artifact)
    cached = shutil.copytree(export("vanilla_rnn_sst2", "onnx"), cache_folder("vanilla_rnn_sst2", digest, "onnx"))
    with open(os.path.join(cached, "processing.json")) as f:
        settings = {**json.load(f), "source": {"sha256": digest}}
    with open(os.path.join(cached, "processing.json"), "w") as f:
        json.dump(settings, f)
    with open(artifact / "metrics.json") as f:
        before = json.load(f)
    entry = evaluate_runtime(str(artifact), "onnx")
    with open(artifact / "metrics.json") as f:
        after = json.load(f)
    assert {k: v for k, v in after.items() if k != "runtimes"} == {k: v for k, v in before.items() if k != "runtimes"}
    assert after["runtimes"]["onnx"] == entry
    assert entry["keras_value"] == before["value"] and entry["examples"] == before["examples"]
    assert entry["agreement"]["labels_equal"] == 100.0 and entry["change"] == 0.0
    with open(artifact / "MODEL_CARD.md", encoding="utf-8") as f:
        card = f.read()
    assert "## Runtimes" in card and card.index("## Runtimes") < card.index("## License")
    assert f"| `onnx` | model.onnx {entry['model_megabytes']:.1f} MB | {entry['value']} |" in card


# ---------------------------------------------------------------- the hand-built graphs (rnnzoo.runtime.onnx_graphs)
def _right_padded(lengths, vocabulary, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), "int32")
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(2, vocabulary, n)
    return ids


def test_hand_built_classifier_graph_matches_keras_on_mixed_length_batches(keras_model, portable):
    model, predictor = keras_model("bilstm_imdb"), portable("bilstm_imdb", "onnx")
    assert predictor.settings["onnx"]["converter"].startswith("rnnzoo.runtime.onnx_graphs")
    # One right-padded batch straight through the session: ORT's zeros past each row's length are what the
    # graph's pooling relies on; an all-padding row pools to zeros, as MaskedPooling gives.
    ids = _right_padded([1, 2, 7, 300, 45, 0, 120, 299, 3], model.backbone.vocabulary_size)
    ours = predictor.model({"token_ids": ids})["probabilities"]
    np.testing.assert_allclose(ours, model.predict(ids, verbose=0), atol=1e-5)
    np.testing.assert_allclose(predictor.predict(ids), ours, atol=1e-6)  # sub-batches, padded to their own longest


def test_hand_built_tagger_graph_gives_the_keras_tags(keras_model, portable):
    model, predictor = keras_model("bilstm_ner"), portable("bilstm_ner", "onnx")
    assert predictor.settings["onnx"]["converter"].startswith("rnnzoo.runtime.onnx_graphs")
    words = ["Germany", "'s", "representative", "to", "the", "European", "Union", "said", "on", "Wednesday", ".",
             "Pankaj", "Mr.", "U.S.", "1996-08-22", "Siemens", "xqzv", "☃✓", "Ωμέγα", "a" * 30, "3:1", "(", "--"]
    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(words, size=n)) for n in rng.integers(1, 40, size=24)]
    sentences += ["", "   ", "x", "☃", "Ünïcode Ⅻ ＡＢＣ in Zürich", " ".join(words) * 12, SENTENCES[0], SENTENCES[3]]
    ours, theirs = predictor.predict(sentences), _run(model.predict, sentences)[0]
    assert [r["tokens"] for r in ours] == [r["tokens"] for r in theirs]
    assert [r["tags"] for r in ours] == [r["tags"] for r in theirs]
    _assert_same_results(ours, theirs, tolerance=2e-4)


def test_sub_batches_on_threads_give_the_single_thread_results_in_input_order(export):
    from rnnzoo.runtime import load_portable

    texts = [" ".join(["good"] * n + ["bad film"] * (n % 5)) for n in (40, 1, 17, 3, 90, 0, 8, 33, 2, 64) * 4]
    one, three = load_portable(export("bilstm_imdb", "onnx"), threads=1), load_portable(export("bilstm_imdb", "onnx"),
                                                                                            threads=3)
    assert (one.model.threads, three.model.threads, three.model.intra_op_threads) == (1, 3, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty texts' warning
        together = three.predict_proba(texts)
        np.testing.assert_array_equal(together, one.predict_proba(texts))
        alone = np.concatenate([one.predict_proba([t]) for t in texts[:10]])  # each text on its own: the same row
    np.testing.assert_allclose(together[:10], alone, atol=1e-5)
    sentences = [" ".join(["Angela Merkel visited Paris ."] * (n % 4 + 1)) for n in range(20)] + ["", "EU"]
    tag = lambda p: [r["tags"] for r in p.predict(sentences[::-1])]  # noqa: E731
    tagger_one = load_portable(export("bilstm_ner", "onnx"), threads=1)
    tagger_three = load_portable(export("bilstm_ner", "onnx"), threads=3)
    assert tag(tagger_three) == tag(tagger_one)
    assert tag(tagger_three) == [r["tags"] for r in (tagger_one.predict(s) for s in sentences[::-1])]


def test_unsupported_architectures_fall_back_to_tf2onnx(keras_model, portable):
    from rnnzoo.runtime.onnx_graphs import build_onnx, unsupported

    settings = portable("bigru_sst2", "onnx").settings["onnx"]
    assert settings["converter"].startswith("tf2onnx") and "'gru'" in settings["hand_built_unsupported"]
    assert "'vanilla'" in unsupported(keras_model("vanilla_rnn_sst2"), "classifier")
    assert unsupported(keras_model("bilstm_ner"), "classifier") == (
        "BidirectionalTagger is not a TextClassifier on a ClassifierBackbone")
    with pytest.raises(ValueError, match="no hand-built ONNX graph for .*'gru'"):
        build_onnx(keras_model("bigru_sst2"), "classifier")


@pytest.mark.parametrize("pooling, head, dense_units", [("max", "multiclass", 0), ("mean", "multilabel", 6),
                                                        ("last", "binary", 0)])
def test_hand_built_classifier_variants_match_keras(pooling, head, dense_units):
    """Poolings and heads the shipped classifiers do not use: built and exact, or left to tf2onnx ("last")."""
    import keras
    import onnxruntime as ort

    from rnnzoo.models.classifier import ClassifierBackbone, TextClassifier
    from rnnzoo.models.classifier.preprocessor import make_preprocessor
    from rnnzoo.runtime.onnx_graphs import build_onnx, unsupported

    requires("onnx")
    keras.utils.set_random_seed(0)
    labels = ["a", "b"] if head == "binary" else ["a", "b", "c"]
    backbone = ClassifierBackbone(60, embedding_dim=8, cell="lstm", units=5, pooling=pooling)
    clf = TextClassifier(backbone, make_preprocessor([f"w{i}" for i in range(58)], labels), head=head,
                         dense_units=dense_units)
    for layer in clf.layers + backbone.layers:  # non-zero biases, so a wrong gate order shows
        for weight in layer.weights:
            if "bias" in weight.path:
                weight.assign(np.random.default_rng(1).normal(0, 0.5, weight.shape).astype("float32"))
    if pooling == "last":
        assert "pooling 'last'" in unsupported(clf, "classifier")
        return
    model = build_onnx(clf, "classifier").SerializeToString()
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ids = _right_padded([1, 9, 4, 0, 12], 60, seed=2)
    ours = session.run(None, {"token_ids": ids})[0]
    np.testing.assert_allclose(ours, np.asarray(clf.predict_step((ids,))), atol=1e-5)


def test_a_missing_runtime_package_names_the_extra_to_install(monkeypatch, tmp_path, capsys):
    import importlib.util

    import rnnzoo
    from rnnzoo import cli
    from rnnzoo.utils import MissingPackageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnxruntime", "ai_edge_litert") else real(name, *a))
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path))
    with pytest.raises(MissingPackageError, match=r"pip install 'rnnzoo\[tflite\]'"):
        rnnzoo.load("bigru_sst2", runtime="tflite")
    assert cli.main(["predict", "bigru_sst2", "A fine film", "--runtime", "onnx"]) == 2  # an error line, no traceback
    assert "pip install 'rnnzoo[onnx]'" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "runtimes")  # refused before converting anything


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["bilstm_ner", "bilstm_imdb"])
def test_hostile_batches_get_the_keras_answer_from_the_onnx_predictor(name, keras_model, portable):
    """The property-based contract of tests/test_properties.py holds for the served path too: on arbitrary
    Unicode, control characters, bytes, junk items and lone surrogates, the ONNX predictor gives the Keras
    task's results (row i for input i), or raises the same error type with the same message."""
    requires("onnx")
    pytest.importorskip("hypothesis")
    from hypothesis import example, given
    from hypothesis import strategies as st
    from test_properties import _settings, junk, surrogate_text, texts, token_lists

    model, predictor = keras_model(name), portable(name, "onnx")
    items = st.one_of(texts, st.binary(max_size=6), junk, surrogate_text, *([token_lists] if name == "bilstm_ner" else []))

    @_settings(20)
    @given(st.lists(items, max_size=5))
    @example([])
    @example(["ok", b"\xff\xfe", "x"])
    @example(["x", "ab\ud800c"])
    @example(["Pankaj lives in Munich .", "\x00", "", "😀 New York 😀"])
    def check(batch):
        try:
            theirs = model.predict(batch)
        except (TypeError, ValueError) as error:
            with pytest.raises(type(error)) as ours:
                predictor.predict(batch)
            assert str(ours.value) == str(error)
            return
        ours = predictor.predict(batch)
        assert len(ours) == len(batch)
        _assert_same_results(ours, theirs, tolerance=2e-4)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check()
