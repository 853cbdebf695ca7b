"""Generated documentation stays in step with the code and the shipped artifacts."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build():
    spec = importlib.util.spec_from_file_location("docs_build", os.path.join(ROOT, "docs", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_zoo_table_matches_metrics():
    build = _build()
    with open(build.README, encoding="utf-8") as f:
        readme = f.read()
    assert build.readme_with_table(readme) == readme, "README's zoo table is stale: run `python docs/build.py`"
    # And the table really carries each shipped model's measured number.
    for name in sorted(os.listdir(os.path.join(ROOT, "saved_models"))):
        path = os.path.join(ROOT, "saved_models", name, "metrics.json")
        if os.path.exists(path):
            with open(path) as f:
                m = json.load(f)
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
            assert f"{m['metric']} **{m['value']:.2f}**" in row


def test_table_fails_when_metrics_disagree(monkeypatch):
    build = _build()
    with open(build.README, encoding="utf-8") as f:
        readme = f.read()
    edited = readme.replace("f1 **", "f1 **9", 1)
    assert edited != readme
    assert build.readme_with_table(edited) != edited


@pytest.mark.slow
def test_api_reference_is_current():
    build = _build()
    with open(build.API, encoding="utf-8") as f:
        current = f.read()
    assert build.api_reference() == current, "docs/api.md is stale: run `python docs/build.py`"
