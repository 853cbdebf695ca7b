"""`rnnzoo.generation` against a tiny recurrent "model" whose sequence probabilities NumPy computes by brute force."""

import importlib.util
import itertools
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from rnnzoo.generation import BeamSampler, TopKSampler, generate, get_sampler

VOCAB, HIDDEN, END = 5, 3, 0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TinyModel:
    """h' = tanh(E[token] + h W + m); logits = h' U + b, with m a per-row "memory" (like image features)."""

    def __init__(self, seed, batch=3):
        rng = np.random.default_rng(seed)
        self.E = rng.normal(0, 1.0, (VOCAB, HIDDEN)).astype("float32")
        self.W = rng.normal(0, 1.0, (HIDDEN, HIDDEN)).astype("float32")
        self.U = rng.normal(0, 1.0, (HIDDEN, VOCAB)).astype("float32")
        self.b = rng.normal(0, 0.5, (VOCAB,)).astype("float32")
        self.h0 = rng.normal(0, 1.0, (batch, HIDDEN)).astype("float32")
        self.memory = rng.normal(0, 1.0, (batch, HIDDEN)).astype("float32")
        self.start = rng.integers(1, VOCAB, size=(batch,)).astype("int32")

    def state(self):
        # Nested on purpose: beam search must tile and reorder every leaf.
        return {"h": self.h0, "extras": [(self.memory,)]}

    def step(self, token_ids, state):
        memory = state["extras"][0][0]
        h = ops.tanh(ops.take(self.E, token_ids, axis=0) + ops.matmul(state["h"], self.W) + memory)
        return ops.matmul(h, self.U) + self.b, {"h": h, "extras": [(memory,)]}

    # NumPy reference, one row at a time.
    def np_step(self, row, token, h):
        h = np.tanh(self.E[token] + h @ self.W + self.memory[row])
        logits = h @ self.U + self.b
        return logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max(), logits, h

    def log_prob(self, row, tokens):
        h, token, total = self.h0[row], self.start[row], 0.0
        for t in tokens:
            log_probs, _, h = self.np_step(row, token, h)
            total += log_probs[t]
            token = t
        return total

    def greedy(self, row, max_length):
        h, token, out = self.h0[row], self.start[row], []
        for _ in range(max_length):
            log_probs, _, h = self.np_step(row, token, h)
            token = int(log_probs.argmax())
            out.append(token)
            if token == END:
                break
        return out


def hypotheses(max_length):
    """Every finished sequence up to max_length: ends with END (nothing after), or max_length tokens without END."""
    words = range(1, VOCAB)
    for n in range(1, max_length + 1):
        for prefix in itertools.product(words, repeat=n - 1):
            yield list(prefix) + [END]
    yield from (list(s) for s in itertools.product(words, repeat=max_length))


def length_penalty(n, alpha, kind):
    return ((5 + n) / 6) ** alpha if kind == "gnmt" else n ** alpha


def padded(tokens, max_length):
    return tokens + [END] * (max_length - len(tokens))


def run(model, max_length, **kwargs):
    out = generate(model.step, model.state(), model.start, max_length, end_id=END, **kwargs)
    return {k: ops.convert_to_numpy(v) for k, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_length,alpha,kind", [(2, 0.0, "gnmt"), (3, 0.0, "gnmt"), (3, 0.8, "gnmt"),
                                                   (3, 1.0, "power")])
def test_beam_search_finds_the_brute_force_best(seed, max_length, alpha, kind):
    model = TinyModel(seed)
    # Wide enough that nothing is pruned before the last step (at max_length=2 that is the vocabulary size).
    num_beams = VOCAB * (VOCAB - 1) ** (max_length - 2)
    out = run(model, max_length, sampler="beam", num_beams=num_beams, alpha=alpha, length_normalization=kind)
    for row in range(len(model.start)):
        scored = [(model.log_prob(row, h) / length_penalty(len(h), alpha, kind), h) for h in hypotheses(max_length)]
        best_score, best = max(scored, key=lambda s: s[0])
        assert out["ids"][row].tolist() == padded(best, max_length), (row, scored)
        assert out["lengths"][row] == len(best)
        np.testing.assert_allclose(out["normalized_scores"][row], best_score, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out["scores"][row], model.log_prob(row, best), rtol=1e-4, atol=1e-4)


