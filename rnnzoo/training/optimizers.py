"""Optimizers from a config: `make_optimizer(config.training)`.

Used by the trainer, and by `rnnzoo.load` to compile a loaded model with its
config's optimizer (so `fit` fine-tunes at once). It needs only Keras.
"""

import keras


def make_optimizer(training, steps_per_epoch=None, learning_rate_scale=1.0):
    """A Keras optimizer from a `TrainingConfig` (lr schedule and clipping included).

    Args:
        training: a `TrainingConfig`.
        steps_per_epoch: global steps per epoch (sizes the lr schedules).
        learning_rate_scale: multiplies the learning rate (the linear scaling
            rule for `training.scale_learning_rate` with several replicas).
    """
    learning_rate = training.learning_rate * learning_rate_scale
    if training.lr_schedule == "cosine":
        total = max(1, (steps_per_epoch or 100) * training.epochs)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total)
    elif training.lr_schedule == "exponential":
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=max(1, steps_per_epoch or 100), decay_rate=training.decay_rate
        )
    clip = {}  # and the other optimizer keyword arguments
    if training.ema_momentum is not None:
        clip.update(use_ema=True, ema_momentum=training.ema_momentum)
    if training.clipnorm is not None:
        clip["clipnorm"] = training.clipnorm
    if training.clipvalue is not None:
        clip["clipvalue"] = training.clipvalue
    name = training.optimizer
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=training.momentum, **clip)
    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "nadam": keras.optimizers.Nadam,
        "rmsprop": keras.optimizers.RMSprop,
    }
    return classes[name](learning_rate, **clip)
