"""Published artifacts: their record, the local cache, verified downloads.

`saved_models/index.json` (in a wheel: `rnnzoo/_packaged/index.json`) records,
for each zoo model, the URL of its published artifact folder and the SHA-256
and size of every file in it. `fetch_artifact(name)` downloads those files into
`$RNNZOO_HOME/models/<name>/<revision>/` (default `~/.cache/rnnzoo`), like
keras-hub, timm or flair fill theirs:

- each file is checked (size and SHA-256) before anything uses it;
- files land in a staging folder renamed into place only when all are good,
  so the cache never holds a partial or tampered artifact;
- a file lock makes a second process wait for the first download instead of
  starting its own;
- a cached revision is used without any network call.

`RNNZOO_MODELS_URL` replaces the recorded URLs by `<RNNZOO_MODELS_URL>/<name>`
(a mirror, a `file://` folder, a test server). The default URLs name where the
artifacts are published (`DEFAULT_BASE_URL`); from a machine that cannot reach
it, point `RNNZOO_MODELS_URL` at a copy of `saved_models/`.

`python -m rnnzoo.downloads index` rewrites the record from `saved_models/`.
"""

import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from rnnzoo.artifacts import CHECKSUMS, MODEL_FILE, check_model_name, models_dir, packaged_dir
from rnnzoo.utils import contained_path, sha256

INDEX = "index.json"
#: Where the artifacts of `saved_models/` are published, one folder per model
#: (`<base>/<name>/resolve/main/<file>`, Hugging Face Hub layout).
DEFAULT_BASE_URL = "https://huggingface.co/rnnzoo"
#: Files of an artifact folder that are published (metrics and card included: `rnnzoo list`/`info` show them).
PUBLISHED = ("model.keras", "config.yaml", "checksums.json", "metrics.json", "MODEL_CARD.md")
TIMEOUT_S = 60


class DownloadError(OSError):
    """A download failed or gave a file that does not match its record; nothing was cached."""


