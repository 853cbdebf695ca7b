"""Model code is `keras.ops` only: a tagger backbone trains on vectorized arrays on a non-TF backend
with TensorFlow unavailable (its import is blocked, as if it were not installed)."""

import importlib.util
import os
import subprocess
import sys

import pytest

BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]

SCRIPT = r"""
import sys


import importlib.machinery


class NoTensorFlow:
    # `import tensorflow` fails (a spec without a loader) as on a machine without it.
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, None)
        return None


sys.meta_path.insert(0, NoTensorFlow())
import numpy as np
import keras
from rnnzoo.models.tagger.backbone import TaggerBackbone
from rnnzoo.models.tagger.tagger import BidirectionalTagger
from rnnzoo.layers import VanillaRNN

rng = np.random.default_rng(0)
x = {"token_ids": rng.integers(1, 50, size=(16, 7)).astype("int32"),
     "char_ids": rng.integers(0, 20, size=(16, 7, 6)).astype("int32")}
x["token_ids"][:, 5:] = 0  # padding
y = (x["token_ids"] % 3).astype("int32")
for cell in ("lstm", "vanilla"):
    backbone = TaggerBackbone(50, 20, embedding_dim=8, cell=cell, units=8, char_units=4, char_embedding_dim=4, max_chars=6)
    tagger = BidirectionalTagger(backbone, labels=["O", "B-X", "I-X"], dropout=0.0)
    tagger.compile(optimizer=keras.optimizers.Adam(0.05))
    history = tagger.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
    tags = tagger.predict(x, verbose=0)["tags"]
    assert tags.shape == (16, 7)
    traces = []
    if keras.backend.backend() == "jax":
        # Count traces of the jitted predict call: Python runs only while tracing.
        stateless_call = tagger.stateless_call
        tagger.__dict__["stateless_call"] = lambda *a, **k: traces.append(1) or stateless_call(*a, **k)
    host_tags, _ = tagger._decode_on_host(x, (x["token_ids"] != 0).sum(1))  # the raw-input path's decoder
    assert (np.asarray(host_tags)[:, :5] == np.asarray(tags)[:, :5]).all()
    # Other batch shapes that pad to the same (16, 8) reuse the compiled program and agree.
    for rows, steps in ((16, 5), (9, 7), (11, 6)):
        part = {k: v[:rows, :steps] for k, v in x.items()}
        part_tags, _ = tagger._decode_on_host(part, (part["token_ids"] != 0).sum(1))
        assert (np.asarray(part_tags)[:, :5] == np.asarray(tags)[:rows, :5]).all()
    assert len(traces) == (1 if keras.backend.backend() == "jax" else 0), traces
print("tensorflow imported:", "tensorflow" in sys.modules, "backend:", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.skipif(not BACKENDS, reason="neither jax nor torch is installed to run a non-TensorFlow backend")
@pytest.mark.parametrize("backend", BACKENDS)
def test_backbone_trains_without_tensorflow(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"tensorflow imported: False backend: {backend}"


RAW_SCRIPT = r"""
import json
import rnnzoo

tagger = rnnzoo.load("bilstm_ner")
classifier = rnnzoo.load("bigru_sst2")
sentences = ["Pankaj lives in Munich", "Angela Merkel met Emmanuel Macron in Paris on Monday .", "", "x"]
texts = ["a wonderful , moving film", "There is nothing to like in this movie .", "", "dull"]
out = {
    "tags": [r["tags"] for r in tagger.predict(sentences)] + [tagger.predict(sentences[1])["tags"]],
    "classes": [[r["label"], r["score"]] for r in classifier.predict(texts * 3, batch_size=5)],
}
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not BACKENDS, reason="neither jax nor torch is installed to run a non-TensorFlow backend")
@pytest.mark.parametrize("backend", BACKENDS)
def test_shipped_models_predict_raw_text_on_other_backends(backend):
    """Raw strings in on JAX / PyTorch (TensorFlow does the text side): same results as on TensorFlow."""
    import json

    runs = {}
    for name in ("tensorflow", backend):
        env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, "-c", RAW_SCRIPT], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference, other = runs["tensorflow"], runs[backend]
    assert other["tags"] == reference["tags"]
    assert other["tags"][0] == ["B-PER", "O", "O", "B-LOC"]
    assert [c[0] for c in other["classes"]] == [c[0] for c in reference["classes"]]
    for (_, a), (_, b) in zip(other["classes"], reference["classes"]):
        assert abs(a - b) < 1e-3


LM_SCRIPT = r"""
import json, sys
import rnnzoo

lm = rnnzoo.load(sys.argv[1])
texts = ["the cat sat on the mat", "a dog and a cat"]
out = {
    "score": lm.score(texts)["perplexity"],
    "per_text": lm.perplexity(texts + ["zebra"])["per_text"],
    "greedy": lm.generate(["the cat", ""], max_length=6, sampler="greedy"),
    "beam": lm.generate("the dog", max_length=6, sampler="beam", num_beams=3),
    "next": [t for t, _ in lm.predict_next("the", top_k=3)],
}
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif("jax" not in BACKENDS, reason="jax is not installed")
def test_language_model_scores_and_generates_the_same_on_jax(tmp_path):
    """A language model saved on TensorFlow reads raw text on JAX (TensorFlow does the text side): same numbers."""
    import json

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_language_model import TEXTS, tiny_lm

    lm = tiny_lm(tie_weights=True)
    lm.fit(TEXTS, epochs=10, batch_size=4, verbose=0)
    path = str(lm.save_to_preset(tmp_path / "lm"))
    runs = {}
    for name in ("tensorflow", "jax"):
        env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, "-c", LM_SCRIPT, path], capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference, other = runs["tensorflow"], runs["jax"]
    assert other["greedy"] == reference["greedy"] and other["beam"] == reference["beam"]
    assert other["next"] == reference["next"]
    assert abs(other["score"] / reference["score"] - 1) < 1e-3
    for a, b in zip(other["per_text"], reference["per_text"]):
        assert abs(a / b - 1) < 1e-3


CARRY_SCRIPT = r"""
import sys
import numpy as np, keras
sys.path.insert(0, sys.argv[1])
from test_language_model import TEXTS, tiny_lm

lm = tiny_lm(cell="lstm")
seen = []


class Probe(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        seen.append(float(np.abs(keras.ops.convert_to_numpy(self.model.backbone.recurrent_layers[0].states[0])).sum()))


lm.fit(TEXTS, epochs=2, batch_size=4, verbose=0, callbacks=[Probe()])
assert len(seen) == 2 and all(s > 0 for s in seen), seen  # the jitted step wrote the carried state back
assert not any("rnn_state" in v.path for v in lm.non_trainable_variables)  # gone after training
print("carried:", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.skipif("jax" not in BACKENDS, reason="jax is not installed")
def test_language_model_carries_its_state_through_jitted_jax_steps():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", CARRY_SCRIPT, os.path.dirname(os.path.abspath(__file__))],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "carried: jax"
