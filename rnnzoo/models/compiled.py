"""Compiled inference calls shared by the families' raw-input `predict` paths.

TensorFlow uses `tf.function`s (in each family). On JAX, Keras'
`predict_on_batch` compiles one program per input shape, and raw-text batches
come in every shape; `jax_function` jits the model's stateless call once and
pads every batch to one of a few shapes (`padded_shape`), so programs are reused.
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


def pad_inputs(inputs, shape):
    """Zero-pad an array (or a dict of arrays) of shape `(batch, time, ...)` to `shape` = (batch, time)."""
    def pad(x):
        x = np.asarray(x)
        return np.pad(x, [(0, shape[0] - x.shape[0]), (0, shape[1] - x.shape[1])] + [(0, 0)] * (x.ndim - 2))

    return {k: pad(v) for k, v in inputs.items()} if isinstance(inputs, dict) else pad(inputs)


def _batch_and_time(inputs):
    first = next(iter(inputs.values())) if isinstance(inputs, dict) else inputs
    return tuple(np.shape(first)[:2])


def jax_function(model, postprocess=None):
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
        padded = pad_inputs(inputs, padded_shape(*_batch_and_time(inputs)))
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return np.asarray(jitted(trainable, non_trainable, padded))

    return fn


def tf_pad_batch(structure, batch_size):
    """Zero-pad a batch (nested tensors of shape `(batch, ...)`) to `batch_size` rows and a `padded_shape` time.

    For `tf.data` pipelines feeding a jitted training step (JAX): bucketed
    batches come in every `(batch, time)` shape, and each new shape costs a
    compilation. Rows are padded up to `batch_size`; tensors of rank >= 2 have
    their time axis (axis 1) padded per `padded_shape`. Added rows and steps
    are all zeros (padding ids), which the families' losses ignore.
    """
    import tensorflow as tf

    tensors = tf.nest.flatten(structure)
    sequences = [t for t in tensors if t.shape.rank >= 2]  # all share the batch's time axis
    if sequences:
        time = tf.shape(sequences[0])[1]
        step = tf.where(time <= MAX_FINE_TIME, TIME_STEP, COARSE_TIME_STEP)
        time = (time + step - 1) // step * step

    def pad(t):
        rows = [[0, batch_size - tf.shape(t)[0]]]
        if t.shape.rank >= 2:
            rows.append([0, time - tf.shape(t)[1]])
        paddings = rows + [[0, 0]] * (t.shape.rank - len(rows))
        return tf.pad(t, paddings)

    return tf.nest.pack_sequence_as(structure, [pad(t) for t in tensors])


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