def cache_dir():
    """`$RNNZOO_HOME`, or `$XDG_CACHE_HOME/rnnzoo`, or `~/.cache/rnnzoo`."""
    if os.environ.get("RNNZOO_HOME"):
        return os.path.abspath(os.path.expanduser(os.environ["RNNZOO_HOME"]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rnnzoo")


# ---------------------------------------------------------------- the record
def index_file():
    """The record: `<models_dir>/index.json` (the checkout's), else the one shipped in the package."""
    for path in (os.path.join(models_dir(), INDEX), os.path.join(packaged_dir(), INDEX)):
        if os.path.exists(path):
            return path
    return None


def read_index():
    """`{name: {"url", "files": {relpath: {"sha256", "size"}}, "metrics"}}`; `{}` without a record."""
    path = index_file()
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)["models"]


def index_entry(directory, name):
    """The record of one artifact folder (its published files, and its headline metric when evaluated)."""
    files = {}
    for root, _, names in os.walk(directory):
        for file in sorted(names):
            rel = os.path.relpath(os.path.join(root, file), directory).replace(os.sep, "/")
            if rel in PUBLISHED or rel.startswith("vocabularies/"):
                path = os.path.join(root, file)
                files[rel] = {"sha256": sha256(path), "size": os.path.getsize(path)}
    entry = {"url": f"{DEFAULT_BASE_URL}/{name}/resolve/main", "files": dict(sorted(files.items()))}
    metrics = os.path.join(directory, "metrics.json")
    if os.path.exists(metrics):
        with open(metrics) as f:
            m = json.load(f)
        keys = ("metric", "value", "split", "split_name", "data_file")
        entry["metrics"] = {k: m[k] for k in keys if k in m}
    return entry


def write_index(models_directory=None, names=None):
    """(Re)write `<models_directory>/index.json` for `names` (default: every artifact there)."""
    models_directory = models_directory or models_dir()
    path = os.path.join(models_directory, INDEX)
    models = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            models = json.load(f)["models"]
    if names is None:
        names = [d for d in os.listdir(models_directory)
                 if os.path.exists(os.path.join(models_directory, d, MODEL_FILE))]
    for name in names:
        models[name] = index_entry(os.path.join(models_directory, name), name)
    record = {
        "about": "Published zoo artifacts: URL of each folder, SHA-256 and size of each file. "
        "Written by `python -m rnnzoo.downloads index`; RNNZOO_MODELS_URL=<base> fetches <base>/<name>/<file> instead.",
        "models": dict(sorted(models.items())),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    return path


def artifact_url(name, entry):
    base = os.environ.get("RNNZOO_MODELS_URL")
    return f"{base.rstrip('/')}/{name}" if base else entry["url"]


def revision(entry):
    """A short id of an entry's file set: a new upload gets a new cache folder."""
    text = json.dumps({k: v["sha256"] for k, v in entry["files"].items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- the cache
def cached_artifact(name, entry=None):
    """The cached folder of `name`'s recorded revision, or None (never touches the network)."""
    check_model_name(name)
    entry = entry or read_index().get(name)
    if entry is None:
        return None
    path = os.path.join(cache_dir(), "models", name, revision(entry))
    return path if os.path.isdir(path) else None


def fetch_artifact(name, entry=None):
    """`name`'s artifact folder in the cache, downloaded and verified first if needed.

    Raises:
        DownloadError: naming the URL and what went wrong; nothing is cached then.
    """
    check_model_name(name)
    entry = entry or read_index().get(name)
    if entry is None:
        raise KeyError(f"no published artifact is recorded for {name!r}")
    target = os.path.join(cache_dir(), "models", name, revision(entry))
    url = artifact_url(name, entry)
    files = [(f"{url}/{rel}", rel, spec["sha256"], spec["size"]) for rel, spec in entry["files"].items()]
    return _fetch_into(target, files, label=name)


def fetch_url(url):
    """The cached copy of the artifact at `url`: a folder holding `checksums.json`, or a `.keras` file.

    A folder's files are checked against its `checksums.json`; a `.keras` file
    is fetched as it is (nothing records its hash).
    """
    url = url.rstrip("/")
    target = os.path.join(cache_dir(), "urls", hashlib.sha256(url.encode()).hexdigest()[:16])
    if url.endswith(".keras"):
        return os.path.join(_fetch_into(target, [(url, MODEL_FILE, None, None)], label=url), MODEL_FILE)
    if os.path.isdir(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        listing = os.path.join(tmp, CHECKSUMS)
        _download(f"{url}/{CHECKSUMS}", listing)
        try:
            with open(listing) as f:
                sums = json.load(f)
        except ValueError:
            raise DownloadError(f"{url}/{CHECKSUMS} is not JSON: is {url} an rnnzoo artifact folder?") from None
    files = [(f"{url}/{rel}", rel, digest, None) for rel, digest in sums.items()]
    optional = {rel for rel in PUBLISHED if rel not in sums and rel not in (MODEL_FILE, CHECKSUMS)}
    files += [(f"{url}/{rel}", rel, None, None) for rel in [CHECKSUMS, *sorted(optional)]]
    return _fetch_into(target, files, label=url, optional=optional)


def _fetch_into(target, files, label, optional=()):
    if os.path.exists(target):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    from filelock import FileLock

    with FileLock(os.path.join(parent, ".lock")):
        if os.path.exists(target):  # another process finished it while this one waited
            return target
        staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
        try:
            for url, rel, digest, size in files:
                # Names come from the record or the server's checksums.json: none may lead out of the folder.
                dest = contained_path(staging, *rel.split("/"), what=f"{label}: the listed file")
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                try:
                    _download(url, dest, digest, size, desc=f"{label}: {rel}")
                except _NotFound:
                    if rel not in optional:
                        raise
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


class _NotFound(DownloadError):
    pass


def _download(url, dest, digest=None, size=None, desc=None):
    """Stream `url` into `dest`, checking its size and SHA-256; raise `DownloadError` saying what happened."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"cannot download {url!r}: only http(s):// and file:// URLs are supported.")
    request = urllib.request.Request(url, headers={"User-Agent": "rnnzoo"})
    hasher = hashlib.sha256()
    got, announced = 0, size
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            announced = size if size is not None else (int(length) if length and length.isdigit() else None)
            with _Progress(announced, desc or url) as bar:
                while True:
                    block = response.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    hasher.update(block)
                    got += len(block)
                    bar.update(len(block))
            if length and length.isdigit() and got < int(length):
                raise DownloadError(
                    f"download of {url} stopped after {got:,} of {int(length):,} bytes (the server closed the "
                    "connection); nothing was cached. Try again, or set RNNZOO_MODELS_URL to a mirror."
                )
    except urllib.error.HTTPError as error:
        error_class = _NotFound if error.code == 404 else DownloadError
        raise error_class(f"download of {url} failed: HTTP {error.code} {error.reason}.") from None
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
        reason = getattr(error, "reason", None) or error.__class__.__name__ + (f": {error}" if str(error) else "")
        missing = scheme == "file" and isinstance(reason, FileNotFoundError)
        raise (_NotFound if missing else DownloadError)(
            f"download of {url} failed after {got:,} bytes: {reason}. Nothing was cached; check the URL or "
            "your connection, or set RNNZOO_MODELS_URL to a mirror of the artifacts."
        ) from None
    if size is not None and got != size:
        raise DownloadError(
            f"download of {url} gave {got:,} bytes, its record says {size:,} (truncated or replaced); nothing "
            "was cached."
        )
    if digest is not None and hasher.hexdigest() != digest:
        raise DownloadError(
            f"checksum mismatch for {url}: SHA-256 {hasher.hexdigest()}, expected {digest} (corrupted, or the "
            "published file changed); nothing was cached."
        )


class _Progress:
    """tqdm bar on a terminal; otherwise one plain line per file on stderr."""

    def __init__(self, total, desc):
        self.total, self.desc, self.bar = total, desc, None

    def __enter__(self):
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, unit="B", unit_scale=True, unit_divisor=1024,
                            file=sys.stderr, leave=False)
        else:
            size = "" if not self.total else (
                f" ({self.total / 2**20:.1f} MB)" if self.total >= 2**20 else f" ({self.total / 1024:.1f} KB)")
            print(f"rnnzoo: downloading {self.desc}{size}", file=sys.stderr)
        return self

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- listing and clearing
def cache_entries():
    """`[(name_or_url_id, revision, bytes, path)]` of every cached artifact and portable export (`runtime:<name>`)."""
    entries = []
    for kind in ("models", "urls", "runtimes"):
        root = os.path.join(cache_dir(), kind)
        if not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            revisions = [path] if kind == "urls" else [os.path.join(path, r) for r in sorted(os.listdir(path))
                                                         if not r.startswith(".")]
            for rev_path in revisions:
                if os.path.isdir(rev_path):
                    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(rev_path) for f in fs)
                    label = {"models": name, "urls": f"url:{name}", "runtimes": f"runtime:{name}"}[kind]
                    entries.append((label, os.path.basename(rev_path) if kind != "urls" else "-", size, rev_path))
    return entries


def clear_cache(name=None):
    """Delete the cached artifacts and portable exports (all, or one model's); returns the folders removed."""
    if name is None:
        targets = [os.path.join(cache_dir(), kind) for kind in ("models", "urls", "runtimes")]
    else:
        name = check_model_name(name)
        targets = [os.path.join(cache_dir(), kind, name) for kind in ("models", "runtimes")]
    removed = [t for t in targets if os.path.exists(t)]
    for t in removed:
        shutil.rmtree(t)
    return removed


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["index"]:
        raise SystemExit("usage: python -m rnnzoo.downloads index [NAME ...]  (rewrites saved_models/index.json)")
    print(write_index(names=argv[1:] or None))


if __name__ == "__main__":
    main()
