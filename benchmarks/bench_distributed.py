"""Steps/s of data-parallel training: 1 vs 2 logical CPU replicas, 1 vs 2 local workers, fixed global batch.

    python benchmarks/bench_distributed.py [--global-batch 32] [--steps 30] [--units 32]

Every configuration trains the same tiny tagger (synthetic CoNLL data written to
a temp folder) with the same *global* batch, each in a fresh process (logical
devices and TF_CONFIG must be set before TensorFlow starts). Steps/s is measured
by the custom loop over the second epoch (the first pays for tracing). On a
machine with fewer cores than replicas, expect a ratio below 1: the replicas
share the cores and add all-reduce work.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

SCRIPT = r"""
import json, os, sys, time
n = int(os.environ.get("RNNZOO_LOGICAL_CPUS", "0") or 0)
if n:
    from rnnzoo.training.distribute import use_logical_cpus
    use_logical_cpus(n)
import keras
from rnnzoo.training.trainer import train
times = []
class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): times.append(time.perf_counter() - self.t)
config, strategy, per_replica, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
task = train(config, strategy=strategy, loop="custom", verbose=0, callbacks=[Clock()],
             overrides={"training.batch_size": per_replica})
json.dump({"epoch_seconds": times}, open(out, "w"))
"""


def run(config, strategy, per_replica, workers=1, logical_cpus=0, timeout=600):
    from rnnzoo.training.worker import local_cluster

    outs = []
    procs = []
    tf_configs = local_cluster(workers) if strategy == "multi_worker" else [None]
    for i, tf_config in enumerate(tf_configs):
        out = tempfile.mktemp(suffix=".json")
        outs.append(out)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", RNNZOO_LOGICAL_CPUS=str(logical_cpus))
        env.pop("TF_CONFIG", None)
        if tf_config:
            env["TF_CONFIG"] = json.dumps(tf_config)
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, config, strategy, str(per_replica), out], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        for p in procs:
            output, _ = p.communicate(timeout=timeout)
            if p.returncode:
                raise RuntimeError(output[-3000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    with open(outs[0]) as f:
        return json.load(f)["epoch_seconds"]


def main():
    from distributed_helpers import tiny_tagger_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="steps per epoch")
    parser.add_argument("--units", type=int, default=32)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    config = tiny_tagger_config(folder, train_sentences=args.steps * args.global_batch, batch_size=args.global_batch,
                                epochs=2)
    config["architecture"].update(units=args.units, embedding_dim=args.units)
    path = os.path.join(folder, "bench.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    g = args.global_batch
    cases = [
        ("1 replica (default strategy)", dict(strategy="one_device", per_replica=g)),
        ("2 logical CPU replicas (mirrored)", dict(strategy="mirrored", per_replica=g // 2, logical_cpus=2)),
        ("1 local worker (multi_worker)", dict(strategy="multi_worker", per_replica=g, workers=1)),
        ("2 local workers (multi_worker)", dict(strategy="multi_worker", per_replica=g // 2, workers=2)),
    ]
    print(f"global batch {g}, {args.steps} steps/epoch, tagger units {args.units}, cpus {os.cpu_count()}")
    rates = {}
    for name, kwargs in cases:
        started = time.time()
        seconds = run(path, **kwargs)
        rates[name] = args.steps / seconds[-1]
        print(f"{name:36s} {rates[name]:7.2f} steps/s  (second epoch {seconds[-1]:.2f}s; run {time.time() - started:.0f}s)")
    names = [c[0] for c in cases]
    print(f"scaling ratio, 2 replicas / 1 replica: {rates[names[1]] / rates[names[0]]:.2f}")
    print(f"scaling ratio, 2 workers / 1 worker:   {rates[names[3]] / rates[names[2]]:.2f}")


if __name__ == "__main__":
    main()
