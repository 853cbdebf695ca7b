"""The vanilla RNN cell/layer contract: NumPy references, SimpleRNN parity, round trips, bad inputs.

Backend-agnostic tests run on whatever KERAS_BACKEND is set; `test_core_under_jax`
re-runs this file under JAX in a subprocess when JAX is installed (TF-only tests
skip themselves there).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from rnnzoo.layers import VanillaRNN, VanillaRNNCell

BACKEND = keras.backend.backend()
tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="uses tf.GradientTape / tf tensors")

B, T, D, H, O = 3, 6, 4, 5, 2


def _data(seed=0, batch=B, steps=T, features=D):
    rng = np.random.RandomState(seed)
    return rng.randn(batch, steps, features).astype("float32")


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


# --------------------------------------------------------------------------- NumPy references


def numpy_forward(x, kernel, recurrent_kernel, bias, activation=np.tanh, h0=None):
    """h_t = f(x_t W_x + h_{t-1} W_h + b) for every t; returns (batch, time, units)."""
    h = np.zeros((x.shape[0], kernel.shape[1])) if h0 is None else h0
    out = []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        out.append(h)
    return np.stack(out, axis=1)


def numpy_bptt(x, target, kernel, recurrent_kernel, bias, dense_kernel, dense_bias):
    """Hand-written BPTT for L = 1/2 sum_t ||y_t - target_t||^2, y_t = h_t W_y + b_y, tanh cell.

    Keras stores kernels as (in, out) and multiplies row vectors on the left, so
    W_y^T dL/dy_t of the column-vector formula is `dy_t @ dense_kernel.T` here.
    """
    h = numpy_forward(x, kernel, recurrent_kernel, bias)  # (B, T, H)
    y = h @ dense_kernel + dense_bias
    dy = y - target  # dL/dy_t
    batch, steps, units = h.shape
    grads = {
        "dense_kernel": np.einsum("bth,bto->ho", h, dy),
        "dense_bias": dy.sum(axis=(0, 1)),
        "kernel": np.zeros_like(kernel),
        "recurrent_kernel": np.zeros_like(recurrent_kernel),
        "bias": np.zeros_like(bias),
    }
    dh_next_pre = np.zeros((batch, units))  # dL/dh_{t+1} * (1 - h_{t+1}^2)
    dh = np.zeros_like(h)
    for t in reversed(range(steps)):
        # dL/dh_t = W_y^T dL/dy_t + W_h^T (dL/dh_{t+1} * (1 - h_{t+1}^2))
        dh[:, t] = dy[:, t] @ dense_kernel.T + dh_next_pre @ recurrent_kernel.T
        pre = dh[:, t] * (1.0 - h[:, t] ** 2)  # dL/da_t, a_t the pre-activation
        h_prev = h[:, t - 1] if t > 0 else np.zeros((batch, units))
        grads["recurrent_kernel"] += h_prev.T @ pre
        grads["kernel"] += x[:, t].T @ pre
        grads["bias"] += pre.sum(axis=0)
        dh_next_pre = pre
    return y, grads, dh


def _autodiff_grads(model, x, target):
    """Gradients of 1/2 sum (model(x) - target)^2 wrt `model.trainable_variables` (in order)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = 0.5 * ops.sum((model(x) - target) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss_fn(values):
            y, _ = model.stateless_call(values, non_trainable, x)
            return 0.5 * ops.sum((y - target) ** 2)

        grads = jax.grad(loss_fn)([v.value for v in model.trainable_variables])
    else:
        pytest.skip(f"no gradient helper for backend {BACKEND}")
    return [_numpy(g) for g in grads]


def _model_with_head(dtype="float32", activation="tanh"):
    inputs = keras.Input((T, D), dtype=dtype)
    h = VanillaRNN(H, return_sequences=True, activation=activation, dtype=dtype, name="rnn",
                   bias_initializer="random_normal")(inputs)
    y = keras.layers.Dense(O, dtype=dtype, name="head", bias_initializer="random_normal")(h)
    return keras.Model(inputs, y)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_forward_and_bptt_match_numpy_reference(dtype, tol):
    if dtype == "float64" and BACKEND == "jax":
        # Keras' JAX loop gets a float32 carry back for float64 layers (SimpleRNN
        # fails identically, with or without JAX_ENABLE_X64); float32 still runs.
        pytest.skip("float64 recurrent layers do not run on Keras' JAX backend")
    keras.utils.set_random_seed(0)
    model = _model_with_head(dtype)
    x = _data().astype(dtype)
    target = np.random.RandomState(1).randn(B, T, O).astype(dtype)
    kernel, recurrent_kernel, bias = [w.astype("float64") for w in model.get_layer("rnn").get_weights()]
    dense_kernel, dense_bias = [w.astype("float64") for w in model.get_layer("head").get_weights()]

    y_ref, grads_ref, dh = numpy_bptt(
        x.astype("float64"), target.astype("float64"), kernel, recurrent_kernel, bias,
        dense_kernel, dense_bias,
    )
    np.testing.assert_allclose(_numpy(model(x)), y_ref, rtol=tol, atol=tol)

    order = ["kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias"]
    assert [v.path.split("/")[-1] for v in model.trainable_variables] == [
        "kernel", "recurrent_kernel", "bias", "kernel", "bias"
    ]
    for name, g in zip(order, _autodiff_grads(model, x, target)):
        scale = max(1.0, np.abs(grads_ref[name]).max())
        np.testing.assert_allclose(g, grads_ref[name], rtol=tol, atol=tol * scale, err_msg=name)
    # The recursion carried gradient back through time: dL/dh_0 is more than
    # the first output's own contribution W_y^T dL/dy_0.
    assert not np.allclose(dh[:, 0], (y_ref - target)[:, 0] @ dense_kernel.T, atol=1e-3)


def test_relu_forward_matches_numpy():
    layer = VanillaRNN(H, activation="relu", return_sequences=True, bias_initializer="random_normal")
    x = _data(2)
    out = _numpy(layer(x))
    ref = numpy_forward(x.astype("float64"), *[w.astype("float64") for w in layer.get_weights()],
                        activation=lambda a: np.maximum(a, 0.0))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert (out >= 0).all() and (out == 0).any()


def test_cell_step_matches_numpy():
    cell = VanillaRNNCell(H, bias_initializer="random_normal")
    x_t = _data()[:, 0]
    h_prev = np.random.RandomState(3).randn(B, H).astype("float32")
    h, states = cell(x_t, [h_prev])
    kernel, recurrent_kernel, bias = cell.get_weights()
    ref = np.tanh(x_t @ kernel + h_prev @ recurrent_kernel + bias)
    np.testing.assert_allclose(_numpy(h), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_numpy(states[0]), ref, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- parity with SimpleRNN


def _copy_into(reference, ours, x):
    """Build both on x and copy ours' weights into the reference."""
    ours(x)
    reference(x)
    assert len(reference.get_weights()) == len(ours.get_weights())
    reference.set_weights(ours.get_weights())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(return_sequences=True),
        dict(return_state=True),
        dict(return_sequences=True, return_state=True, go_backwards=True),
        dict(go_backwards=True),
        dict(activation="relu", return_sequences=True),
    ],
    ids=["last", "sequences", "state", "seq_state_backwards", "backwards", "relu"],
)
@pytest.mark.parametrize("hoist_inputs", [False, True], ids=["in_loop", "hoisted"])
def test_equals_simple_rnn(kwargs, hoist_inputs):
    x = _data(4)
    ours = VanillaRNN(H, bias_initializer="random_normal", hoist_inputs=hoist_inputs, **kwargs)
    ref = keras.layers.SimpleRNN(H, **kwargs)
    _copy_into(ref, ours, x)
    for a, b in zip(keras.tree.flatten(ours(x)), keras.tree.flatten(ref(x))):
        np.testing.assert_allclose(_numpy(a), _numpy(b), atol=1e-5)


