"""The vanilla (Elman) recurrent cell and its sequence layer.

h_t = f(W_x x_t + W_h h_{t-1} + b)

The output projection of the classic formulation, y_t = g(W_y h_t + b_y), is a
`keras.layers.Dense` on top of the returned sequence (see the model families):
keeping it out of the cell lets the same cell feed a tagger head, a pooled
classifier head or a decoder's vocabulary projection.
"""

import numbers

import keras
from keras import activations, constraints, initializers, ops, regularizers

# Keras' RNN machinery (dropout-mask caching, the backend loop) is private API;
# these are the same pieces `keras.layers.SimpleRNN` is built from.
from keras.src import backend as _backend
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell


@keras.saving.register_keras_serializable(package="rnnzoo")
class VanillaRNNCell(keras.layers.Layer, DropoutRNNCell):
    """One step of a vanilla RNN: `h_t = f(W_x x_t + W_h h_{t-1} + b)`.

    Args:
        units: size of the hidden state h_t.
        activation: f; `"tanh"` (default), `"relu"`, `"sigmoid"`, any Keras
            activation, or `None` for linear.
        use_bias: whether to learn b.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers
            of W_x, W_h and b (Keras defaults: glorot_uniform, orthogonal, zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional
            regularizers of W_x, W_h, b.
        kernel_constraint, recurrent_constraint, bias_constraint: optional
            constraints of W_x, W_h, b.
        dropout: fraction of the inputs x_t dropped (one mask per sequence).
        recurrent_dropout: fraction of h_{t-1} dropped (one mask per sequence).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: `(batch, features)` for one time step.
        states: `[h_{t-1}]`, each `(batch, units)`.
        training: whether dropout is active.

    Returns:
        `(h_t, [h_t])`.

    Example:
    >>> import numpy as np, keras
    >>> from rnnzoo.layers import VanillaRNNCell
    >>> rnn = keras.layers.RNN(VanillaRNNCell(8), return_sequences=True)
    >>> rnn(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        # numbers.Integral also admits NumPy ints (e.g. units read from an array).
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(
                f"VanillaRNNCell: `units` must be a positive integer, got {units!r}."
            )
        units = int(units)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if (
                isinstance(rate, bool)
                or not isinstance(rate, numbers.Real)
                or not 0.0 <= float(rate) < 1.0
            ):
                raise ValueError(
                    f"VanillaRNNCell: `{name}` must be a number in [0, 1), got {rate!r}."
                )
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = _backend.random.SeedGenerator(seed)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                "VanillaRNNCell: the last (feature) dimension of the input must be "
                f"known, got shape {input_shape}."
            )
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = (
            self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.use_bias
            else None
        )

    def project_inputs(self, inputs, training=False):
        """W_x x + b for one step `(batch, features)` or all steps `(batch, time, features)`."""
        sequence = len(inputs.shape) == 3
        dp_mask = self.get_dropout_mask(inputs[:, 0, :] if sequence else inputs)
        if training and dp_mask is not None:
            if sequence:
                dp_mask = ops.expand_dims(dp_mask, 1)
            inputs = inputs * dp_mask
        if sequence:
            # One 2-D (batch*time, in) x (in, units) matmul: a 3-D x 2-D matmul is a
            # broadcast batch matmul on TensorFlow, whose kernel gradient is
            # `batch` small matmuls plus a reduction (noticeably slower on CPU).
            shape = ops.shape(inputs)
            flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
            projected = ops.matmul(flat, self.kernel)
            if self.bias is not None:
                projected = projected + self.bias
            return ops.reshape(projected, (shape[0], shape[1], self.units))
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        return projected

    def recur(self, projected, h_prev, training=False):
        """f(projected + W_h h_prev): the only work left inside the time loop."""
        rec_dp_mask = self.get_recurrent_dropout_mask(h_prev)
        if training and rec_dp_mask is not None:
            h_prev = h_prev * rec_dp_mask
        h = projected + ops.matmul(h_prev, self.recurrent_kernel)
        return self.activation(h) if self.activation is not None else h

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h = self.recur(self.project_inputs(inputs, training), h_prev, training)
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config


def _check_sequences(sequences, who):
    """Clear errors for inputs the backend would reject with an opaque message."""
    shape = tuple(sequences.shape)
    if len(shape) != 3:
        raise ValueError(
            f"{who} expects inputs of shape (batch, time, features), got shape {shape}."
        )
    if shape[-1] is None:
        raise ValueError(
            f"{who}: the feature dimension of the input must be known; got shape {shape}. "
            "Give the Input a feature size, e.g. keras.Input((None, 16))."
        )
    dtype = _backend.standardize_dtype(sequences.dtype)
    if not (dtype.startswith(("float", "bfloat", "int", "uint")) or dtype == "bool"):
        raise ValueError(
            f"{who} expects real-valued inputs (float, int or bool), got dtype {dtype!r}. "
            "Vectorize text first (a lookup layer and an Embedding)."
        )
    # Only the static length can be checked here; a symbolic length of 0
    # cannot be caught before the loop runs.
    if shape[1] == 0:
        raise ValueError(
            f"{who}: sequences need at least one time step, got shape {shape} "
            "(time dimension 0). Drop empty sequences or pad them to length >= 1."
        )


@keras.saving.register_keras_serializable(package="rnnzoo")
class VanillaRNN(keras.layers.RNN):
    """A vanilla RNN over a whole sequence: `keras.layers.RNN(VanillaRNNCell)` with input checks.

    Same contract as `keras.layers.SimpleRNN` (return_sequences, return_state,
    go_backwards, stateful, masking, `keras.layers.Bidirectional`), with the
    cell's arguments flattened into the layer's config and clear errors for
    inputs the backend would reject opaquely (wrong rank or dtype, unknown
    feature size, zero time steps). Backend-agnostic (`keras.ops`).

    Two loop bodies: by default W_x x_t + b is computed inside the loop, one step
    at a time. With `hoist_inputs=True` it is computed for all time steps in one
    (batch*time, in) x (in, units) matmul before the loop, so only W_h h_{t-1}
    stays inside. Measured on a 2-core CPU with TensorFlow, the hoisted loop costs
    ~20% more CPU per training step (the loop input then needs a gradient,
    accumulated step by step in a TensorArray) and is no faster on JAX's CPU
    (benchmarks/bench_vanilla_rnn.py, benchmarks/RESULTS.md), so it is opt-in: it
    is the layout that favours accelerators, where one large matmul beats `time`
    small ones.

    Args:
        units: size of the hidden state.
        return_sequences, return_state, go_backwards, stateful, unroll: as in
            `keras.layers.RNN`.
        hoist_inputs: project all time steps' inputs before the loop.
        **kwargs: every `VanillaRNNCell` argument (activation, dropout, ...),
            and the usual layer arguments (name, dtype, ...).

    Call arguments:
        sequences: `(batch, time, features)`.
        initial_state: optional `[h_0]`.
        mask: optional `(batch, time)` boolean; padded steps keep the state.
        training: whether dropout is active.

    Returns:
        `(batch, time, units)` if return_sequences else `(batch, units)`; with
        return_state also the final h.

    Example:
    >>> import numpy as np
    >>> from rnnzoo.layers import VanillaRNN
    >>> VanillaRNN(16)(np.zeros((4, 10, 3), "float32")).shape
    (4, 16)
    """

    _CELL_ARGS = (
        "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
        "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
        "bias_regularizer", "kernel_constraint", "recurrent_constraint",
        "bias_constraint", "dropout", "recurrent_dropout", "seed",
    )

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        hoist_inputs=False,
        **kwargs,
    ):
        self.hoist_inputs = bool(hoist_inputs)
        cell_kwargs = {k: kwargs.pop(k) for k in self._CELL_ARGS if k in kwargs}
        cell = VanillaRNNCell(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="vanilla_rnn_cell",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def call(self, sequences, initial_state=None, mask=None, training=False):
        _check_sequences(sequences, "VanillaRNN")
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if self.hoist_inputs:
            sequences = cell.project_inputs(sequences, training=training)  # (batch, time, units)

            def step(projected_t, states):
                h = cell.recur(projected_t, states[0], training=training)
                return h, [h]

        else:
            # Calling the two halves directly skips Layer.__call__ per step.
            def step(x_t, states):
                h = cell.recur(cell.project_inputs(x_t, training=training), states[0], training=training)
                return h, [h]

        return _backend.rnn(
            step,
            sequences,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        for key in self._CELL_ARGS:
            config[key] = cell_config[key]
        config["units"] = self.units
        config["hoist_inputs"] = self.hoist_inputs
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
