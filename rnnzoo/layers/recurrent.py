"""The factories every model family builds its recurrences with: a whole-sequence layer or a per-step cell."""

import threading

import keras
from keras import ops

from rnnzoo.layers.vanilla_rnn import VanillaRNN, VanillaRNNCell

CELLS = ("vanilla", "gru", "lstm")
#: Cell name -> its per-step cell class and its whole-sequence layer class.
_CLASSES = {
    "vanilla": {"cell": VanillaRNNCell, "layer": VanillaRNN},
    "gru": {"cell": keras.layers.GRUCell, "layer": keras.layers.GRU},
    "lstm": {"cell": keras.layers.LSTMCell, "layer": keras.layers.LSTM},
}


def _build(cell, kind, units, activation, **kwargs):
    """`cell`'s `kind` (`"cell"` or `"layer"`) class, built; the one place a cell name is checked."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}.")
    if cell == "vanilla":  # gru/lstm keep Keras' own activations
        kwargs["activation"] = activation
    return _CLASSES[cell][kind](units, **kwargs)


def recurrent_layer(
    cell,
    units,
    *,
    return_sequences=False,
    return_state=False,
    bidirectional=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    activation="tanh",
    right_padded=False,
    name=None,
):
    """Build a `vanilla | gru | lstm` layer, optionally wrapped in `Bidirectional`.

    Args:
        cell: `"vanilla"` (our `VanillaRNN`), `"gru"` or `"lstm"`.
        units: hidden size (per direction).
        return_sequences, return_state: as in `keras.layers.RNN`.
        bidirectional: wrap in `keras.layers.Bidirectional` (concat merge).
        dropout, recurrent_dropout: per-sequence dropout masks.
        activation: the vanilla cell's f (ignored by gru/lstm).
        right_padded: with `bidirectional`, a
            `rnnzoo.layers.Bidirectional(right_padded=True)` (masks are
            prefixes; faster, padded outputs not zeroed).
        name: layer name.

    Returns:
        A Keras layer.
    """
    layer = _build(
        cell,
        "layer",
        units,
        activation,
        return_sequences=return_sequences,
        return_state=return_state,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
    )
    if bidirectional:
        if right_padded and not return_state:
            return Bidirectional(layer, right_padded=True, name=name)
        return keras.layers.Bidirectional(layer, name=name)
    if name is not None:
        layer.name = name
    return layer



def recurrent_cell(cell, units, *, activation="tanh", dropout=0.0, recurrent_dropout=0.0, name=None):
    """Build one step of a `vanilla | gru | lstm` recurrence, for decoders that run step by step.

    The cell holds the same weights, under the same names, as the layer that
    `recurrent_layer(cell, units)` builds (Keras' GRU and LSTM layers wrap
    these very cells), so weights copy across and one step of the cell is one
    step of the layer. `cell.get_initial_state(batch_size)` gives the zero
    state list for a batch: `[h]` for vanilla and gru, `[h, c]` for lstm.

    Args:
        cell: `"vanilla"` (`rnnzoo.layers.VanillaRNNCell`), `"gru"`
            (`keras.layers.GRUCell`) or `"lstm"` (`keras.layers.LSTMCell`).
        units: hidden size.
        activation: the vanilla cell's f (ignored by gru/lstm).
        dropout, recurrent_dropout: dropout of the inputs and of the state;
            a mask is drawn once and reused at every step until
            `cell.reset_dropout_mask()` / `cell.reset_recurrent_dropout_mask()`
            (what `keras.layers.RNN` does per sequence).
        name: layer name.

    Call arguments:
        inputs: `(batch, features)`, one time step.
        states: the state list, each `(batch, units)`.
        training: whether dropout is active.

    Returns:
        A Keras cell; calling it returns `(output, new_states)`, output `(batch, units)`.

    Example (a step function for `rnnzoo.generation.generate`):
    >>> import numpy as np, keras
    >>> from rnnzoo.generation import generate
    >>> embed, gru, project = keras.layers.Embedding(5, 3), recurrent_cell("gru", 4), keras.layers.Dense(5)
    >>> def step(ids, state):
    ...     output, state = gru(embed(ids), state)
    ...     return project(output), state
    >>> out = generate(step, gru.get_initial_state(2), np.array([1, 2]), max_length=3)
    >>> tuple(out["ids"].shape)
    (2, 3)
    """
    return _build(cell, "cell", units, activation, dropout=dropout, recurrent_dropout=recurrent_dropout, name=name)

#: Held while `Bidirectional` calls its sublayers with switched settings (one lock for all: calls
#: run Python only while tracing or eagerly, so contention is rare).
_SWITCHED_SETTINGS = threading.RLock()


@keras.saving.register_keras_serializable(package="rnnzoo")
class Bidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional`, plus a faster path for right-padded batches.

    With `right_padded=True` the mask becomes lengths. Keras' masked recurrence
    selects between the new and the previous state at every step; with right
    padding that is not needed: the forward layer runs unmasked (padding comes
    after each sequence's last token, so its outputs at real positions are
    exact), and the backward layer runs unmasked, reading forwards, over each
    sequence reversed within its length, so it reads the last token first,
    from its initial state; its outputs are gathered back to their positions. Same
    weights and same outputs at real positions as Keras' layer; outputs at
    padded positions are not zeroed (mask them downstream, as the tagger's CRF
    and loss do). Without `return_sequences` it returns both layers' outputs
    after each sequence's last real token, Keras' final states. The mask must
    be a prefix (true exactly for the first `length` steps). Without a mask,
    with initial or returned states or with another merge mode it is Keras'
    layer. The class
    keeps Keras' name so that `.keras` files address its weights the same way.

    Args:
        layer, merge_mode, backward_layer, ...: as in `keras.layers.Bidirectional`.
        right_padded: use the lengths path described above.

    Example:
    >>> import numpy as np, keras
    >>> layer = Bidirectional(keras.layers.LSTM(4, return_sequences=True), right_padded=True)
    >>> mask = np.array([[True, True, False]])
    >>> tuple(layer(np.ones((1, 3, 2), "float32"), mask=mask).shape)
    (1, 3, 8)
    """

    def __init__(self, layer, right_padded=False, **kwargs):
        super().__init__(layer, **kwargs)
        self.right_padded = right_padded

    def get_config(self):
        return {**super().get_config(), "right_padded": self.right_padded}

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if (
            not self.right_padded
            or mask is None
            or initial_state is not None
            or self.return_state
            or self.merge_mode != "concat"
            or self.forward_layer.go_backwards
        ):
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        kwargs = {"training": training} if self.forward_layer._call_has_training_arg else {}
        shape = ops.shape(sequences)
        time = shape[1]
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)[:, None]  # (batch, 1)
        steps = ops.arange(time, dtype="int32")[None, :]  # (1, time)

        rows = ops.arange(shape[0], dtype="int32")[:, None] * time

        def gather(x, index):  # x[b, index[b, t]] as one flat gather
            flat = ops.reshape(x, (-1, x.shape[-1]))
            return ops.reshape(ops.take(flat, ops.reshape(rows + index, (-1,)), axis=0), ops.shape(x))

        # Each sequence reversed within its length: step t holds token length-1-t (steps past the
        # length hold copies, read after the last real token, so they change no real output).
        reverse = ops.clip(lengths - 1 - steps, 0, time - 1)
        # Without return_sequences both layers still return sequences here: a final state is the
        # output at the last real step, which an unmasked run over padding would overwrite.
        # The backward layer reads the reversed copy from its start, as a forward pass: output t
        # follows tokens length-1 ... length-1-t, so it belongs to position length-1-t. Running it
        # forwards sidesteps `go_backwards`, whose output order differs between Keras' code paths
        # (Keras 3.15's cuDNN LSTM on JAX returns it in input order, its scan in reading order).
        # The sublayers' settings are switched for these two calls only; the lock keeps another
        # thread (e.g. a background trace) from calling them meanwhile.
        with _SWITCHED_SETTINGS:
            saved = (self.forward_layer.return_sequences, self.backward_layer.return_sequences,
                     self.backward_layer.go_backwards)
            self.forward_layer.return_sequences = self.backward_layer.return_sequences = True
            self.backward_layer.go_backwards = False
            try:
                forward = self.forward_layer(sequences, **kwargs)
                backward = self.backward_layer(gather(sequences, reverse), **kwargs)
            finally:
                (self.forward_layer.return_sequences, self.backward_layer.return_sequences,
                 self.backward_layer.go_backwards) = saved
        if self.return_sequences:
            backward = gather(backward, reverse)
        else:  # both layers' outputs after the last real token (zeros for an empty sequence, as Keras gives)
            last = ops.maximum(lengths - 1, 0)
            final = lambda x: ops.take_along_axis(x, last[:, :, None], axis=1)[:, 0] * ops.cast(  # noqa: E731
                lengths > 0, x.dtype
            )
            forward, backward = final(forward), final(backward)
        return ops.concatenate(
            [ops.cast(forward, self.compute_dtype), ops.cast(backward, self.compute_dtype)], axis=-1
        )
