"""Backup-and-restore checkpoints of a training run (the custom loop's fault tolerance).

A `TrainingCheckpoint` saves, with `tf.train.CheckpointManager`, every model
variable (weights *and* dropout seed states), every optimizer variable
(moments, iteration count), the position in training (epoch, step within the
epoch) and the callbacks' state (early stopping patience, best validation
score and its weights) every `every_steps` steps and at the end of every
epoch. A restarted run calls `restore()` and continues from there; because the
training loop rebuilds each epoch's data from `seed + epoch` and skips the
steps already done, a killed and restarted run ends where an uninterrupted
one would (it loses only the steps after the last checkpoint).

Multi-worker: every worker must call `save` (mirrored variables are read
with collectives); only the chief writes to `directory`, the others write to
a scratch folder that is deleted at once (the TensorFlow multi-worker
checkpointing recipe). `directory` must be visible to every worker (a shared
file system or `gs://` bucket) so that they all restore the same state.
"""

import json
import os
import shutil

import numpy as np

STATE_FILE = "training_state.json"


class TrainingCheckpoint:
    """Save/restore the full training state of a task in `directory`.

    Args:
        directory: the backup folder (created).
        task: the model being trained (its optimizer must be built).
        chief: whether this process writes the real checkpoints.
        worker_name: a name for the scratch folder of non-chief workers.
        max_to_keep: checkpoints kept.
        every_steps: save every this many training steps (0: only at epoch ends).
    """

    def __init__(self, directory, task, *, chief=True, worker_name="worker", max_to_keep=2, every_steps=0):
        import tensorflow as tf

        self.directory = os.path.abspath(directory)
        self.chief = chief
        self.every_steps = int(every_steps or 0)
        self.write_dir = self.directory if chief else os.path.join(self.directory, f".scratch-{worker_name}")
        os.makedirs(self.write_dir, exist_ok=True)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # Variables are tracked by position: the restarted run builds the same model.
        self.checkpoint = tf.train.Checkpoint(
            model=[_tf_variable(v) for v in task.variables],
            optimizer=[_tf_variable(v) for v in task.optimizer.variables],
            epoch=self.epoch,
            step=self.step,
        )
        self.progress = {}
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir, max_to_keep=max_to_keep)

    def restore(self, callbacks=()):
        """Load the latest checkpoint of `directory`, if any.

        Returns:
            `(epoch, step, history)` to resume from (`(0, 0, [])` for a fresh run).
        """
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(self.directory)
        if latest is None:
            return 0, 0, []
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        state = {}
        path = os.path.join(self.directory, STATE_FILE)
        if os.path.exists(path):
            with open(path) as f:
                state = json.load(f)
            if state.get("checkpoint") != os.path.basename(latest):
                state = {}  # killed between the checkpoint and its state file
        for index, callback in enumerate(callbacks):
            key = f"{index}:{type(callback).__name__}"
            if key in state.get("callbacks", {}) and hasattr(callback, "set_state"):
                callback.set_state(_load_arrays(state["callbacks"][key], self.directory))
        self.progress = state.get("progress", {})
        epoch, step = int(self.epoch.numpy()), int(self.step.numpy())
        print(f"resuming from {latest}: epoch {epoch + 1}, step {step}")
        return epoch, step, state.get("history", [])

    def save(self, epoch, step, callbacks=(), history=(), progress=None):
        """Write a checkpoint for "`step` steps of epoch `epoch` (0-based) are done".

        Args:
            progress: JSON-able running state of the epoch (the loop's loss sums),
                returned by the next `restore` as `self.progress`.
        """
        self.epoch.assign(epoch)
        self.step.assign(step)
        path = self.manager.save()
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)
            return path
        state = {"checkpoint": os.path.basename(path), "epoch": epoch, "step": step, "callbacks": {}, "history": list(history),
                 "progress": progress or {}}
        for index, callback in enumerate(callbacks):
            if hasattr(callback, "get_state"):
                key = f"{index}:{type(callback).__name__}"
                state["callbacks"][key] = _save_arrays(callback.get_state(), self.directory, key)
        _write_json_atomically(os.path.join(self.directory, STATE_FILE), state)
        return path

    def due(self, global_step):
        return self.every_steps > 0 and global_step % self.every_steps == 0


def _tf_variable(variable):
    import keras

    return variable.value if isinstance(variable, keras.Variable) else variable


def _save_arrays(state, directory, key):
    """Move list-of-array entries of a callback state into an `.npz` beside the JSON."""
    state = dict(state)
    for name, value in list(state.items()):
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            file = f"callback-{key.replace(':', '-')}-{name}.npz"
            tmp = os.path.join(directory, file + ".tmp.npz")
            np.savez(tmp, *value)
            os.replace(tmp, os.path.join(directory, file))
            state[name] = {"npz": file}
    return state


def _load_arrays(state, directory):
    state = dict(state)
    for name, value in list(state.items()):
        if isinstance(value, dict) and set(value) == {"npz"}:
            with np.load(os.path.join(directory, value["npz"])) as arrays:
                state[name] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return state


def _write_json_atomically(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1, default=float)
    os.replace(tmp, path)
