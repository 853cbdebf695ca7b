"""Exports people serve: TF Serving's version folders, signatures that return everything `predict` does, cards.

Each family's shipped model is exported once (module fixtures); in one fresh Python process, TensorFlow's own
`saved_model_cli` (`show --all`, `run`) and `tf.saved_model.load` read the exports while the other tests run, and
their outputs must equal `predict` exactly: tokens, tags, character offsets and entities of non-ASCII sentences,
labels and rounded scores, generated text and its log-probability.
"""

import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.cli import main  # noqa: E402
from rnnzoo.export import describe_saved_model, version_directory  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="SavedModels need TensorFlow")

SHIPPED = {"tagger": "bilstm_ner", "classifier": "vanilla_rnn_sst2", "language_model": "vanilla_rnn_ptb"}
#: The tagger is exported with short windows, so the long sentence is tagged in windows cut after "." or "!".
TAGGER_WINDOW = 12
LM_LENGTH = 6
LONG = ("EU rejects German call to boycott British lamb . Peter Blackburn reported from Brussels ! "
        "The European Commission said on Thursday it disagreed with German advice to consumers .")
INPUTS = {
    "tagger": ["Pankaj lives in Munich .", "Zoë Müller besucht São Paulo.", "I ❤️ New York 🗽 — Angela Merkel met "
               "Barack Obama in Paris", "", " \u3000\t", LONG],
    "classifier": ["A wonderful, moving film.", "Zoë's film was dull 🙄", "", "boring and bad"],
    "language_model": ["the company said", "", "zoë ate 🙂"],
}
INPUT_NAME = {"tagger": "text", "classifier": "text", "language_model": "prompt"}
DTYPES = {"DT_STRING": "string", "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_INT64": "int64",
          "DT_INT32": "int32"}
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

#: The readers of the exports, in one fresh Python process (TensorFlow's import costs about 7 s of CPU a process):
#: TensorFlow's `saved_model_cli`, through the entry point its console script calls (`saved_model_cli.main()` with
#: the command line in `sys.argv`; every `show` before the `run`s, which leave their required flags marked), then
#: `tf.saved_model.load` on each export, with the test inputs and an empty batch.
READERS = """
import json, sys
import numpy as np, tensorflow as tf
from absl import flags
from tensorflow.python.tools import saved_model_cli

commands, loads = json.loads(sys.argv[1])
for key, argv in commands:
    flags.FLAGS.unparse_flags()
    sys.argv = argv
    print("=== BEGIN " + key, flush=True)
    try:
        saved_model_cli.main()
    except SystemExit as exit:
        if exit.code:
            raise
    print("=== END " + key, flush=True)
for path, name, texts, out in loads:
    serve = tf.saved_model.load(path).signatures["serving_default"]
    arrays = {k: v.numpy() for k, v in serve(**{name: tf.constant(texts, tf.string)}).items()}
    arrays.update({"empty__" + k: v.numpy() for k, v in serve(**{name: tf.constant([], tf.string)}).items()})
    np.savez(out, **arrays)
"""


