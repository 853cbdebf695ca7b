"""examples/serve_app.py under load: uvicorn in a subprocess on 127.0.0.1, 500 requests from 16 concurrent clients.

Every response is checked against `predict` on the same text in this process, so a lost, duplicated or
mixed-up answer fails: tagger texts are all distinct (their tokens come back), and classifier texts are chosen
so that no two expected scores of one label are within twice the tolerance. Then oversize, malformed and
wrongly typed requests get 4xx JSON, and the server keeps serving. The load is the one
benchmarks/bench_serve_app.py times.
"""

import importlib.util
import os
import time

import pytest

pytest.importorskip("fastapi", reason="the served app needs fastapi (pip install -e '.[serve]')")
pytest.importorskip("uvicorn", reason="the served app needs uvicorn (pip install -e '.[serve]')")
httpx = pytest.importorskip("httpx", reason="the load test's clients need httpx (pip install -e '.[serve]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAGGER, CLASSIFIER = "bilstm_ner", "bigru_sst2"
REQUESTS, CONCURRENCY, DEADLINE_S = 500, 16, 120
SCORE_TOLERANCE = 2e-4  # scores are rounded to 4 decimals; a batch's padding may move the last digit
LIMITS = {"max_body_bytes": 65536, "max_items": 16, "max_chars": 1000}


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_serve_app", os.path.join(ROOT, "benchmarks",
                                                                                  "bench_serve_app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


def separated(texts, results, gap):
    """The texts whose (label, score) is more than `gap` from every kept text's of the same label."""
    kept, scores = [], {}
    for text, result in zip(texts, results):
        same_label = scores.setdefault(result["label"], [])
        if all(abs(result["score"] - s) > gap for s in same_label):
            same_label.append(result["score"])
            kept.append(text)
    return kept


def server_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The running app (url, process, log path) and the expected results of the texts the load sends."""
    log_path = str(tmp_path_factory.mktemp("serve_app") / "server.log")
    args = ["--tagger", TAGGER, "--classifier", CLASSIFIER]
    for name, value in LIMITS.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    port = bench.free_port()
    process = bench.start_server(port, args, log_path)
    try:
        # While the server loads its models, compute what it must answer, with the same models here.
        import rnnzoo

        tagger, classifier = rnnzoo.load(TAGGER), rnnzoo.load(CLASSIFIER)
        tag_pool = bench.tag_texts(700)  # more than the plan's ~625 tagger texts: none is sent twice
        candidates = bench.classify_texts(600)
        classified = dict(zip(candidates, classifier.predict(candidates)))
        classify_pool = separated(candidates, [classified[t] for t in candidates], 2.5 * SCORE_TOLERANCE)
        assert len(classify_pool) >= 150, "too few classifier texts with distinct scores to detect mix-ups"
        expected = {"tag": dict(zip(tag_pool, tagger.predict(tag_pool))),
                    "classify": {text: classified[text] for text in classify_pool}}
        for attempt in range(3):
            url = f"http://127.0.0.1:{port}"
            try:
                bench.wait_ready(url, process, timeout=240)
                break
            except RuntimeError as error:
                log = server_log(log_path)
                if "address already in use" not in log.lower() or attempt == 2:
                    pytest.fail(f"{error}; server log:\n{log[-3000:]}")
            port = bench.free_port()  # another process took the free port first: try another
            process = bench.start_server(port, args, log_path)
        yield {"url": url, "process": process, "log": log_path, "expected": expected,
               "tag_pool": tag_pool, "classify_pool": classify_pool}
    finally:
        bench.stop_server(process)


def check_result(route, got, want):
    """`got` (a response's result) is `want` (predict's), scores within SCORE_TOLERANCE; else why not."""
    if route == "classify":
        if got.keys() != want.keys() or got["label"] != want["label"] or \
                abs(got["score"] - want["score"]) > SCORE_TOLERANCE:
            return f"{got} != {want}"
        return None
    if got.keys() != want.keys() or got["tokens"] != want["tokens"] or got["tags"] != want["tags"]:
        return f"tokens/tags {got.get('tokens')} {got.get('tags')} != {want['tokens']} {want['tags']}"
    if len(got["entities"]) != len(want["entities"]):
        return f"entities {got['entities']} != {want['entities']}"
    for a, b in zip(got["entities"], want["entities"]):
        if {k: v for k, v in a.items() if k != "score"} != {k: v for k, v in b.items() if k != "score"} or \
                abs(a["score"] - b["score"]) > SCORE_TOLERANCE:
            return f"entity {a} != {b}"
    return None


@pytest.mark.slow
def test_every_response_is_right_under_concurrent_load(served):
    plan = bench.make_plan(REQUESTS, served["tag_pool"], served["classify_pool"], seed=0)
    assert len({text for route, p in plan if route == "tag" for text in p.get("texts", [p.get("text")])}) == \
        sum(len(p.get("texts", [None])) for route, p in plan if route == "tag"), "tagger texts must be distinct"
    assert {route for route, _ in plan} == {"tag", "classify"}
    assert {"text" in p for _, p in plan} == {True, False}  # single and batch requests

    before = httpx.get(f"{served['url']}/health", timeout=10).json()["stats"]
    started = time.monotonic()
    records, wall = bench.run_load(served["url"], plan, CONCURRENCY, deadline_s=DEADLINE_S, timeout_s=60)
    assert wall < DEADLINE_S + 65
    assert len(records) == REQUESTS, (
        f"{REQUESTS - len(records)} requests never completed within {DEADLINE_S} s "
        f"(done {len(records)} in {time.monotonic() - started:.0f} s)"
    )
    assert sorted(r["index"] for r in records) == list(range(REQUESTS))
    failed = [r for r in records if r["status"] != 200]
    assert not failed, f"{len(failed)} requests failed, e.g. {failed[:3]}"

    wrong = []
    for record in records:
        route, payload = plan[record["index"]]
        body = record["body"]
        names = {"tag": TAGGER, "classify": CLASSIFIER}
        if body.get("model") != names[route]:
            wrong.append((record["index"], f"model {body.get('model')!r}"))
            continue
        if "text" in payload:
            texts, results = [payload["text"]], [body.get("result")]
            if "results" in body:
                wrong.append((record["index"], "a batch answer to a single text"))
        else:
            texts, results = payload["texts"], body.get("results")
            if not isinstance(results, list) or len(results) != len(texts):
                wrong.append((record["index"], f"{len(texts)} texts, results {results!r:.100}"))
                continue
        for text, result in zip(texts, results):
            problem = check_result(route, result, served["expected"][route][text])
            if problem:
                wrong.append((record["index"], f"{text!r}: {problem}"))
    assert not wrong, f"{len(wrong)} wrong answers (mixed up or changed by batching), e.g. {wrong[:3]}"

    after = httpx.get(f"{served['url']}/health", timeout=10).json()["stats"]
    served_requests = {route: after[route]["requests"] - before[route]["requests"] for route in after}
    assert served_requests == {route: sum(r == route for r, _ in plan) for route in after}  # each answered once
    assert after["tag"]["texts"] - before["tag"]["texts"] == sum(len(p.get("texts", [None])) for r, p in plan
                                                                 if r == "tag")
    assert after["tag"]["errors"] == after["classify"]["errors"] == 0


def long_json_body(size):
    return ('{"texts": ["' + "a" * (size - 16) + '"]}').encode()


BAD_REQUESTS = [
    # (what, route, body bytes, status, error code)
    ("body over max_body_bytes", "classify", long_json_body(100_000), 413, "body_too_large"),
    ("more than max_items texts", "tag", b'{"texts": [' + b", ".join([b'"Paris"'] * 17) + b"]}", 413,
     "too_many_texts"),
    ("a text over max_chars", "classify", b'{"text": "' + b"good " * 201 + b'"}', 413, "text_too_long"),
    ("malformed JSON", "tag", b'{"text": "Paris', 400, "malformed_json"),
    ("not UTF-8", "tag", b'{"text": "\xff\xfe"}', 400, "malformed_json"),
    ("nested too deep", "classify", b"[" * 30000 + b"]" * 30000, 400, "malformed_json"),
    ("empty body", "tag", b"", 400, "malformed_json"),
    ("a JSON array", "tag", b'["Paris"]', 422, "invalid_request"),
    ("null", "classify", b"null", 422, "invalid_request"),
    ("text is a number", "tag", b'{"text": 5}', 422, "invalid_request"),
    ("text is null", "classify", b'{"text": null}', 422, "invalid_request"),
    ("texts is a string", "classify", b'{"texts": "Paris"}', 422, "invalid_request"),
    ("a text in texts is an object", "tag", b'{"texts": ["Paris", {"a": 1}]}', 422, "invalid_request"),
    ("token lists", "tag", b'{"texts": [["Paris", "is", "big"]]}', 422, "invalid_request"),
    ("an unknown field", "classify", b'{"txt": "good"}', 422, "invalid_request"),
    ("both fields", "classify", b'{"text": "good", "texts": ["bad"]}', 422, "invalid_request"),
    ("empty text", "tag", b'{"text": ""}', 422, "empty_text"),
    ("whitespace text", "classify", b'{"texts": ["fine", " \\n\\t "]}', 422, "empty_text"),
    ("a lone surrogate", "tag", b'{"text": "Paris \\ud800"}', 422, "invalid_request"),
]


@pytest.mark.slow
def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(served):
    url = served["url"]
    with httpx.Client(base_url=url, timeout=30) as http:
        for what, route, body, status, code in BAD_REQUESTS:
            response = http.post(f"/{route}", content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, f"{what}: {response.status_code} {response.text[:300]}"
            answer = response.json()
            assert answer["error"] == code and isinstance(answer["detail"], str) and answer["detail"], what

        # Without a Content-Length (chunked), the size limit still holds.
        def chunks():
            yield b'{"texts": ["'
            for _ in range(100):
                yield b"b" * 1000
            yield b'"]}'

        response = http.post("/tag", content=chunks())
        assert response.status_code == 413 and response.json()["error"] == "body_too_large"
        response = http.get("/tag")
        assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
        response = http.post("/translate", json={"text": "Paris"})
        assert response.status_code == 404 and response.json()["error"] == "not_found"
        # Empty batch: predict's own contract, [] in, [] out.
        assert http.post("/classify", json={"texts": []}).json() == {"model": CLASSIFIER, "results": []}

        # Still healthy, and still right.
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["ready"] is True
        assert health.json()["models"] == {"tag": TAGGER, "classify": CLASSIFIER}
        assert health.json()["limits"]["max_items"] == LIMITS["max_items"]
        text = served["tag_pool"][0]
        got = http.post("/tag", json={"text": text}).json()["result"]
        assert check_result("tag", got, served["expected"]["tag"][text]) is None
        text = served["classify_pool"][0]
        got = http.post("/classify", json={"texts": [text]}).json()["results"][0]
        assert check_result("classify", got, served["expected"]["classify"][text]) is None
    assert served["process"].poll() is None, "the server exited"
    log = server_log(served["log"])
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]


# ---------------------------------------------------------------- the worker alone (no server, no model)
def load_app_module():
    spec = importlib.util.spec_from_file_location("serve_app", os.path.join(ROOT, "examples", "serve_app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecordingModel:
    """`predict` that records its calls and how many overlap; blocks until `gate` is set; fails on "boom"."""

    def __init__(self):
        import threading

        self.calls, self.active, self.most_active = [], 0, 0
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def predict(self, texts):
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.calls.append(list(texts))
        self.gate.wait(10)
        time.sleep(0.01)
        with self.lock:
            self.active -= 1
        if "boom" in texts:
            raise ValueError("item 'boom' is not readable")
        return [text.upper() for text in texts]


def test_worker_combines_waiting_requests_into_one_call_and_isolates_a_failure():
    app_module = load_app_module()
    model = RecordingModel()
    worker = app_module.ModelWorker("fake", model, max_items_per_call=4)
    worker.start()
    try:
        first = worker.submit(["a"])
        deadline = time.monotonic() + 10
        while not model.calls and time.monotonic() < deadline:  # the worker is inside predict(["a"])
            time.sleep(0.005)
        waiting = [worker.submit(texts) for texts in (["b", "c"], ["d"], ["boom"], ["e", "f"], ["g"])]
        model.gate.set()
        assert first.result(10) == ["A"]
        assert waiting[0].result(10) == ["B", "C"] and waiting[1].result(10) == ["D"]
        with pytest.raises(ValueError, match="boom"):
            waiting[2].result(10)
        assert waiting[3].result(10) == ["E", "F"] and waiting[4].result(10) == ["G"]
    finally:
        worker.stop()
    # One call at a time; the waiting requests went in combined calls of at most 4 texts; the failed combined
    # call was answered request by request, so only "boom" got the error.
    assert model.most_active == 1
    assert model.calls[:2] == [["a"], ["b", "c", "d", "boom"]]
    assert model.calls[2:5] == [["b", "c"], ["d"], ["boom"]]
    assert model.calls[5:] == [["e", "f", "g"]]
    assert worker.stats["requests"] == 5 and worker.stats["errors"] == 1 and worker.stats["largest_call"] == 3


def test_worker_without_micro_batching_calls_once_per_request_and_refuses_a_full_queue():
    app_module = load_app_module()
    model = RecordingModel()
    worker = app_module.ModelWorker("fake", model, micro_batch=False, max_queue=2)
    worker.start()
    try:
        first = worker.submit(["a"])
        deadline = time.monotonic() + 10
        while not model.calls and time.monotonic() < deadline:
            time.sleep(0.005)
        queued = [worker.submit(["b"]), worker.submit(["c"])]
        with pytest.raises(app_module.APIError) as refused:
            worker.submit(["d"])
        assert refused.value.status == 503 and refused.value.code == "busy"
        model.gate.set()
        assert [f.result(10) for f in [first] + queued] == [["A"], ["B"], ["C"]]
    finally:
        worker.stop()
    assert model.calls == [["a"], ["b"], ["c"]] and model.most_active == 1


def test_app_module_docstring_examples_run():
    import doctest

    results = doctest.testmod(load_app_module(), optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
