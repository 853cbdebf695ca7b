"""The family protocol end to end: a family defined outside rnnzoo (tests/fixtures/toy_family.py) registers
itself, and rnnzoo's config validation, training, artifacts, loading, scoring, CLI printing and export serve
it with no rnnzoo file edited."""

import importlib
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import rnnzoo  # noqa: E402
from rnnzoo.config import load_config  # noqa: E402
from rnnzoo.models import families, family_of, get_family, registry  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture
def toy():
    sys.path.insert(0, FIXTURES)
    try:
        yield importlib.import_module("toy_family")
    finally:
        sys.path.remove(FIXTURES)
        registry._REGISTRY.pop("toy", None)  # other tests see the package's families only
        sys.modules.pop("toy_family", None)


def toy_config(**architecture):
    return load_config({
        "name": "toy_model", "family": "toy", "architecture": {"units": 4, **architecture},
        "data": {"train": "builtin"}, "training": {"epochs": 2, "batch_size": 4, "learning_rate": 0.01},
    })


def test_the_package_families_find_themselves():
    assert {"tagger", "classifier"} <= set(families())
    for name, family in families().items():
        assert family.name == name and family.task_class().__name__ in family.task
        assert family.primary_metric[1] in ("max", "min") and family.sample_size > 0


def test_an_outside_family_is_trained_saved_loaded_scored_and_exported(toy, tmp_path):
    assert get_family("toy").architecture is toy.ToyArchitecture
    with pytest.raises(ValueError, match=r"'architecture\.head' must be one of \['softmax'\] for family 'toy'"):
        toy_config(head="crf")
    with pytest.raises(ValueError, match=r"unknown config key 'architecture\.pooling'.*for family 'toy'"):
        toy_config(pooling="max")

    model = rnnzoo.train(toy_config(), output_dir=str(tmp_path / "toy"), verbose=0)
    assert set(model.history.history) >= {"loss", "val_accuracy"}  # the family's primary metric, validated
    assert sorted(os.listdir(tmp_path / "toy" / "vocabularies")) == ["labels.txt", "words.txt"]

    loaded = rnnzoo.load(str(tmp_path / "toy"))
    assert type(loaded) is toy.ToyTask and family_of(loaded).name == "toy"
    assert loaded.predict(toy.TEXTS) == model.predict(toy.TEXTS)
    assert 0 <= get_family("toy").evaluate(loaded, get_family("toy").load_data(loaded.zoo_config))["accuracy"] <= 100
    assert get_family("toy").format_prediction({"label": "long", "score": 0.9}) == '{"label": "long", "score": 0.9}'
    # fit and evaluate take raw texts through the one Task.make_dataset.
    loaded.fit(toy.TEXTS, ["short"] * len(toy.TEXTS), epochs=1, verbose=0)

    import tensorflow as tf

    path = model.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(toy.TEXTS))
    assert [v.decode() for v in served["label"].numpy()] == [r["label"] for r in model.predict(toy.TEXTS)]


def test_make_dataset_pads_on_the_declared_time_axes_only(toy):
    task = get_family("toy").build(toy_config(), get_family("toy").load_data(None))
    ids, labels = next(iter(task.make_dataset(toy.TEXTS, ["short"] * len(toy.TEXTS), batch_size=4)))
    assert ids.shape == (4, 4) and labels.shape == (4,)  # in order (evaluation): the first four texts
    lengths = sorted(int(np.count_nonzero(b[0].numpy()[0])) for b in task.make_dataset(
        toy.TEXTS, ["short"] * len(toy.TEXTS), batch_size=1, training=True))
    assert lengths == sorted(len(t.split()) for t in toy.TEXTS)  # shuffled and bucketed, every text once


def test_image_inputs_keep_their_axes_and_count_as_raw(toy):
    """What an image family (#14) needs from the shared helpers: no time axis on images, uint8 pixels as raw."""
    import tensorflow as tf

    from rnnzoo.models.compiled import _batch_and_time, pad_inputs, padded_shape, tf_pad_batch

    axes = {"image": None, "token_ids": 1}
    inputs = {"image": np.ones((3, 4, 4, 3), "uint8"), "token_ids": np.ones((3, 5), "int32")}
    shape = padded_shape(*_batch_and_time(inputs, axes))
    padded = pad_inputs(inputs, shape, axes)
    assert shape == (4, 8) and padded["image"].shape == (4, 4, 4, 3) and padded["token_ids"].shape == (4, 8)
    assert _batch_and_time({"image": inputs["image"]}, {"image": None}) == (3, 0)  # images alone: rows only
    batch = tf_pad_batch((tf.ones([3, 4, 4, 3]), tf.ones([3, 5], "int32")), 8, (None, 1))
    assert [tuple(t.shape) for t in batch] == [(8, 4, 4, 3), (8, 8)]

    task = get_family("toy").build(toy_config(), get_family("toy").load_data(None))
    pixels = np.zeros((2, 4, 4, 3), "uint8")
    assert not task._is_raw(pixels) and task._is_raw(np.array(["a b"]))
    task.raw_dtype_kinds = "OUSu"  # what an image task declares
    assert task._is_raw(pixels) and task._is_raw(tf.data.Dataset.from_tensor_slices(pixels))
    assert not task._is_raw(np.zeros((2, 3), "int32"))  # token ids stay vectorized inputs
