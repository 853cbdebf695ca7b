"""The recurrence factories: one step of `recurrent_cell` is one step of `recurrent_layer`; one cell-name check."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from rnnzoo.layers import CELLS, recurrent_cell, recurrent_layer  # noqa: E402
from rnnzoo.models.classifier import ClassifierBackbone  # noqa: E402
from rnnzoo.models.tagger import TaggerBackbone  # noqa: E402


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

    import rnnzoo.layers.recurrent

    for module in (rnnzoo.layers.recurrent,):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, (module.__name__, result)