def test_beam_returns_all_beams_best_first():
    model = TinyModel(3)
    out = run(model, 3, sampler="beam", num_beams=VOCAB * (VOCAB - 1), return_all_beams=True)
    assert out["beam_ids"].shape == (3, 20, 3)
    for row in range(3):
        expected = sorted((model.log_prob(row, h) for h in hypotheses(3)), reverse=True)[:4]
        np.testing.assert_allclose(out["beam_scores"][row, :4], expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(out["beam_ids"][row, 0], out["ids"][row])
        for k in range(4):  # every kept hypothesis' score is its tokens' log-probability
            tokens = out["beam_ids"][row, k, : out["beam_lengths"][row, k]].tolist()
            np.testing.assert_allclose(out["beam_scores"][row, k], model.log_prob(row, tokens), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 4])
def test_greedy_matches_numpy_rollout_and_its_equivalents(seed):
    model, max_length = TinyModel(seed, batch=6), 7
    greedy = run(model, max_length)
    for row in range(6):
        expected = model.greedy(row, max_length)
        assert greedy["ids"][row].tolist() == padded(expected, max_length)
        assert greedy["lengths"][row] == len(expected)
        np.testing.assert_allclose(greedy["scores"][row], model.log_prob(row, expected), rtol=1e-4, atol=1e-4)
    for kwargs in ({"sampler": "beam", "num_beams": 1}, {"sampler": "top_k", "k": 1, "seed": 3},
                   {"sampler": "top_p", "p": 1e-6, "seed": 3}):
        other = run(model, max_length, **kwargs)
        np.testing.assert_array_equal(other["ids"], greedy["ids"], err_msg=str(kwargs))
        np.testing.assert_array_equal(other["lengths"], greedy["lengths"], err_msg=str(kwargs))
        np.testing.assert_allclose(other["scores"], greedy["scores"], rtol=1e-5, err_msg=str(kwargs))


def test_beam_score_never_below_greedy():
    better = 0
    for seed in range(5):
        model = TinyModel(seed, batch=4)
        greedy = run(model, 6)
        for num_beams in (2, 4):
            beam = run(model, 6, sampler="beam", num_beams=num_beams)
            assert (beam["scores"] >= greedy["scores"] - 1e-5).all(), (seed, num_beams)
            better += (beam["scores"] > greedy["scores"] + 1e-3).sum()
    assert better > 0  # the tiny model is flat enough that search matters


