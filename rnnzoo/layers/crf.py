"""Linear-chain conditional random field, written with `keras.ops` only.

The CRF scores a tag sequence y for emissions e (batch, time, tags) as

    s(y) = start[y_0] + sum_t e[t, y_t] + sum_{t>0} T[y_{t-1}, y_t] + end[y_last]

`crf_log_likelihood` is log p(y | e) = s(y) - logsumexp_y' s(y') (the forward
algorithm); `crf_decode` returns argmax_y s(y) (Viterbi). Masks must be
left-aligned (real tokens first, padding after); padded steps never touch a
score, so padding cannot leak into the loss or the decoded path.
"""

import keras
import numpy as np
from keras import ops


def _time_major(x):
    return ops.moveaxis(x, 1, 0)


def _with_mask_column(emissions, mask):
    """(batch, time, K) + mask -> one time-major (time, batch, K+1) tensor.

    Keras' TensorFlow `scan` cannot take several `xs` of unknown length, so the
    mask travels as an extra column of the emissions.
    """
    packed = ops.concatenate([emissions, ops.cast(mask, emissions.dtype)[:, :, None]], axis=-1)
    return _time_major(packed)


def _prepare_mask(mask, emissions):
    if mask is None:
        return ops.ones(ops.shape(emissions)[:2], dtype="bool")
    return ops.cast(mask, "bool")


def _append_padding_step(emissions, mask):
    """One extra masked step, so the scans over steps 1.. never run on an empty sequence.

    (Keras' TensorFlow scan cannot stack zero outputs of unknown batch size; a masked
    step changes no score.)
    """
    pad = ops.zeros_like(emissions[:, :1, :])
    return ops.concatenate([emissions, pad], axis=1), ops.concatenate([mask, ops.zeros_like(mask[:, :1])], axis=1)


def crf_log_likelihood(emissions, tags, mask, transitions, start_transitions, end_transitions):
    """log p(tags | emissions) for each sequence of the batch.

    Args:
        emissions: `(batch, time, num_tags)` float scores.
        tags: `(batch, time)` int gold tags (values at padded steps ignored).
        mask: `(batch, time)` bool, True for real tokens (left-aligned), or None.
        transitions: `(num_tags, num_tags)`; `[i, j]` scores tag i followed by j.
        start_transitions, end_transitions: `(num_tags,)`.

    Returns:
        `(batch,)` log-likelihoods (0 for an all-padding row).
    """
    emissions = ops.cast(emissions, "float32")
    mask = _prepare_mask(mask, emissions)
    emissions, mask = _append_padding_step(emissions, mask)
    tags = ops.cast(tags, "int32")
    tags = ops.concatenate([tags, ops.zeros_like(tags[:, :1])], axis=1)
    num_tags = ops.shape(emissions)[-1]
    maskf = ops.cast(mask, "float32")
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)

    # Score of the gold path.
    onehot = ops.one_hot(tags, num_tags, dtype="float32")  # (B, T, K)
    emit_score = ops.sum(ops.sum(emissions * onehot, axis=-1) * maskf, axis=1)
    # transitions[y_{t-1}, y_t] for t >= 1: (B, T-1, K) @ (K, K) -> pick y_t.
    trans_rows = ops.matmul(onehot[:, :-1, :], transitions)
    trans_score = ops.sum(ops.sum(trans_rows * onehot[:, 1:, :], axis=-1) * maskf[:, 1:], axis=1)
    start_score = ops.sum(onehot[:, 0, :] * start_transitions, axis=-1)
    last_index = ops.maximum(lengths - 1, 0)
    last_onehot = ops.take_along_axis(onehot, last_index[:, None, None], axis=1)[:, 0, :]
    end_score = ops.sum(last_onehot * end_transitions, axis=-1)
    has_tokens = ops.cast(lengths > 0, "float32")
    gold = (emit_score + trans_score + start_score + end_score) * has_tokens

    # Partition function by the forward algorithm.
    alpha0 = start_transitions[None, :] + emissions[:, 0, :]

    def forward_step(alpha, inputs):
        emit_t, mask_t = inputs[:, :-1], inputs[:, -1] > 0.5
        scores = alpha[:, :, None] + transitions[None, :, :] + emit_t[:, None, :]
        new_alpha = ops.logsumexp(scores, axis=1)
        alpha = ops.where(mask_t[:, None], new_alpha, alpha)
        # Keras' TensorFlow scan needs per-step outputs shaped like the carry.
        return alpha, alpha

    alpha, _ = ops.scan(forward_step, alpha0, _with_mask_column(emissions[:, 1:, :], mask[:, 1:]))
    log_z = ops.logsumexp(alpha + end_transitions[None, :], axis=1) * has_tokens
    return gold - log_z


