"""The GPU benchmark's two steps run end to end on a small sample (CPU here): prepare with TensorFlow,
then time Keras on JAX vs the PyTorch twin with TensorFlow unavailable, as on the GPU machine."""

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import real_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCK_TENSORFLOW = r"""
import importlib.machinery, runpy, sys
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, None)
sys.meta_path.insert(0, NoTensorFlow())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec("torch") is None,
    reason="the GPU benchmark needs jax and torch",
)
def test_gpu_benchmark_steps_run_on_a_sample(tmp_path):
    pytest.importorskip("tensorflow")
    real_data("conll2003", "train.txt")
    script = os.path.join(ROOT, "benchmarks", "bench_ner_gpu.py")
    arrays = str(tmp_path / "arrays.npz")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    prep = subprocess.run(
        [sys.executable, script, "prepare", "--out", arrays, "--train-sentences", "64", "--test-sentences", "32"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert prep.returncode == 0, prep.stderr[-3000:]
    assert "64 train / 32 test sentences" in prep.stdout
    env["KERAS_BACKEND"] = "jax"
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_TENSORFLOW, script, "run", "--arrays", arrays, "--batch-size", "32",
         "--infer-batch-size", "32", "--train-batches", "2", "--repeats", "1", "--threads", "1",
         "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # The twin gets the Keras weights: same tags (float rounding may flip a rare near-tie).
    agreement = float(out.split("tag agreement keras vs torch twin: ")[1].split("%")[0])
    assert agreement >= 99.0, out
    assert "training tokens/s" in out and "tagging tokens/s" in out
    assert out.strip().splitlines()[-1] == "tensorflow imported: False"
    assert (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_lstm_kernel_benchmark_variants_compute_keras_lstm(tmp_path):
    """Every recurrence `bench_lstm_kernels.py` times gives Keras' LSTM outputs (bfloat16: to its precision)."""
    pytest.importorskip("tensorflow")
    script = os.path.join(ROOT, "benchmarks", "bench_lstm_kernels.py")
    proc = subprocess.run(
        [sys.executable, script, "--batch", "4", "--time", "6", "--features", "3", "--units", "5",
         "--vocabulary", "20", "--repeats", "1"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    diffs = {line.split(" max |")[0].strip(): float(line.rsplit("= ", 1)[1])
             for line in proc.stdout.splitlines() if "max |output - keras float32|" in line}
    assert len(diffs) == 7 and "input projection per word from a table" in diffs, proc.stdout
    for name, diff in diffs.items():
        assert diff < (5e-2 if "bfloat16" in name else 1e-5), (name, diff)
    assert "| input projection per word from a table |" in proc.stdout and "(inference only)" in proc.stdout


@pytest.mark.slow
def test_latency_benchmark_runs_on_the_shipped_models():
    pytest.importorskip("tensorflow")
    script = os.path.join(ROOT, "benchmarks", "bench_latency.py")
    proc = subprocess.run(
        [sys.executable, script, "--models", "bilstm_ner,bigru_sst2", "--calls", "3"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in proc.stdout.splitlines()
            if line.startswith("| b")}
    assert set(rows) == {"bilstm_ner", "bigru_sst2"}, proc.stdout
    assert rows["bilstm_ner"][-2:] == ["-", "- |"] and float(rows["bigru_sst2"][-1].strip(" |")) > 0


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the language-model benchmark needs torch")
def test_language_model_benchmark_runs_on_a_tiny_model():
    """bench_lm.py end to end on a tiny LSTM LM: the twin scores the same perplexity and greedy continuations."""
    pytest.importorskip("tensorflow")
    real_data("ptb", "ptb.train.txt.gz")
    script = os.path.join(ROOT, "benchmarks", "bench_lm.py")
    proc = subprocess.run(
        [sys.executable, script, "--units", "16", "--layers", "1", "--train-tokens", "2000", "--valid-tokens", "1000",
         "--repeats", "1", "--gen-length", "5", "--gen-single", "2", "--threads", "1"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for measure in ("training tokens/s", "generation tokens/s, batch 1", "generation tokens/s, batch 64"):
        ratio = out.split(f"ratio rnnzoo/pytorch, {measure}: ")[1].split("x wall")[0]
        assert float(ratio) > 0, out
    assert out.count("perplexity check (") >= 2, out  # exits non-zero when the perplexities differ
    for batch in ("batch 1", "batch 64"):
        agreement = float(out.split(f"greedy agreement keras vs torch twin ({batch}): ")[1].split("%")[0])
        assert agreement >= 90.0, out  # same weights: a float near-tie may flip a token (and its row's rest)


def test_serving_benchmark_paths_reproduce_the_shipped_models(tmp_path, monkeypatch):
    """bench_serving.py's "ours" rows (the product path: `rnnzoo.load(name, runtime="onnx")`, a hand-built ONNX graph
    on ONNX Runtime, sub-batches on 2 threads) give the Keras models' outputs: classifier probabilities within 1e-4,
    tagger results identical."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import numpy as np

    import rnnzoo

    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path))  # the exports are written into a fresh cache (< 1 s each)
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import bench_serving
    finally:
        sys.path.pop(0)
    texts = [
        "A wonderful, moving film.<br /><br />I didn't like the ending -- but Mr. Smith's acting (U.S. style) was great!",
        "", "   ", "Terrible. " * 150, "Ünïcode 'quoted' words: 10,000 people; 10:30 p.m.",
    ]
    clf = rnnzoo.load("bilstm_imdb", compile=False, verify=False)
    ours = bench_serving.runtime_contender(bench_serving.ours("bilstm_imdb", threads=2), {"max_length": 200})
    mine = ours(texts)  # text 3 is truncated (head_tail)
    assert ours.predictor.settings["onnx"]["converter"].startswith("rnnzoo.runtime.onnx_graphs")
    assert np.abs(mine - clf.predict_proba(texts, max_length=200)).max() < 1e-4

    tagger = rnnzoo.load("bilstm_ner", compile=False, verify=False)
    sentences = ["Angela Merkel visited Paris on Monday.", "", "EU rejects German call to boycott British lamb .",
                 "Peter Blackburn , BRUSSELS 1996-08-22", "  Mr. Smith's  car (U.S.) -- isn't  it?  "]
    mine = bench_serving.runtime_contender(bench_serving.ours("bilstm_ner", threads=2))(sentences)
    keras_results = tagger.predict(sentences)
    assert [r["tokens"] for r in mine] == [r["tokens"] for r in keras_results]
    assert [r["tags"] for r in mine] == [r["tags"] for r in keras_results]
    for a, b in zip(mine, keras_results):  # entity scores: float rounding may move the 4th decimal
        assert [{**e, "score": None} for e in a["entities"]] == [{**e, "score": None} for e in b["entities"]]
        assert all(abs(x["score"] - y["score"]) <= 2e-4 for x, y in zip(a["entities"], b["entities"]))
