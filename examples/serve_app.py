"""Serve the zoo's tagger and a classifier over HTTP: a FastAPI app, JSON in and out.

    pip install -e ".[serve]"
    python examples/serve_app.py --host 127.0.0.1 --port 8000
    curl -s localhost:8000/tag -d '{"text": "Pankaj lives in Munich"}'
    curl -s localhost:8000/classify -d '{"texts": ["A wonderful, moving film.", "Dull."]}'

(`uvicorn --factory serve_app:create_app` from this folder runs it too.) Both models are loaded once, when the
app starts (its lifespan), and warmed up; the server answers once they are ready.

Routes:
    POST /tag       `{"text": str}` -> `{"model": name, "result": tagger.predict(text)}`;
                    `{"texts": [str, ...]}` -> `{"model": name, "results": tagger.predict(texts)}`
                    (tokens, BIO tags, entities with character offsets and scores; see `rnnzoo.load`).
    POST /classify  the same with the classifier (`{"label", "score"}` per text).
    GET  /health    `{"ready", "models", "limits", "stats"}`; 200 when ready, else 503.

Limits (`create_app` arguments, command-line options): a body of at most `max_body_bytes` (413), at most
`max_items` texts per request (413), at most `max_chars` characters per text (413), at most `max_queue`
requests waiting per model (503, "busy"). Malformed JSON or a body that is not UTF-8 gets 400; a missing or
unknown field, a wrong type or an empty (or whitespace-only) text gets 422. Every error is JSON,
`{"error": code, "detail": what was wrong and what to do}`; no request can crash the server.

Thread safety: the app does not rely on `predict` being thread-safe. Each model has one worker thread, the only
thread that calls its `predict`, so calls to one model never overlap (the tagger and the classifier run side by
side, each in its own thread). Requests wait in the worker's queue; when the worker is free it takes every
waiting request, up to `max_items_per_call` texts, and answers them with one `predict` call (micro-batching:
under load one call serves many requests, several times the throughput of a call per request on a CPU; with
no load a request is served alone, without waiting for others). A text gets the same result whichever
requests share its call, as if predicted alone: `tests/test_serve_app.py` checks every response of 500
requests from 16 concurrent clients against `predict` on the same texts. `micro_batch=False`
(`--no-micro-batch`) makes one `predict` call per request, still from the one thread.

One process serves one copy of each model; to use more cores, run more processes behind a load balancer.
"""

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"examples/serve_app.py needs FastAPI and uvicorn ({error}); install them with "
        "`pip install -e \".[serve]\"` (or `pip install fastapi uvicorn`)."
    ) from error

log = logging.getLogger("serve_app")

#: Defaults of the request limits (`create_app` arguments).
MAX_BODY_BYTES = 1 << 20
MAX_ITEMS = 64
MAX_CHARS = 5000
MAX_QUEUE = 1024
MAX_ITEMS_PER_CALL = 64

#: Route -> the `create_app` argument naming its model.
ROUTES = {"tag": "tagger", "classify": "classifier"}

WARMUP_TEXTS = ["Pankaj lives in Munich", "Angela Merkel visited Paris and met the staff of Siemens in Berlin ."]


class APIError(Exception):
    """A request the app refuses: answered as `{"error": code, "detail": detail}` with `status`."""

    def __init__(self, status, code, detail):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def error_response(status, code, detail, headers=None):
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


