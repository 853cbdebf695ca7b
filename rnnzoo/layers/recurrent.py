"""One factory for the recurrent layer every model family uses."""

import keras

from rnnzoo.layers.vanilla_rnn import VanillaRNN

CELLS = ("vanilla", "gru", "lstm")


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
        name: layer name.

    Returns:
        A Keras layer.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}.")
    kwargs = dict(
        return_sequences=return_sequences,
        return_state=return_state,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
    )
    if cell == "vanilla":
        layer = VanillaRNN(units, activation=activation, **kwargs)
    elif cell == "gru":
        layer = keras.layers.GRU(units, **kwargs)
    else:
        layer = keras.layers.LSTM(units, **kwargs)
    if bidirectional:
        return keras.layers.Bidirectional(layer, name=name)
    if name is not None:
        layer.name = name
    return layer
