"""The language-model family: perplexity, carried state (truncated BPTT), generation, fit, save, export, presets."""

import json
import math
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
from rnnzoo.models import get_family  # noqa: E402
from rnnzoo.models.language_model import LanguageModel, LanguageModelPreprocessor, stream_windows  # noqa: E402

LM = get_family("language_model")
TEXTS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog",
    "the mat was red",
    "the log was old",
] * 8


def tiny_config(level="word", **architecture):
    return load_config({
        "name": "tiny_lm",
        "family": "language_model",
        "architecture": {"cell": "gru", "units": 8, "embedding_dim": 8, "layers": 2, "level": level, **architecture},
        "data": {"reader": "lines", "sequence_length": 5},
        "training": {"epochs": 1, "batch_size": 4, "learning_rate": 0.01},
    })


def tiny_lm(level="word", texts=TEXTS, **architecture):
    keras.utils.set_random_seed(0)
    config = tiny_config(level, **architecture)
    lm = LM.build(config, {"train": (texts,)})
    lm.compile(optimizer=keras.optimizers.Adam(0.01))
    lm.zoo_config = config
    return lm


@pytest.fixture(scope="module")
def trained():
    lm = tiny_lm(tie_weights=True, dropout=0.1, variational_dropout=True, embedding_dropout=0.1)
    lm.fit(TEXTS, epochs=20, batch_size=4, verbose=0)
    return lm


# ---------------------------------------------------------------- vocabulary and streams
def test_preprocessor_word_and_char_ids_round_trip():
    p = LanguageModelPreprocessor(["the", "cat"], level="word")
    assert p.tokens[:3] == ["", "<unk>", "<eos>"]
    assert p(tf.constant(["the cat sat", ""])).to_list() == [[3, 4, 1, 2], [2]]
    assert p.detokenize([[3, 4, 2, 3]]) == ["the cat"]  # stops at <eos>
    assert p.stream(["the cat", "cat"]).tolist() == [2, 3, 4, 2, 4, 2]
    c = LanguageModelPreprocessor(list("ab "), level="char")
    assert c.boundary_id == c.tokens.index("\n") and c.end_id is None
    assert c.detokenize(c.ids(["ab é"])) == ["ab <unk>"]
    assert c.stream(["ab\n"]).tolist() == [c.boundary_id, 2 + c.tokens[2:].index("a"), 2 + c.tokens[2:].index("b"),
                                           c.boundary_id]


def test_stream_windows_continue_each_row_across_batches():
    inputs, targets = stream_windows(np.arange(41), batch_size=2, sequence_length=4)
    assert inputs.shape == (5, 2, 4)
    # row r of batch i+1 continues row r of batch i; targets are the next tokens
    assert inputs[1, 0, 0] == inputs[0, 0, -1] + 1 and inputs[0, 1, 0] == 20
    np.testing.assert_array_equal(targets, inputs + 1)


# ---------------------------------------------------------------- perplexity
def test_uniform_model_perplexity_equals_the_vocabulary_size():
    lm = tiny_lm(tie_weights=False)
    layer = lm.get_layer("logits")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    size = lm.preprocessor.vocabulary_size
    assert math.isclose(lm.score(TEXTS[:5])["perplexity"], size, rel_tol=1e-4)
    result = lm.perplexity(["the cat", "an unknown zebra", ""])
    assert all(math.isclose(p, size, rel_tol=1e-4) for p in result["per_text"])
    assert result["tokens"] == 3 + 4 + 1  # words + <eos> each


def test_stateful_chunks_give_the_same_losses_as_one_pass(trained):
    whole = trained.token_losses(TEXTS[:10], chunk_length=10_000)
    for chunk in (1, 3, 7):
        np.testing.assert_allclose(trained.token_losses(TEXTS[:10], chunk_length=chunk), whole, atol=1e-5)
    # Keras' own carried state (what fit trains with) reads chunks as one pass too.
    stream = trained.preprocessor.stream(TEXTS[:10])
    inputs = stream[:-1][None, :]
    full = keras.ops.convert_to_numpy(trained(inputs))
    with trained.carried_state(1):
        trained.reset_state()
        parts = [keras.ops.convert_to_numpy(trained(inputs[:, s : s + 6])) for s in range(0, inputs.shape[1], 6)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, atol=1e-5)
    assert not trained.backbone.recurrent_layers[0].stateful  # the context leaves no state variables behind


