"""A regular install (a wheel) has the zoo: configs and the download record ship as package data."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("rnnzoo", "zoo_configs", "setup.py", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in")


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_lists_downloads_and_predicts(tmp_path):
    # Build from a copy of the sources (the artifacts stay out: a wheel carries only their record).
    src = tmp_path / "src"
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "_packaged"))
        else:
            shutil.copy(path, src / name)
    (src / "saved_models").mkdir()
    shutil.copy(os.path.join(ROOT, "saved_models", "index.json"), src / "saved_models" / "index.json")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
          str(src)])
    (wheel,) = [str(p) for p in (tmp_path / "dist").glob("rnnzoo-*.whl")]
    names = zipfile.ZipFile(wheel).namelist()
    assert "rnnzoo/_packaged/zoo_configs/bilstm_ner.yaml" in names and "rnnzoo/_packaged/index.json" in names
    # Every package ships, rnnzoo.training included (load() compiles with its make_optimizer).
    assert {"rnnzoo/training/optimizers.py", "rnnzoo/training/trainer.py", "rnnzoo/artifacts.py"} <= set(names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python, rnnzoo_cmd = str(venv / "bin" / "python"), str(venv / "bin" / "rnnzoo")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", wheel])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RNNZOO_MODELS", "RNNZOO_CONFIGS", "PYTHONPATH")}
    env.update(RNNZOO_HOME=str(tmp_path / "home"), RNNZOO_MODELS_URL="file://" + os.path.join(ROOT, "saved_models"),
               TF_CPP_MIN_LOG_LEVEL="3")
    where = _run([python, "-c", "import rnnzoo; print(rnnzoo.__file__)"], cwd=elsewhere, env=env).strip()
    assert where.startswith(str(venv)), where
    listing = _run([rnnzoo_cmd, "list"], cwd=elsewhere, env=env)
    assert "bilstm_ner" in listing and "f1 91.1 (test: conll2003/test.txt)  [download" in listing, listing
    out = _run([rnnzoo_cmd, "predict", "bigru_sst2", "A wonderful, moving film.", "--json"], cwd=elsewhere, env=env)
    assert '"label": "positive"' in out.strip().splitlines()[-1], out
    assert "bigru_sst2" in _run([rnnzoo_cmd, "cache", "list"], cwd=elsewhere, env=env)
