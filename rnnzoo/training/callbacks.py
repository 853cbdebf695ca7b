"""Callbacks shared by every family."""

import keras
import numpy as np


class ValidationScore(keras.callbacks.Callback):
    """Compute a score with `fn(model)` after each epoch and add it to the logs.

    Put it before `EarlyStopping`/checkpoint callbacks that monitor `name`.
    With `restore_best=True` the best epoch's weights are restored at the end.
    When the optimizer keeps a moving average of the weights (`use_ema`), the
    score is that of the averaged weights (the ones training ends with), and
    those are the weights kept for the best epoch; training goes on with the
    raw weights.
    """

    def __init__(self, fn, name="val_score", mode="max", restore_best=True):
        super().__init__()
        self.fn = fn
        self.name = name
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best = restore_best
        self.best = None
        self.best_weights = None
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        averaged = getattr(optimizer, "use_ema", False) and getattr(optimizer, "built", False)
        if averaged:
            variables = self.model.trainable_variables
            raw = [np.array(v) for v in variables]
            optimizer._overwrite_model_variables_with_average_value(variables)
        try:
            value = float(self.fn(self.model))
            if logs is not None:
                logs[self.name] = value
            print(f"epoch {epoch + 1}: {self.name}{' (averaged weights)' if averaged else ''} = {value:.2f}")
            if self.best is None or self.sign * value > self.sign * self.best:
                self.best, self.best_epoch = value, epoch + 1
                if self.restore_best:
                    self.best_weights = [np.array(w) for w in self.model.get_weights()]
        finally:
            if averaged:
                for variable, saved in zip(variables, raw):
                    variable.assign(saved)

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_weights is not None:
            print(f"restoring the weights of epoch {self.best_epoch} ({self.name} = {self.best:.2f})")
            self.model.set_weights(self.best_weights)

    # Fault tolerance: `TrainingCheckpoint` saves and restores this state.
    def get_state(self):
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": list(self.best_weights) if self.best_weights is not None else None,
        }

    def set_state(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.best_weights = state["best_weights"]


class EarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` whose patience survives a restart from a checkpoint."""

    def get_state(self):
        return {
            "wait": self.wait,
            "best": None if self.best is None else float(self.best),
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": list(self.best_weights) if self.best_weights is not None else None,
        }

    def set_state(self, state):
        self.wait, self.best = state["wait"], state["best"]
        self.best_epoch, self.stopped_epoch = state["best_epoch"], state["stopped_epoch"]
        self.best_weights = state["best_weights"]


class TensorBoardLogger(keras.callbacks.Callback):
    """Write every epoch's logs (loss, validation scores) and the learning rate to TensorBoard.

    Works with `model.fit` and with rnnzoo's custom distributed loop alike
    (it only needs `on_epoch_end` logs and `model.optimizer`). Only the chief
    worker should get one.

    Args:
        log_dir: the event-file folder (`tensorboard --logdir log_dir`).
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writer = None

    def _summary_writer(self):
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def on_epoch_end(self, epoch, logs=None):
        with self._summary_writer().as_default():
            for name, value in (logs or {}).items():
                if np.ndim(value) == 0:
                    write_scalar(name, float(value), epoch + 1)
            optimizer = getattr(self.model, "optimizer", None)
            if optimizer is not None:
                write_scalar("learning_rate", float(np.array(optimizer.learning_rate)), epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class GradientNormLogger(keras.callbacks.Callback):
    """Log the gradient norm of every layer on a fixed probe batch after each epoch.

    Vanishing gradients show as early (embedding, first RNN) layers whose norm
    falls towards zero while the head's stays large; exploding ones as norms
    that jump by orders of magnitude (the reason for `training.clipnorm`).
    The norms are computed with the task's own `compute_loss` on `batch`, in
    a separate forward/backward pass (no weight update), and written to
    TensorBoard as `grad_norm/<layer path>` plus `grad_norm/global`, and to
    `self.history` (a list of `{name: norm}` per epoch).

    Args:
        batch: one `(x, y, sample_weight)` batch (e.g. the first training batch).
        log_dir: TensorBoard folder, or None to only keep `history`.
    """

    def __init__(self, batch, log_dir=None):
        super().__init__()
        self.batch = batch
        self.log_dir = log_dir
        self.history = []
        self._writer = None

    def gradient_norms(self):
        """`{variable path: L2 norm of its gradient}` plus `"global"`, on the probe batch (TF backend)."""
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(self.batch)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=False)
            loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        grads = tape.gradient(loss, variables)
        norms = {}
        for variable, grad in zip(variables, grads):
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            norms[variable.path] = float(tf.norm(grad))
        norms["global"] = float(np.sqrt(sum(v * v for v in norms.values())))
        return norms

    def on_epoch_end(self, epoch, logs=None):
        norms = self.gradient_norms()
        self.history.append(norms)
        if logs is not None:
            logs["grad_norm"] = norms["global"]
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default():
                for name, value in norms.items():
                    write_scalar(f"grad_norm/{name}", value, epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_scalar(name, value, step):
    """Write a TensorBoard scalar to the default summary writer.

    `tf.summary.scalar` needs the `tensorboard` package at write time; this
    writes the same event (the "scalars" plugin's metadata) with TensorFlow
    alone, so training never depends on TensorBoard being installed (only
    viewing the logs does: `pip install tensorboard`).
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    return tf.summary.write(name, tf.constant(value, "float32"), step=step, metadata=metadata)
