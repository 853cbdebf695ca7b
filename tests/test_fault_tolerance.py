"""Fault tolerance: SIGKILL a training process mid-epoch, restart it, and end where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from distributed_helpers import env_for, tiny_tagger_config


def _worker(path, run_dir, result, *extra):
    return ["nice", "-n", "10", sys.executable, "-m", "rnnzoo.training.worker", str(path), "--quiet",
            "--run-dir", str(run_dir), "--result", str(result), *extra]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    from rnnzoo.training.trainer import train

    config = tiny_tagger_config(tmp_path / "data", train_sentences=32, batch_size=8, epochs=3, dropout=0.2)
    config["training"]["checkpoint_every_steps"] = 2
    config["training"]["early_stopping"] = {"monitor": "loss", "mode": "min", "patience": 5}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))

    run_dir = tmp_path / "run"
    state_file = run_dir / "backup" / "training_state.json"
    proc = subprocess.Popen(_worker(path, run_dir, tmp_path / "killed.npz", "--step-delay", "0.7"),
                            env=env_for(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        state = None
        while time.time() < deadline:
            time.sleep(0.2)
            if state_file.exists():
                state = json.loads(state_file.read_text())
                if state["epoch"] >= 1 and state["step"] > 0:
                    break
            assert proc.poll() is None, "training ended before it could be killed"
        else:
            pytest.fail("no mid-epoch checkpoint appeared in time")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (tmp_path / "killed.npz").exists()

    restarted = subprocess.run(_worker(path, run_dir, tmp_path / "resumed.npz"), env=env_for(),
                               capture_output=True, text=True, timeout=300)
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    assert f"epoch {state['epoch'] + 1}, step" in restarted.stdout
    resumed = np.load(tmp_path / "resumed.npz")

    # The uninterrupted reference, in this process, with its own run_dir (same custom loop).
    reference = train(config, run_dir=str(tmp_path / "reference_run"), verbose=0)
    keys = sorted((k for k in resumed.files if k.startswith("w")), key=lambda k: int(k[1:]))
    for weights, key in zip(reference.get_weights(), keys):
        np.testing.assert_allclose(weights, resumed[key], atol=1e-5)
    history = json.loads(str(resumed["history"]))
    np.testing.assert_allclose(history["loss"], reference.history.history["loss"], rtol=1e-4)
    assert len(history["loss"]) == 3


def test_checkpoint_restores_model_optimizer_position_and_callback_state(tmp_path):
    import keras

    from rnnzoo.training.callbacks import EarlyStopping, ValidationScore
    from rnnzoo.training.checkpointing import TrainingCheckpoint

    def make():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5)])
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    model = make()
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    score = ValidationScore(lambda m: 1.0, name="val_x")
    score.best, score.best_epoch, score.best_weights = 0.5, 2, [np.full((3, 2), 7.0), np.zeros(2)]
    stop = EarlyStopping(monitor="val_x", patience=3)
    stop.wait, stop.best, stop.best_epoch, stop.stopped_epoch, stop.best_weights = 2, 0.5, 1, 0, None
    checkpoint = TrainingCheckpoint(tmp_path / "backup", model)
    checkpoint.save(1, 4, [score, stop], history=[{"loss": 1.0}], progress={"loss_sum": 3.0, "loss_steps": 4})

    fresh = make()
    new_score, new_stop = ValidationScore(lambda m: 1.0, name="val_x"), EarlyStopping(monitor="val_x", patience=3)
    epoch, step, history = TrainingCheckpoint(tmp_path / "backup", fresh).restore([new_score, new_stop])
    assert (epoch, step, history) == (1, 4, [{"loss": 1.0}])
    for a, b in zip(model.variables + model.optimizer.variables, fresh.variables + fresh.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(fresh.optimizer.iterations) == 1
    assert (new_score.best, new_score.best_epoch) == (0.5, 2)
    np.testing.assert_array_equal(new_score.best_weights[0], np.full((3, 2), 7.0))
    assert (new_stop.wait, new_stop.best, new_stop.best_epoch) == (2, 0.5, 1)


def test_fresh_run_directory_restores_nothing(tmp_path):
    import keras

    from rnnzoo.training.checkpointing import TrainingCheckpoint

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    assert TrainingCheckpoint(tmp_path / "empty", model).restore() == (0, 0, [])
    assert os.path.isdir(tmp_path / "empty")
