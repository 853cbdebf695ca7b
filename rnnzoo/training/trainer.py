"""The one training entry point: `rnnzoo.train(config, ...)`.

Used by the CLI (`rnnzoo train`), the tuner (`rnnzoo tune`) and the examples.
It resolves the config, picks a `tf.distribute` strategy, builds the family's
task inside `strategy.scope()`, and trains it with one of two loops:

- `model.fit` (one device, `MirroredStrategy`, TPUs), or
- rnnzoo's custom distributed loop (`rnnzoo.training.loop.DistributedLoop`)
  for `MultiWorkerMirroredStrategy` (where Keras 3 `fit` fails, keras issue
  #20585) and whenever a `run_dir` asks for resumable training.

Both loops get the same callbacks (the family's validation score, early
stopping, TensorBoard scalars and per-layer gradient norms) and progress bars.
"""

import dataclasses
import json
import os
import time

import keras

from rnnzoo.training.optimizers import make_optimizer

LOOPS = ("auto", "fit", "custom")


def train(
    config,
    *,
    strategy="auto",
    output_dir=None,
    overwrite=False,
    overrides=None,
    verbose=1,
    data=None,
    run_dir=None,
    callbacks=None,
    loop=None,
    tpu=None,
    task=None,
):
    """Train a zoo model from its config.

    Args:
        config: a zoo name, a YAML path, a dict or a `ZooConfig`.
        strategy: `"auto" | "one_device" | "mirrored" | "multi_worker" | "tpu"`,
            or a `tf.distribute.Strategy` instance. `"auto"`: a TPU when
            `$TPU_NAME`/`tpu` is set, `TF_CONFIG` with several workers ->
            multi-worker, several GPUs -> mirrored, else the default strategy.
        output_dir: where to write the artifact (model, vocabularies, config,
            checksums), atomically, by the chief worker; None to write nothing.
        overwrite: replace an artifact already in `output_dir`. Without it a
            non-empty `output_dir` is refused before training starts (a
            shipped model and its metrics are never replaced by accident).
        overrides: dotted config keys, e.g. `{"training.epochs": 1}`.
        verbose: 1 = progress bars, 0 = quiet.
        data: already loaded raw splits (skips the family's `load_data`).
        run_dir: the run's working folder: `params.yaml` (the resolved
            config, written first), `distribution.json`, `tensorboard/`
            (scalars, learning rate, per-layer gradient norms) and `backup/`
            (checkpoints; a restarted run with the same `run_dir` resumes).
            None: none of these.
        callbacks: extra Keras callbacks.
        loop: `"fit"`, `"custom"`, or None for `training.loop` (`"auto"`:
            the custom loop for multi-worker or when `run_dir` is given).
        tpu: TPU name or address for `strategy="tpu"` (default `$TPU_NAME`, else local).
        task: an already built task to train (built inside `strategy.scope()`;
            the tuner passes its trial's model), instead of `family.build`.

    Returns:
        The trained task (a `keras.Model`); `task.history` holds the per-epoch logs.
    """
    from rnnzoo.models import get_family
    from rnnzoo.training import distribute
    from rnnzoo.artifacts import check_artifact_target
    from rnnzoo.zoo import resolve_config

    config = resolve_config(config, overrides)
    family = get_family(config.family)
    t = config.training
    if output_dir:
        check_artifact_target(output_dir, overwrite)  # before any training: never replace a model by accident
    if isinstance(strategy, str):
        strategy, kind = distribute.resolve_strategy(strategy, tpu=tpu, verbose=True)
    else:
        kind = type(strategy).__name__
    chief = distribute.is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    global_batch = distribute.global_batch_size(t.batch_size, strategy)
    lr_scale = float(replicas) if (t.scale_learning_rate and replicas > 1) else 1.0
    loop = loop or t.loop
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}.")
    if loop == "auto":
        loop = "custom" if (kind == "multi_worker" or run_dir) else "fit"
    if kind == "multi_worker" and loop == "fit":
        raise ValueError(
            "Keras 3 model.fit does not work under MultiWorkerMirroredStrategy (keras issue #20585); "
            "use loop='custom' (the default for multi_worker)."
        )
    # Always say how the batch is split: it changes what a run computes.
    print(
        f"batch size: global {global_batch} = {replicas} replica(s) x {t.batch_size} per replica; "
        f"learning rate {t.learning_rate * lr_scale:g}"
        + (f" (x{lr_scale:g}, linear scaling)" if lr_scale != 1 else "")
        + f"; loop: {loop}"
    )
    # The data pipeline batches globally; everything else keeps the user's config.
    run_config = dataclasses.replace(config, training=dataclasses.replace(t, batch_size=global_batch))
    if output_dir and chief:
        print(f"the trained model will be saved to {os.path.abspath(output_dir)}", flush=True)
    if run_dir and chief:
        _write_run_files(run_dir, config, kind, replicas, global_batch, t, lr_scale, loop)

    keras.utils.set_random_seed(t.seed)
    data = data if data is not None else family.load_data(config)
    if task is None:
        with strategy.scope():
            task = family.build(config, data)

    static = kind == "tpu"
    max_length = getattr(config.data, "train_max_length", None) or config.data.max_length or 128

    def dataset_fn(epoch=0):
        dataset = family.train_dataset(task, data, run_config)
        if static:
            dataset = distribute.static_batches(dataset, global_batch, max_length, task.preprocessor.time_axes)
        if t.max_steps:
            dataset = dataset.take(t.max_steps)
        return dataset

    steps_per_epoch = None
    if t.lr_schedule or loop == "custom":
        import tensorflow as tf

        tf.random.set_seed(t.seed)
        steps_per_epoch = _count_batches(dataset_fn(0), replicas)
    with strategy.scope():
        optimizer = make_optimizer(t, steps_per_epoch, lr_scale)
        task.compile(optimizer=optimizer, steps_per_execution=t.steps_per_execution if loop == "fit" else 1)
        if loop == "custom":
            optimizer.build(task.trainable_variables)

    all_callbacks = []
    if "validation" in data:
        from rnnzoo.training.callbacks import ValidationScore

        metric = family.primary_metric[0]
        all_callbacks.append(ValidationScore(
            lambda model: family.validation_score(model, data), name=f"val_{metric}", mode=family.primary_metric[1]
        ))
        if t.lr_schedule == "plateau":
            # Divide the learning rate by 1 / decay_rate whenever the validation score fails to improve
            # (Zaremba et al. 2014; PyTorch's word_language_model divides by 4).
            all_callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=f"val_{metric}", mode=family.primary_metric[1], factor=t.decay_rate, patience=0,
                min_delta=0.0, verbose=verbose,
            ))
    es = t.early_stopping
    if es is not None:
        from rnnzoo.training.callbacks import EarlyStopping

        all_callbacks.append(EarlyStopping(monitor=es.monitor, patience=es.patience, mode=es.mode))
    if run_dir and chief:
        from rnnzoo.training.callbacks import GradientNormLogger, TensorBoardLogger

        log_dir = os.path.join(run_dir, "tensorboard")
        import tensorflow as tf

        tf.random.set_seed(t.seed)
        probe = next(iter(family.train_dataset(task, data, config).take(1)))
        all_callbacks += [GradientNormLogger(probe, log_dir), TensorBoardLogger(log_dir)]
    all_callbacks += list(callbacks or [])

    start = time.time()
    if loop == "custom":
        from rnnzoo.training.checkpointing import TrainingCheckpoint
        from rnnzoo.training.loop import DistributedLoop

        checkpoint = None
        if run_dir:
            task_type, task_index = distribute.worker_id()
            checkpoint = TrainingCheckpoint(
                os.path.join(run_dir, "backup"),
                task,
                chief=chief,
                worker_name=f"{task_type}-{task_index}",
                every_steps=t.checkpoint_every_steps,
            )
        runner = DistributedLoop(
            task, strategy, steps_per_execution=t.steps_per_execution, checkpoint=checkpoint,
            verbose=verbose, chief=chief,
        )
        history = runner.fit(
            dataset_fn, t.epochs, callbacks=all_callbacks, steps_per_epoch=steps_per_epoch, seed=t.seed
        )
    else:
        distribute.scale_custom_loss_for_fit(task, strategy)
        train_data = dataset_fn()
        # Counted after `train_data` is built, so its shuffle seeds are what they were without the count.
        train_data = with_known_length(
            train_data, steps_per_epoch if replicas == 1 else None, lambda: dataset_fn(0)
        )
        if replicas > 1:
            train_data = distribute.set_shard_policy(train_data, "data")
        history = task.fit(train_data, epochs=t.epochs, callbacks=all_callbacks, verbose=verbose)
    task.history = history
    print(f"trained {config.name} in {time.time() - start:.0f}s")
    if output_dir and chief:
        from rnnzoo.artifacts import save_artifact

        save_artifact(task, config, output_dir)
        print(f"saved to {os.path.abspath(output_dir)}")
    return task


