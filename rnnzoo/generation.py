"""Token-by-token decoding shared by the generative families, written with `keras.ops` only.

A model exposes one step, `step_fn(token_ids, state) -> (logits, new_state)`:
`token_ids` int `(batch,)`, `logits` float `(batch, vocab)` (unnormalised) and
`state` any nested structure (dict / list / tuple) of tensors whose leading axis
is the batch (recurrent h/c, encoder outputs for attention, image features...).
`generate` runs that step in one `keras.ops.while_loop`, so the whole decode
traces into a single graph: it runs inside a `tf.function` (and so in an
exported SavedModel, with no Python loop per token at serving time) and under
`jax.jit`. Shapes are static: the output is always `(batch, max_length)`; rows
that emitted the end token are padded, and the loop stops once every row is
finished.

Samplers follow keras-hub's `samplers/`: `GreedySampler`, `BeamSampler`,
`RandomSampler`, `TopKSampler`, `TopPSampler`, or their names ("greedy",
"beam", "random", "top_k", "top_p"). Random samplers draw all their uniform
numbers, `(max_length, batch)`, before the loop from `seed` and pick a token by
inverse-CDF, so a seeded decode is reproducible on a given backend and the loop
carries no random state.
"""

import keras
from keras import ops

# Scores of impossible candidates. Finite, so that no backend ever computes
# inf - inf or 0 * inf; anything below NEG_INF / 2 counts as impossible.
NEG_INF = -1e9


