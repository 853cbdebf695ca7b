"""A custom distributed training loop: `strategy.run` + `tf.GradientTape` + the Keras optimizer.

Keras 3 `model.fit` fails under `MultiWorkerMirroredStrategy` (keras issue
#20585: "PerReplica ... to a Tensor" in `_maybe_symbolic_build`), so rnnzoo
trains on several workers with this loop instead. It runs the *same* Keras
task and optimizer, calls the task's own `compute_loss` (the tagger's CRF
likelihood, the classifier's cross-entropy), drives the same Keras callbacks
through `keras.callbacks.CallbackList` (validation scores, early stopping,
TensorBoard), prints the same `keras.utils.Progbar`, and checkpoints with
`TrainingCheckpoint` so a killed run resumes mid-epoch.

How a step is scaled: each replica computes its task's mean loss over its
local batch `n_local` and multiplies it by `n_local / n_global` (`n_global`
all-reduced over replicas); the optimizer sums the replicas' gradients, so
the update equals one step on the global batch, also for the uneven tail
batches of bucketed data. The loss logged is that global-batch mean.

Input: each epoch the loop calls `dataset_fn(epoch)` for a fresh dataset of
*global* batches built under `tf.random.set_seed(seed + epoch)` (so a
restarted run sees the very same order), skips the steps already done, and
distributes it with `strategy.experimental_distribute_dataset` and the DATA
auto-shard policy: every worker builds the same global batches and keeps
its replicas' slices of each (variable-length buckets are fine: the loop's
`tf.function` accepts any batch/time size). Global batches smaller than the
replica count are dropped, so no replica ever gets an empty batch.
"""

import time

import keras


