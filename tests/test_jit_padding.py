"""Training batches for a jitted step (JAX) come in a few padded shapes, and the padding changes no loss."""

import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


from conftest import TINY_SENTENCES  # noqa: E402
from test_classifier import LABELS, TEXTS, tiny_classifier  # noqa: E402

from rnnzoo.config import load_config  # noqa: E402
from rnnzoo.models.compiled import padded_shape, tf_pad_batch  # noqa: E402
from rnnzoo.models import get_family  # noqa: E402

tagger_family = get_family("tagger")


def test_tf_pad_batch_pads_rows_and_time_to_padded_shape():
    ids = tf.ones([3, 17], "int32")
    chars = tf.ones([3, 17, 5], "int32")
    labels = tf.ones([3], "int32")
    (padded_ids, padded_chars), padded_labels = tf_pad_batch(((ids, chars), labels), 8, ((1, 1), None))
    assert padded_ids.shape == (8, padded_shape(8, 17)[1]) == (8, 24)
    assert padded_chars.shape == (8, 24, 5)
    assert padded_labels.shape == (8,)
    # Zeros only where padding was added; the original block is untouched.
    assert int(tf.reduce_sum(padded_ids)) == 3 * 17 and int(tf.reduce_sum(padded_chars)) == 3 * 17 * 5
    assert tf_pad_batch(tf.ones([2, 300]), 4, 1).shape == (4, 320)  # coarse steps beyond 128
    # Only the declared time axes are padded: multi-hot labels (batch, num_labels) keep their width.
    multi_hot = tf_pad_batch((tf.ones([3, 17], "int32"), tf.ones([3, 5])), 4, (1, None))[1]
    assert multi_hot.shape == (4, 5)


def _loss(task, batch, **kwargs):
    x, y = batch[0], batch[1]
    return float(task.compute_loss(x=x, y=y, y_pred=task(x, training=False), **kwargs))


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_tagger_loss_ignores_padded_rows_and_steps(tiny_tagger_config, head):
    config = dict(tiny_tagger_config, architecture=dict(tiny_tagger_config["architecture"], head=head))
    sentences, tags = [s for s, _ in TINY_SENTENCES], [t for _, t in TINY_SENTENCES]
    task = tagger_family.build(load_config(config), {"train": (sentences, tags)})
    batch = next(iter(task.make_dataset(sentences, tags, batch_size=4)))
    padded = tf_pad_batch(batch, 16, task.preprocessor.time_axes())
    assert padded[0]["token_ids"].shape[0] == 16
    np.testing.assert_allclose(_loss(task, padded), _loss(task, batch), rtol=1e-5)


def test_classifier_loss_ignores_padded_rows_and_steps():
    clf = tiny_classifier()
    batch = next(iter(clf.make_dataset(TEXTS, LABELS, batch_size=4)))
    padded = tf_pad_batch(batch, 16, clf.preprocessor.time_axes())
    assert padded[0].shape[0] == 16
    np.testing.assert_allclose(_loss(clf, padded), _loss(clf, batch), rtol=1e-5)


JAX_SCRIPT = r"""
import keras
from conftest import TINY_SENTENCES
from test_classifier import LABELS, TEXTS, tiny_classifier
from rnnzoo.config import load_config
from rnnzoo.models import get_family
tagger_family = get_family("tagger")

clf = tiny_classifier()
texts = TEXTS + [" ".join(["good"] * n) for n in range(1, 12)]
labels = LABELS + ["positive"] * 11
shapes = set()
for _ in range(3):  # reshuffled epochs: tails and lengths differ, shapes do not
    for ids, y, w in clf.make_dataset(texts, labels, batch_size=4, training=True):
        shapes.add(tuple(ids.shape))
        assert int(w.numpy().sum()) == int((ids.numpy() != 0).any(axis=1).sum())
assert shapes <= {(4, 8), (4, 16)}, shapes
history = clf.fit(clf.make_dataset(texts, labels, batch_size=4, training=True), epochs=2, verbose=0)
print("classifier shapes", sorted(shapes), "loss", history.history["loss"])

sentences = [s for s, _ in TINY_SENTENCES] * 3
tags = [t for _, t in TINY_SENTENCES] * 3
config = load_config({"name": "t", "family": "tagger",
    "architecture": {"units": 8, "embedding_dim": 8, "char_embedding_dim": 4, "char_units": 4, "max_chars": 8},
    "data": {"reader": "conll"}})
tagger = tagger_family.build(config, {"train": (sentences, tags)})
tagger.compile(optimizer=keras.optimizers.Adam(0.01))
batches = list(tagger.make_dataset(sentences, tags, batch_size=8, training=True))
assert {tuple(b[0]["token_ids"].shape) for b in batches} == {(8, 8)}, [b[0]["token_ids"].shape for b in batches]
assert sum(int(b[2].numpy().sum()) for b in batches) == sum(len(s) for s in sentences)
history = tagger.fit(tagger.make_dataset(sentences, tags, batch_size=8, training=True), epochs=3, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
print("ok", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.skipif(__import__("importlib").util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_training_batches_come_in_few_shapes():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join([os.path.join(root, "tests"), root])
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, env=env, cwd=root,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "ok jax"
