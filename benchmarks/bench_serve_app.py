"""Load on the served app (examples/serve_app.py): requests/s and p50/p99 latency per route.

Starts the app with uvicorn on 127.0.0.1 (a free port) in a subprocess, or targets a running one (`--url`),
and sends `--requests` requests from `--concurrency` client threads (httpx, one connection each): a mix of
`/tag` and `/classify`, single texts and batches of 2-6, every text distinct. A warm-up of `--warmup` requests
(not timed: each new batch shape compiles an XLA program in the server's background) goes first, then
`--repeats` timed runs of fresh texts, each printed, and their medians. Also printed: the server's CPU seconds
(Linux), the client's, and the texts per `predict` call. `--compare` runs the app with and without
micro-batching, one after the other. tests/test_serve_app.py drives the same load and checks every response.

    python benchmarks/bench_serve_app.py --requests 500 --concurrency 16
    python benchmarks/bench_serve_app.py --requests 500 --concurrency 16 --compare
"""

import argparse
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "examples", "serve_app.py")

NAMES = ["Angela Merkel", "Pankaj", "Maria Lopez", "John Smith", "Emmanuel Macron", "Yuki Tanaka", "Siemens",
         "Google", "Reuters", "the United Nations", "Paris", "Berlin", "New York", "Munich", "London", "Tokyo"]
VERBS = ["visited", "met", "praised", "left", "criticised", "joined", "called", "thanked"]
OPENINGS = ["The acting was", "Honestly the plot felt", "Its music is", "The ending seemed", "This film is",
            "The dialogue was", "Overall it is", "The cast looked"]
JUDGEMENTS = ["wonderful", "dull", "moving", "boring", "brilliant", "awful", "charming", "predictable",
              "fresh", "tedious", "funny", "a mess", "gripping", "forgettable", "lovely", "flat"]
TAILS = ["and I would watch it again", "but the second half drags", "so bring friends", "though nobody laughed",
         "for a rainy evening", "despite a strong start", "with a great score", "and far too long"]