def test_bidirectional_equals_simple_rnn():
    x = _data(5)
    ours = keras.layers.Bidirectional(VanillaRNN(H, return_sequences=True, bias_initializer="random_normal"))
    ref = keras.layers.Bidirectional(keras.layers.SimpleRNN(H, return_sequences=True))
    _copy_into(ref, ours, x)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(ref(x)), atol=1e-5)
    # The two directions really differ (the backward layer was rebuilt with go_backwards).
    assert ours.backward_layer.go_backwards and not ours.forward_layer.go_backwards


def test_stacked_equals_simple_rnn():
    x = _data(6)
    ours = keras.Sequential([VanillaRNN(H, return_sequences=True), VanillaRNN(3)])
    ref = keras.Sequential([keras.layers.SimpleRNN(H, return_sequences=True), keras.layers.SimpleRNN(3)])
    _copy_into(ref, ours, x)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(ref(x)), atol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_generic_rnn_with_cell_equals_simple_rnn(go_backwards):
    x = _data(7)
    ours = keras.layers.RNN(VanillaRNNCell(H, bias_initializer="random_normal"),
                            return_sequences=True, go_backwards=go_backwards)
    ref = keras.layers.SimpleRNN(H, return_sequences=True, go_backwards=go_backwards)
    _copy_into(ref, ours, x)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(ref(x)), atol=1e-5)
    stacked = keras.layers.RNN([VanillaRNNCell(H), VanillaRNNCell(2)])
    assert tuple(stacked(x).shape) == (B, 2)


