"""The registry: names, configs, artifacts, errors."""

import os

import pytest

import rnnzoo
from rnnzoo.zoo import configs_dir, list_models, resolve_config


def test_every_zoo_config_validates():
    names = list_models()
    assert "bilstm_ner" in names
    for name in os.listdir(configs_dir()):
        if name.endswith(".yaml"):
            config = resolve_config(name[:-5])
            assert config.name == name[:-5], f"{name}: 'name' must match the file name"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'bilstm_ner'") as info:
        rnnzoo.load("bilstm_nre")
    assert "Available:" in str(info.value)


def test_config_only_model_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNZOO_MODELS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="rnnzoo train bilstm_ner"):
        rnnzoo.load("bilstm_ner")


def test_overrides_apply_dotted_keys():
    config = resolve_config("bilstm_ner", {"training.epochs": 1, "architecture.cell": "gru"})
    assert config.training.epochs == 1 and config.architecture.cell == "gru"
    with pytest.raises(ValueError, match="architecture.cell"):
        resolve_config("bilstm_ner", {"architecture.cell": "transformer"})


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_rnnzoo_does_not_import_tensorflow(backend):
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (a non-TensorFlow Keras backend is needed for this check)")
    code = "import sys, rnnzoo, rnnzoo.layers, rnnzoo.models.tagger.backbone; print('tensorflow' in sys.modules)"
    env = dict(os.environ, KERAS_BACKEND=backend)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
