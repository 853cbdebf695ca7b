"""Training-step throughput: rnnzoo's VanillaRNN vs keras.layers.SimpleRNN.

Both layers see the same model (input -> RNN -> Dense(1), MSE), the same
sizes and the same compiled train step (`train_on_batch`, Keras' default
`jit_compile="auto"`: XLA on accelerators, a plain tf.function on CPU). The
variants are measured interleaved: every repeat times each variant once, in
a rotating order, so a background load slows them alike; the report is the
median over repeats and the ratio ours/SimpleRNN.

Two clocks: wall-clock throughput (sequences per second) and CPU-time
throughput (sequences per CPU-second of this process, all threads, from
`time.process_time`). On a machine shared with other jobs the wall clock
mostly measures the scheduler; the CPU clock measures the work each layer
costs and is the number to compare there.

    nice -n 10 python benchmarks/bench_vanilla_rnn.py
    python benchmarks/bench_vanilla_rnn.py --repeats 3 --steps 5   # quick
    python benchmarks/bench_vanilla_rnn.py --with-hoisted          # + the hoisted-projection loop

`--with-hoisted` adds `VanillaRNN(hoist_inputs=True)`: the same layer with
W_x x + b computed for all steps in one matmul before the loop, the design
VanillaRNN had first; this benchmark made it opt-in.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


from rnnzoo.layers import VanillaRNN  # noqa: E402

NAMES = {"ours": "VanillaRNN", "simple": "SimpleRNN", "hoisted": "VanillaRNN(hoist_inputs=True)"}


@keras.saving.register_keras_serializable(package="rnnzoo_bench")
def build(kind, bidirectional, args):
    keras.utils.set_random_seed(0)
    if kind == "ours":
        layer = VanillaRNN(args.units, return_sequences=args.return_sequences)
    elif kind == "hoisted":
        layer = VanillaRNN(args.units, return_sequences=args.return_sequences, hoist_inputs=True)
    else:
        layer = keras.layers.SimpleRNN(args.units, return_sequences=args.return_sequences)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    inputs = keras.Input((args.time, args.features), batch_size=args.batch)
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=40)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--return-sequences", action="store_true",
                        help="per-step outputs (a tagger's shape) instead of the last state")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=10, help="train steps per timing")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps after tracing")
    parser.add_argument("--with-hoisted", action="store_true",
                        help="also time VanillaRNN(hoist_inputs=True) (input projection before the loop)")
    args = parser.parse_args(argv)

    rng = np.random.RandomState(0)
    x = rng.standard_normal((args.batch, args.time, args.features)).astype("float32")
    y_shape = (args.batch, args.time, 1) if args.return_sequences else (args.batch, 1)
    y = rng.standard_normal(y_shape).astype("float32")

    kinds = ("ours", "simple", "hoisted") if args.with_hoisted else ("ours", "simple")
    variants = [(kind, bi) for bi in (False, True) for kind in kinds]
    models = {}
    for variant in variants:
        model = build(*variant, args)
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        models[variant] = model

    wall = {variant: [] for variant in variants}
    cpu = {variant: [] for variant in variants}
    for repeat in range(args.repeats):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:  # rotate the order
            model = models[variant]
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            wall[variant].append(args.steps * args.batch / elapsed)
            cpu[variant].append(args.steps * args.batch / elapsed_cpu)

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, "
          f"batch {args.batch}, {args.time} steps, {args.features} -> {args.units} units, "
          f"return_sequences={args.return_sequences}, {args.repeats} interleaved repeats x {args.steps} train steps")
    medians = {}
    for clock, throughput in (("wall-clock seq/s", wall), ("seq per CPU-second", cpu)):
        print(f"{'layer':<28} {clock:>20} {'min':>9} {'max':>9}")
        for variant in variants:
            kind, bi = variant
            name = ("Bidirectional " if bi else "") + NAMES[kind]
            values = throughput[variant]
            medians[clock, variant] = statistics.median(values)
            print(f"{name:<28} {medians[clock, variant]:20.1f} {min(values):9.1f} {max(values):9.1f}")
        for kind in kinds[::2]:  # ours, hoisted: each against SimpleRNN
            for bi in (False, True):
                label = "bidirectional" if bi else "unidirectional"
                ratio = medians[clock, (kind, bi)] / medians[clock, ("simple", bi)]
                # Per-repeat ratios are paired (measured back to back): less noisy than a ratio of medians.
                paired = statistics.median(a / b for a, b in zip(throughput[(kind, bi)], throughput[("simple", bi)]))
                print(f"  ratio {NAMES[kind]}/SimpleRNN {label} ({clock}): {ratio:.3f} "
                      f"(median of paired per-repeat ratios {paired:.3f})")
    return medians


if __name__ == "__main__":
    main()