def _expected(family, model, texts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # empty texts, windows: predict warns, the export does not
        if family == "tagger":
            return model.predict(texts, max_length=TAGGER_WINDOW)
        if family == "classifier":
            return model.predict(texts), model.predict_proba(texts)
        return model.generate(texts, max_length=LM_LENGTH, sampler="greedy", return_scores=True)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _tagger_results(out, texts):
    """`predict`-style dicts from the tagger signature's padded outputs (checking the padding on the way)."""
    results = []
    for i, text in enumerate(texts):
        n, e = int(out["lengths"][i]), int(out["num_entities"][i])
        tokens = [_text(t) for t in out["tokens"][i]]
        starts, ends = out["token_starts"][i].tolist(), out["token_ends"][i].tolist()
        assert [text[s:t] for s, t in zip(starts[:n], ends[:n])] == tokens[:n]  # offsets are str indices
        assert set(tokens[n:]) <= {""} and set(starts[n:] + ends[n:]) <= {-1}
        assert not out["confidences"][i][n:].any() and (out["confidences"][i][:n] > 0).all()
        assert set(out["entity_types"][i][e:].tolist()) <= {b""} and set(out["entity_starts"][i][e:].tolist()) <= {-1}
        entities = [
            {
                "type": _text(out["entity_types"][i][k]),
                "score": float(out["entity_scores"][i][k]),
                "text": _text(out["entity_texts"][i][k]),
                "start": int(out["entity_starts"][i][k]),
                "end": int(out["entity_ends"][i][k]),
                "token_start": int(out["entity_token_starts"][i][k]),
                "token_end": int(out["entity_token_ends"][i][k]),
            }
            for k in range(e)
        ]
        for entity in entities:  # a score is the rounded mean confidence of the entity's tokens
            mean = sum(out["confidences"][i][entity["token_start"] : entity["token_end"]].tolist()) / (
                entity["token_end"] - entity["token_start"])
            assert entity["score"] == round(mean, 4)
        results.append({"tokens": tokens[:n], "tags": [_text(t) for t in out["tags"][i][:n]], "entities": entities})
    return results


def _check_outputs(family, model, out, texts):
    """The signature's outputs `out` (name -> array) for `texts` equal `predict`'s results."""
    expected = _expected(family, model, texts)
    if family == "tagger":
        assert _tagger_results(out, texts) == expected
    elif family == "classifier":
        results, probabilities = expected
        assert [_text(v) for v in out["label"]] == [r["label"] for r in results]
        assert out["score"].tolist() == [r["score"] for r in results]  # exactly: rounded in the graph as in Python
        np.testing.assert_allclose(out["probabilities"], probabilities, rtol=1e-5, atol=1e-6)
        assert [[_text(v) for v in row] for row in out["labels"]] == [model.labels] * len(texts)
    else:
        assert list(zip([_text(v) for v in out["continuation"]], out["log_prob"].tolist())) == expected
        assert out["tokens"].shape == (len(texts), LM_LENGTH) and out["lengths"].tolist() == [LM_LENGTH] * len(texts)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`({family: (shipped model, its SavedModel version folder)}, folder, the readers' process)`.

    The readers (`READERS`: `saved_model_cli show --all` and `run` on each export, then a fresh
    `tf.saved_model.load`) start at once and run on the other core while the tests that need no reader go on;
    `served` waits for them.
    """
    root = tmp_path_factory.mktemp("exports")
    out, shows, runs, loads = {}, [], [], []
    for family, name in SHIPPED.items():
        model = rnnzoo.load(name, compile=False)
        options = {"tagger": {"max_length": TAGGER_WINDOW}, "language_model": {"max_length": LM_LENGTH}}
        path = model.export(str(root / name), verbose=False, **options.get(family, {}))
        out[family] = (model, path)
        shows.append([f"show {family}", ["saved_model_cli", "show", "--dir", path, "--all"]])
        expression = f"{INPUT_NAME[family]}={json.dumps(INPUTS[family], ensure_ascii=False)}"
        assert ";" not in expression  # saved_model_cli splits --input_exprs at semicolons
        runs.append([f"run {family}", ["saved_model_cli", "run", "--dir", path, "--tag_set", "serve", "--signature_def",
                                       "serving_default", "--input_exprs", expression,
                                       "--outdir", str(root / "cli" / family)]])
        loads.append([path, INPUT_NAME[family], INPUTS[family], str(root / f"{family}.npz")])
    process = subprocess.Popen([sys.executable, "-c", READERS, json.dumps([shows + runs, loads])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    yield out, root, process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def served(exported):
    """`(folder of the readers' outputs, {"show FAMILY" / "run FAMILY": what saved_model_cli printed})`."""
    _, root, process = exported
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, f"the readers failed:\n{stderr[-3000:]}"
    printed = dict(re.findall(r"^=== BEGIN (.+?)\n(.*?)^=== END \1$", stdout, re.S | re.M))
    assert len(printed) == 2 * len(SHIPPED), stdout[-3000:]
    return root, printed


# ---------------------------------------------------------------- formats (the readers of the exports run meanwhile)
def test_export_formats_are_checked_and_portable_ones_dispatched(exported, tmp_path, monkeypatch):
    model, _ = exported[0]["classifier"]
    with pytest.raises(ValueError, match=r"unknown export format 'pb'; choose one of saved_model \| tflite \| onnx"):
        model.export(str(tmp_path), format="pb")
    with pytest.raises(ValueError, match="quantize='int8' applies to the tflite and onnx formats"):
        model.export(str(tmp_path), quantize="int8")
    with pytest.raises(TypeError, match="unexpected options"):
        model.export(str(tmp_path), sampler="greedy")
    from rnnzoo import export as export_module

    assert export_module.portable_writer("onnx").__module__ == "rnnzoo.runtime"  # registered by `import rnnzoo`
    calls = []
    monkeypatch.setitem(export_module._PORTABLE_WRITERS, "onnx",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or "written")
    assert model.export(str(tmp_path), format="onnx", version=4, quantize="int8", verbose=False) == "written"
    assert calls == [((model, str(tmp_path)), {"format": "onnx", "version": 4, "overwrite": False,
                                               "quantize": "int8", "verbose": False})]
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- a multilabel head
def test_multilabel_signature_returns_predicts_label_lists(tmp_path):
    from rnnzoo.config import load_config
    from rnnzoo.models import get_family

    keras.utils.set_random_seed(0)
    texts = ["a good film", "boring and bad", "wonderful and moving", "bad , bad film", "", "loved the music"]
    config = load_config({
        "name": "tiny_multilabel", "family": "classifier",
        "architecture": {"cell": "gru", "units": 8, "embedding_dim": 8, "dropout": 0.0, "head": "multilabel"},
        "data": {"reader": "csv", "labels": ["bad", "film", "good"], "max_length": 12},
    })
    clf = get_family("classifier").build(config, {"train": (texts, [["good", "film"], ["bad"]] * 3)})
    probabilities = clf.predict_proba(texts)
    clf.threshold = float(np.median(probabilities))  # untrained: some labels above, some below
    path = clf.export(str(tmp_path / "multilabel"), verbose=False)
    out = {k: v.numpy() for k, v in tf.saved_model.load(path).signatures["serving_default"](
        text=tf.constant(texts)).items()}
    got = [[{"label": _text(n), "score": s} for n, s in zip(names[:k], scores[:k].tolist())]
           for names, scores, k in zip(out["predicted_labels"], out["predicted_scores"], out["num_predicted"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert got == clf.predict(texts)
    assert 0 < out["num_predicted"].sum() < out["num_predicted"].size * 3
    assert set(describe_saved_model(path)["outputs"]) == set(clf.serving_docs()["outputs"])


# ---------------------------------------------------------------- versions
def test_version_directory_picks_checks_and_writes_atomically(tmp_path):
    d = tmp_path / "model"
    for name in ("3", "10", "latest", "7.bak"):
        (d / name).mkdir(parents=True)
    target = version_directory(d)
    assert (target.version, target.path) == (11, str(d / "11"))  # 1 + the highest integer folder
    assert version_directory(tmp_path / "new").version == 1
    with pytest.raises(RuntimeError):
        with version_directory(d) as target:
            (tmp_path / "seen").write_text(json.dumps(sorted(os.listdir(d))))
            open(os.path.join(target.staging, "half"), "w").close()
            raise RuntimeError("export failed half-way")
    assert ".staging" in (tmp_path / "seen").read_text() and "11" not in json.loads((tmp_path / "seen").read_text())
    assert sorted(os.listdir(d)) == ["10", "3", "7.bak", "latest"]  # nothing left of the failed write
    with pytest.raises(FileExistsError, match=r"version 3 was already exported.*overwrite=True.*next free one is 11"):
        version_directory(d, version=3)
    (d / "3" / "old").write_text("old")
    with version_directory(d, version=3, overwrite=True) as target:
        open(os.path.join(target.staging, "new"), "w").close()
        assert (d / "3" / "old").exists()  # the old version serves until the new one is complete
    assert sorted(os.listdir(d / "3")) == ["new"] and sorted(os.listdir(d)) == ["10", "3", "7.bak", "latest"]
    for bad in (-1, True, "2", 1.0):
        with pytest.raises(ValueError, match="version must be a non-negative int"):
            version_directory(d, version=bad)
    (tmp_path / "old_layout").mkdir()
    (tmp_path / "old_layout" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(FileExistsError, match="is itself a SavedModel"):
        version_directory(tmp_path / "old_layout")
    with pytest.raises(FileExistsError, match="is a file"):
        version_directory(tmp_path / "seen")


def test_exports_count_versions_and_replace_one_only_when_asked(exported, tmp_path, capsys):
    model, _ = exported[0]["language_model"]
    d = tmp_path / "lm"
    assert model.export(str(d), format="tf_saved_model", max_length=2, verbose=False) == str(d / "1")  # old name
    assert main(["export", SHIPPED["language_model"], str(d)]) is None  # the next version
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == str(d / "2")
    for name in ("prompt", "continuation", "log_prob", "tokens", "lengths"):  # the signature, with its meaning
        assert re.search(rf"^\s+{name}\s+(string|float64|int32)\s+\[.*\] +\w", printed, re.M), printed
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.export(str(d), version=1, max_length=2, verbose=False)
    assert main(["export", SHIPPED["language_model"], str(d), "--version", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    (d / "1" / "marker").write_text("the old export")
    assert model.export(str(d), version=1, overwrite=True, max_length=2, verbose=False) == str(d / "1")
    assert not (d / "1" / "marker").exists() and sorted(os.listdir(d)) == ["1", "2"]
    assert describe_saved_model(str(d / "1"))["outputs"]["tokens"] == ("int32", (None, 2))


# ---------------------------------------------------------------- model cards
@pytest.mark.parametrize("name", ["bigru_sst2", "bilstm_imdb", "bilstm_ner", "char_lstm_shakespeare", "vanilla_rnn_ptb",
                                  "vanilla_rnn_sst2"])
def test_shipped_cards_document_the_signature(name):
    from rnnzoo.artifacts import models_dir
    from rnnzoo.evaluation import serving_section

    with open(os.path.join(models_dir(), name, "MODEL_CARD.md"), encoding="utf-8") as f:
        card = f.read()
    model = rnnzoo.load(name, compile=False)
    # What `rnnzoo evaluate NAME --card-only` writes from the family's description: rewrite the card if this fails.
    assert serving_section(model, name) in card
    serving = card[card.index("## Serving") :]
    for kind in ("inputs", "outputs"):
        for output, (dtype, shape, _) in model.serving_docs()[kind].items():
            assert f"| `{output}` | {kind[:-1]} | {dtype} | `{shape}` |" in serving
    assert "saved_model_cli run --dir DIR/1" in serving


def test_a_card_is_rewritten_from_its_metrics_without_evaluating(tmp_path, monkeypatch):
    import shutil

    from rnnzoo import evaluation
    from rnnzoo.artifacts import models_dir

    copy = tmp_path / "vanilla_rnn_ptb"
    shutil.copytree(os.path.join(models_dir(), "vanilla_rnn_ptb"), copy)
    (copy / "MODEL_CARD.md").write_text("stale\n")
    plot = (copy / "learning_curve.png").read_bytes()
    monkeypatch.setattr(evaluation, "evaluate_model", None)  # nothing is measured again
    assert main(["evaluate", str(copy), "--card-only"]) is None
    card = (copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    with open(os.path.join(models_dir(), "vanilla_rnn_ptb", "MODEL_CARD.md"), encoding="utf-8") as f:
        assert card == f.read()  # the shipped card is what the writer makes of its metrics.json
    assert (copy / "learning_curve.png").read_bytes() == plot  # kept, not drawn again


# ---------------------------------------------------------------- the signatures, read by TensorFlow's tools
@pytest.mark.parametrize("family", sorted(SHIPPED))
def test_saved_model_cli_shows_the_documented_signature(family, exported, served):
    model, path = exported[0][family]
    shown = served[1][f"show {family}"]
    block = shown[shown.index("signature_def['serving_default']") :]
    block = block[: block.index("Method name is")]
    listed = {
        (kind, name): (DTYPES[dtype], len([d for d in shape.split(",") if d.strip()]))
        for kind, name, dtype, shape in re.findall(
            r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (DT_\w+)\s+shape: \(([^)]*)\)", block)
    }
    docs = model.serving_docs()
    documented = {(kind, name): (dtype, shape.count(",") + 1)
                  for kind in ("inputs", "outputs") for name, (dtype, shape, _) in docs[kind].items()}
    assert listed == documented  # names, dtypes and ranks: the model card says what TF Serving sees
    assert "tensorflow/serving/predict" in shown
    described = describe_saved_model(path)
    assert {(k, n): (d, len(s)) for k in described for n, (d, s) in described[k].items()} == documented


@pytest.mark.parametrize("family", sorted(SHIPPED))
def test_saved_model_cli_run_returns_what_predict_does(family, exported, served):
    model, _ = exported[0][family]
    root, results = served
    printed = results[f"run {family}"]
    for name in model.serving_docs()["outputs"]:
        assert f"Result for output key {name}:" in printed
    outputs = model.serving_docs()["outputs"]
    out = {name: np.load(root / "cli" / family / f"{name}.npy", allow_pickle=True) for name in outputs}
    _check_outputs(family, model, out, INPUTS[family])


@pytest.mark.parametrize("family", sorted(SHIPPED))
def test_a_fresh_process_gets_what_predict_does(family, exported, served):
    model, _ = exported[0][family]
    saved = np.load(served[0] / f"{family}.npz", allow_pickle=True)
    _check_outputs(family, model, {k: saved[k] for k in saved.files if not k.startswith("empty__")}, INPUTS[family])
    empty = {k[len("empty__"):]: saved[k] for k in saved.files if k.startswith("empty__")}
    assert set(empty) == set(model.serving_docs()["outputs"])
    assert all(v.shape[0] == 0 for v in empty.values())  # an empty batch gives empty outputs, not an error