def test_perplexity_per_text_and_corpus(trained):
    result = trained.perplexity(["the cat sat on the mat", "zebra zebra zebra"])
    seen, unseen = result["per_text"]
    assert seen < unseen  # a training sentence is far more probable than unknown words
    losses = [math.log(p) * n for p, n in zip(result["per_text"], (7, 4))]
    assert math.isclose(result["perplexity"], math.exp(sum(losses) / 11), rel_tol=1e-2)  # per-text values are rounded
    assert trained.score(TEXTS)["perplexity"] < 3  # it learned the toy corpus (vocabulary: 17)


def test_fit_lowers_the_loss_and_carries_state_during_training():
    lm = tiny_lm()
    before = lm.score(TEXTS)["perplexity"]
    history = lm.fit(TEXTS, epochs=2, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 2 and lm.score(TEXTS)["perplexity"] < before
    assert lm.evaluate(TEXTS, batch_size=2, verbose=0) > 0


# ---------------------------------------------------------------- generation
def test_predict_next_returns_probable_tokens(trained):
    best = trained.predict_next("the cat sat on the", top_k=3)
    assert len(best) == 3 and best[0][1] >= best[1][1] >= best[2][1]
    assert best[0][0] in ("mat", "log")
    assert all(isinstance(t, str) for t, _ in best)
    assert len(trained.predict_next(["the", ""], top_k=2)) == 2


def test_seeded_generation_is_reproducible_and_beam_scores_at_least_greedy(trained):
    a = trained.generate(["the cat", ""], max_length=8, sampler="top_k", k=5, seed=3)
    b = trained.generate(["the cat", ""], max_length=8, sampler="top_k", k=5, seed=3)
    assert a == b and len(a) == 2 and all(isinstance(t, str) for t in a)
    greedy = trained.generate("the dog", max_length=8, sampler="greedy", return_scores=True)
    beam = trained.generate("the dog", max_length=8, sampler="beam", num_beams=4, return_scores=True)
    assert beam[1] >= greedy[1] - 1e-4
    top_p = trained.generate(["the"], max_length=5, sampler="top_p", p=0.9, seed=1, temperature=0.7)
    assert len(top_p) == 1
    assert trained.predict("the cat", sampler="greedy") == trained.generate("the cat", sampler="greedy")


def test_char_level_model_generates_characters():
    lines = [t + "\n" for t in TEXTS]
    lm = tiny_lm(level="char", texts=lines)
    lm.fit(lines, epochs=1, batch_size=4, verbose=0)
    out = lm.generate("ROMEO:", max_length=12, sampler="greedy")
    assert isinstance(out, str) and len(out) == 12  # no end token at char level
    assert lm.perplexity([""])["per_text"] == [None]  # nothing to predict in an empty text
    assert lm.score(lines[:3])["tokens"] == sum(len(line) for line in lines[:3])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda lm: lm.generate(["a"], max_length=0), "max_length must be a positive int"),
        (lambda lm: lm.generate(["a"], sampler="random", temperature=0), "temperature must be > 0"),
        (lambda lm: lm.generate(["a"], sampler="top_k", k=0), "k"),
        (lambda lm: lm.generate(["a"], sampler="top_p", p=1.5), "p"),
        (lambda lm: lm.generate(["a", 3]), "prompt 1 is int"),
        (lambda lm: lm.perplexity([None]), "text 0 is NoneType"),
        (lambda lm: lm.predict_next("a", top_k=0), "top_k must be a positive int"),
        (lambda lm: lm.score(["a"], ["b"]), "y=None"),
    ],
)
def test_bad_input_gets_a_clear_error(trained, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(trained)


def test_odd_prompts_give_sane_results(trained):
    long_prompt = " ".join(["the cat sat on the mat"] * 200)  # far longer than any training window
    out = trained.generate(["", "zebra quux", long_prompt, "🙂"], max_length=4, sampler="greedy")
    assert len(out) == 4 and all(isinstance(t, str) for t in out)
    assert trained.generate([], max_length=3) == []


# ---------------------------------------------------------------- save, load, export
def test_save_to_preset_and_load_give_the_same_model(trained, tmp_path):
    directory = trained.save_to_preset(tmp_path / "lm")
    loaded = rnnzoo.load(str(directory))
    assert isinstance(loaded, LanguageModel)
    assert loaded.score(TEXTS[:5]) == trained.score(TEXTS[:5])
    assert loaded.generate(["the cat"], sampler="greedy") == trained.generate(["the cat"], sampler="greedy")
    for a, b in zip(loaded.get_weights(), trained.get_weights()):  # the tied embedding's bias included
        np.testing.assert_array_equal(a, b)
    assert len(loaded.get_weights()) == len(trained.get_weights())
    assert (tmp_path / "lm" / "vocabularies" / "tokens.txt").read_text().splitlines()[2] == "<eos>"
    loaded.compile(optimizer="adam")
    loaded.fit(TEXTS, epochs=1, batch_size=4, verbose=0)  # fine-tunes on raw text


@pytest.mark.slow
def test_export_runs_in_a_fresh_process_with_the_same_output(trained, tmp_path):
    path = trained.export(str(tmp_path / "exported"), max_length=6, verbose=False)
    prompts = ["the cat", "", "a dog and"]
    expected = trained.generate(prompts, max_length=6, sampler="greedy")
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['serving_default'](prompt=tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps([s.decode() for s in out['continuation'].numpy()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, path, json.dumps(prompts)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# ---------------------------------------------------------------- config and data
def test_config_refuses_a_bidirectional_language_model():
    with pytest.raises(ValueError, match="bidirectional.*language_model"):
        tiny_config(bidirectional=True)
    with pytest.raises(ValueError, match="trainable_embeddings.*language_model"):
        tiny_config(trainable_embeddings=False)  # no pretrained vectors: the key would be ignored


def test_readers_keep_lines_and_split_text(tmp_path):
    from rnnzoo.models.language_model.family import load_data

    (tmp_path / "train.txt").write_text("a b\n\nc\n")
    config = load_config({"name": "x", "family": "language_model", "architecture": {"level": "word"},
                          "data": {"reader": "lines", "root": str(tmp_path), "train": "train.txt"}})
    assert load_data(config)["train"] == (["a b", "", "c"],)  # an empty line is a sentence (<eos>), as in WikiText
    (tmp_path / "play.txt").write_text("0123456789\nabcdefghi\n")
    config = load_config({"name": "x", "family": "language_model", "architecture": {"level": "char"},
                          "data": {"reader": "text_split", "root": str(tmp_path), "train": "play.txt",
                                   "split_fraction": 0.5}})
    data = load_data(config)
    assert "".join(data["train"][0]) == "0123456789"  # the first half of the 21 characters
    assert data["validation"][0] == ["\n", "abcdefghi\n"] and data["test"] == data["validation"]


# ---------------------------------------------------------------- shipped presets
SHIPPED = ("vanilla_rnn_ptb", "char_lstm_shakespeare")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_loads_and_generates(name):
    from rnnzoo.artifacts import models_dir

    if not os.path.exists(os.path.join(models_dir(), name, "metrics.json")):
        pytest.skip(f"{name} is not trained and evaluated in saved_models/")
    lm = rnnzoo.load(name)
    if lm.preprocessor.level == "word":
        out = lm.generate(["the company said"], max_length=10, sampler="top_k", k=10, seed=1)
        assert isinstance(out[0], str) and out[0]
        assert "market" in [t for t, _ in lm.predict_next("the stock", top_k=5)]
    else:
        out = lm.generate(["ROMEO:"], max_length=40, sampler="top_k", k=5, seed=1)
        assert len(out[0]) == 40
        assert lm.predict_next("First Citize", top_k=1)[0][0] == "n"
    assert lm.generate("", max_length=5, sampler="greedy")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_perplexity_on_a_fixed_sample(name):
    """The shipped model reproduces, on the fixed 300-line sample, the perplexity `rnnzoo evaluate` recorded (2%)."""
    from rnnzoo.artifacts import models_dir
    from rnnzoo.evaluation import sample_split
    from rnnzoo.zoo import read_metrics

    if not os.path.exists(os.path.join(models_dir(), name, "metrics.json")):
        pytest.skip(f"{name} is not trained and evaluated in saved_models/")
    metrics = read_metrics(name)
    lm = rnnzoo.load(name)
    root = os.path.join(data_root(), lm.zoo_config.data.root)
    if not os.path.isdir(root):
        pytest.skip(f"dataset folder {root} is absent (set RNNZOO_DATA).")
    data = LM.load_data(lm.zoo_config)
    assert metrics["sample"]["size"] == LM.sample_size
    result = LM.evaluate(lm, sample_split(data, metrics["split"], LM.sample_size), split=metrics["split"])
    assert abs(result["perplexity"] / metrics["sample"]["perplexity"] - 1) <= 0.02, (result, metrics["sample"])


@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_both_training_loops_carry_the_state(tmp_path, loop):
    """`rnnzoo.train` with model.fit and with rnnzoo's custom loop (resumable runs) trains with carried state."""
    (tmp_path / "train.txt").write_text("\n".join(TEXTS) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(TEXTS[:5]) + "\n")
    config = load_config({
        "name": "tiny_lm", "family": "language_model",
        "architecture": {"cell": "lstm", "units": 8, "embedding_dim": 8, "layers": 1},
        "data": {"reader": "lines", "root": str(tmp_path), "train": "train.txt", "validation": "valid.txt",
                 "sequence_length": 5},
        "training": {"epochs": 2, "batch_size": 4, "learning_rate": 0.01, "lr_schedule": "plateau", "decay_rate": 0.5},
    })
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            layer = self.model.backbone.recurrent_layers[0]
            seen.append(bool(layer.stateful) and layer.states is not None)

    lm = rnnzoo.train(config, verbose=0, loop=loop, callbacks=[Probe()],
                      run_dir=str(tmp_path / "run") if loop == "custom" else None)
    assert seen and all(seen)
    assert len(lm.history.history["val_perplexity"]) == 2
    assert not lm.backbone.recurrent_layers[0].stateful  # and back to a stateless model afterwards


@pytest.mark.parametrize(
    "name, counts",
    [
        ("vanilla_rnn_ptb", {"train": 929_589, "validation": 73_760, "test": 82_430}),
        ("lstm_wikitext2", {"train": 2_088_628, "validation": 217_646, "test": 245_569}),
        ("char_lstm_shakespeare", {"train": 1_003_854, "validation": 111_540, "test": 111_540}),
    ],
)
def test_readers_give_the_standard_token_counts(name, counts):
    """The corpora's published sizes: PTB and WikiText-2 words + one <eos> a line; nanoGPT's 90/10 character split."""
    from conftest import real_data

    config = load_config(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo_configs",
                                      name + ".yaml"))
    real_data(config.data.root)
    data = LM.load_data(config)
    if config.architecture.level == "word":
        assert {k: sum(len(line.split()) + 1 for line in v[0]) for k, v in data.items()} == counts
    else:
        assert {k: sum(len(line) for line in v[0]) for k, v in data.items()} == counts


def test_cli_predicts_continuations_with_options(trained, tmp_path, capsys):
    from rnnzoo.cli import main

    path = str(trained.save_to_preset(tmp_path / "lm"))
    assert main(["predict", path, "the cat", "--option", "sampler=greedy", "--option", "max_length=4"]) is None
    assert capsys.readouterr().out.strip() == trained.generate("the cat", max_length=4, sampler="greedy")
    assert main(["predict", path, "the", "--json", "--option", "seed=1", "--option", "k=3"]) is None
    line = json.loads(capsys.readouterr().out.strip())
    assert line["text"] == "the" and isinstance(line["continuation"], str)
    assert main(["predict", path, "the", "--option", "max_length=0"]) == 2
    assert "max_length must be a positive int" in capsys.readouterr().err


def test_fit_with_raw_validation_text_reports_val_loss():
    lm = tiny_lm()
    history = lm.fit(TEXTS, validation_data=TEXTS[:10], epochs=2, batch_size=2, verbose=0)
    assert len(history.history["val_loss"]) == 2 and history.history["val_loss"][1] > 0
