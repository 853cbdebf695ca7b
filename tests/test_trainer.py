"""The one training entry point: run files, observability, errors, batch scaling."""

import glob
import os

import pytest

from distributed_helpers import tiny_tagger_config


@pytest.mark.slow
def test_run_dir_gets_params_distribution_info_tensorboard_and_checkpoints(tmp_path):
    import numpy as np
    import tensorflow as tf

    from rnnzoo.config import load_config
    from rnnzoo.training.trainer import train

    config = tiny_tagger_config(tmp_path / "data", train_sentences=16, epochs=1)
    run = tmp_path / "run"
    task = train(config, run_dir=str(run), verbose=0)
    assert load_config(str(run / "params.yaml")).architecture.units == 8
    assert (run / "distribution.json").exists()
    assert glob.glob(str(run / "backup" / "ckpt-*.index"))
    tags = set()
    for event_file in glob.glob(str(run / "tensorboard" / "events.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            tags |= {v.tag for v in event.summary.value}
    assert {"loss", "learning_rate", "grad_norm/global"} <= tags
    assert any(t.startswith("grad_norm/") and "rnn_0" in t for t in tags)  # per layer
    assert np.isfinite(task.history.history["grad_norm"][0])


def test_gradient_norms_are_per_variable_and_consistent_with_the_global_norm(tmp_path):
    import numpy as np
    import tensorflow as tf

    from rnnzoo.models import get_family
    from rnnzoo.training.callbacks import GradientNormLogger
    from rnnzoo.zoo import resolve_config

    config = resolve_config(tiny_tagger_config(tmp_path / "data", train_sentences=16))
    family = get_family("tagger")
    data = family.load_data(config)
    task = family.build(config, data)
    batch = next(iter(family.train_dataset(task, data, config).take(1)))
    logger = GradientNormLogger(batch)
    logger.set_model(task)
    norms = logger.gradient_norms()
    assert len(norms) == len(task.trainable_variables) + 1
    np.testing.assert_allclose(norms["global"], np.sqrt(sum(v * v for k, v in norms.items() if k != "global")))
    assert all(v >= 0 for v in norms.values()) and tf.is_tensor(batch[1])


def test_bad_loop_and_fit_under_multi_worker_are_clear_errors(tmp_path, monkeypatch):
    from rnnzoo.training import distribute
    from rnnzoo.training.trainer import train

    config = tiny_tagger_config(tmp_path / "data", train_sentences=16)
    with pytest.raises(ValueError, match="training.loop"):
        train(config, overrides={"training.loop": "fits"})
    monkeypatch.setattr(distribute, "resolve_strategy", lambda *a, **k: (_default(), "multi_worker"))
    with pytest.raises(ValueError, match="#20585"):
        train(config, loop="fit", verbose=0)


def _default():
    import tensorflow as tf

    return tf.distribute.get_strategy()


def test_learning_rate_scaling_rule():
    from rnnzoo.config import TrainingConfig
    from rnnzoo.training.optimizers import make_optimizer

    optimizer = make_optimizer(TrainingConfig(learning_rate=0.01, clipnorm=1.0), learning_rate_scale=4.0)
    assert abs(float(optimizer.learning_rate) - 0.04) < 1e-7 and optimizer.clipnorm == 1.0


@pytest.mark.slow
def test_fit_and_custom_loop_agree_on_one_device(tmp_path):
    """The custom loop is a faithful replacement for model.fit (same first-epoch loss scale, both train)."""
    from rnnzoo.training.trainer import train

    config = tiny_tagger_config(tmp_path / "data", train_sentences=16, epochs=2)
    fit = train(config, loop="fit", verbose=0).history.history["loss"]
    custom = train(config, loop="custom", verbose=0).history.history["loss"]
    assert fit[1] < fit[0] and custom[1] < custom[0]
    assert abs(fit[0] - custom[0]) / fit[0] < 0.2  # different shuffles, same loss
    assert os.environ.get("TF_CONFIG") is None


@pytest.mark.slow
def test_custom_loop_runs_the_same_validation_and_early_stopping_callbacks(tmp_path):
    """The multi-worker loop reports the family's validation score and honours early stopping like fit."""
    from rnnzoo.training.trainer import train

    config = tiny_tagger_config(tmp_path / "data", train_sentences=16, epochs=4, validation=True)
    config["training"]["early_stopping"] = {"monitor": "val_f1", "mode": "max", "patience": 1}
    task = train(config, loop="custom", verbose=0)
    history = task.history.history
    assert "val_f1" in history and len(history["val_f1"]) == len(history["loss"]) >= 2
    assert all(0.0 <= v <= 100.0 for v in history["val_f1"])
    best = max(history["val_f1"])
    # ValidationScore restores the best epoch's weights at the end of training.
    from rnnzoo.data.conll import read_conll

    x, y = read_conll(str(tmp_path / "data" / "valid.txt"))
    assert task.score(x, y)["f1"] == pytest.approx(best, abs=1e-6)


def test_validation_scores_the_averaged_weights_and_training_continues_on_the_raw_ones():
    """With `use_ema`, each epoch is scored on the moving average, the best average is kept at the end."""
    import keras
    import numpy as np

    from rnnzoo.training.callbacks import ValidationScore

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    x = np.random.RandomState(0).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append({
                "raw_after": [np.array(v) for v in self.model.trainable_variables],
                "average": [np.array(v) for v in self.model.optimizer._model_variables_moving_average],
            })

    def score(m):
        seen.append({"scored": [np.array(v) for v in m.trainable_variables]})
        return -float(np.mean((m.predict_on_batch(x) - y) ** 2))

    val = ValidationScore(score, name="val_neg_mse")
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, callbacks=[val, Spy()], verbose=0)
    for scored, after in zip(seen[0::2], seen[1::2]):
        for s, avg, raw in zip(scored["scored"], after["average"], after["raw_after"]):
            np.testing.assert_allclose(s, avg, rtol=1e-6)  # scored on the average
        assert any(not np.allclose(a, r) for a, r in zip(after["average"], after["raw_after"]))  # raw restored
    for w, best in zip(model.get_weights(), val.best_weights):
        np.testing.assert_array_equal(w, best)


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_ema_momentum_trains_and_ends_with_the_averaged_weights(tmp_path, loop):
    import numpy as np

    from rnnzoo.training.optimizers import make_optimizer
    from rnnzoo.training.trainer import train
    from rnnzoo.config import TrainingConfig

    optimizer = make_optimizer(TrainingConfig(ema_momentum=0.99))
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.99)
    config = tiny_tagger_config(tmp_path / "data", train_sentences=16, epochs=2)
    config["training"]["ema_momentum"] = 0.9
    task = train(config, loop=loop, verbose=0)
    averages = task.optimizer._model_variables_moving_average
    for variable, average in zip(task.trainable_variables, averages):
        np.testing.assert_allclose(np.array(variable), np.array(average), rtol=1e-6)
    with pytest.raises(ValueError, match="ema_momentum"):
        train(config, overrides={"training.ema_momentum": 1.0}, verbose=0)
