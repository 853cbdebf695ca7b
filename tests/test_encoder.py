"""The shared text encoder (shipped artifacts load unchanged, backbone wiring) and the recurrence factories."""

import collections
import hashlib
import io
import os
import re
import warnings
import zipfile

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.layers import CELLS, RecurrentEncoder, recurrent_cell, recurrent_layer  # noqa: E402
from rnnzoo.models.classifier import ClassifierBackbone  # noqa: E402
from rnnzoo.models.tagger import TaggerBackbone  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Recorded from the backbones as they were before `RecurrentEncoder` (commit 3d63a13). A `.keras` file
# addresses the weights by each backbone layer's class and position (`layers/tagger_backbone/layers/
# bidirectional/...`), `weight.path` and `get_layer` by its name: both must stay as they were.
SHIPPED = {
    "bilstm_ner": {
        "backbone_layers": [
            ("token_ids", "InputLayer"), ("word_dropout", "WordDropout"), ("char_ids", "InputLayer"),
            ("word_embedding", "Embedding"), ("char_encoder", "CharEncoder"), ("features", "Concatenate"),
            ("embedding_dropout", "Dropout"), ("rnn_0", "Bidirectional"),
        ],
        "weight_paths": [
            "char_encoder/char_conv/bias",
            "char_encoder/char_conv/kernel",
            "char_encoder/char_embedding/embeddings",
            "crf/end_transitions",
            "crf/start_transitions",
            "crf/transitions",
            "emissions/bias",
            "emissions/kernel",
            "rnn_0/backward_lstm/lstm_cell/bias",
            "rnn_0/backward_lstm/lstm_cell/kernel",
            "rnn_0/backward_lstm/lstm_cell/recurrent_kernel",
            "rnn_0/forward_lstm/lstm_cell/bias",
            "rnn_0/forward_lstm/lstm_cell/kernel",
            "rnn_0/forward_lstm/lstm_cell/recurrent_kernel",
            "word_embedding/embeddings",
        ],
    },
    "bigru_sst2": {
        "backbone_layers": [
            ("token_ids", "InputLayer"), ("word_embedding", "Embedding"), ("embedding_dropout", "Dropout"),
            ("rnn_0", "Bidirectional"), ("pooling", "MaskedPooling"),
        ],
        "weight_paths": [
            "logits/bias",
            "logits/kernel",
            "rnn_0/backward_gru/gru_cell/bias",
            "rnn_0/backward_gru/gru_cell/kernel",
            "rnn_0/backward_gru/gru_cell/recurrent_kernel",
            "rnn_0/forward_gru/gru_cell/bias",
            "rnn_0/forward_gru/gru_cell/kernel",
            "rnn_0/forward_gru/gru_cell/recurrent_kernel",
            "word_embedding/embeddings",
        ],
    },
}

#: What Keras says when a saved variable and a model variable do not meet.
LOADING_TROUBLE = re.compile(r"skip|could not be loaded|not loaded|mismatch|expected \d+ variables|unused", re.I)


def _fingerprints(arrays):
    return collections.Counter(
        (tuple(a.shape), hashlib.sha1(np.ascontiguousarray(a, dtype="float32").tobytes()).hexdigest()) for a in arrays
    )


def _stored_arrays(name):
    h5py = pytest.importorskip("h5py")
    with zipfile.ZipFile(os.path.join(ROOT, "saved_models", name, "model.keras")) as archive:
        data = archive.read("model.weights.h5")
    arrays = []
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda _, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_artifacts_load_every_weight_under_the_same_names(name):
    # Keras numbers unnamed sublayers per process (`backward_gru_1` once another GRU exists): paths as
    # a fresh process writes them. (The weights file does not depend on these names.)
    keras.backend.clear_session()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = rnnzoo.load(name, compile=False)
    trouble = [str(w.message) for w in caught if LOADING_TROUBLE.search(str(w.message))]
    assert not trouble, trouble
    assert [(layer.name, type(layer).__name__) for layer in model.backbone.layers] == SHIPPED[name]["backbone_layers"]
    assert sorted(w.path for w in model.weights) == SHIPPED[name]["weight_paths"]
    # Every variable holds a stored array, and every stored array went to a variable.
    assert _fingerprints(np.asarray(w) for w in model.weights) == _fingerprints(_stored_arrays(name))


def _right_padded(lengths, time, high, rng):
    ids = rng.integers(2, high, size=(len(lengths), time)).astype("int32")
    ids[np.arange(time)[None, :] >= np.asarray(lengths)[:, None]] = 0
    return ids


