"""Published artifacts: verified downloads into the cache, over HTTP (a loopback server) and file://."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from rnnzoo import downloads
from rnnzoo.cli import main
from rnnzoo.downloads import DownloadError, fetch_artifact, index_entry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.root`; `server.mode` breaks the responses in one of the ways a download can go wrong."""

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        path = os.path.join(server.root, *self.path.lstrip("/").split("/"))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        big = len(body) > 4096
        if server.mode == "slow":
            time.sleep(0.3)
        if server.mode == "short" and big:  # a shorter file, announced as such
            body = body[: len(body) // 2]
        if server.mode == "corrupt" and big:
            body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.mode == "stop" and big:  # full length announced, then the connection drops
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on a free 127.0.0.1 port, in a thread, stopped after the test."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.root, httpd.mode, httpd.requests = str(tmp_path / "published"), "ok", []
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A small fake artifact `tiny` published under tmp/published, recorded in an index the zoo reads."""
    folder = tmp_path / "published" / "tiny"
    (folder / "vocabularies").mkdir(parents=True)
    (folder / "model.keras").write_bytes(os.urandom(50_000))
    (folder / "vocabularies" / "words.txt").write_text("[UNK]\nthe\nfilm\n")
    (folder / "MODEL_CARD.md").write_text("# tiny\n")
    from rnnzoo.artifacts import write_checksums

    write_checksums(str(folder))
    entry = index_entry(str(folder), "tiny")
    models = tmp_path / "models"  # the zoo's models folder: no artifacts, only the record
    models.mkdir()
    (models / "index.json").write_text(json.dumps({"models": {"tiny": entry}}))
    monkeypatch.setenv("RNNZOO_MODELS", str(models))
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(downloads, "TIMEOUT_S", 10)
    return folder, entry


def _cache_is_clean(tmp_path):
    root = tmp_path / "home" / "models" / "tiny"
    return not root.exists() or not [p for p in os.listdir(root) if p != ".lock"]


def _same_files(a, b):
    for rel in ("model.keras", "vocabularies/words.txt", "MODEL_CARD.md", "checksums.json"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_http_download_is_verified_cached_and_offline_afterwards(server, published, monkeypatch, tmp_path):
    folder, entry = published
    monkeypatch.setenv("RNNZOO_MODELS_URL", server.url)
    path = fetch_artifact("tiny")
    assert path.startswith(str(tmp_path / "home" / "models" / "tiny"))
    _same_files(folder, __import__("pathlib").Path(path))
    assert sorted(server.requests) == sorted(f"/tiny/{rel}" for rel in entry["files"])
    server.requests.clear()
    monkeypatch.setenv("RNNZOO_MODELS_URL", "http://127.0.0.1:9")  # nothing listens: a network call would fail
    assert fetch_artifact("tiny") == path
    from rnnzoo.zoo import artifact_dir

    assert artifact_dir("tiny") == path and server.requests == []


def test_file_url_download(published, monkeypatch):
    folder, _ = published
    monkeypatch.setenv("RNNZOO_MODELS_URL", "file://" + str(folder.parent))
    _same_files(folder, __import__("pathlib").Path(fetch_artifact("tiny")))


@pytest.mark.parametrize(
    "mode, message",
    [
        ("short", r"gave 25,000 bytes, its record says 50,000 \(truncated"),
        ("corrupt", r"checksum mismatch for http://.*/tiny/model.keras"),
        ("stop", r"stopped after [\d,]+ of 50,000 bytes \(the server closed the connection\)"),
    ],
)
def test_a_bad_download_is_never_cached(server, published, monkeypatch, tmp_path, mode, message):
    monkeypatch.setenv("RNNZOO_MODELS_URL", server.url)
    server.mode = mode
    with pytest.raises(DownloadError, match=message):
        fetch_artifact("tiny")
    assert _cache_is_clean(tmp_path)
    server.mode = "ok"  # a retry starts afresh and succeeds
    assert os.path.isdir(fetch_artifact("tiny"))


def test_wrong_checksum_over_file_url_and_missing_files(published, monkeypatch, tmp_path):
    folder, _ = published
    monkeypatch.setenv("RNNZOO_MODELS_URL", "file://" + str(folder.parent))
    (folder / "vocabularies" / "words.txt").write_text("[UNK]\nthe\nfilm\n".upper())
    with pytest.raises(DownloadError, match="checksum mismatch for file://.*words.txt"):
        fetch_artifact("tiny")
    assert _cache_is_clean(tmp_path)
    monkeypatch.setenv("RNNZOO_MODELS_URL", "file://" + str(tmp_path / "nowhere"))
    with pytest.raises(DownloadError, match="nowhere/tiny/.* failed"):
        fetch_artifact("tiny")
    assert _cache_is_clean(tmp_path)


def test_http_errors_are_named(server, published, monkeypatch):
    monkeypatch.setenv("RNNZOO_MODELS_URL", server.url + "/missing")
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_artifact("tiny")


def test_two_processes_download_once(server, published, monkeypatch, tmp_path):
    _, entry = published
    monkeypatch.setenv("RNNZOO_MODELS_URL", server.url)
    server.mode = "slow"  # every file takes 0.3 s: the second process arrives while the first downloads
    code = "from rnnzoo.downloads import fetch_artifact; print(fetch_artifact('tiny'))"
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert outs[0][0] == outs[1][0]
    assert len(server.requests) == len(entry["files"]), server.requests


def test_cli_download_and_cache_commands(published, monkeypatch, tmp_path, capsys):
    folder, _ = published
    monkeypatch.setenv("RNNZOO_MODELS_URL", "file://" + str(folder.parent))
    assert main(["list"]) is None
    assert "tiny" in next(line for line in capsys.readouterr().out.splitlines() if "download 0.0" in line)
    assert main(["download", "tiny"]) is None
    assert str(tmp_path / "home" / "models" / "tiny") in capsys.readouterr().out
    assert main(["cache", "list"]) is None
    listing = capsys.readouterr().out
    assert "tiny" in listing and str(tmp_path / "home") in listing
    assert main(["cache", "clear"]) is None
    assert not (tmp_path / "home" / "models").exists()
    monkeypatch.setenv("RNNZOO_MODELS_URL", "file://" + str(tmp_path / "nowhere"))
    assert main(["download", "tiny"]) == 2
    assert "failed" in capsys.readouterr().err


def test_the_record_matches_the_shipped_artifacts(tmp_path):
    """saved_models/index.json must describe saved_models/: `python -m rnnzoo.downloads index` rewrites it."""
    with open(os.path.join(ROOT, "saved_models", "index.json")) as f:
        recorded = json.load(f)["models"]
    names = sorted(d for d in os.listdir(os.path.join(ROOT, "saved_models"))
                   if os.path.exists(os.path.join(ROOT, "saved_models", d, "model.keras")))
    assert sorted(recorded) == names
    for name in names:
        entry = index_entry(os.path.join(ROOT, "saved_models", name), name)
        assert recorded[name]["files"] == entry["files"], f"{name}: run `python -m rnnzoo.downloads index`"
        assert recorded[name]["url"].startswith("https://")


@pytest.mark.slow
def test_load_a_zoo_model_and_a_url_through_the_cache(server, tmp_path, monkeypatch):
    """A zoo name with no local artifact is downloaded (loopback HTTP), verified, loaded; URLs load too."""
    import rnnzoo

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(os.path.join(ROOT, "saved_models", "index.json"), models / "index.json")
    server.root = os.path.join(ROOT, "saved_models")
    monkeypatch.setenv("RNNZOO_MODELS", str(models))
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RNNZOO_MODELS_URL", server.url)
    clf = rnnzoo.load("bigru_sst2", compile=False)
    assert clf.predict(["A wonderful, moving film."])[0]["label"] == "positive"
    assert "/bigru_sst2/model.keras" in server.requests
    server.requests.clear()
    assert rnnzoo.load("bigru_sst2", compile=False).zoo_config.name == "bigru_sst2"
    assert server.requests == []  # warm cache: no network
    # An artifact folder URL (checked against its checksums.json), and a .keras file URL.
    from_url = rnnzoo.load(server.url + "/vanilla_rnn_sst2", compile=False)
    assert from_url.zoo_config.name == "vanilla_rnn_sst2"
    with pytest.warns(UserWarning, match="plain .keras file"):
        plain = rnnzoo.load("file://" + os.path.join(ROOT, "saved_models", "vanilla_rnn_sst2", "model.keras"))
    assert plain.zoo_config is None and plain.predict(["fine"])[0]["label"] in ("negative", "positive")
