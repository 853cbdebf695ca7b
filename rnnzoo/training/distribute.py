"""Choosing and setting up a `tf.distribute` strategy (TensorFlow only, imported lazily).

`resolve_strategy("auto")` picks, in order: a TPU when one is configured
(`TPU_NAME` / `COLAB_TPU_ADDR`, or an explicit `tpu=` address), several
workers in `TF_CONFIG` -> `MultiWorkerMirroredStrategy`, several GPUs ->
`MirroredStrategy`, otherwise the default strategy. `"mirrored"` on a machine
without GPUs mirrors over every logical CPU device, which is how the tests run
data parallelism on a laptop (`use_logical_cpus(2)` before TF starts).

Batch sizes: `training.batch_size` is the *per-replica* batch; the global
batch is `batch_size * num_replicas_in_sync` (and with
`training.scale_learning_rate: true` the learning rate is scaled by the same
factor, the linear scaling rule). On one replica nothing changes.
"""

import json
import os

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def tf_config():
    """The parsed `TF_CONFIG` environment variable (`{}` when unset)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); see docs/distributed.md.") from None
    if not isinstance(value, dict):
        raise ValueError("TF_CONFIG must be a JSON object with 'cluster' and 'task'.")
    return value


def num_workers_in_tf_config():
    """How many workers (chief included) `TF_CONFIG` describes; 0 without one."""
    cluster = tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def is_chief(strategy=None):
    """True on the worker that writes artifacts, logs and the real checkpoints.

    That is the `chief` task, or worker 0 when the cluster has no chief, or
    the only process when there is no cluster.
    """
    if strategy is not None:
        resolver = getattr(strategy, "cluster_resolver", None)
        if resolver is not None and getattr(resolver, "task_type", None) is not None:
            task_type, task_id = resolver.task_type, resolver.task_id
            has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
            return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    task = tf_config().get("task", {})
    if not task:
        return True
    has_chief = "chief" in tf_config().get("cluster", {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and task.get("index", 0) == 0 and not has_chief)


def worker_id():
    """`(task_type, task_index)` from `TF_CONFIG`, `(None, 0)` without one."""
    task = tf_config().get("task", {})
    return task.get("type"), int(task.get("index", 0))


def use_logical_cpus(count):
    """Split the CPU into `count` logical devices (call before TensorFlow starts its devices).

    Returns:
        The logical CPU device names.

    Raises:
        RuntimeError: when TensorFlow's devices are already initialised (do it
            first thing in the process).
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current == count:
            return [d.name for d in tf.config.list_logical_devices("CPU")]
        raise RuntimeError(
            f"cannot split the CPU into {count} logical devices: TensorFlow already initialised "
            f"{current} ({error}). Call use_logical_cpus() before any other TensorFlow work."
        ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def tpu_configured(tpu=None):
    """The TPU address/name to use, or None: `tpu`, `$TPU_NAME`, or `$COLAB_TPU_ADDR`."""
    if tpu:
        return tpu
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    return None


def connect_tpu(tpu="local"):
    """Resolve, connect to and initialise a TPU system; return a `TPUStrategy`.

    Args:
        tpu: `"local"` on a Cloud TPU VM (the TPU is attached to this host), a
            TPU name (TPU node) or a `grpc://host:port` address.
    """
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    if tpu != "local":
        # A TPU VM runs the TPU in-process; remote TPU nodes need the cluster connection.
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def resolve_strategy(name="auto", *, tpu=None, verbose=True):
    """A `tf.distribute.Strategy` for a strategy name.

    Args:
        name: `"auto" | "one_device" | "mirrored" | "multi_worker" | "tpu"`.
        tpu: TPU address or name for `"tpu"` (default: `$TPU_NAME`, else `"local"`).
        verbose: print the choice.

    Returns:
        `(strategy, kind)` where `kind` is the resolved name (never `"auto"`).
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    kind = name
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if tpu_configured(tpu):
            kind = "tpu"
        elif num_workers_in_tf_config() > 1:
            kind = "multi_worker"
        elif len(gpus) > 1:
            kind = "mirrored"
        else:
            kind = "default"
    if kind == "tpu":
        strategy = connect_tpu(tpu_configured(tpu) or "local")
    elif kind == "multi_worker":
        if num_workers_in_tf_config() < 1:
            raise ValueError(
                "strategy 'multi_worker' needs TF_CONFIG describing the cluster and this task "
                "(see docs/distributed.md); none is set."
            )
        # One packed all-reduce for all gradients instead of one collective per variable.
        options = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=32 * 1024 * 1024)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    elif kind == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
    elif kind == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    else:
        strategy = tf.distribute.get_strategy()
    if verbose:
        print(f"strategy: {kind} ({type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s))")
    return strategy, kind


def global_batch_size(per_replica, strategy):
    """`per_replica * num_replicas_in_sync`."""
    return int(per_replica) * int(strategy.num_replicas_in_sync)


def set_shard_policy(dataset, policy="data"):
    """Set the auto-shard policy of a dataset deliberately (`"data" | "file" | "off"`).

    Our pipelines read Python lists (no files), so file sharding cannot apply:
    `"data"` makes every worker build the same global batches and keep its
    slice of each, which keeps multi-worker training equivalent to
    single-worker training on the same global batch.
    """
    import tensorflow as tf

    policies = {
        "data": tf.data.experimental.AutoShardPolicy.DATA,
        "file": tf.data.experimental.AutoShardPolicy.FILE,
        "off": tf.data.experimental.AutoShardPolicy.OFF,
    }
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policies[policy]
    return dataset.with_options(options)


def static_batches(dataset, batch_size, max_length, time_axes=None):
    """Pad every batch to static shapes for XLA/TPU: `batch_size` rows, `max_length` steps on each time axis.

    Batches smaller than `batch_size` (the tail of each bucket) are dropped
    and sequences longer than `max_length` are cut. `time_axes` is the
    preprocessor's (`Preprocessor.time_axes`): a structure like a batch whose
    leaves name each tensor's time axis (an int) or None (a label per example,
    an image); None for the whole argument means axis 1 of every tensor of
    rank >= 2. Other axes must already be static.
    """
    import tensorflow as tf

    def full(*batch):
        first = tf.nest.flatten(batch)[0]
        return tf.equal(tf.shape(first)[0], batch_size)

    def pad(tensor, axis):
        shape = [batch_size] + tensor.shape.as_list()[1:]
        if axis is not None:
            tensor = tf.gather(tensor, tf.range(tf.minimum(tf.shape(tensor)[axis], max_length)), axis=axis)
            paddings = [[0, 0] for _ in range(tensor.shape.rank)]
            paddings[axis] = [0, max_length - tf.shape(tensor)[axis]]
            tensor = tf.pad(tensor, paddings)
            shape[axis] = max_length
        return tf.ensure_shape(tensor, shape)

    def pad_batch(*batch):
        structure = batch if len(batch) > 1 else batch[0]
        tensors = tf.nest.flatten(structure)
        if time_axes is None:
            axes = [1 if t.shape.rank is not None and t.shape.rank >= 2 else None for t in tensors]
        else:
            axes = tf.nest.flatten(time_axes(len(batch) > 1) if callable(time_axes) else time_axes)
        return tf.nest.pack_sequence_as(structure, [pad(t, a) for t, a in zip(tensors, axes)])

    return dataset.filter(full).map(pad_batch)


def uses_custom_compute_loss(task):
    """True when the task overrides `compute_loss` (Keras then does not scale it per replica)."""
    import keras

    return type(task).compute_loss is not keras.Model.compute_loss


def scale_custom_loss_for_fit(task, strategy):
    """Make `model.fit` average (not sum) a custom `compute_loss` over replicas.

    Keras scales its compiled losses by `1 / num_replicas_in_sync` before the
    gradients are summed across replicas; a task overriding `compute_loss`
    (the tagger's CRF likelihood) returns an unscaled mean, so under
    `MirroredStrategy`/`TPUStrategy` the gradients would be `num_replicas`
    times too large (and the logged loss too). This wraps the instance's
    `compute_loss` with Keras' own scaling.
    """
    if strategy.num_replicas_in_sync == 1 or not uses_custom_compute_loss(task):
        return task
    if getattr(task, "_rnnzoo_scaled_loss", False):
        return task
    from keras.src.losses.loss import scale_loss_for_distribution

    original = task.compute_loss

    def compute_loss(*args, **kwargs):
        return scale_loss_for_distribution(original(*args, **kwargs))

    object.__setattr__(task, "compute_loss", compute_loss)
    object.__setattr__(task, "_rnnzoo_scaled_loss", True)
    return task
