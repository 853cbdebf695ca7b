"""Run `rnnzoo.train` in this process: one worker of a (local or real) cluster.

`python -m rnnzoo.training.worker CONFIG [--strategy S] [--run-dir D] [--output-dir O]
[--set k=v ...] [--logical-cpus N] [--result R.npz]`

Each worker of a multi-worker job runs this (or `rnnzoo train`) with its own
`TF_CONFIG`; `launch_local_workers` starts a whole cluster on this machine for
tests, benchmarks and trying multi-worker training on a laptop. `--result`
writes the final weights (`w0`, `w1`, ...) and the per-epoch history, so the
tests can compare workers; `--step-delay` slows every step down (the
fault-tolerance test needs time to kill the process mid-epoch).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnzoo.training.worker", description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--run-dir")
    parser.add_argument("--output-dir")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--logical-cpus", type=int, default=int(os.environ.get("RNNZOO_LOGICAL_CPUS", 0) or 0))
    parser.add_argument("--result", help="write final weights and history to this .npz")
    parser.add_argument("--step-delay", type=float, default=0.0, help="sleep this long after every step")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    if args.logical_cpus:
        from rnnzoo.training.distribute import use_logical_cpus

        use_logical_cpus(args.logical_cpus)
    from rnnzoo.config import parse_override
    from rnnzoo.training.trainer import train

    overrides = dict(parse_override(item) for item in args.set)
    callbacks = []
    if args.step_delay:
        callbacks.append(_StepDelay(args.step_delay))
    task = train(
        args.config,
        strategy=args.strategy,
        output_dir=args.output_dir,
        overrides=overrides,
        run_dir=args.run_dir,
        verbose=0 if args.quiet else 1,
        callbacks=callbacks,
    )
    if args.result:
        import numpy as np

        weights = {f"w{i}": np.asarray(w) for i, w in enumerate(task.get_weights())}
        history = json.dumps(task.history.history if task.history is not None else {}, default=float)
        np.savez(args.result, history=np.array(history), **weights)
    return 0


def _StepDelay(seconds):
    import time

    import keras

    class StepDelay(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(seconds)

    return StepDelay()


def local_cluster(num_workers, ports=None):
    """`TF_CONFIG` dicts for `num_workers` workers on 127.0.0.1 (free ports when `ports` is None)."""
    import socket

    if ports is None:
        sockets = [socket.socket() for _ in range(num_workers)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.close()
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(num_workers)]


def launch_local_workers(num_workers, worker_args, timeout=None, nice=0):
    """Run `num_workers` local workers of this module with their `TF_CONFIG`s and wait.

    Args:
        num_workers: cluster size.
        worker_args: argument list for each worker (`[CONFIG, "--set", ...]`);
            `{index}` in an argument is replaced by the worker index.
        timeout: seconds before every worker is killed.
        nice: niceness of the workers.

    Returns:
        `[(returncode, output)]` per worker. Every process is gone on return.
    """
    commands_and_envs = []
    for i, tf_config in enumerate(local_cluster(num_workers)):
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), PYTHONUNBUFFERED="1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        command = [sys.executable, "-m", "rnnzoo.training.worker"] + [a.replace("{index}", str(i)) for a in worker_args]
        commands_and_envs.append((command, env))
    return run_processes(commands_and_envs, timeout=timeout, nice=nice)


def run_processes(commands_and_envs, timeout=None, nice=0):
    """Start every `(command, env)`, wait for all within one shared `timeout`, return `[(rc, output)]`.

    Every process is gone on return: on a timeout (or any error) the ones still
    running are killed.
    """
    procs = []
    deadline = None if timeout is None else time.time() + timeout
    try:
        for command, env in commands_and_envs:
            if nice:
                command = ["nice", "-n", str(nice)] + list(command)
            procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        results = []
        for proc in procs:
            remaining = None if deadline is None else max(1, deadline - time.time())
            out, _ = proc.communicate(timeout=remaining)
            results.append((proc.returncode, out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

if __name__ == "__main__":
    sys.exit(main())