class DistributedLoop:
    """Train a compiled task under a `tf.distribute` strategy with a custom step.

    Args:
        task: a compiled `keras.Model` (built, with its optimizer, inside
            `strategy.scope()`).
        strategy: a `tf.distribute.Strategy` (any: default, Mirrored,
            MultiWorkerMirrored, TPU).
        steps_per_execution: training steps per `tf.function` call (fewer
            host round trips; for TPUs).
        checkpoint: a `TrainingCheckpoint`, or None.
        verbose: 1 for a progress bar per epoch, 0 for none.
        chief: whether this worker prints progress.

    Example:
    >>> loop = DistributedLoop(task, strategy)            # doctest: +SKIP
    >>> history = loop.fit(lambda epoch: dataset, epochs=2)  # doctest: +SKIP
    """

    def __init__(self, task, strategy, *, steps_per_execution=1, checkpoint=None, verbose=1, chief=True):
        self.task = task
        self.strategy = strategy
        self.steps_per_execution = max(1, int(steps_per_execution))
        self.checkpoint = checkpoint
        self.verbose = verbose if chief else 0
        self.chief = chief
        self._step_fn = None

    # ------------------------------------------------------------ the step
    def _replica_step(self, data):
        import tensorflow as tf

        from rnnzoo.training.distribute import uses_custom_compute_loss

        task, optimizer = self.task, self.task.optimizer
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        n_local = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], "float32")
        n_global = tf.distribute.get_replica_context().all_reduce("SUM", n_local)
        with tf.GradientTape() as tape:
            y_pred = task(x, training=True)
            loss = task.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            loss = tf.cast(loss, "float32")
            if not uses_custom_compute_loss(task):
                # Keras' compiled losses are already divided by the replica count.
                loss = loss * float(self.strategy.num_replicas_in_sync)
            scaled = loss * n_local / n_global
        variables = task.trainable_variables
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return scaled

    def _make_step_fn(self):
        import tensorflow as tf

        strategy = self.strategy

        @tf.function
        def run_steps(iterator, steps):
            # `steps` is a Python int (at most two traces: steps_per_execution and the
            # epoch's tail); unrolling avoids a while loop around the collectives.
            total = 0.0
            for _ in range(steps):
                per_replica = strategy.run(self._replica_step, args=(next(iterator),))
                total += strategy.reduce("SUM", per_replica, axis=None)
            return total / steps

        return run_steps

    # ------------------------------------------------------------ the loop
    def fit(self, dataset_fn, epochs, *, callbacks=(), steps_per_epoch=None, seed=0):
        """Run the training loop.

        Args:
            dataset_fn: `epoch -> tf.data.Dataset` of global `(x, y, sample_weight)` batches.
            epochs: total epochs (a resumed run continues up to this).
            callbacks: Keras callbacks (`on_train_begin`, `on_epoch_end`, ... are called).
            steps_per_epoch: batches per epoch (counted from the first epoch's data when None).
            seed: each epoch's data is built under `tf.random.set_seed(seed + epoch)`.

        Returns:
            The `keras.callbacks.History` (its `history` has one entry per epoch, resumed ones included).
        """
        import tensorflow as tf

        strategy, task = self.strategy, self.task
        replicas = strategy.num_replicas_in_sync
        callbacks = list(callbacks)
        if self._step_fn is None:
            self._step_fn = self._make_step_fn()

        def epoch_data(epoch):
            tf.random.set_seed(seed + epoch)
            dataset = dataset_fn(epoch)
            if replicas > 1:
                dataset = dataset.filter(lambda *b: tf.shape(tf.nest.flatten(b)[0])[0] >= replicas)
            if steps_per_epoch:
                dataset = dataset.take(steps_per_epoch)
            return dataset

        if steps_per_epoch is None:
            steps_per_epoch = int(epoch_data(0).reduce(0, lambda count, _: count + 1).numpy())
        session = getattr(task, "training_session", None)
        if session is None:
            return self._fit(epoch_data, epochs, callbacks, steps_per_epoch)
        with session(epoch_data(0)) as extra:  # e.g. the language model's carried state
            return self._fit(epoch_data, epochs, callbacks + list(extra), steps_per_epoch)

    def _fit(self, epoch_data, epochs, callbacks, steps_per_epoch):
        strategy, task = self.strategy, self.task
        from rnnzoo.training.distribute import set_shard_policy

        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList(callbacks + [history], add_progbar=False, model=task)
        task.stop_training = False
        callback_list.on_train_begin()
        start_epoch, start_step, past = 0, 0, []
        if self.checkpoint is not None:
            start_epoch, start_step, past = self.checkpoint.restore(callbacks)
            for epoch_index, logs in enumerate(past):
                history.on_epoch_end(epoch_index, dict(logs))
            if start_step >= steps_per_epoch:
                start_epoch, start_step = start_epoch + 1, 0
        epoch_logs = {}
        for epoch in range(start_epoch, epochs):
            if task.stop_training:
                break
            callback_list.on_epoch_begin(epoch)
            dataset = epoch_data(epoch).skip(start_step)
            dataset = set_shard_policy(dataset, "data")
            iterator = iter(strategy.experimental_distribute_dataset(dataset))
            if self.verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            progbar = keras.utils.Progbar(steps_per_epoch, verbose=self.verbose, stateful_metrics=["loss"])
            if start_step:
                progbar.update(start_step)
            loss_sum, loss_steps = 0.0, 0
            if start_step and self.checkpoint is not None:
                loss_sum = self.checkpoint.progress.get("loss_sum", 0.0)
                loss_steps = self.checkpoint.progress.get("loss_steps", 0)
            step = start_step
            start = time.time()
            while step < steps_per_epoch:
                steps = min(self.steps_per_execution, steps_per_epoch - step)
                if self.checkpoint is not None and self.checkpoint.every_steps:
                    # End a chunk on a checkpoint boundary.
                    steps = min(steps, self.checkpoint.every_steps - step % self.checkpoint.every_steps)
                callback_list.on_train_batch_begin(step)
                loss = float(self._step_fn(iterator, int(steps)))
                loss_sum += loss * steps
                loss_steps += steps
                step += steps
                logs = {"loss": loss_sum / max(1, loss_steps)}
                callback_list.on_train_batch_end(step - 1, logs)
                progbar.update(step, [("loss", logs["loss"])])
                if self.checkpoint is not None and step < steps_per_epoch and self.checkpoint.due(step):
                    progress = {"loss_sum": loss_sum, "loss_steps": loss_steps}
                    self.checkpoint.save(epoch, step, callbacks, history_logs(history), progress)
            epoch_logs = {"loss": loss_sum / max(1, loss_steps)}
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.verbose:
                summary = " - ".join(f"{k}: {v:.4f}" for k, v in epoch_logs.items() if isinstance(v, float))
                print(f"epoch {epoch + 1}: {summary} ({time.time() - start:.1f}s)")
            if self.checkpoint is not None:
                self.checkpoint.save(epoch + 1, 0, callbacks, history_logs(history))
            start_step = 0
        # As `model.fit` does: an optimizer with `use_ema` leaves the averaged weights in the model.
        with strategy.scope():
            task.optimizer.finalize_variable_values(task.trainable_variables)
        callback_list.on_train_end(epoch_logs)
        return history


def history_logs(history):
    """`History.history` (dict of lists) -> a list of per-epoch dicts (JSON-friendly)."""
    keys = list(history.history)
    count = max((len(history.history[k]) for k in keys), default=0)
    return [
        {k: float(history.history[k][i]) for k in keys if i < len(history.history[k])}
        for i in range(count)
    ]