def test_without_end_id_every_row_runs_to_max_length():
    model = TinyModel(0)
    for kwargs in ({}, {"sampler": "beam", "num_beams": 3}):
        out = generate(model.step, model.state(), model.start, 5, **kwargs)
        assert ops.convert_to_numpy(out["ids"]).shape == (3, 5)
        assert (ops.convert_to_numpy(out["lengths"]) == 5).all()


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    model = TinyModel(0, batch=8)
    first = run(model, 6, sampler="random", seed=7)
    again = run(model, 6, sampler="random", seed=7)
    other = run(model, 6, sampler="random", seed=8)
    np.testing.assert_array_equal(first["ids"], again["ids"])
    assert (first["ids"] != other["ids"]).any()
    for row in range(8):  # scores are the model's log-probabilities of the drawn tokens
        tokens = first["ids"][row, : first["lengths"][row]].tolist()
        np.testing.assert_allclose(first["scores"][row], model.log_prob(row, tokens), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("temperature", [0.7, 1.5])
def test_one_step_frequencies_follow_softmax_over_temperature(temperature):
    rows = 4000
    logits = np.array([1.0, -0.5, 0.3, 2.0, 0.0], "float32")
    step = lambda ids, state: (ops.zeros((ops.shape(ids)[0], VOCAB)) + logits, state)  # noqa: E731
    out = generate(step, {}, np.zeros(rows, "int32"), 1, sampler="random", temperature=temperature, seed=11)
    counts = np.bincount(ops.convert_to_numpy(out["ids"])[:, 0], minlength=VOCAB)
    expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum() * rows
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 25, (counts, expected)  # 4 degrees of freedom: p < 1e-4 of a false alarm (and it is seeded)


def test_top_k_and_top_p_stay_inside_their_sets():
    model, max_length, k = TinyModel(5, batch=40), 5, 2
    model.h0 = np.tile(model.h0[:1], (40, 1))
    model.memory = np.tile(model.memory[:1], (40, 1))
    model.start = np.tile(model.start[:1], 40)
    top_k = run(model, max_length, sampler="top_k", k=k, temperature=2.0, seed=1)
    top_p = run(model, max_length, sampler="top_p", p=0.6, temperature=1.0, seed=1)
    for out, allowed in ((top_k, lambda lp: np.argsort(-lp)[:k]),
                         (top_p, lambda lp: np.argsort(-lp)[: np.searchsorted(np.cumsum(np.sort(np.exp(lp))[::-1]),
                                                                                 0.6) + 1])):
        for row in range(40):
            h, token = model.h0[row], model.start[row]
            for t in out["ids"][row, : out["lengths"][row]]:
                log_probs, _, h = model.np_step(row, token, h)
                assert t in allowed(log_probs), (row, t, log_probs)
                token = t
    assert len(set(map(tuple, top_k["ids"].tolist()))) > 1  # it does sample


def test_runs_inside_tf_function_like_eager():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the tf.function check runs on the TensorFlow backend")
    model = TinyModel(1, batch=4)
    configs = ({}, {"sampler": "beam", "num_beams": 3, "alpha": 0.6}, {"sampler": "top_p", "p": 0.8, "seed": 2})
    for kwargs in configs:
        eager = run(model, 6, **kwargs)
        # Unknown batch size: one graph for any batch, no Python loop per token.
        @tf.function(input_signature=[tf.TensorSpec([None, HIDDEN]), tf.TensorSpec([None, HIDDEN]),
                                      tf.TensorSpec([None], tf.int32)])
        def decode(h, memory, start):
            return generate(model.step, {"h": h, "extras": [(memory,)]}, start, 6, end_id=END, **kwargs)

        graph = decode.get_concrete_function().graph
        assert any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
        traced = {k: v.numpy() for k, v in decode(model.h0, model.memory, model.start).items()}
        for key in eager:
            np.testing.assert_allclose(traced[key], eager[key], rtol=1e-5, atol=1e-5, err_msg=f"{kwargs} {key}")


JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from tests.test_generation import END, TinyModel
    from rnnzoo.generation import generate

    model = TinyModel(1, batch=4)
    result = {}
    for name, kwargs in (("greedy", {}), ("beam", {"sampler": "beam", "num_beams": 3, "alpha": 0.6})):
        decode = jax.jit(lambda h, m, s: generate(model.step, {"h": h, "extras": [(m,)]}, s, 6, end_id=END, **kwargs))
        out = decode(model.h0, model.memory, model.start)
        result[name] = {k: np.asarray(v).tolist() for k, v in out.items()}
    sampled = jax.jit(lambda h, m, s: generate(model.step, {"h": h, "extras": [(m,)]}, s, 6, end_id=END,
                                               sampler="top_k", k=3, seed=5))
    first, again = (np.asarray(sampled(model.h0, model.memory, model.start)["ids"]) for _ in range(2))
    result["reproducible"] = bool((first == again).all())
    print("RESULT" + json.dumps(result))
    """
)


def test_jax_jit_matches_tensorflow():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT, ROOT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][-1]
    result = json.loads(line[len("RESULT"):])
    assert result["reproducible"]
    model = TinyModel(1, batch=4)
    for name, kwargs in (("greedy", {}), ("beam", {"sampler": "beam", "num_beams": 3, "alpha": 0.6})):
        here = run(model, 6, **kwargs)
        for key in here:
            np.testing.assert_allclose(np.array(result[name][key]), here[key], rtol=1e-4, atol=1e-4,
                                       err_msg=f"{name} {key}")


@pytest.mark.parametrize("kwargs,message", [
    ({"max_length": 0}, "max_length must be a positive int"),
    ({"max_length": 2.5}, "max_length must be a positive int"),
    ({"sampler": "beam", "num_beams": 0}, "num_beams must be a positive int"),
    ({"sampler": "random", "temperature": 0}, "temperature must be > 0"),
    ({"sampler": "top_k", "k": 0}, r"k must be an int in 1\.\.vocab"),
    ({"sampler": "top_k", "k": VOCAB + 1}, r"k must be in 1\.\.vocab \(vocab=5\)"),
    ({"sampler": "top_p", "p": 0.0}, r"p must be in \(0, 1\]"),
    ({"sampler": "top_p", "p": 1.5}, r"p must be in \(0, 1\]"),
    ({"sampler": "nucleus"}, "unknown sampler 'nucleus'; available: greedy, beam, random, top_k, top_p"),
    ({"sampler": "beam", "alpha": -1}, "alpha must be >= 0"),
    ({"sampler": "beam", "length_normalization": "log"}, "unknown length_normalization 'log'; available: gnmt"),
    ({"sampler": "greedy", "num_beams": 2}, "bad arguments for sampler 'greedy'"),
    ({"sampler": TopKSampler(2), "k": 3}, "given with a Sampler instance"),
])
def test_argument_errors(kwargs, message):
    model = TinyModel(0)
    kwargs = {"max_length": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(model.step, model.state(), model.start, end_id=END, **kwargs)


def test_get_sampler_names_and_instances():
    assert isinstance(get_sampler("beam", num_beams=2), BeamSampler)
    sampler = TopKSampler(k=2, seed=1)
    assert get_sampler(sampler) is sampler
    assert repr(sampler) == "TopKSampler(k=2, temperature=1.0, seed=1)"


def test_loop_stops_once_every_row_has_ended():
    calls = []
    first_ends = np.log(np.array([[0.9, 0.1, 0, 0, 0]] * VOCAB, "float32") + 1e-6)  # the end token is always likely

    def step(ids, state):
        calls.append(1)  # eager TensorFlow / NumPy-like backends run the body once per step
        return ops.take(first_ends, ids, axis=0), state

    if keras.backend.backend() != "tensorflow":
        pytest.skip("counts Python calls of the loop body, which only eager TensorFlow makes per step")
    for kwargs in ({}, {"sampler": "beam", "num_beams": 2}):
        calls.clear()
        out = generate(step, {}, np.array([1, 2]), 10, end_id=END, **kwargs)
        assert ops.convert_to_numpy(out["ids"]).tolist() == [[END] * 10] * 2
        assert ops.convert_to_numpy(out["lengths"]).tolist() == [1, 1]
        assert len(calls) == (1 if not kwargs else 2), kwargs  # beam first fills its pool of num_beams hypotheses


def test_exported_savedmodel_and_xla_give_the_same_tokens(tmp_path):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export runs on the TensorFlow backend")
    model = TinyModel(2, batch=4)
    spec = [tf.TensorSpec([None, HIDDEN]), tf.TensorSpec([None, HIDDEN]), tf.TensorSpec([None], tf.int32)]

    def decode(h, memory, start):
        return generate(model.step, {"h": h, "extras": [(memory,)]}, start, 6, end_id=END, sampler="beam",
                        num_beams=3, alpha=0.6)

    module = tf.Module()
    module.decode = tf.function(decode, input_signature=spec)
    tf.saved_model.save(module, str(tmp_path / "decoder"))
    loaded = tf.saved_model.load(str(tmp_path / "decoder"))
    expected = run(model, 6, sampler="beam", num_beams=3, alpha=0.6)
    xla = tf.function(decode, jit_compile=True)
    for out in (loaded.decode(model.h0, model.memory, model.start), xla(model.h0, model.memory, model.start)):
        np.testing.assert_array_equal(out["ids"].numpy(), expected["ids"])
        np.testing.assert_allclose(out["scores"].numpy(), expected["scores"], rtol=1e-5, atol=1e-5)


def test_docstring_examples_run():
    import doctest

    import rnnzoo.generation

    result = doctest.testmod(rnnzoo.generation)
    assert result.attempted > 0 and result.failed == 0, result
