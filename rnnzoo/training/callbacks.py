"""Callbacks shared by every family."""

import keras
import numpy as np


class ValidationScore(keras.callbacks.Callback):
    """Compute a score with `fn(model)` after each epoch and add it to the logs.

    Put it before `EarlyStopping`/checkpoint callbacks that monitor `name`.
    With `restore_best=True` the best epoch's weights are restored at the end.
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
        value = float(self.fn(self.model))
        if logs is not None:
            logs[self.name] = value
        print(f"epoch {epoch + 1}: {self.name} = {value:.2f}")
        if self.best is None or self.sign * value > self.sign * self.best:
            self.best, self.best_epoch = value, epoch + 1
            if self.restore_best:
                self.best_weights = [np.array(w) for w in self.model.get_weights()]

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_weights is not None:
            print(f"restoring the weights of epoch {self.best_epoch} ({self.name} = {self.best:.2f})")
            self.model.set_weights(self.best_weights)