def with_known_length(dataset, batches=None, fresh_dataset=None):
    """`dataset` with its number of batches declared, so progress bars show it (and an ETA) from epoch 1.

    Bucketed `tf.data` pipelines have an unknown cardinality. The batches are
    counted once, on `fresh_dataset()` (an identical pipeline) when given, else
    on `dataset` itself; bucketing flushes every bucket's remainder at the end,
    so the count does not depend on the shuffle order. `batches` skips the
    count when the caller already knows it. A dataset of known (or infinite)
    length is returned as it is.
    """
    import tensorflow as tf

    if int(dataset.cardinality()) != int(tf.data.UNKNOWN_CARDINALITY):
        return dataset
    if batches is None:
        batches = _count_batches(fresh_dataset() if fresh_dataset else dataset, 1)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def _count_batches(dataset, replicas):
    import tensorflow as tf

    if replicas > 1:
        dataset = dataset.filter(lambda *b: tf.shape(tf.nest.flatten(b)[0])[0] >= replicas)
    return int(dataset.reduce(0, lambda count, _: count + 1).numpy())


def _write_run_files(run_dir, config, kind, replicas, global_batch, t, lr_scale, loop):
    """`params.yaml` (the resolved config, like TF Model Garden) and `distribution.json`."""
    os.makedirs(run_dir, exist_ok=True)
    config.to_yaml(os.path.join(run_dir, "params.yaml"))
    info = {
        "strategy": kind,
        "replicas": replicas,
        "global_batch_size": global_batch,
        "per_replica_batch_size": t.batch_size,
        "learning_rate": t.learning_rate * lr_scale,
        "loop": loop,
        "tf_config": os.environ.get("TF_CONFIG") and json.loads(os.environ["TF_CONFIG"]),
    }
    with open(os.path.join(run_dir, "distribution.json"), "w") as f:
        json.dump(info, f, indent=2)