def tag_texts(count, seed=0):
    """`count` distinct short sentences for the tagger (each names entities; a running number keeps them distinct)."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(NAMES)} {rng.choice(VERBS)} {rng.choice(NAMES)} in {rng.choice(NAMES)} on day {i} ."
        for i in range(count)
    ]


def classify_texts(count, seed=0):
    """`count` distinct short reviews for the classifier (mixed sentiment, so their scores spread out)."""
    rng = random.Random(seed + 1)
    texts = []
    while len(texts) < count:
        text = (f"{rng.choice(OPENINGS)} {rng.choice(JUDGEMENTS)} and {rng.choice(JUDGEMENTS)} , "
                f"{rng.choice(TAILS)} ({len(texts)}) .")
        texts.append(text)
    return texts


def make_plan(requests, tag_pool, classify_pool, seed=0, max_batch=6):
    """A list of `(route, payload)`: tag/classify x single/batch (2..`max_batch` texts), shuffled.

    Texts are taken from each route's pool in order, wrapping around when a pool runs out.
    """
    rng = random.Random(seed)
    kinds = [(route, batch) for route in ("tag", "classify") for batch in (False, True)]
    kinds = [kinds[i % 4] for i in range(requests)]
    rng.shuffle(kinds)
    pools = {"tag": tag_pool, "classify": classify_pool}
    used = {"tag": 0, "classify": 0}
    plan = []
    for route, batch in kinds:
        pool = pools[route]
        size = rng.randint(2, max_batch) if batch else 1
        texts = [pool[(used[route] + k) % len(pool)] for k in range(size)]
        used[route] += size
        plan.append((route, {"texts": texts} if batch else {"text": texts[0]}))
    return plan


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, app_args=(), log_path=None):
    """Start examples/serve_app.py on 127.0.0.1:`port` in a subprocess (its output to `log_path`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    log = open(log_path or os.devnull, "w")
    try:
        return subprocess.Popen(
            [sys.executable, APP, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--log-level", "warning", *app_args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    finally:
        log.close()


def wait_ready(url, process=None, timeout=180):
    """Poll `url`/health until it says ready; raises RuntimeError when the server exits or `timeout` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before it was ready")
        try:
            response = httpx.get(f"{url}/health", timeout=5)
            if response.status_code == 200 and response.json().get("ready"):
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server at {url} was not ready after {timeout} s")


def stop_server(process, timeout=30):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def run_load(url, plan, concurrency=16, deadline_s=120, timeout_s=60):
    """Send `plan` from `concurrency` client threads; returns `(records, wall_seconds)`.

    Each record: `{"index", "route", "status", "body", "sent", "latency"}` (seconds from the start, seconds) (`status` None and `body` the exception's
    text when a request failed at the transport level). No request starts after `deadline_s`, and each has a
    `timeout_s` timeout, so the run ends within `deadline_s + timeout_s`; requests never started are missing
    from `records`.
    """
    import httpx

    todo = queue.Queue()
    for i in range(len(plan)):
        todo.put(i)
    records, lock = [], threading.Lock()
    start, origin = time.monotonic(), time.perf_counter()

    def client():
        with httpx.Client(base_url=url, timeout=timeout_s) as http:
            while time.monotonic() - start < deadline_s:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                route, payload = plan[i]
                sent = time.perf_counter()
                try:
                    response = http.post(f"/{route}", json=payload)
                    status = response.status_code
                    try:
                        body = response.json()
                    except ValueError:
                        body = response.text
                except httpx.HTTPError as error:
                    status, body = None, f"{type(error).__name__}: {error}"
                record = {"index": i, "route": route, "status": status, "body": body,
                          "sent": sent - origin, "latency": time.perf_counter() - sent}
                with lock:
                    records.append(record)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline_s + timeout_s + 5 - (time.monotonic() - start))
    return records, time.monotonic() - start


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(records, wall, plan):
    """Per route and overall: requests, texts, failures, requests/s, texts/s, p50/p99 latency (ms)."""
    rows = {}
    for route in ("tag", "classify", "all"):
        chosen = [r for r in records if route == "all" or r["route"] == route]
        texts = sum(len(plan[r["index"]][1].get("texts", [None])) for r in chosen)
        latencies = [r["latency"] for r in chosen]
        rows[route] = {
            "requests": len(chosen), "texts": texts, "failed": sum(r["status"] != 200 for r in chosen),
            "requests_per_s": len(chosen) / wall, "texts_per_s": texts / wall,
            "p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99),
        }
    return rows


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def server_stats(url):
    import httpx

    return httpx.get(f"{url}/health", timeout=10).json()


def timed_run(url, args, seed, process=None):
    """One timed run of `args.requests` fresh requests: its summary rows, CPU seconds and server counters."""
    plan = make_plan(args.requests, tag_texts(3 * args.requests, seed=100 + seed),
                     classify_texts(3 * args.requests, seed=100 + seed), seed=seed)
    before = server_stats(url)["stats"]
    cpu_before = cpu_seconds(process.pid) if process else None
    client_before = time.process_time()
    records, wall = run_load(url, plan, args.concurrency, deadline_s=args.deadline)
    client_cpu = time.process_time() - client_before
    cpu_after = cpu_seconds(process.pid) if process else None
    after = server_stats(url)["stats"]
    rows = summarize(records, wall, plan)
    rows["all"]["wall_s"] = wall
    rows["all"]["client_cpu_s"] = client_cpu
    if cpu_before is not None and cpu_after is not None:
        rows["all"]["server_cpu_s"] = cpu_after - cpu_before
    for route in after:
        calls = after[route]["predict_calls"] - before[route]["predict_calls"]
        rows[route]["predict_calls"] = calls
        rows[route]["texts_per_call"] = (after[route]["texts"] - before[route]["texts"]) / max(calls, 1)
    return rows


def print_rows(rows, title):
    print(title)
    print(f"  {'route':9} {'requests':>8} {'texts':>6} {'failed':>6} {'req/s':>7} {'texts/s':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'texts/call':>10}")
    for route, row in rows.items():
        per_call = f"{row['texts_per_call']:10.1f}" if "texts_per_call" in row else f"{'':10}"
        print(f"  {route:9} {row['requests']:8d} {row['texts']:6d} {row['failed']:6d} {row['requests_per_s']:7.1f} "
              f"{row['texts_per_s']:8.1f} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} {per_call}")
    extra = rows["all"]
    if "server_cpu_s" in extra:
        print(f"  wall {extra['wall_s']:.2f} s; server CPU {extra['server_cpu_s']:.2f} s "
              f"({extra['requests'] / max(extra['server_cpu_s'], 1e-9):.0f} requests per server CPU-second); "
              f"client CPU {extra['client_cpu_s']:.2f} s")


def bench(url, args, process=None):
    """Warm up, then `args.repeats` timed runs; prints each and the medians. Returns the runs' rows."""
    import statistics

    warm = make_plan(args.warmup, tag_texts(args.warmup, seed=7), classify_texts(args.warmup, seed=7), seed=2)
    if warm:
        run_load(url, warm, args.concurrency)
    limits = server_stats(url)["limits"]
    print(f"{args.requests} requests x {args.repeats} runs from {args.concurrency} clients, micro_batch="
          f"{limits['micro_batch']}, after {args.warmup} warm-up requests; load average {args.load_before}")
    runs = []
    for repeat in range(args.repeats):
        rows = timed_run(url, args, seed=repeat, process=process)
        runs.append(rows)
        print_rows(rows, f"run {repeat + 1}:")
    median = {
        route: {key: statistics.median(run[route][key] for run in runs) for key in runs[0][route]}
        for route in runs[0]
    }
    for route in median:
        for key in ("requests", "texts", "failed"):
            median[route][key] = int(median[route][key])
    print_rows(median, f"median of {len(runs)} runs:")
    return {"runs": runs, "median": median}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300,
                        help="untimed requests first (new batch shapes compile XLA programs in the background)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (fresh texts each)")
    parser.add_argument("--deadline", type=float, default=300, help="start no request after this many seconds")
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--tagger", default="bilstm_ner")
    parser.add_argument("--classifier", default="bigru_sst2")
    parser.add_argument("--no-micro-batch", dest="micro_batch", action="store_false")
    parser.add_argument("--compare", action="store_true", help="run with and without micro-batching")
    parser.add_argument("--json", help="write the summaries here")
    args = parser.parse_args(argv)
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.url:
        results = {"url": bench(args.url.rstrip("/"), args)}
    else:
        results = {}
        for micro_batch in ([True, False] if args.compare else [args.micro_batch]):
            port = free_port()
            app_args = ["--tagger", args.tagger, "--classifier", args.classifier]
            app_args += [] if micro_batch else ["--no-micro-batch"]
            process = start_server(port, app_args)
            try:
                wait_ready(f"http://127.0.0.1:{port}", process)
                args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
                rows = bench(f"http://127.0.0.1:{port}", args, process)
                results["micro_batch" if micro_batch else "one_call_per_request"] = rows
            finally:
                stop_server(process)
            print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
