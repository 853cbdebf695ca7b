"""Keep TensorFlow's C++ start-up logs off a healthy machine's terminal.

Importing TensorFlow prints a handful of `I0000 ...`/`E0000 ...` lines (oneDNN
notices, "Could not find cuda drivers", `failed call to cuInit`, XLA service
lines) that say nothing is wrong. Two mechanisms produce them:

- lines logged after absl's logging is initialised obey `TF_CPP_MIN_LOG_LEVEL`,
  read once, when TensorFlow loads: rnnzoo sets it to 3 (hide I, W and E
  lines) before TensorFlow is imported, unless it is already set;
- lines logged while TensorFlow's shared libraries load, before
  `absl::InitializeLog()`, go to stderr whatever any setting says (abseil
  writes everything then; abseil-cpp PR #1957). rnnzoo imports TensorFlow with
  the process's stderr (file descriptor 2) sent to a temporary file, then
  writes back everything except the log lines below that level.

`import rnnzoo` installs an import hook that does both the first time
`tensorflow` is imported (by rnnzoo, Keras or the user), and imports nothing
itself. `RNNZOO_VERBOSE=1` (`rnnzoo --verbose`) turns all of this off, and an
explicit `TF_CPP_MIN_LOG_LEVEL` is respected (`0` shows everything).
"""

import contextlib
import importlib.util
import os
import re
import sys
import tempfile

VERBOSE_ENV = "RNNZOO_VERBOSE"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"

# glog/absl prefix: severity, MMDD, time, thread id, file:line]
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] ")
_PRE_INIT_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def verbose():
    """True when `$RNNZOO_VERBOSE` asks for TensorFlow's own logs (`1`, `true`, `yes`)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def set_verbose(flag=True):
    """Ask for (or against) TensorFlow's logs; effective only before TensorFlow is imported."""
    os.environ[VERBOSE_ENV] = "1" if flag else "0"


def min_log_level():
    """The `TF_CPP_MIN_LOG_LEVEL` in force: the user's, else 3 unless verbose (0)."""
    value = os.environ.get(LEVEL_ENV)
    if value is None:
        return 0 if verbose() else int(QUIET_LEVEL)
    try:
        return int(value)
    except ValueError:
        return 0


def filter_log_lines(text, level):
    """`text` without absl/glog log records of severity below `level` (I=0, W=1, E=2, F=3).

    A record's unprefixed continuation lines go with it; everything else
    (Python warnings, a crash message) is kept.
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            dropping = _SEVERITY[match.group(1)] < level
        elif line.startswith(_PRE_INIT_NOTICE):
            dropping = level > 0
        elif not line.strip():
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr(level):
    """Send file descriptor 2 to a temporary file; write back what `filter_log_lines` keeps."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                if sys.stderr is not None:
                    sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            kept = filter_log_lines(capture.read().decode("utf-8", "replace"), level)
            if kept and sys.stderr is not None:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietTensorFlowImport:
    """A `sys.meta_path` finder that only wraps the first import of `tensorflow`, then leaves."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        if not verbose():
            os.environ.setdefault(LEVEL_ENV, QUIET_LEVEL)
        level = min_log_level()
        if level <= 0:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def quiet_exec_module(module):
            try:
                with filtered_stderr(level):
                    exec_module(module)
            finally:
                del loader.exec_module  # the loader's own method again

        loader.exec_module = quiet_exec_module
        return spec


_HOOK = _QuietTensorFlowImport()


def install():
    """Quiet TensorFlow's import, if it has not happened yet. Imports nothing."""
    if "tensorflow" not in sys.modules and _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)


def uninstall():
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(_HOOK)
