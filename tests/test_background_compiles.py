"""`BackgroundCompiles`: new shapes compile on one background thread; no caller waits, exit is clean."""

import subprocess
import sys
import threading
import time

import pytest

from rnnzoo.models.compiled import BackgroundCompiles


def test_start_returns_at_once_and_each_key_runs_once_one_at_a_time():
    compiles, release = BackgroundCompiles(), threading.Event()
    calls, running, most = [], [0], [0]

    def compile_for(key):
        running[0] += 1
        most[0] = max(most[0], running[0])
        release.wait(10)
        calls.append(key)
        running[0] -= 1

    for key in ["a", "b", "a", "c", "b"]:
        compiles.start(key, compile_for, (key,))
    assert compiles.ready == set() and calls == []  # nothing waited for the first compilation
    release.set()
    compiles.wait()
    assert calls == ["a", "b", "c"] and compiles.ready == {"a", "b", "c"} and most[0] == 1
    compiles.start("a", compile_for, ("a",))  # started before: not again
    compiles.start("d", compile_for, ("d",))  # the idle worker has ended; a new one starts
    compiles.wait()
    assert calls == ["a", "b", "c", "d"]


def test_a_failed_compilation_warns_and_leaves_the_key_on_the_slow_path():
    compiles = BackgroundCompiles()

    def broken():
        raise ValueError("no kernel")

    with pytest.warns(RuntimeWarning, match=r"shape \(1, 8\) failed.*no kernel"):
        compiles.start((1, 8), broken, ())
        compiles.wait()
    assert (1, 8) in compiles.failed and (1, 8) not in compiles.ready


def test_stop_drops_queued_work_and_waits_for_the_running_one():
    compiles, release, calls = BackgroundCompiles(), threading.Event(), []
    compiles.start("running", lambda: (release.wait(10), calls.append("running")), ())
    while not compiles._queue.empty():  # until the worker has taken it
        time.sleep(0.01)
    compiles.start("queued", lambda: calls.append("queued"), ())
    threading.Timer(0.2, release.set).start()
    compiles.stop()
    assert calls == ["running"] and compiles.ready == {"running"}


def test_the_interpreter_exits_after_the_running_compilation():
    code = (
        "import time\n"
        "from rnnzoo.models.compiled import BackgroundCompiles\n"
        "compiles = BackgroundCompiles()\n"
        "compiles.start(1, lambda: (time.sleep(0.5), print('compiled', flush=True)), ())\n"
        "compiles.start(2, lambda: print('never', flush=True), ())\n"
        "time.sleep(0.1)\n"
        "print('exiting', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["exiting", "compiled"]
