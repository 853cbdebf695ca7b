"""The one training entry point: `rnnzoo.train(config, ...)`."""

import os
import time

import keras

from rnnzoo.config import load_config


def make_optimizer(training, steps_per_epoch=None):
    """A Keras optimizer from a `TrainingConfig` (lr schedule and clipping included)."""
    learning_rate = training.learning_rate
    if training.lr_schedule == "cosine":
        total = max(1, (steps_per_epoch or 100) * training.epochs)
        learning_rate = keras.optimizers.schedules.CosineDecay(training.learning_rate, total)
    elif training.lr_schedule == "exponential":
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            training.learning_rate, decay_steps=max(1, steps_per_epoch or 100), decay_rate=training.decay_rate
        )
    clip = {}
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


def train(config, *, strategy="auto", output_dir=None, overrides=None, verbose=1, data=None):
    """Train a zoo model from its config.

    Args:
        config: a zoo name, a YAML path, a dict or a `ZooConfig`.
        strategy: `"auto" | "one_device" | "mirrored" | "multi_worker" | "tpu"`.
        output_dir: where to write the artifact (model, vocabularies, config,
            checksums), atomically; None to write nothing.
        overrides: dotted config keys, e.g. `{"training.epochs": 1}`.
        verbose: Keras verbosity (1 = progress bars).
        data: already loaded raw splits (skips the family's `load_data`).

    Returns:
        The trained task (a `keras.Model`).
    """
    from rnnzoo.models import get_family
    from rnnzoo.zoo import resolve_config

    config = resolve_config(config, overrides)
    family = get_family(config.family)
    keras.utils.set_random_seed(config.training.seed)
    data = data if data is not None else family.load_data(config)
    task = family.build(config, data)
    train_data = family.train_dataset(task, data, config)
    task.compile(optimizer=make_optimizer(config.training))
    callbacks = list(family.validation_callbacks(task, data, config))
    es = config.training.early_stopping
    if es is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=es.monitor, patience=es.patience, mode=es.mode)
        )
    if config.training.max_steps:
        train_data = train_data.take(config.training.max_steps)
    start = time.time()
    task.fit(train_data, epochs=config.training.epochs, callbacks=callbacks, verbose=verbose)
    print(f"trained {config.name} in {time.time() - start:.0f}s")
    if output_dir:
        from rnnzoo.zoo import save_artifact

        save_artifact(task, config, output_dir)
        print(f"saved to {os.path.abspath(output_dir)}")
    return task
