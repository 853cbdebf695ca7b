"""One LSTM direction over a (batch, time, features) block on the TensorFlow CPU backend: Keras' LSTM vs
the other ways TensorFlow offers to run the same recurrence (outputs checked equal first).

Why it exists: the classifier's inference goal asks for 1.5x the keras.io recipe's examples/s with the same
layer sizes. Skipping padding is worth at most the recipe's row-steps over ours (`bench_classifier.py` prints
it: ~1.1x at 200 tokens), so the rest would have to come from a cheaper recurrent step. This measures the
candidates for that step: a hand-written `tf.while_loop` with the input projection hoisted out of the loop,
`tf.scan`, the loop under XLA (`jit_compile=True`), TensorFlow's fused `BlockLSTMV2` kernel, and Keras' LSTM
under the `mixed_bfloat16` policy (this CPU's AMX units); for inference only, the input projection read per word
from a table precomputed over the vocabulary (embedding @ kernel + bias: no input matmul at all, `--vocabulary`
words, the block being those words' embeddings). Forward pass (inference) and forward + backward
(training), interleaved repeats, medians; ratios are Keras' time over each variant's (> 1 = faster than Keras).

    python benchmarks/bench_lstm_kernels.py --batch 64 --time 200 --features 50 --units 128
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def variants(args):
    import keras
    import tensorflow as tf

    b, t, d, u = args.batch, args.time, args.features, args.units
    embeddings = tf.random.stateless_normal([args.vocabulary, d], seed=[1, 2])
    ids = tf.random.stateless_uniform([b, t], seed=[3, 4], maxval=args.vocabulary, dtype=tf.int32)
    x = tf.gather(embeddings, ids)
    keras.utils.set_random_seed(0)
    lstm = keras.layers.LSTM(u, return_sequences=True)
    lstm(x)
    kernel, recurrent, bias = lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias

    def loop_over(xw):
        """The recurrence as a `tf.while_loop` over projected inputs `xw` of shape (time, batch, 4 units)."""
        r = tf.convert_to_tensor(recurrent)

        def step(i, h, c, out):
            i_, f, g, o = tf.split(xw[i] + tf.matmul(h, r), 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i_) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return i + 1, h, c, out.write(i, h)

        zeros = tf.zeros([tf.shape(xw)[1], u])
        steps = tf.shape(xw)[0]
        _, _, _, out = tf.while_loop(
            lambda i, *_: i < steps, step, (0, zeros, zeros, tf.TensorArray(tf.float32, size=steps)),
            maximum_iterations=steps,  # XLA needs the bound for gradients
        )
        return tf.transpose(out.stack(), [1, 0, 2])

    def while_loop(x):
        return loop_over(tf.einsum("btd,dk->tbk", x, kernel) + bias)  # input projection for all steps at once

    table = tf.matmul(embeddings, kernel) + bias  # every vocabulary word's projection, computed once (at load)

    def word_table(x):
        return loop_over(tf.gather(table, tf.transpose(ids)))  # `x` is these words' embeddings

    def scan(x):
        xw = tf.einsum("btd,dk->tbk", x, kernel) + bias
        r = tf.convert_to_tensor(recurrent)

        def step(state, z):
            h, c = state
            i_, f, g, o = tf.split(z + tf.matmul(h, r), 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i_) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        zeros = tf.zeros([tf.shape(x)[0], u])
        h, _ = tf.scan(step, xw, initializer=(zeros, zeros))
        return tf.transpose(h, [1, 0, 2])

    def block(x):
        # TensorFlow's fused LSTM kernel; its V2 gate order (i, f, c, o) is Keras'.
        zeros = tf.zeros([tf.shape(x)[0], u])
        peephole = tf.zeros([u])
        out = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(x)[1], tf.int64), x=tf.transpose(x, [1, 0, 2]), cs_prev=zeros,
            h_prev=zeros, w=tf.concat([kernel, recurrent], 0), wci=peephole, wcf=peephole, wco=peephole,
            b=bias, cell_clip=0.0, use_peephole=False,
        )
        return tf.transpose(out[6], [1, 0, 2])

    keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    lstm_bf16 = keras.layers.LSTM(u, return_sequences=True)
    lstm_bf16(x)
    lstm_bf16.set_weights(lstm.get_weights())
    keras.config.set_dtype_policy("float32")

    # name -> (function, compile with XLA, the weights it trains)
    weights = [kernel, recurrent, bias]
    fns = {
        "keras LSTM (float32)": (lambda x: lstm(x), False, weights),
        "tf.while_loop, hoisted input projection": (while_loop, False, weights),
        "tf.scan, hoisted input projection": (scan, False, weights),
        "tf.while_loop under XLA": (while_loop, True, weights),
        "BlockLSTMV2 (fused kernel)": (block, False, weights),
        "keras LSTM (mixed_bfloat16)": (
            lambda x: tf.cast(lstm_bf16(x), tf.float32), False, lstm_bf16.trainable_weights
        ),
        "input projection per word from a table": (word_table, False, None),  # inference only
    }
    return x, fns


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=200)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--vocabulary", type=int, default=30000, help="words in the per-word projection table")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # each variant traces its own functions once
    x, fns = variants(args)
    forward = {name: tf.function(fn, jit_compile=xla) for name, (fn, xla, _) in fns.items()}

    def training(fn, xla, weights):
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(fn(x)))
            return tape.gradient(loss, weights)

        return tf.function(step, jit_compile=xla)

    backward = {name: training(fn, xla, weights) for name, (fn, xla, weights) in fns.items() if weights is not None}
    reference = forward["keras LSTM (float32)"](x).numpy()
    for name, fn in forward.items():
        diff = float(np.abs(fn(x).numpy() - reference).max())
        print(f"{name:42s} max |output - keras float32| = {diff:.1e}")
        if name in backward:
            [g.numpy() for g in backward[name](x)]  # trace + warm up
    times = {(kind, name): [] for kind in ("forward", "train") for name in fns}
    for _ in range(args.repeats):
        for name in fns:
            for kind, table in (("forward", forward), ("train", backward)):
                if name not in table:
                    continue
                start = time.perf_counter()
                out = table[name](x)
                [o.numpy() for o in (out if isinstance(out, list) else [out])]
                times[(kind, name)].append(time.perf_counter() - start)
    base = {kind: statistics.median(times[(kind, "keras LSTM (float32)")]) for kind in ("forward", "train")}
    print(f"\nbatch {args.batch}, {args.time} steps, {args.features} features, {args.units} units; "
          f"medians of {args.repeats}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| recurrence | forward ms | vs Keras | forward+backward ms | vs Keras |")
    print("|---|---|---|---|---|")
    for name in fns:
        f = statistics.median(times[("forward", name)])
        row = f"| {name} | {1000 * f:.1f} | {base['forward'] / f:.2f}x |"
        if times[("train", name)]:
            t = statistics.median(times[("train", name)])
            print(f"{row} {1000 * t:.1f} | {base['train'] / t:.2f}x |")
        else:
            print(f"{row} - | (inference only) |")


if __name__ == "__main__":
    main()