def crf_decode(emissions, mask, transitions, start_transitions, end_transitions):
    """Viterbi decoding.

    Args:
        emissions: `(batch, time, num_tags)`.
        mask: `(batch, time)` bool (left-aligned) or None.
        transitions, start_transitions, end_transitions: as in `crf_log_likelihood`.

    Returns:
        `(tags, scores)`: `(batch, time)` int32 best paths (padded steps repeat
        the last real tag; mask them out) and `(batch,)` their scores.
    """
    emissions = ops.cast(emissions, "float32")
    mask = _prepare_mask(mask, emissions)
    steps = ops.shape(emissions)[1]
    emissions, mask = _append_padding_step(emissions, mask)
    num_tags = ops.shape(emissions)[-1]
    identity = ops.arange(num_tags, dtype="int32")
    delta0 = start_transitions[None, :] + emissions[:, 0, :]

    def viterbi_step(delta, inputs):
        emit_t, mask_t = inputs[:, :-1], inputs[:, -1] > 0.5
        scores = delta[:, :, None] + transitions[None, :, :]  # (B, from, to)
        backpointer = ops.cast(ops.argmax(scores, axis=1), "int32")
        new_delta = ops.max(scores, axis=1) + emit_t
        delta = ops.where(mask_t[:, None], new_delta, delta)
        backpointer = ops.where(mask_t[:, None], backpointer, identity[None, :])
        # Keras' TensorFlow scan stores per-step outputs with the carry's dtype.
        return delta, ops.cast(backpointer, delta.dtype)

    delta, backpointers = ops.scan(viterbi_step, delta0, _with_mask_column(emissions[:, 1:, :], mask[:, 1:]))
    backpointers = ops.cast(backpointers, "int32")
    final = delta + end_transitions[None, :]
    best_score = ops.max(final, axis=1)
    best_last = ops.cast(ops.argmax(final, axis=1), "int32")

    def backtrack_step(tag, backpointer_t):
        previous = ops.take_along_axis(backpointer_t, tag[:, None], axis=1)[:, 0]
        return previous, tag

    first, later = ops.scan(backtrack_step, best_last, backpointers, reverse=True)
    # `later` holds tags 1..T-1 (time-major); `first` is tag 0.
    tags = ops.concatenate([first[:, None], _time_major(later)], axis=1)
    return tags[:, :steps], best_score


def crf_decode_numpy(emissions, lengths, transitions, start_transitions, end_transitions):
    """Viterbi decoding in NumPy, for host-side tagging of small batches.

    Same result as `crf_decode` (tested), without a graph call: for one
    sentence a NumPy loop over ~20 steps costs tens of microseconds, while the
    two TensorFlow while loops of the in-graph decoder cost about a millisecond.

    Args:
        emissions: `(batch, time, num_tags)` array.
        lengths: `(batch,)` real tokens per row (rows are left-aligned).
        transitions, start_transitions, end_transitions: arrays as in `crf_log_likelihood`.

    Returns:
        `(batch, time)` int32 best paths (steps past a row's length repeat its last tag).
    """
    emissions = np.asarray(emissions, "float32")
    transitions = np.asarray(transitions, "float32")
    lengths = np.asarray(lengths)
    batch, steps, num_tags = emissions.shape
    tags = np.zeros((batch, steps), "int32")
    if steps == 0:
        return tags
    identity = np.arange(num_tags, dtype="int32")
    delta = emissions[:, 0] + np.asarray(start_transitions, "float32")
    backpointers = np.empty((steps, batch, num_tags), "int32")
    for t in range(1, steps):
        scores = delta[:, :, None] + transitions[None]  # (B, from, to)
        live = (t < lengths)[:, None]
        backpointers[t] = np.where(live, scores.argmax(axis=1), identity)
        delta = np.where(live, scores.max(axis=1) + emissions[:, t], delta)
    tag = (delta + np.asarray(end_transitions, "float32")).argmax(axis=1)
    rows = np.arange(batch)
    for t in range(steps - 1, -1, -1):
        tags[:, t] = tag
        if t:
            tag = backpointers[t][rows, tag]
    return tags


@keras.saving.register_keras_serializable(package="rnnzoo")
class CRF(keras.layers.Layer):
    """Holds the CRF transition scores; identity on the emissions.

    The layer sits at the end of a tagger backbone so its weights are part of
    the model; the loss (`log_likelihood`) and decoding (`decode`) are methods
    the task calls with the emissions and the mask.

    Args:
        num_tags: number of tags.

    Call arguments:
        emissions: `(batch, time, num_tags)`; returned unchanged.

    Example:
    >>> import numpy as np
    >>> crf = CRF(3)
    >>> e = crf(np.zeros((2, 4, 3), "float32"))
    >>> tags, scores = crf.decode(e, np.ones((2, 4), bool))
    >>> tuple(tags.shape)
    (2, 4)
    """

    def __init__(self, num_tags, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"CRF: `num_tags` must be a positive int, got {num_tags!r}.")
        self.num_tags = num_tags
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
            raise ValueError(
                f"CRF expects emissions with {self.num_tags} tags in the last axis, "
                f"got shape {input_shape}."
            )
        init = keras.initializers.RandomUniform(-0.1, 0.1)
        self.transitions = self.add_weight(
            shape=(self.num_tags, self.num_tags), initializer=init, name="transitions"
        )
        self.start_transitions = self.add_weight(
            shape=(self.num_tags,), initializer=init, name="start_transitions"
        )
        self.end_transitions = self.add_weight(
            shape=(self.num_tags,), initializer=init, name="end_transitions"
        )

    def call(self, emissions):
        return emissions

    def compute_output_shape(self, input_shape):
        return input_shape

    def log_likelihood(self, emissions, tags, mask=None):
        return crf_log_likelihood(
            emissions, tags, mask, self.transitions, self.start_transitions, self.end_transitions
        )

    def decode(self, emissions, mask=None):
        return crf_decode(
            emissions, mask, self.transitions, self.start_transitions, self.end_transitions
        )

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags}