# --------------------------------------------------------------------------- serialization


def test_save_load_round_trip(tmp_path):
    inputs = keras.Input((None, D))
    h = VanillaRNN(H, return_sequences=True, activation="relu", dropout=0.1, name="rnn")(inputs)
    outputs = keras.layers.Dense(O)(VanillaRNN(3, go_backwards=True)(h))
    model = keras.Model(inputs, outputs)
    x = _data(8)
    path = str(tmp_path / "vanilla.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)
    rnn = loaded.get_layer("rnn")
    assert isinstance(rnn, VanillaRNN)
    assert rnn.units == H and rnn.cell.dropout == 0.1 and rnn.return_sequences
    assert keras.activations.serialize(rnn.cell.activation) == "relu"


def test_bidirectional_generic_rnn_round_trip(tmp_path):
    inputs = keras.Input((None, D))
    h = keras.layers.Bidirectional(
        keras.layers.RNN(VanillaRNNCell(H, bias_initializer="random_normal"), return_sequences=True)
    )(inputs)
    model = keras.Model(inputs, h)
    x = _data(9)
    path = str(tmp_path / "bi_cell.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)
    assert isinstance(loaded.layers[-1].forward_layer.cell, VanillaRNNCell)


def test_get_config_from_config():
    layer = VanillaRNN(7, activation="sigmoid", use_bias=False, dropout=0.2, recurrent_dropout=0.3,
                       return_sequences=True, go_backwards=True, seed=3, name="v")
    config = layer.get_config()
    assert config["units"] == 7 and config["activation"] == "sigmoid" and config["use_bias"] is False
    assert "cell" not in config
    clone = VanillaRNN.from_config(config)
    assert clone.get_config() == config
    cell = VanillaRNNCell(4, activation="relu", recurrent_initializer="identity")
    cell_clone = VanillaRNNCell.from_config(cell.get_config())
    assert cell_clone.get_config() == cell.get_config()


# --------------------------------------------------------------------------- masking, dropout, state


def _padded(x, lengths):
    padded = np.zeros_like(x)
    for i, n in enumerate(lengths):
        padded[i, :n] = x[i, :n]
    return padded


def test_masked_padding_gives_unpadded_final_state():
    x = _data(10, batch=3, steps=7)
    lengths = [7, 4, 1]
    padded = _padded(x, lengths)
    layer = VanillaRNN(H, return_state=True, bias_initializer="random_normal")
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    mask = np.arange(7)[None, :] < np.array(lengths)[:, None]
    via_masking = _numpy(model(padded)[1])
    via_argument = _numpy(layer(padded, mask=mask)[1])
    for i, n in enumerate(lengths):
        alone = _numpy(layer(x[i:i + 1, :n])[1])[0]
        np.testing.assert_allclose(via_masking[i], alone, atol=1e-5)
        np.testing.assert_allclose(via_argument[i], alone, atol=1e-5)
    # Without the mask the padding changes the state (so the test can fail).
    assert not np.allclose(_numpy(layer(padded)[1])[2], via_argument[2], atol=1e-3)


def test_masked_bidirectional_matches_unpadded():
    x = _data(11, batch=2, steps=5)
    lengths = [5, 3]
    padded = _padded(x, lengths)
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    layer = keras.layers.Bidirectional(VanillaRNN(H))
    out = _numpy(layer(padded, mask=mask))
    np.testing.assert_allclose(out[1], _numpy(layer(x[1:, :3]))[0], atol=1e-5)


def test_dropout_only_in_training():
    x = _data(12)
    plain = VanillaRNN(H)
    for kwargs in (dict(dropout=0.5), dict(recurrent_dropout=0.5)):
        layer = VanillaRNN(H, seed=1, **kwargs)
        _copy_into(layer, plain, x)
        inference = _numpy(layer(x, training=False))
        np.testing.assert_allclose(inference, _numpy(plain(x)), atol=1e-6)
        np.testing.assert_allclose(_numpy(layer(x)), inference, atol=1e-6)  # default: inference
        first, second = _numpy(layer(x, training=True)), _numpy(layer(x, training=True))
        assert not np.allclose(first, inference, atol=1e-4), kwargs
        assert not np.allclose(first, second, atol=1e-4), kwargs


def test_stateful_carries_state_across_calls():
    x = _data(13, steps=8)
    stateful = VanillaRNN(H, stateful=True, bias_initializer="random_normal")
    whole = VanillaRNN(H)
    stateful(x[:, :4])
    whole(x)
    whole.set_weights(stateful.get_weights())
    stateful.reset_state()
    first = _numpy(stateful(x[:, :4]))
    second = _numpy(stateful(x[:, 4:]))
    np.testing.assert_allclose(first, _numpy(whole(x[:, :4])), atol=1e-5)
    np.testing.assert_allclose(second, _numpy(whole(x)), atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(_numpy(stateful(x[:, 4:])), _numpy(whole(x[:, 4:])), atol=1e-5)


def test_initial_state_is_used():
    x = _data(14)
    h0 = np.random.RandomState(5).randn(B, H).astype("float32")
    layer = VanillaRNN(H, return_sequences=True)
    out = _numpy(layer(x, initial_state=[h0]))
    ref = numpy_forward(x.astype("float64"), *[w.astype("float64") for w in layer.get_weights()], h0=h0)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- bad inputs


def test_rejects_two_dimensional_input():
    with pytest.raises(ValueError, match="ndim=3"):
        VanillaRNN(H)(np.zeros((B, D), "float32"))


def test_rejects_unknown_feature_dimension():
    with pytest.raises(ValueError, match="feature"):
        VanillaRNN(H)(keras.Input((None, None)))


def test_rejects_zero_length_sequences():
    with pytest.raises(ValueError, match="at least one time step"):
        VanillaRNN(H)(np.zeros((B, 0, D), "float32"))


@tf_only
def test_rejects_string_input():
    import tensorflow as tf

    with pytest.raises(ValueError, match="real-valued inputs"):
        VanillaRNN(H)(tf.constant([[["a", "b"]]]))


def test_empty_batch_gives_empty_output():
    layer = VanillaRNN(H, return_sequences=True)
    out = layer(np.zeros((0, T, D), "float32"))
    assert tuple(out.shape) == (0, T, H)


def test_int_and_bool_inputs_are_cast():
    layer = VanillaRNN(H)
    x = np.random.RandomState(0).randint(0, 3, (B, T, D))
    np.testing.assert_allclose(_numpy(layer(x.astype("int32"))), _numpy(layer(x.astype("float32"))), atol=1e-6)
    assert tuple(layer((x > 0)).shape) == (B, H)


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True, None])
def test_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        VanillaRNN(units)
    with pytest.raises(ValueError, match="units"):
        VanillaRNNCell(units)


@pytest.mark.parametrize("name", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("rate", [1.0, -0.1, None, "half"])
def test_rejects_bad_dropout(name, rate):
    with pytest.raises(ValueError, match=name):
        VanillaRNN(H, **{name: rate})


def test_numpy_integer_units_accepted():
    assert VanillaRNN(np.int64(4)).units == 4


# --------------------------------------------------------------------------- other backends


# The backend-sensitive core: references, SimpleRNN parity, masking, state, saving, bad shapes.
JAX_CORE = (
    "numpy or equals_simple_rnn or masked or dropout or stateful or round_trip "
    "or zero_length or empty_batch or two_dimensional"
)


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "tensorflow", reason="runs from the default (TensorFlow) suite only")
def test_core_under_jax():
    pytest.importorskip("jax", reason="jax is not installed; the JAX run is optional")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__, "-k", JAX_CORE],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_hoisted_masked_dropout_and_round_trip():
    """The hoisted loop keeps masking, training-only dropout and its config flag."""
    x = _data(3)
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], bool)[:, : x.shape[1]]
    layer = VanillaRNN(H, hoist_inputs=True, dropout=0.5)
    plain = VanillaRNN(H, hoist_inputs=False, dropout=0.5)
    layer(x)
    plain(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(_numpy(layer(x, mask=mask)), _numpy(plain(x, mask=mask)), atol=1e-5)
    assert not np.allclose(_numpy(layer(x, training=True)), _numpy(layer(x)))
    clone = VanillaRNN.from_config(layer.get_config())
    assert clone.hoist_inputs is True
