"""The `rnnzoo` command line."""

import json
import os
import subprocess
import sys

import pytest

import rnnzoo
from rnnzoo.cli import main


def test_help_and_list(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "predict" in capsys.readouterr().out
    assert main(["list"]) is None
    out = capsys.readouterr().out
    assert "bilstm_ner" in out
    # The evaluated file is named, and the split by what it is: SST-2's "test" split is the GLUE dev file.
    assert "(GLUE dev: sst2/glue/dev.tsv)" in next(line for line in out.splitlines() if line.startswith("bigru_sst2"))
    assert "(test: conll2003/test.txt)" in next(line for line in out.splitlines() if line.startswith("bilstm_ner"))
    assert main(["list", "--families"]) is None  # the registry's families, with their metric and task
    families = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in families] == ["classifier", "language_model", "tagger"]
    assert "f1 (max)" in families[2] and "BidirectionalTagger" in families[2]
    assert "perplexity (min)" in families[1] and "LanguageModel" in families[1]


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["info", "bilstm_nre"]) == 2
    assert "Did you mean 'bilstm_ner'" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_evaluate_export_on_an_artifact_folder(tiny_tagger, tmp_path, capsys, monkeypatch):
    _, out = tiny_tagger
    assert main(["predict", str(out), "Pankaj lives in Munich .", "--json"]) is None
    line = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(line)
    assert result["tags"][0] == "B-PER" and result["text"] == "Pankaj lives in Munich ."
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Maria works for Google\n"))
    assert main(["predict", str(out)]) is None
    assert "Maria/B-PER" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--no-write"]) is None
    assert '"metric": "f1"' in capsys.readouterr().out
    assert main(["export", str(out), str(tmp_path / "exported")]) is None
    # The export serves: its signature tags a raw string as predict does.
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "exported" / "1")).signatures["serving_default"]
    outputs = served(tf.constant(["Pankaj lives in Munich ."]))
    n = int(outputs["lengths"].numpy()[0])
    tags = [t.decode() for t in outputs["tags"].numpy()[0][:n]]
    assert tags == rnnzoo.load(str(out)).predict("Pankaj lives in Munich .")["tags"]
    assert tags[0] == "B-PER"


@pytest.mark.slow
def test_train_with_overrides(tiny_tagger_config, tmp_path):
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_tagger_config))
    out = tmp_path / "model"
    assert main(["train", str(path), "--set", "training.epochs=1", "--output-dir", str(out)]) is None
    assert os.path.exists(out / "model.keras")


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "rnnzoo.cli", "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bilstm_ner" in proc.stdout


def test_info_takes_an_artifact_folder_or_a_keras_file(capsys):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(root, "saved_models", "bigru_sst2")
    assert main(["info", folder]) is None
    out = capsys.readouterr().out
    assert "name: bigru_sst2" in out and f"# artifact: {folder}" in out and "vocabularies/words.txt" in out
    assert main(["info", os.path.join(folder, "model.keras")]) is None
    out = capsys.readouterr().out
    assert "a .keras file" in out and "TextClassifier" in out and "save_to_preset" in out
    assert main(["info", "nowhere/hero.keras"]) == 2
    assert "no such artifact folder or .keras file" in capsys.readouterr().err