def _by_hand(backbone, x, mask, num_layers):
    """The encoder's stack, layer by layer, from `x` (the features before `embedding_dropout`)."""
    for i in range(num_layers):
        x = backbone.get_layer(f"rnn_{i}")(x, mask=mask, training=False)
    return np.asarray(x)


def test_tagger_backbone_is_the_encoder_stack_on_word_and_char_features():
    keras.utils.set_random_seed(0)
    bb = TaggerBackbone(50, 20, embedding_dim=6, cell="gru", units=5, num_layers=2, char_units=4, max_chars=3,
                        word_dropout=0.1)
    rng = np.random.default_rng(0)
    ids = _right_padded([4, 2, 1], 4, 50, rng)
    chars = rng.integers(1, 20, size=(3, 4, 3)).astype("int32") * (ids[:, :, None] > 0)
    names = [layer.name for layer in bb.layers if layer.name.startswith(("embedding_dropout", "rnn_"))]
    assert names == ["embedding_dropout", "rnn_0", "rnn_0_dropout", "rnn_1"]
    assert bb.output_dim == 10
    features = np.concatenate(
        [bb.get_layer("word_embedding")(ids), bb.get_layer("char_encoder")(chars)], axis=-1
    )
    expected = _by_hand(bb, features, ids != 0, 2)
    np.testing.assert_array_equal(np.asarray(bb({"token_ids": ids, "char_ids": chars}, training=False)), expected)


@pytest.mark.parametrize("pooling", ["last", "max"])
def test_classifier_backbone_is_the_encoder_stack_then_pooling(pooling):
    keras.utils.set_random_seed(0)
    bb = ClassifierBackbone(50, embedding_dim=6, cell="vanilla", units=5, num_layers=2, pooling=pooling,
                            activation="relu")
    ids = _right_padded([5, 3, 1], 5, 50, np.random.default_rng(1))
    assert bb.get_layer("rnn_1").forward_layer.cell.activation is keras.activations.relu
    assert [bb.get_layer(f"rnn_{i}").return_sequences for i in range(2)] == [True, pooling != "last"]
    expected = _by_hand(bb, bb.get_layer("word_embedding")(ids), ids != 0, 2)
    if pooling != "last":
        expected = np.asarray(bb.get_layer("pooling")(expected, mask=ids != 0))
    np.testing.assert_array_equal(np.asarray(bb(ids, training=False)), expected)


def test_encoder_alone_masks_padding_and_reports_its_size():
    token_ids = keras.Input((None,), dtype="int32")
    encoder = RecurrentEncoder(30, embedding_dim=4, cell="lstm", units=3, bidirectional=False)
    model = keras.Model(token_ids, encoder(token_ids, return_sequences=False))
    ids = np.array([[4, 5, 0, 0]], "int32")
    # A right-padded text gives the vector of the text alone.
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(model(ids[:, :2])), rtol=1e-6, atol=1e-6)
    assert model.output_shape == (None, encoder.output_dim) == (None, 3)


@pytest.mark.parametrize("cell", CELLS)
def test_cell_steps_equal_the_layer(cell):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(2).normal(size=(3, 6, 4)).astype("float32")
    layer = recurrent_layer(cell, 5, return_sequences=True, activation="relu")
    expected = np.asarray(layer(x))
    step = recurrent_cell(cell, 5, activation="relu", name="decoder_cell")
    step.build((None, 4))
    assert step.name == "decoder_cell"
    assert [w.name for w in step.weights] == [w.name for w in layer.weights]
    step.set_weights(layer.get_weights())
    state = step.get_initial_state(3)
    assert len(state) == (2 if cell == "lstm" else 1)
    outputs = []
    for t in range(x.shape[1]):
        output, state = step(x[:, t], state)
        outputs.append(np.asarray(output))
    np.testing.assert_allclose(np.stack(outputs, axis=1), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "build",
    [
        lambda: recurrent_cell("transformer", 4),
        lambda: recurrent_layer("transformer", 4),
        lambda: ClassifierBackbone(10, cell="transformer"),
        lambda: TaggerBackbone(10, cell="transformer"),
    ],
)
def test_an_unknown_cell_names_the_choices(build):
    with pytest.raises(ValueError, match=r"unknown cell 'transformer'; choose one of vanilla, gru, lstm"):
        build()


def test_docstring_examples_run():
    import doctest

    import rnnzoo.layers.encoder
    import rnnzoo.layers.recurrent

    for module in (rnnzoo.layers.encoder, rnnzoo.layers.recurrent):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, (module.__name__, result)
