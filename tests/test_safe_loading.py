"""A model file from elsewhere never runs code: `rnnzoo.load` reads `.keras` files in Keras safe mode.

The payload is real: a `Lambda` layer whose Python lambda writes a marker file when the model is rebuilt.
Each test checks the marker is absent after `rnnzoo.load` refused the file, and the last one shows the
same file does write it when loaded with `safe_mode=False` (so the absence means something).
"""

import json
import os
import zipfile

import pytest

keras = pytest.importorskip("keras")

import rnnzoo  # noqa: E402
from rnnzoo.artifacts import write_checksums  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _lambda_model_file(path, marker):
    """A `.keras` file with a Lambda whose lambda creates the file `$RNNZOO_TEST_MARKER` (a code-executing payload)."""
    inputs = keras.Input((3,))
    touch = keras.layers.Lambda(
        lambda x: (open(__import__("os").environ["RNNZOO_TEST_MARKER"], "w").close(), x)[1], name="payload")
    keras.Model(inputs, keras.layers.Dense(2)(touch(inputs))).save(path)
    os.remove(marker)  # building the model ran the lambda once; loading must not run it again
    return path


@pytest.fixture
def payload(tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    monkeypatch.setenv("RNNZOO_TEST_MARKER", str(marker))
    return _lambda_model_file(str(tmp_path / "evil.keras"), marker), marker


def test_a_keras_file_with_a_lambda_is_refused_and_its_code_never_runs(payload):
    file, marker = payload
    with pytest.raises(ValueError, match=r"refusing to load .*holds Python code.*Lambda.*safe_mode=False") as error:
        rnnzoo.load(file)
    assert "never runs code from a model file" in str(error.value)
    assert not marker.exists()


def test_an_artifact_folder_with_valid_checksums_is_refused_too(payload, tmp_path):
    file, marker = payload
    folder = tmp_path / "artifact"
    folder.mkdir()
    os.replace(file, folder / "model.keras")
    write_checksums(str(folder))  # the checksums match: they say nothing about what the file does
    with pytest.raises(ValueError, match="holds Python code"):
        rnnzoo.load(str(folder))
    assert not marker.exists()


def test_safe_mode_holds_even_after_unsafe_deserialization_was_enabled_globally(payload):
    from keras.src.backend.common import global_state

    file, marker = payload
    before = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()  # e.g. by another library in the same process
    try:
        with pytest.raises(ValueError, match="holds Python code"):
            rnnzoo.load(file)
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)
    assert not marker.exists()


def test_a_class_from_an_arbitrary_module_is_not_imported_or_called(tmp_path):
    """A config naming `subprocess.Popen` (with a command) instead of a Keras class is refused."""
    marker = tmp_path / "popen_ran"
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "base.keras")
    with zipfile.ZipFile(tmp_path / "base.keras") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config.update({"module": "subprocess", "class_name": "Popen", "registered_name": None,
                   "config": {"args": ["touch", str(marker)]}})
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "popen.keras", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises((TypeError, ValueError)):
        rnnzoo.load(str(tmp_path / "popen.keras"))
    assert not marker.exists()


def test_the_payload_is_live_when_safe_mode_is_turned_off_explicitly(payload):
    """The documented way out (keras' own `safe_mode=False`) does run the code: the marker tests mean something."""
    file, marker = payload
    keras.saving.load_model(file, safe_mode=False)
    assert marker.exists()


def test_shipped_models_load_in_safe_mode():
    from rnnzoo.artifacts import models_dir

    file = os.path.join(models_dir(), "vanilla_rnn_ptb", "model.keras")
    if not os.path.exists(file):
        pytest.skip("vanilla_rnn_ptb is not shipped here")
    rnnzoo.models.import_all_tasks()
    assert rnnzoo.zoo.load_keras_file(file).preprocessor.level == "word"
