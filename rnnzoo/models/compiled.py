"""Compiled inference shared by the families' raw-input `predict` paths (`CompiledCall`).

On every backend a compiled program serves one input shape, and raw-text
batches come in every shape: batches are padded to one of a few shapes
(`padded_shape`) so programs are reused, and batched shortest first
(`length_sorted_batches`) so they pad little.
"""

import atexit
import queue
import threading
import warnings
import weakref

import numpy as np

#: Time steps are padded to a multiple of this (up to `MAX_FINE_TIME`), then of `COARSE_TIME_STEP`.
TIME_STEP = 8
MAX_FINE_TIME = 128
COARSE_TIME_STEP = 32


def padded_shape(batch, time):
    """The (batch, time) a compiled call pads to: few distinct shapes, little padding.

    Batch: the next power of two up to 64, then a multiple of 64. Time: a multiple
    of `TIME_STEP` up to `MAX_FINE_TIME`, then of `COARSE_TIME_STEP`.

    Example:
    >>> padded_shape(3, 17), padded_shape(100, 300)
    ((4, 24), (128, 320))
    """
    padded_batch = 1 << (batch - 1).bit_length() if batch <= 64 else -(-batch // 64) * 64
    step = TIME_STEP if time <= MAX_FINE_TIME else COARSE_TIME_STEP
    return padded_batch, -(-time // step) * step


def pad_inputs(inputs, shape, time_axes=1):
    """Zero-pad an array (or a dict of arrays) to `shape` = (batch, time): rows, and each input's time axis.

    `time_axes`: each input's time axis (an int, or None for inputs without
    one, such as images), one for all or a dict by input name; default axis 1.
    """
    def pad(x, axis):
        x = np.asarray(x)
        widths = [(0, 0)] * x.ndim
        widths[0] = (0, shape[0] - x.shape[0])
        if axis is not None:
            widths[axis] = (0, shape[1] - x.shape[axis])
        return np.pad(x, widths)

    if isinstance(inputs, dict):
        return {k: pad(v, _axis(time_axes, k)) for k, v in inputs.items()}
    return pad(inputs, time_axes)


def _axis(time_axes, name):
    return time_axes.get(name) if isinstance(time_axes, dict) else time_axes


def _batch_and_time(inputs, time_axes=1):
    """`(batch, time)` of a batch: the rows, and the length of the first input with a time axis (else 0)."""
    items = sorted(inputs.items()) if isinstance(inputs, dict) else [(None, inputs)]
    batch = np.shape(items[0][1])[0]
    for name, x in items:
        axis = _axis(time_axes, name)
        if axis is not None:
            return batch, np.shape(x)[axis]
    return batch, 0


def jax_function(model, postprocess=None, time_axes=1):
    """`inputs -> NumPy outputs` of `model` (inference mode), one `jax.jit` for all shapes.

    Inputs are padded with zeros (padding id) to `padded_shape`; the outputs
    are returned padded (`(padded_batch, ...)`): callers keep the rows and time
    steps they gave. `postprocess` maps the model's outputs inside the jit.
    """
    import jax

    def stateless(trainable, non_trainable, inputs):
        outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=False)
        return postprocess(outputs) if postprocess is not None else outputs

    jitted = jax.jit(stateless)

    def fn(inputs):
        padded = pad_inputs(inputs, padded_shape(*_batch_and_time(inputs, time_axes)), time_axes)
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        out = jitted(trainable, non_trainable, padded)
        return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else np.asarray(out)

    return fn


def tf_pad_batch(structure, batch_size, time_axes):
    """Zero-pad a batch (nested tensors of shape `(batch, ...)`) to `batch_size` rows and `padded_shape` times.

    For `tf.data` pipelines feeding a jitted training step (JAX): bucketed
    batches come in every `(batch, time)` shape, and each new shape costs a
    compilation. Rows are padded up to `batch_size`; `time_axes` (a structure
    like `structure`, each leaf the tensor's time axis: `1` for token ids,
    None for a label per example) says which axis is padded per `padded_shape`. Added rows and steps are all zeros
    (padding ids), which the families' losses ignore.
    """
    import tensorflow as tf

    tensors = tf.nest.flatten(structure)
    axes = tf.nest.flatten(time_axes)
    if len(axes) != len(tensors):
        raise ValueError(f"time_axes has {len(axes)} leaves for {len(tensors)} tensors.")
    timed = [(t, a) for t, a in zip(tensors, axes) if a is not None]
    if timed:  # all of one batch's time axes share a length
        time = tf.shape(timed[0][0])[timed[0][1]]
        step = tf.where(time <= MAX_FINE_TIME, TIME_STEP, COARSE_TIME_STEP)
        time = (time + step - 1) // step * step

    def pad(t, axis):
        paddings = [[0, 0] for _ in range(t.shape.rank)]
        paddings[0] = [0, batch_size - tf.shape(t)[0]]
        if axis is not None:
            paddings[axis] = [0, time - tf.shape(t)[axis]]
        return tf.pad(t, paddings)

    return tf.nest.pack_sequence_as(structure, [pad(t, a) for t, a in zip(tensors, axes)])


def length_sorted_batches(lengths, batch_size):
    """Index arrays of batches of at most `batch_size` items, shortest first (stable): batches pad little.

    Example:
    >>> [b.tolist() for b in length_sorted_batches([5, 1, 3, 1], 2)]
    [[1, 3], [2, 0]]
    """
    order = np.argsort(np.asarray(lengths, dtype="int64"), kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class CompiledCall:
    """`inputs -> {name: NumPy array}` of a model in inference mode, compiled once for every input shape.

    The families' raw-input `predict` paths call it per batch. TensorFlow: a
    `tf.function` traced once for any batch shape, and for small batches (at
    most `xla_max_batch` rows and `xla_max_time` steps, the interactive case)
    an XLA twin, padded to a few shapes (`padded_shape`): XLA fuses each
    recurrent step, which cuts the latency of one input by a third to a half.
    Each shape's XLA program is compiled on a background thread the first
    time the shape is met (`BackgroundCompiles`); until it is ready, calls of
    that shape take the plain function, so no call waits for a compilation.
    JAX: one `jax.jit` of the stateless call, every batch padded to those
    shapes. PyTorch: an eager call.

    Args:
        model: the task (`keras.Model`).
        outputs: `model outputs -> {name: tensor}`, run inside the compiled call.
        constants: `() -> {name: tensor}` of values that do not depend on the
            inputs (e.g. CRF transitions): read inside the TF graph (one call
            instead of a variable read each), eagerly elsewhere.
        plain_inputs: `inputs -> inputs` applied before the plain TF call only
            (e.g. dropping all-padding character columns).
        use_xla: `() -> bool`, read per call (the task's `small_batch_xla`).
        time_outputs: names of outputs with a time axis (axis 1) aligned to the inputs'.
        input_time_axes: each input's time axis (an int, None for none, e.g. an
            image; a dict by input name), padded to a few lengths; default 1.

    Outputs are returned with the batch's own rows and time steps (what padding added is dropped).
    """

    def __init__(self, model, outputs, constants=None, plain_inputs=None, use_xla=lambda: True,
                 xla_max_batch=8, xla_max_time=128, time_outputs=(), input_time_axes=1):
        import keras

        self.model = model
        self.backend = keras.backend.backend()
        self.use_xla = use_xla
        self.xla_max_batch, self.xla_max_time = xla_max_batch, xla_max_time
        self.plain_inputs = plain_inputs
        self.time_outputs = frozenset(time_outputs)
        self.input_time_axes = input_time_axes
        self.compiles = BackgroundCompiles()
        self._constants = constants or (lambda: {})
        self._constant_names = frozenset(self._constants())
        self._outputs = outputs
        inputs = model.input
        self.names = sorted(inputs) if isinstance(inputs, dict) else None
        if self.backend == "tensorflow":
            self._trace_tf()
        elif self.backend == "jax":
            self._forward = jax_function(model, postprocess=outputs, time_axes=input_time_axes)
        else:
            self._forward = lambda x: {
                k: keras.ops.convert_to_numpy(v) for k, v in outputs(model(x, training=False)).items()
            }

    def _trace_tf(self):
        import tensorflow as tf

        model, names = self.model, self.names
        inputs = model.input
        specs = (
            [tf.TensorSpec(inputs[k].shape, inputs[k].dtype) for k in names]
            if names else [tf.TensorSpec(inputs.shape, inputs.dtype)]
        )
        keys = []

        def flat(*arrays):
            x = dict(zip(names, arrays)) if names else arrays[0]
            out = {**self._outputs(model(x, training=False)), **self._constants()}
            keys[:] = sorted(out)
            return tuple(out[k] for k in keys)

        # Both traced here, on the caller's thread: the compile thread only runs the XLA function
        # (compiling a shape runs no Python), so it never calls the model. Concrete functions over
        # positional tensors: a quarter of a millisecond less call overhead than a dict signature.
        self._plain = tf.function(flat).get_concrete_function(*specs)
        self._xla = tf.function(flat, jit_compile=True).get_concrete_function(*specs)
        self._keys = keys

    def _positional(self, x):
        return tuple(x[k] for k in self.names) if self.names else (x,)

    def __call__(self, x):
        import keras

        batch, time = _batch_and_time(x, self.input_time_axes)
        if self.backend != "tensorflow":
            out = {k: self._trim(k, v, batch, time) for k, v in self._forward(x).items()}
            out.update({k: keras.ops.convert_to_numpy(v) for k, v in self._constants().items()})
            return out
        function = self._plain
        if self.use_xla() and batch <= self.xla_max_batch and time <= self.xla_max_time:
            shape = padded_shape(batch, time)
            padded = pad_inputs(x, shape, self.input_time_axes)  # padding ids: masked; extra rows are dropped
            if shape in self.compiles.ready:
                function, x = self._xla, padded
            else:
                self.compiles.start(shape, self._xla, self._positional(padded))
        if function is self._plain and self.plain_inputs is not None:
            x = self.plain_inputs(x)
        out = dict(zip(self._keys, (np.asarray(v) for v in function(*self._positional(x)))))
        return {k: (v if k in self._constant_names else self._trim(k, v, batch, time)) for k, v in out.items()}

    def _trim(self, name, value, batch, time):
        return value[:batch, :time] if name in self.time_outputs else value[:batch]


class BackgroundCompiles:
    """Compile programs for new input shapes on a background thread, one at a time.

    A caller with a fast compiled path (XLA: one program per shape, compiled
    on its first call) and a slower path that takes any shape uses the fast
    one for the shapes in `ready` and, for a new shape, `start`s its
    compilation here and answers that call with the slow path: no call waits
    for a compilation. Work is a call `fn(*args)` on the inputs of the call
    that met the shape; its result is dropped. Compilations still queued when
    the interpreter exits are dropped (the running one finishes first).

    Example:
    >>> compiles = BackgroundCompiles()
    >>> compiles.start((1, 8), lambda x: x * 2, (np.ones(3),))
    >>> compiles.wait(); (1, 8) in compiles.ready
    True
    """

    def __init__(self):
        self.ready = set()
        self.failed = set()
        self._started = set()
        self._queue = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()

    def start(self, key, fn, args):
        """Queue `fn(*args)` to compile `key`'s program, unless `key` was started before."""
        with self._lock:
            if key in self._started:
                return
            self._started.add(key)
            self._queue.put((key, fn, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="rnnzoo-background-compile", daemon=True)
                self._thread.start()
                _LIVE.add(self)

    def wait(self):
        """Block until every queued compilation has finished."""
        self._queue.join()

    def stop(self):
        """Drop the queued compilations and wait for the running one."""
        with self._lock:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                self._queue.task_done()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _work(self):
        while True:
            with self._lock:
                if self._queue.empty():  # idle: the thread ends, and `start` makes a new one
                    self._thread = None
                    return
                key, fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception as error:  # the caller keeps using its slow path for this shape
                self.failed.add(key)
                warnings.warn(f"background compilation for shape {key} failed ({error!r}); that shape keeps "
                              "the uncompiled path.", RuntimeWarning, stacklevel=1)
            else:
                self.ready.add(key)
            finally:
                self._queue.task_done()


_LIVE = weakref.WeakSet()


@atexit.register
def _stop_background_compiles():
    for compiles in list(_LIVE):
        compiles.stop()
