"""The CRF's forward algorithm and Viterbi against brute-force enumeration in NumPy."""

import itertools

import numpy as np
import pytest

from rnnzoo.layers import CRF, crf_decode, crf_decode_numpy, crf_log_likelihood


def _path_score(e, y, trans, start, end):
    return start[y[0]] + end[y[-1]] + sum(e[t, y[t]] for t in range(len(y))) + sum(
        trans[y[t - 1], y[t]] for t in range(1, len(y))
    )


def _brute_force(e, length, trans, start, end):
    scores = {
        y: _path_score(e, y, trans, start, end)
        for y in itertools.product(range(e.shape[-1]), repeat=length)
    }
    best = max(scores, key=scores.get)
    log_z = np.log(np.sum(np.exp(np.array(list(scores.values()), dtype="float64"))))
    return scores, best, log_z


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_likelihood_and_viterbi_match_enumeration(seed):
    rng = np.random.default_rng(seed)
    batch, time, tags = 3, 5, 4
    e = rng.normal(size=(batch, time, tags)).astype("float32")
    trans = rng.normal(size=(tags, tags)).astype("float32")
    start, end = rng.normal(size=tags).astype("float32"), rng.normal(size=tags).astype("float32")
    lengths = [5, 3, 1]
    mask = np.arange(time)[None, :] < np.array(lengths)[:, None]
    gold = rng.integers(0, tags, size=(batch, time))
    ll = np.asarray(crf_log_likelihood(e, gold, mask, trans, start, end))
    decoded, best_scores = crf_decode(e, mask, trans, start, end)
    decoded, best_scores = np.asarray(decoded), np.asarray(best_scores)
    host = crf_decode_numpy(e, lengths, trans, start, end)
    for b, length in enumerate(lengths):
        scores, best, log_z = _brute_force(e[b], length, trans, start, end)
        y = tuple(int(v) for v in gold[b, :length])
        np.testing.assert_allclose(ll[b], scores[y] - log_z, rtol=1e-4, atol=1e-4)
        assert tuple(decoded[b, :length]) == best
        assert tuple(host[b, :length]) == best
        np.testing.assert_allclose(best_scores[b], scores[best], rtol=1e-5, atol=1e-5)


def test_padding_never_leaks():
    """Changing emissions or gold tags at padded steps changes nothing."""
    rng = np.random.default_rng(3)
    e = rng.normal(size=(1, 6, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0]], bool)
    gold = np.array([[0, 1, 2, 0, 0, 0]])
    crf = CRF(3)
    crf(e)
    noisy = e.copy()
    noisy[:, 3:] = 100.0
    gold2 = gold.copy()
    gold2[:, 3:] = 2
    a = np.asarray(crf.log_likelihood(e, gold, mask))
    b = np.asarray(crf.log_likelihood(noisy, gold2, mask))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    ta, _ = crf.decode(e, mask)
    tb, _ = crf.decode(noisy, mask)
    assert np.asarray(ta)[0, :3].tolist() == np.asarray(tb)[0, :3].tolist()


def test_crf_layer_checks_num_tags():
    with pytest.raises(ValueError, match="num_tags"):
        CRF(0)
    crf = CRF(4)
    with pytest.raises(ValueError, match="4 tags"):
        crf(np.zeros((1, 2, 3), "float32"))


def test_single_step_sequences():
    """Length-1 batches (one-word sentences) decode and score like enumeration."""
    rng = np.random.default_rng(5)
    e = rng.normal(size=(2, 1, 3)).astype("float32")
    trans = rng.normal(size=(3, 3)).astype("float32")
    start, end = rng.normal(size=3).astype("float32"), rng.normal(size=3).astype("float32")
    mask = np.ones((2, 1), bool)
    tags, scores = crf_decode(e, mask, trans, start, end)
    assert np.asarray(tags).shape == (2, 1)
    for b in range(2):
        expected = np.argmax(start + e[b, 0] + end)
        assert int(np.asarray(tags)[b, 0]) == expected
    ll = np.asarray(crf_log_likelihood(e, np.zeros((2, 1), "int32"), mask, trans, start, end))
    logits = start + e[:, 0] + end
    np.testing.assert_allclose(ll, logits[:, 0] - np.log(np.exp(logits).sum(-1)), rtol=1e-5)


def test_numpy_viterbi_equals_the_graph_decoder_on_larger_batches():
    """The host-side decoder `predict` uses agrees with `crf_decode` (padding included, lengths 1..T)."""
    rng = np.random.default_rng(11)
    batch, time, tags = 16, 12, 9
    e = (3 * rng.normal(size=(batch, time, tags))).astype("float32")
    lengths = rng.integers(1, time + 1, size=batch)
    lengths[0] = time
    crf = CRF(tags)
    crf(e)
    crf.set_weights([rng.normal(size=w.shape).astype("float32") for w in crf.get_weights()])
    mask = np.arange(time)[None, :] < lengths[:, None]
    graph, _ = crf.decode(e, mask)
    host = crf_decode_numpy(e, lengths, *crf.get_weights())  # transitions, start, end
    assert host.dtype == np.int32 and host.shape == (batch, time)
    np.testing.assert_array_equal(np.asarray(graph)[mask], host[mask])
    assert crf_decode_numpy(np.zeros((2, 0, tags), "float32"), [0, 0], *crf.get_weights()).shape == (2, 0)