class ModelWorker:
    """One thread that owns a model: the only caller of its `predict`, answering queued requests in batches.

    Args:
        name: the model's name (for messages and `/health`).
        model: anything with `predict(list_of_str) -> list` (one result per text, in order).
        micro_batch: answer all waiting requests (up to `max_items_per_call` texts) with one `predict`
            call; False: one call per request.
        max_items_per_call: texts per `predict` call when requests are combined (a larger request is
            still answered whole, alone).
        max_queue: requests allowed to wait; `submit` raises `APIError` 503 beyond.

    Example:
    >>> class Upper:
    ...     def predict(self, texts):
    ...         return [t.upper() for t in texts]
    >>> worker = ModelWorker("upper", Upper())
    >>> worker.start()
    >>> worker.submit(["a", "b"]).result(timeout=10)
    ['A', 'B']
    >>> worker.stop()
    """

    def __init__(self, name, model, micro_batch=True, max_items_per_call=MAX_ITEMS_PER_CALL, max_queue=MAX_QUEUE):
        self.name, self.model = name, model
        self.micro_batch = micro_batch
        self.max_items_per_call = max_items_per_call
        self.max_queue = max_queue
        self._jobs = collections.deque()
        self._ready = threading.Condition()
        self._thread = None
        self._stopping = False
        self.stats = {"requests": 0, "texts": 0, "predict_calls": 0, "largest_call": 0, "errors": 0}

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"predict-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout=30):
        """Finish the requests already queued, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, texts):
        """Queue a list of texts; returns a `concurrent.futures.Future` of their results (a list, in order)."""
        future = concurrent.futures.Future()
        with self._ready:
            if self._stopping:
                raise APIError(503, "shutting_down", "the server is shutting down; retry on another instance.")
            if len(self._jobs) >= self.max_queue:
                raise APIError(503, "busy", f"{len(self._jobs)} requests are waiting for {self.name}; retry later.")
            self._jobs.append((texts, future))
            self._ready.notify()
        return future

    def _next_jobs(self):
        """Wait for a request; take it and, with micro-batching, the others waiting (up to the text budget)."""
        with self._ready:
            while not self._jobs and not self._stopping:
                self._ready.wait()
            if not self._jobs:
                return None
            jobs = [self._jobs.popleft()]
            count = len(jobs[0][0])
            while self.micro_batch and self._jobs and count + len(self._jobs[0][0]) <= self.max_items_per_call:
                jobs.append(self._jobs.popleft())
                count += len(jobs[-1][0])
            return jobs

    def _run(self):
        while True:
            jobs = self._next_jobs()
            if jobs is None:
                return
            jobs = [(texts, future) for texts, future in jobs if future.set_running_or_notify_cancel()]
            if not jobs:  # every one was cancelled (its client went away)
                continue
            try:
                self._answer(jobs)
            except Exception as error:  # noqa: BLE001 - one request's failure must not end the worker
                if len(jobs) == 1:
                    self.stats["errors"] += 1
                    jobs[0][1].set_exception(error)
                    continue
                # Combined call failed: answer each request alone, so only the culprit gets the error.
                for job in jobs:
                    try:
                        self._answer([job])
                    except Exception as single_error:  # noqa: BLE001
                        self.stats["errors"] += 1
                        job[1].set_exception(single_error)

    def _answer(self, jobs):
        texts = [text for job_texts, _ in jobs for text in job_texts]
        results = self.model.predict(texts) if texts else []
        if len(results) != len(texts):
            raise RuntimeError(f"{self.name}.predict returned {len(results)} results for {len(texts)} texts.")
        self.stats["predict_calls"] += 1
        self.stats["largest_call"] = max(self.stats["largest_call"], len(texts))
        start = 0
        for job_texts, future in jobs:
            self.stats["requests"] += 1
            self.stats["texts"] += len(job_texts)
            future.set_result(results[start : start + len(job_texts)])
            start += len(job_texts)


def parse_request(body, max_items, max_chars):
    """A request body (bytes) -> `(texts, single)`, or `APIError` saying what is wrong.

    Accepts `{"text": str}` (single) or `{"texts": [str, ...]}` (batch, at most `max_items`); each text is
    non-empty, not only whitespace, at most `max_chars` characters, and valid Unicode.
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise APIError(400, "malformed_json", f"the body is not UTF-8 ({error}); send UTF-8 JSON.") from None
    except ValueError as error:
        raise APIError(400, "malformed_json", f"the body is not valid JSON ({error}); send "
                       '{"text": "..."} or {"texts": ["...", ...]}.') from None
    except RecursionError:
        raise APIError(400, "malformed_json", "the JSON is nested too deeply; send "
                       '{"text": "..."} or {"texts": ["...", ...]}.') from None
    if not isinstance(payload, dict):
        raise APIError(422, "invalid_request", f"the body is a JSON {json_type(payload)}, not an object; send "
                       '{"text": "..."} or {"texts": ["...", ...]}.')
    fields = set(payload)
    if fields not in ({"text"}, {"texts"}):
        unknown = sorted(fields - {"text", "texts"})
        what = f"unknown field(s) {unknown}" if unknown else ("both 'text' and 'texts'" if fields else "no field")
        raise APIError(422, "invalid_request", f"the body has {what}; send exactly one of "
                       '{"text": "..."} or {"texts": ["...", ...]}.')
    single = "text" in fields
    if single:
        texts = [payload["text"]]
    else:
        texts = payload["texts"]
        if not isinstance(texts, list):
            raise APIError(422, "invalid_request", f"'texts' is a {json_type(texts)}; send a list of strings.")
        if len(texts) > max_items:
            raise APIError(413, "too_many_texts", f"'texts' has {len(texts)} items; at most {max_items} per "
                           "request: split the batch.")
    for i, text in enumerate(texts):
        where = "'text'" if single else f"'texts'[{i}]"
        if not isinstance(text, str):
            raise APIError(422, "invalid_request", f"{where} is a {json_type(text)}; send a string.")
        if not text.strip():
            raise APIError(422, "empty_text", f"{where} is empty or only whitespace; send text to read.")
        if len(text) > max_chars:
            raise APIError(413, "text_too_long", f"{where} has {len(text)} characters; at most {max_chars} per "
                           "text: split it (e.g. into sentences or paragraphs).")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise APIError(422, "invalid_request", f"{where} holds a lone surrogate (an unpaired \\ud800-\\udfff "
                           "escape); send valid Unicode.") from None
    return texts, single


