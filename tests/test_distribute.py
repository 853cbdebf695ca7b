"""Strategy selection, MirroredStrategy over two logical CPUs for every family, and the TPU code path."""

import json

import numpy as np
import pytest
import yaml

from distributed_helpers import env_for, family_available, tiny_classifier_config, tiny_tagger_config


def test_unknown_strategy_is_a_clear_error():
    from rnnzoo.training.distribute import resolve_strategy

    with pytest.raises(ValueError, match="unknown strategy 'mirorred'.*auto, one_device, mirrored"):
        resolve_strategy("mirorred")


def test_auto_picks_multi_worker_when_tf_config_has_several_workers(monkeypatch):
    import tensorflow as tf

    from rnnzoo.training import distribute

    made = []
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", lambda **kw: made.append(kw) or _Fake(4))
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    strategy, kind = distribute.resolve_strategy("auto", verbose=False)
    assert kind == "multi_worker" and made and strategy.num_replicas_in_sync == 4
    assert distribute.is_chief() is False and distribute.worker_id() == ("worker", 1)
    monkeypatch.delenv("TF_CONFIG")
    _, kind = distribute.resolve_strategy("auto", verbose=False)
    assert kind == "default" and distribute.is_chief()


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    from rnnzoo.training.distribute import resolve_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        resolve_strategy("multi_worker")


class _Fake:
    def __init__(self, replicas):
        self.num_replicas_in_sync = replicas


class _ConnectionBoundary:
    """Stands in for the TPU cluster: records what rnnzoo asks of it, returns a working strategy."""

    def __init__(self, monkeypatch):
        import tensorflow as tf

        self.calls = []
        boundary = self

        class Resolver:
            def __init__(self, tpu=None):
                boundary.calls.append(("resolver", tpu))

        monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
        monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: self.calls.append(("connect",)))
        monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: self.calls.append(("initialize",)))
        class TPUStrategy:  # a class, since Keras checks isinstance(strategy, tf.distribute.TPUStrategy)
            def __new__(cls, resolver):
                boundary.calls.append(("strategy",))
                return tf.distribute.get_strategy()

        monkeypatch.setattr(tf.distribute, "TPUStrategy", TPUStrategy)


def test_tpu_path_connects_initialises_and_builds_a_tpu_strategy(monkeypatch):
    from rnnzoo.training.distribute import resolve_strategy

    boundary = _ConnectionBoundary(monkeypatch)
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    _, kind = resolve_strategy("auto", verbose=False)
    assert kind == "tpu"
    assert boundary.calls == [("resolver", "my-tpu"), ("connect",), ("initialize",), ("strategy",)]
    boundary.calls.clear()
    monkeypatch.delenv("TPU_NAME")
    resolve_strategy("tpu", verbose=False)  # a Cloud TPU VM: the TPU is local, no remote connection
    assert boundary.calls == [("resolver", "local"), ("initialize",), ("strategy",)]


def test_static_batches_pads_to_fixed_shapes_and_drops_partial_batches():
    import tensorflow as tf

    from rnnzoo.training.distribute import static_batches

    def gen():
        for n, t in ((4, 3), (4, 9), (2, 5)):
            yield {"token_ids": np.ones((n, t), "int32"), "char_ids": np.ones((n, t, 2), "int32")}, np.ones((n, t), "int32"), np.ones((n,), "float32")

    spec = ({"token_ids": tf.TensorSpec([None, None], tf.int32), "char_ids": tf.TensorSpec([None, None, 2], tf.int32)},
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.float32))
    dataset = static_batches(tf.data.Dataset.from_generator(gen, output_signature=spec), 4, 6)
    x, y, w = dataset.element_spec
    assert x["token_ids"].shape == (4, 6) and x["char_ids"].shape == (4, 6, 2) and y.shape == (4, 6) and w.shape == (4,)
    batches = list(dataset)
    assert len(batches) == 2
    np.testing.assert_array_equal(batches[0][1].numpy().sum(axis=1), [3, 3, 3, 3])  # padded with zeros
    np.testing.assert_array_equal(batches[1][1].numpy().sum(axis=1), [6, 6, 6, 6])  # cut at max_length
    # With the preprocessor's time axes: a multi-hot label (batch, num_labels) or an image keeps its axes.
    images = tf.data.Dataset.from_tensor_slices((np.ones((8, 5, 3), "int32"), np.ones((8, 7), "int32"),
                                                 np.ones((8, 11), "float32"))).batch(4)
    axes = static_batches(images, 4, 6, (None, 1, None)).element_spec
    assert [tuple(t.shape) for t in axes] == [(4, 5, 3), (4, 6), (4, 11)]


@pytest.mark.slow
def test_train_on_the_tpu_path_uses_static_shapes_and_steps_per_execution(monkeypatch, tmp_path):
    import keras

    from rnnzoo.training.trainer import train

    boundary = _ConnectionBoundary(monkeypatch)
    shapes = []

    class Shapes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            shapes.append(self.model.steps_per_execution)

    config = tiny_tagger_config(tmp_path, train_sentences=32, batch_size=8, epochs=1)
    config["data"]["max_length"] = 8
    task = train(config, strategy="tpu", tpu="grpc://10.0.0.2:8470", verbose=0, callbacks=[Shapes()],
                 overrides={"training.steps_per_execution": 2})
    assert ("connect",) in boundary.calls and shapes == [2]
    assert len(task.history.history["loss"]) == 1


def _mirrored_vs_single(tmp_path, config, loop):
    """Train with MirroredStrategy over 2 logical CPUs (subprocess) and on one device with the same global batch."""
    from distributed_helpers import run_workers, worker_command
    from rnnzoo.training.trainer import train

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = tmp_path / "mirrored.npz"
    [(code, output)] = run_workers(
        [(worker_command(path, "--strategy", "mirrored", "--quiet", "--result", str(result),
                         "--set", f"training.loop={loop}"), env_for(logical_cpus=2))],
        timeout=300,
    )
    assert code == 0, output[-3000:]
    assert "2 replica(s)" in output
    mirrored = np.load(result)
    single = train(config, strategy="one_device", loop=loop, verbose=0,
                   overrides={"training.batch_size": 2 * config["training"]["batch_size"]})
    keys = sorted((k for k in mirrored.files if k.startswith("w")), key=lambda k: int(k[1:]))
    for weights, key in zip(single.get_weights(), keys):
        # Float reduction order differs across replicas and TF builds (seen up to 7e-5).
        np.testing.assert_allclose(weights, mirrored[key], atol=1e-4)
    losses = json.loads(str(mirrored["history"]))["loss"]
    np.testing.assert_allclose(losses, single.history.history["loss"], rtol=1e-4)
    assert losses[-1] < losses[0]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["tagger", "classifier"])
def test_mirrored_over_two_logical_cpus_matches_one_device_on_the_global_batch(family, tmp_path):
    if not family_available(family):
        pytest.skip(f"the {family} family module is not in this checkout")
    make = tiny_tagger_config if family == "tagger" else tiny_classifier_config
    _mirrored_vs_single(tmp_path, make(tmp_path / "data", batch_size=8, epochs=2), loop="fit")


@pytest.mark.slow
def test_custom_loop_under_mirrored_matches_one_device(tmp_path):
    _mirrored_vs_single(tmp_path, tiny_tagger_config(tmp_path / "data", train_sentences=32, epochs=2), loop="custom")
