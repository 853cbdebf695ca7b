"""`rnnzoo.layers.Bidirectional(right_padded=True)`: lengths instead of per-step masking, same results."""

import os
import subprocess
import sys

import numpy as np
import pytest

import keras

from rnnzoo.layers import Bidirectional, VanillaRNN


def _cell(kind, return_sequences=True):
    if kind == "vanilla":
        return VanillaRNN(6, return_sequences=return_sequences)
    return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind](6, return_sequences=return_sequences)


def _outputs_of_both(kind, lengths, return_sequences=True, seed=0):
    """Keras' masked `Bidirectional` and ours (same weights) on one right-padded batch: (x, mask, expected, got, both)."""
    keras.utils.set_random_seed(0)
    reference = keras.layers.Bidirectional(_cell(kind, return_sequences))
    fast = Bidirectional(_cell(kind, return_sequences), right_padded=True)
    x = np.random.default_rng(seed).random((len(lengths), 9, 4)).astype("float32")
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    reference(x, mask=mask)
    fast(x, mask=mask)
    fast.set_weights(reference.get_weights())
    expected = keras.ops.convert_to_numpy(reference(x, mask=mask))
    got = keras.ops.convert_to_numpy(fast(x, mask=mask))
    return x, mask, expected, got, (reference, fast)


@pytest.mark.parametrize("kind", ["lstm", "gru", "vanilla"])
def test_right_padded_path_matches_keras_bidirectional(kind):
    x, mask, expected, got, (reference, fast) = _outputs_of_both(kind, [9, 1, 4, 7, 2])
    assert got.shape == expected.shape == (5, 9, 12)
    np.testing.assert_allclose(got[mask], expected[mask], rtol=1e-5, atol=1e-6)
    # Without a mask it is Keras' layer.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fast(x)), keras.ops.convert_to_numpy(reference(x)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("kind", ["lstm", "gru", "vanilla"])
def test_right_padded_final_states_match_keras_bidirectional(kind):
    """Without return_sequences: each direction's state after the last real token, as Keras' masked layer gives."""
    _, _, expected, got, (_, fast) = _outputs_of_both(kind, [9, 1, 4, 7, 2, 0], return_sequences=False, seed=1)
    assert got.shape == expected.shape == (6, 12)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.any(got[5])  # an empty sequence: the initial (zero) states
    assert fast.forward_layer.return_sequences is False and fast.backward_layer.go_backwards is True


def test_concurrent_calls_do_not_see_each_others_switched_settings():
    """The right-padded path switches its sublayers' settings during a call; a second thread must wait.

    (Found as a flaky test: the tagger's background XLA trace and a graph trace on the main thread.)
    """
    import threading

    keras.utils.set_random_seed(0)
    fast = Bidirectional(keras.layers.LSTM(6, return_sequences=True), right_padded=True)
    x = np.random.default_rng(0).random((5, 9, 4)).astype("float32")
    mask = np.arange(9)[None, :] < np.array([9, 1, 4, 7, 2])[:, None]
    expected = keras.ops.convert_to_numpy(fast(x, mask=mask))
    inside, release, results = threading.Event(), threading.Event(), {}
    call = fast.forward_layer.call

    def paused_call(*args, **kwargs):  # the first call pauses while the settings are switched
        if not inside.is_set():
            inside.set()
            release.wait(10)
        return call(*args, **kwargs)

    fast.forward_layer.call = paused_call

    def run(name):
        results[name] = keras.ops.convert_to_numpy(fast(x, mask=mask))

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first call to restore the settings
    release.set()
    first.join(10)
    second.join(10)
    for name in ("first", "second"):
        np.testing.assert_allclose(results[name][mask], expected[mask], rtol=1e-6, atol=1e-6)
    assert fast.backward_layer.go_backwards is True and fast.forward_layer.return_sequences is True


def test_config_round_trip_and_weight_paths(tmp_path):
    inputs = keras.Input((None, 3))
    outputs = Bidirectional(keras.layers.LSTM(4, return_sequences=True), right_padded=True, name="rnn")(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("rnn")
    assert isinstance(layer, Bidirectional) and layer.right_padded
    x = np.random.default_rng(1).random((2, 5, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6, atol=1e-6
    )
    # The class keeps Keras' name, so a model saved with keras.layers.Bidirectional loads into it.
    plain = keras.Model(inputs, keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(inputs))
    plain.save(tmp_path / "plain.keras")
    model.load_weights(tmp_path / "plain.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(plain(x)), rtol=1e-6, atol=1e-6
    )


CUDNN_SCRIPT = r"""
import importlib
import numpy as np
import keras
from jax.experimental import rnn as jax_rnn
from rnnzoo.layers import Bidirectional

# Keras on JAX runs an unmasked LSTM through cuDNN (`jax.experimental.rnn.lstm`) when a GPU is present.
# Take that code path on CPU: report a GPU and answer the cuDNN call with JAX's reference LSTM.
calls = []
def reference_lstm(x, h_0, c_0, weights, seq_lengths, input_size, hidden_size, num_layers, dropout, bidirectional,
                   precision=None):
    calls.append(bidirectional)
    w_ih, w_hh, b_ih, b_hh = jax_rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers, bidirectional)
    return jax_rnn.lstm_ref(x, h_0, c_0, w_ih, w_hh, b_ih, b_hh, seq_lengths, input_size, hidden_size, num_layers,
                            dropout, bidirectional)

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).random((5, 9, 4)).astype("float32")
mask = np.arange(9)[None, :] < np.array([9, 1, 4, 7, 2])[:, None]
reference = keras.layers.Bidirectional(keras.layers.LSTM(6, return_sequences=True))
fast = Bidirectional(keras.layers.LSTM(6, return_sequences=True), right_padded=True)
reference(x, mask=mask)
fast(x, mask=mask)
fast.set_weights(reference.get_weights())
expected = keras.ops.convert_to_numpy(reference(x, mask=mask))  # masked: Keras' scan on every device
importlib.import_module("keras.src.backend.jax.rnn")._is_gpu_available = lambda: True
jax_rnn.lstm = reference_lstm
got = keras.ops.convert_to_numpy(fast(x, mask=mask))
assert calls == [False, False], calls  # both directions took the cuDNN path
np.testing.assert_allclose(got[mask], expected[mask], rtol=1e-5, atol=1e-6)

# Final states (no return_sequences) through the same cuDNN path.
reference = keras.layers.Bidirectional(keras.layers.LSTM(6))
fast = Bidirectional(keras.layers.LSTM(6), right_padded=True)
importlib.import_module("keras.src.backend.jax.rnn")._is_gpu_available = lambda: False
reference(x, mask=mask)
fast(x, mask=mask)
fast.set_weights(reference.get_weights())
expected = keras.ops.convert_to_numpy(reference(x, mask=mask))
importlib.import_module("keras.src.backend.jax.rnn")._is_gpu_available = lambda: True
calls.clear()
got = keras.ops.convert_to_numpy(fast(x, mask=mask))
assert calls == [False, False], calls
np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
print("ok", keras.backend.backend())
"""


@pytest.mark.skipif(__import__("importlib").util.find_spec("jax") is None, reason="jax is not installed")
def test_right_padded_path_on_the_jax_cudnn_lstm():
    # Keras 3.15's cuDNN LSTM on JAX returns a go_backwards layer's outputs in input order, its scan in reading
    # order; the right-padded path must give Keras' masked outputs on both (it gave wrong ones on an H200).
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-c", CUDNN_SCRIPT], capture_output=True, text=True, env=env, cwd=root,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "ok jax"