def json_type(value):
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


async def read_body(request, max_bytes):
    """The request body, refused (413) as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise APIError(413, "body_too_large", f"the body has {declared} bytes; at most {max_bytes}: send fewer "
                       "or shorter texts per request.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise APIError(413, "body_too_large", f"the body has more than {max_bytes} bytes; send fewer or "
                           "shorter texts per request.")
        chunks.append(chunk)
    return b"".join(chunks)


def jsonable(value):
    """`predict`'s output with NumPy scalars and tuples made plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        return value.item()
    return value


def create_app(tagger="bilstm_ner", classifier="bigru_sst2", max_body_bytes=MAX_BODY_BYTES, max_items=MAX_ITEMS,
               max_chars=MAX_CHARS, max_queue=MAX_QUEUE, micro_batch=True, max_items_per_call=MAX_ITEMS_PER_CALL,
               warmup=True):
    """The FastAPI app serving `/tag`, `/classify` and `/health` (models load when the app starts).

    Args:
        tagger: the tagger for `/tag`: a name or path for `rnnzoo.load`, or a loaded model.
        classifier: the classifier for `/classify`, likewise (e.g. `"bigru_sst2"`, `"bilstm_imdb"`).
        max_body_bytes: largest request body accepted (larger: 413).
        max_items: most texts in one `{"texts": [...]}` request (more: 413).
        max_chars: most characters in one text (more: 413).
        max_queue: most requests waiting for one model (more: 503, retry later).
        micro_batch: answer the requests waiting for a model with one `predict` call (see the module
            docstring); False: one call per request.
        max_items_per_call: most texts in one combined `predict` call.
        warmup: run each model once on start, so the first requests do not pay for tracing.

    Returns:
        A `fastapi.FastAPI`; run it with uvicorn (`uvicorn.run(create_app(), port=8000)`).
    """
    for name, value in [("max_body_bytes", max_body_bytes), ("max_items", max_items), ("max_chars", max_chars),
                        ("max_queue", max_queue), ("max_items_per_call", max_items_per_call)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    specs = {"tag": tagger, "classify": classifier}
    state = {"ready": False, "workers": {}, "names": {}}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import rnnzoo

        workers = {}
        try:
            for route, spec in specs.items():
                model = rnnzoo.load(spec) if isinstance(spec, (str, os.PathLike)) else spec
                name = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else getattr(spec, "name", route)
                if warmup:
                    started = time.perf_counter()
                    for texts in ([WARMUP_TEXTS[0]], WARMUP_TEXTS * 4):
                        model.predict(texts)
                    log.info("%s ready for /%s (warm-up %.1f s)", name, route, time.perf_counter() - started)
                workers[route] = ModelWorker(name, model, micro_batch=micro_batch,
                                             max_items_per_call=max_items_per_call, max_queue=max_queue)
                workers[route].start()
                state["names"][route] = name
            state["workers"] = workers
            state["ready"] = True
            yield
        finally:
            state["ready"] = False
            for worker in workers.values():
                worker.stop()

    app = FastAPI(title="rnnzoo: tag and classify", lifespan=lifespan)
    limits = {"max_body_bytes": max_body_bytes, "max_items": max_items, "max_chars": max_chars,
              "max_queue": max_queue, "micro_batch": micro_batch, "max_items_per_call": max_items_per_call}

    @app.exception_handler(APIError)
    async def api_error(request, error):
        return error_response(error.status, error.code, error.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, error):
        codes = {404: "not_found", 405: "method_not_allowed"}
        detail = error.detail
        if error.status_code == 404:
            detail = f"no route {request.url.path}; the routes are POST /tag, POST /classify and GET /health."
        return error_response(error.status_code, codes.get(error.status_code, "http_error"), detail,
                              headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, error):
        return error_response(422, "invalid_request", str(error.errors()))

    @app.exception_handler(Exception)
    async def internal_error(request, error):  # a bug: logged, answered as JSON, the server keeps serving
        log.exception("internal error on %s", request.url.path)
        return error_response(500, "internal_error", f"{type(error).__name__}: {error}")

    async def serve(request, route):
        if not state["ready"]:
            raise APIError(503, "not_ready", "the models are not loaded; retry shortly (see GET /health).")
        body = await read_body(request, max_body_bytes)
        texts, single = parse_request(body, max_items, max_chars)
        worker = state["workers"][route]
        try:
            results = await asyncio.wrap_future(worker.submit(texts)) if texts else []
        except (ValueError, TypeError) as error:  # predict's own input checks (InputError is both)
            raise APIError(422, "invalid_input", str(error)) from None
        results = jsonable(results)
        name = state["names"][route]
        # A JSONResponse skips FastAPI's generic encoder: `jsonable` already made plain JSON types.
        return JSONResponse({"model": name, "result": results[0]} if single else {"model": name, "results": results})

    request_schema = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [
            {"type": "object", "properties": {"text": {"type": "string", "maxLength": max_chars}},
             "required": ["text"], "additionalProperties": False},
            {"type": "object", "properties": {"texts": {"type": "array", "maxItems": max_items,
                                                        "items": {"type": "string", "maxLength": max_chars}}},
             "required": ["texts"], "additionalProperties": False},
        ]}}}}}

    @app.post("/tag", openapi_extra=request_schema)
    async def tag(request: Request):
        """Tag `{"text": str}` or `{"texts": [str, ...]}`: tokens, BIO tags, entities (offsets, scores)."""
        return await serve(request, "tag")

    @app.post("/classify", openapi_extra=request_schema)
    async def classify(request: Request):
        """Classify `{"text": str}` or `{"texts": [str, ...]}`: `{"label", "score"}` per text."""
        return await serve(request, "classify")

    @app.get("/health")
    async def health():
        """Whether the models are loaded, their names, the limits and per-model counters."""
        body = {
            "ready": state["ready"],
            "models": dict(state["names"]),
            "limits": limits,
            "stats": {route: dict(worker.stats) for route, worker in state["workers"].items()},
        }
        return JSONResponse(body, status_code=200 if state["ready"] else 503)

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve rnnzoo's tagger and a classifier over HTTP (FastAPI).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all interfaces)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--tagger", default="bilstm_ner", help="model for /tag (a zoo name or a path)")
    parser.add_argument("--classifier", default="bigru_sst2", help="model for /classify (a zoo name or a path)")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    parser.add_argument("--max-items", type=int, default=MAX_ITEMS, help="most texts per request")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="most characters per text")
    parser.add_argument("--max-queue", type=int, default=MAX_QUEUE, help="most requests waiting per model")
    parser.add_argument("--max-items-per-call", type=int, default=MAX_ITEMS_PER_CALL,
                        help="most texts in one combined predict call")
    parser.add_argument("--no-micro-batch", dest="micro_batch", action="store_false",
                        help="one predict call per request (default: combine waiting requests)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    args = parser.parse_args(argv)

    import uvicorn

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    app = create_app(
        tagger=args.tagger, classifier=args.classifier, max_body_bytes=args.max_body_bytes,
        max_items=args.max_items, max_chars=args.max_chars, max_queue=args.max_queue,
        micro_batch=args.micro_batch, max_items_per_call=args.max_items_per_call,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)


if __name__ == "__main__":
    main()