def _validate_temperature(temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return float(temperature)


def _sample_inverse_cdf(logits, uniform):
    """Index drawn from softmax(logits) for each row, with one uniform in [0, 1) per row.

    Args:
        logits: `(batch, n)` float; entries at `NEG_INF` are never drawn.
        uniform: `(batch,)` float in [0, 1).

    Returns:
        `(batch,)` int32 indices into the last axis.
    """
    if logits.shape[-1] == 1:  # top-k with k=1
        return ops.zeros_like(ops.cast(uniform, "int32"))
    probs = ops.softmax(logits, axis=-1)
    cdf = ops.cumsum(probs, axis=-1)
    target = uniform[:, None] * cdf[:, -1:]
    index = ops.sum(ops.cast(cdf <= target, "int32"), axis=-1)
    # Rounding can push `target` onto the last cdf value: fall back on the last
    # token that has probability, never on a masked one.
    n = ops.shape(logits)[-1]
    positions = ops.arange(n, dtype="int32")
    last_possible = ops.max(ops.where(probs > 0, positions[None, :], 0), axis=-1)
    return ops.cast(ops.minimum(index, last_possible), "int32")


class Sampler:
    """Base class: picks the next token of every row from its logits.

    Subclasses implement `select`; `draws_noise` says whether `generate` must
    draw one uniform number per row and step for it.
    """

    draws_noise = False

    def select(self, logits, uniform):
        """Next tokens.

        Args:
            logits: `(batch, vocab)` float32, unnormalised.
            uniform: `(batch,)` float32 in [0, 1) (ignored by deterministic samplers).

        Returns:
            `(batch,)` int32 token ids.
        """
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GreedySampler(Sampler):
    """Always the most probable token.

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(GreedySampler().select(np.array([[0.1, 2.0, -1.0]], "float32"), None)).tolist()
    [1]
    """

    def select(self, logits, uniform):
        return ops.cast(ops.argmax(logits, axis=-1), "int32")


class RandomSampler(Sampler):
    """A token drawn from softmax(logits / temperature).

    Args:
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
        seed: int for a reproducible draw (the same seed gives the same tokens on
            the same backend), or None for Keras' global seed generator (not
            usable under `jax.jit`).
    """

    draws_noise = True

    def __init__(self, temperature=1.0, seed=None):
        self.temperature = _validate_temperature(temperature)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self.seed = seed

    def select(self, logits, uniform):
        return _sample_inverse_cdf(logits / self.temperature, uniform)

    def get_config(self):
        return {"temperature": self.temperature, "seed": self.seed}


class TopKSampler(RandomSampler):
    """A token drawn from the `k` most probable ones, renormalised.

    Args:
        k: 1..vocab; `k=1` is greedy decoding.
        temperature, seed: as in `RandomSampler`.
    """

    def __init__(self, k=5, temperature=1.0, seed=None):
        super().__init__(temperature=temperature, seed=seed)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int in 1..vocab, got {k!r}")
        self.k = k

    def select(self, logits, uniform):
        vocab = logits.shape[-1]
        if vocab is not None and self.k > vocab:
            raise ValueError(f"k must be in 1..vocab (vocab={vocab}), got k={self.k}")
        top_logits, top_ids = ops.top_k(logits / self.temperature, self.k)
        choice = _sample_inverse_cdf(top_logits, uniform)
        return ops.cast(ops.take_along_axis(top_ids, choice[:, None], axis=1)[:, 0], "int32")

    def get_config(self):
        return {"k": self.k, **super().get_config()}


class TopPSampler(RandomSampler):
    """Nucleus sampling: a token drawn from the smallest set whose probability reaches `p`.

    The most probable token is always in the set, so a tiny `p` is greedy decoding.

    Args:
        p: in (0, 1].
        temperature, seed: as in `RandomSampler` (the nucleus is taken after
            the temperature is applied).
    """

    def __init__(self, p=0.9, temperature=1.0, seed=None):
        super().__init__(temperature=temperature, seed=seed)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.p = float(p)

    def select(self, logits, uniform):
        vocab = logits.shape[-1]
        sorted_logits, sorted_ids = ops.top_k(logits / self.temperature, vocab)
        probs = ops.softmax(sorted_logits, axis=-1)
        mass_before = ops.cumsum(probs, axis=-1) - probs
        nucleus = ops.where(mass_before < self.p, sorted_logits, NEG_INF)
        choice = _sample_inverse_cdf(nucleus, uniform)
        return ops.cast(ops.take_along_axis(sorted_ids, choice[:, None], axis=1)[:, 0], "int32")

    def get_config(self):
        return {"p": self.p, **super().get_config()}


LENGTH_NORMALIZATIONS = ("gnmt", "power")


class BeamSampler(Sampler):
    """Beam search: keeps the `num_beams` best prefixes per row, and the finished hypotheses.

    Each step scores every continuation of every live beam by its log-probability.
    A continuation that ends (the end token) among the `num_beams` best joins the
    row's finished hypotheses, ranked by the length-normalised score
    `log p / lp(length)`; the `num_beams` best continuations that do not end stay
    live. At `max_length` the live beams become hypotheses of that length. A row
    stops once no live beam can beat its worst kept hypothesis
    (`lp(max_length)` bounds any future normalisation). With `num_beams=1` this
    is greedy decoding.

    Args:
        num_beams: beam width, >= 1.
        alpha: length-normalisation strength, >= 0; 0 ranks by log-probability.
        length_normalization: "gnmt", `lp(n) = ((5 + n) / 6) ** alpha` (Wu et al.,
            2016), or "power", `lp(n) = n ** alpha`.
        return_all_beams: also return every kept hypothesis, best first.

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .6, .3], [.4, .1, .5], [.2, .2, .6]], "float32"))
    >>> step = lambda ids, state: (ops.take(table, ids, axis=0), state)
    >>> beam = BeamSampler(num_beams=3, alpha=0.6, return_all_beams=True)
    >>> out = generate(step, {}, np.array([1]), max_length=3, sampler=beam, end_id=0)
    >>> ops.convert_to_numpy(out["beam_ids"]).shape
    (1, 3, 3)
    """

    def __init__(self, num_beams=4, alpha=0.0, length_normalization="gnmt", return_all_beams=False):
        if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams <= 0:
            raise ValueError(f"num_beams must be a positive int, got {num_beams!r}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if length_normalization not in LENGTH_NORMALIZATIONS:
            raise ValueError(
                f"unknown length_normalization {length_normalization!r}; available: {', '.join(LENGTH_NORMALIZATIONS)}"
            )
        self.num_beams = num_beams
        self.alpha = float(alpha)
        self.length_normalization = length_normalization
        self.return_all_beams = bool(return_all_beams)

    def length_penalty(self, length):
        """`lp(length)`, the divisor of a hypothesis' log-probability (float32, any shape)."""
        length = ops.cast(length, "float32")
        if self.length_normalization == "gnmt":
            return ops.power((5.0 + length) / 6.0, self.alpha)
        return ops.power(length, self.alpha)

    def get_config(self):
        return {
            "num_beams": self.num_beams,
            "alpha": self.alpha,
            "length_normalization": self.length_normalization,
            "return_all_beams": self.return_all_beams,
        }


SAMPLERS = {
    "greedy": GreedySampler,
    "beam": BeamSampler,
    "random": RandomSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
}


def get_sampler(sampler, **kwargs):
    """A `Sampler` from a name and its arguments, or the `Sampler` itself.

    Args:
        sampler: a name in `SAMPLERS` or a `Sampler` instance.
        **kwargs: the sampler's arguments (only with a name).

    Returns:
        A `Sampler`.

    Example:
    >>> get_sampler("top_k", k=3, seed=1)
    TopKSampler(k=3, temperature=1.0, seed=1)
    """
    if isinstance(sampler, Sampler):
        if kwargs:
            raise ValueError(f"sampler arguments {sorted(kwargs)} given with a Sampler instance; set them on it")
        return sampler
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; available: {', '.join(SAMPLERS)}")
    try:
        return SAMPLERS[sampler](**kwargs)
    except TypeError as error:
        raise ValueError(f"bad arguments for sampler {sampler!r}: {error}") from None


def generate(step_fn, state, start_ids, max_length, sampler="greedy", end_id=None, pad_id=None, **sampler_kwargs):
    """Decode up to `max_length` tokens per row from `step_fn`, in one traceable loop.

    Args:
        step_fn: `step_fn(token_ids, state) -> (logits, new_state)`; `token_ids`
            int32 `(batch,)`, `logits` `(batch, vocab)` unnormalised (static
            vocab), `new_state` with the structure, shapes and dtypes of `state`.
        state: nested structure of tensors, leading axis the batch (beam search
            tiles it to `batch * num_beams` and reorders it by the surviving
            beams' parents each step).
        start_ids: int `(batch,)`, the first input token of each row (e.g. BOS).
        max_length: Python int > 0, tokens generated per row.
        sampler: a name ("greedy", "beam", "random", "top_k", "top_p") or a `Sampler`.
        end_id: the end token, or None to always generate `max_length` tokens.
        pad_id: the token written after a row's end; default `end_id`, else 0.
        **sampler_kwargs: the sampler's arguments with a name, e.g.
            `num_beams=4, alpha=0.6` or `k=10, temperature=0.8, seed=1`.

    Returns:
        A dict of tensors:
        - `ids`: int32 `(batch, max_length)`, the generated tokens after the start
          token (the end token included), then `pad_id`.
        - `lengths`: int32 `(batch,)`, tokens up to and including the end token
          (`max_length` if a row never ended).
        - `scores`: float32 `(batch,)`, the sum of the model's log-probabilities
          (log_softmax of the raw logits, whatever the temperature) of those tokens.
        Beam search adds `normalized_scores` `(batch,)` (`scores / lp(lengths)`,
        the ranking score) and, with `return_all_beams`, `beam_ids`
        `(batch, num_beams, max_length)`, `beam_lengths`, `beam_scores` and
        `beam_normalized_scores` `(batch, num_beams)`, best first (hypotheses
        with a score below -1e8 are impossible ones, when a row has fewer than
        `num_beams`).

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .6, .3], [.7, .1, .2], [.2, .2, .6]], "float32"))
    >>> step = lambda ids, state: (ops.take(table, ids, axis=0), state)
    >>> out = generate(step, {}, np.array([2]), max_length=4, end_id=0)
    >>> ops.convert_to_numpy(out["ids"]).tolist(), int(out["lengths"][0])
    ([[2, 2, 2, 2]], 4)
    >>> out = generate(step, {}, np.array([1]), max_length=4, sampler="beam", end_id=0, num_beams=2)
    >>> ops.convert_to_numpy(out["ids"]).tolist()
    [[0, 0, 0, 0]]
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0:
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")
    sampler = get_sampler(sampler, **sampler_kwargs)
    for name, value in (("end_id", end_id), ("pad_id", pad_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")
    if pad_id is None:
        pad_id = end_id if end_id is not None else 0
    start_ids = ops.cast(start_ids, "int32")
    if len(start_ids.shape) != 1:
        raise ValueError(f"start_ids must be (batch,), got shape {tuple(start_ids.shape)}")
    if isinstance(sampler, BeamSampler):
        return _beam_search(step_fn, state, start_ids, max_length, sampler, end_id, pad_id)
    return _sample(step_fn, state, start_ids, max_length, sampler, end_id, pad_id)


def _sample(step_fn, state, start_ids, max_length, sampler, end_id, pad_id):
    """One token per row and step, picked by `sampler`; see `generate`."""
    positions = ops.arange(max_length, dtype="int32")
    zeros = ops.zeros_like(start_ids)  # (batch,): builds tensors whose batch is only known at run time
    if sampler.draws_noise:
        noise = keras.random.uniform((max_length, ops.shape(start_ids)[0]), seed=sampler.seed)
    else:
        noise = ops.zeros((max_length, 1), "float32")  # the greedy sampler never reads it

    def cond(step, tokens, state, ids, lengths, scores, finished):
        more = step < max_length
        if end_id is None:
            return more
        return ops.logical_and(more, ops.logical_not(ops.all(finished)))

    def body(step, tokens, state, ids, lengths, scores, finished):
        logits, state = step_fn(tokens, state)
        logits = ops.cast(logits, "float32")
        next_tokens = sampler.select(logits, ops.take(noise, step, axis=0))
        next_tokens = ops.where(finished, pad_id, next_tokens)
        log_probs = ops.log_softmax(logits, axis=-1)
        token_log_probs = ops.take_along_axis(log_probs, next_tokens[:, None], axis=1)[:, 0]
        scores = scores + ops.where(finished, 0.0, token_log_probs)
        lengths = lengths + ops.where(finished, 0, 1)
        ids = ops.where(positions[None, :] == step, next_tokens[:, None], ids)
        if end_id is not None:
            finished = ops.logical_or(finished, next_tokens == end_id)
        return step + 1, next_tokens, state, ids, lengths, scores, finished

    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        start_ids,
        state,
        zeros[:, None] + ops.full((max_length,), pad_id, "int32"),
        zeros,
        ops.cast(zeros, "float32"),
        zeros > 0,
    )
    _, _, _, ids, lengths, scores, _ = ops.while_loop(cond, body, loop_vars)
    return {"ids": ids, "lengths": lengths, "scores": scores}


def _gather_rows(x, flat_index, rows_per_group):
    """`x` `(batch, n, ...)`, `flat_index` `(batch, m)` indices into n -> `(batch, m, ...)`."""
    trailing = tuple(x.shape[2:])
    flat = ops.reshape(x, (-1,) + trailing)
    picked = ops.take(flat, ops.reshape(flat_index, (-1,)), axis=0)
    return ops.reshape(picked, (-1, rows_per_group) + trailing)


def _beam_search(step_fn, state, start_ids, max_length, sampler, end_id, pad_id):
    """Batched beam search with a pool of finished hypotheses; see `BeamSampler`."""
    beams = sampler.num_beams
    positions = ops.arange(max_length, dtype="int32")
    zeros = ops.zeros_like(start_ids)
    row_offsets = ops.cumsum(ops.ones_like(start_ids)) - 1  # 0..batch-1, batch known at run time only
    neg = ops.full((beams,), NEG_INF, "float32")

    def keep_best(pool, new):
        """The `beams` best of two hypothesis sets by normalised score: (ids, lengths, scores, normalized)."""
        ids, lengths, scores, normalized = (ops.concatenate([a, b], axis=1) for a, b in zip(pool, new))
        normalized, order = ops.top_k(normalized, beams)
        flat_order = order + row_offsets[:, None] * (2 * beams)
        ids = _gather_rows(ids, flat_order, beams)
        lengths = ops.take_along_axis(lengths, order, axis=1)
        scores = ops.take_along_axis(scores, order, axis=1)
        return ids, lengths, scores, normalized

    def row_done(alive_scores, pool_normalized):
        # Live scores only fall, and lp grows with length: lp(max_length) bounds what any live beam can reach.
        best_possible = alive_scores[:, 0] / sampler.length_penalty(max_length)
        worst_kept = pool_normalized[:, beams - 1]
        return ops.logical_and(worst_kept > NEG_INF / 2, best_possible <= worst_kept)

    def cond(step, tokens, state, alive_ids, alive_scores, pool):
        more = step < max_length
        if end_id is None:
            return more
        return ops.logical_and(more, ops.logical_not(ops.all(row_done(alive_scores, pool[3]))))

    def body(step, tokens, state, alive_ids, alive_scores, pool):
        logits, state = step_fn(tokens, state)
        vocab = logits.shape[-1]
        if vocab is None:
            raise ValueError("beam search needs logits with a static vocabulary size (last axis)")
        log_probs = ops.reshape(ops.log_softmax(ops.cast(logits, "float32"), axis=-1), (-1, beams, vocab))
        candidates = alive_scores[:, :, None] + log_probs  # (batch, beams, vocab)
        flat_candidates = ops.reshape(candidates, (-1, beams * vocab))
        if end_id is not None:
            # An ending continuation is kept if it ranks among the `beams` best of all continuations.
            kth_best = ops.top_k(flat_candidates, beams)[0][:, beams - 1]
            end_scores = candidates[:, :, end_id]
            kept = ops.logical_and(end_scores >= kth_best[:, None], end_scores > NEG_INF / 2)
            end_scores = ops.where(kept, end_scores, NEG_INF)
            end_ids = ops.where(positions[None, None, :] == step, end_id, alive_ids)
            end_lengths = ops.zeros_like(alive_ids[:, :, 0]) + step + 1
            end_normalized = ops.where(kept, end_scores / sampler.length_penalty(step + 1), NEG_INF)
            pool = keep_best(pool, (end_ids, end_lengths, end_scores, end_normalized))
            not_end = ops.arange(vocab, dtype="int32") != end_id
            flat_candidates = ops.reshape(ops.where(not_end, candidates, NEG_INF), (-1, beams * vocab))
        alive_scores, best = ops.top_k(flat_candidates, beams)
        best = ops.cast(best, "int32")
        parents = best // vocab + row_offsets[:, None] * beams  # (batch, beams) into batch * beams
        tokens = ops.reshape(best % vocab, (-1,))
        flat_parents = ops.reshape(parents, (-1,))
        state = keras.tree.map_structure(lambda x: ops.take(x, flat_parents, axis=0), state)
        alive_ids = _gather_rows(alive_ids, parents, beams)
        alive_ids = ops.where(positions[None, None, :] == step, ops.reshape(tokens, (-1, beams))[:, :, None], alive_ids)
        return step + 1, tokens, state, alive_ids, alive_scores, pool

    empty_ids = zeros[:, None, None] + ops.full((beams, max_length), pad_id, "int32")
    first_beam_only = ops.where(ops.arange(beams) == 0, 0.0, NEG_INF)  # identical beams at the start: keep one
    pool = (empty_ids, zeros[:, None] + ops.zeros((beams,), "int32"), ops.cast(zeros, "float32")[:, None] + neg,
            ops.cast(zeros, "float32")[:, None] + neg)
    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        ops.repeat(start_ids, beams, axis=0),
        keras.tree.map_structure(lambda x: ops.repeat(x, beams, axis=0), state),
        empty_ids,
        ops.cast(zeros, "float32")[:, None] + first_beam_only,
        pool,
    )
    step, _, _, alive_ids, alive_scores, pool = ops.while_loop(cond, body, loop_vars)
    # Beams still live at max_length are hypotheses of that length (not when the loop stopped early).
    reached_end = step >= max_length
    alive_normalized = ops.where(reached_end, alive_scores / sampler.length_penalty(max_length), NEG_INF)
    alive_lengths = ops.zeros_like(alive_ids[:, :, 0]) + max_length
    ids, lengths, scores, normalized = keep_best(pool, (alive_ids, alive_lengths, alive_scores, alive_normalized))
    out = {"ids": ids[:, 0], "lengths": lengths[:, 0], "scores": scores[:, 0], "normalized_scores": normalized[:, 0]}
    if sampler.return_all_beams:
        out.update(beam_ids=ids, beam_lengths=lengths, beam_scores=scores, beam_normalized_scores=normalized)
    return out
