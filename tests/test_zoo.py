"""The registry: names, configs, artifacts, errors."""

import json
import os

import pytest

import rnnzoo
from rnnzoo.artifacts import configs_dir
from rnnzoo.zoo import list_models, resolve_config


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


# ------------------------------------------------------------- checksums and CRLF checkouts
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _copy_artifact(name, to):
    import shutil

    return shutil.copytree(os.path.join(ROOT, "saved_models", name), to)


def test_checksums_cover_weights_and_vocabularies_not_documentation(tmp_path):
    from rnnzoo.artifacts import verify_checksums

    for name in list_models(trained_only=True):
        with open(os.path.join(ROOT, "saved_models", name, "checksums.json")) as f:
            listed = set(json.load(f))
        assert "model.keras" in listed and all(r == "model.keras" or r.startswith("vocabularies/") for r in listed)
    art = _copy_artifact("bigru_sst2", tmp_path / "a")
    for doc in ("MODEL_CARD.md", "metrics.json", "config.yaml"):  # edited, and with CRLF line endings
        text = open(os.path.join(art, doc), encoding="utf-8").read()
        with open(os.path.join(art, doc), "w", encoding="utf-8", newline="\r\n") as f:
            f.write(text + ("\nEdited by hand.\n" if doc == "MODEL_CARD.md" else ""))
    verify_checksums(art)
    for victim in ("model.keras", "vocabularies/words.txt"):
        bad = _copy_artifact("bigru_sst2", tmp_path / victim.replace("/", "_"))
        with open(os.path.join(bad, victim), "ab") as f:
            f.write(b"\n")
        with pytest.raises(ValueError, match=f"checksum error: .*{victim} does not match"):
            verify_checksums(bad)


def test_gitattributes_keep_artifacts_byte_exact():
    import subprocess

    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "-C", ROOT, "check-attr", "text", "saved_models/bilstm_ner/vocabularies/words.txt",
                          "saved_models/bilstm_ner/MODEL_CARD.md"], capture_output=True, text=True, timeout=60)
    assert out.stdout.count("text: unset") == 2, out.stdout


@pytest.mark.slow
def test_a_crlf_clone_loads_and_tampering_still_fails(tmp_path):
    """`git -c core.autocrlf=true clone` (committed HEAD): loads; a card edit loads; a weights edit fails."""
    import subprocess

    import rnnzoo

    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    clone = tmp_path / "clone"
    for cmd in (["git", "clone", "-q", "-c", "core.autocrlf=true", "--no-checkout", ROOT, str(clone)],
                ["git", "-C", str(clone), "checkout", "-q", head]):
        subprocess.run(cmd, check=True, timeout=300)
    assert b"\r\n" in (clone / "README.md").read_bytes()  # the conversion was on
    art = clone / "saved_models" / "bigru_sst2"
    assert (art / "vocabularies" / "words.txt").read_bytes() == open(
        os.path.join(ROOT, "saved_models", "bigru_sst2", "vocabularies", "words.txt"), "rb").read()
    assert rnnzoo.load(str(art), compile=False).predict(["A wonderful film."])[0]["label"] == "positive"
    with open(art / "MODEL_CARD.md", "a", encoding="utf-8") as f:
        f.write("\nA note added by hand.\n")
    rnnzoo.load(str(art), compile=False)
    with open(art / "model.keras", "r+b") as f:
        f.seek(1000)
        f.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match="model.keras does not match checksums.json"):
        rnnzoo.load(str(art))


# ------------------------------------------------------------- load() sources and save_to_preset
def test_load_names_what_it_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'hero_tagger.keras' is not a zoo name and no such file or folder"):
        rnnzoo.load("hero_tagger.keras")
    with pytest.raises(FileNotFoundError, match=r"'bilstm_ner.keras' is not a zoo name \(did you mean 'bilstm_ner'"):
        rnnzoo.load("bilstm_ner.keras")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        rnnzoo.load(tmp_path / "nowhere" / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="is a folder but not an rnnzoo artifact: it has no model.keras"):
        rnnzoo.load("empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="is a file but not a .keras model"):
        rnnzoo.load("notes.txt")


@pytest.mark.slow
def test_save_to_preset_round_trip_for_a_classifier(tmp_path):
    import numpy as np

    clf = rnnzoo.load("bigru_sst2")
    out = clf.save_to_preset(tmp_path / "mine")
    assert sorted(os.listdir(out)) == ["checksums.json", "config.yaml", "model.keras", "vocabularies"]
    shipped = os.path.getsize(os.path.join(ROOT, "saved_models", "bigru_sst2", "model.keras"))
    assert os.path.getsize(os.path.join(out, "model.keras")) <= shipped * 1.05
    texts = ["A wonderful, moving film.", "Dull and far too long."]
    again = rnnzoo.load(str(tmp_path / "mine"))
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), rtol=1e-5, atol=1e-6)
    assert again.zoo_config.name == "bigru_sst2"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        clf.save_to_preset(tmp_path / "mine")
    clf.save_to_preset(tmp_path / "mine", overwrite=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an rnnzoo artifact"):
        clf.save_to_preset(tmp_path / "other", overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_fine_tuned_tagger_comes_back_from_keras_file_and_preset(tiny_tagger, tmp_path):
    task, _ = tiny_tagger
    hero = task.with_labels(task.labels + ["B-HERO", "I-HERO"])
    hero.compile(optimizer="adam")
    hero.fit([["Ironman", "punched", "Hulk"]], [["B-HERO", "O", "B-HERO"]], epochs=2, verbose=0)
    sentences = [["Ironman", "punched", "Hulk"], ["Maria", "works", "for", "Google"]]
    expected = [r["tags"] for r in hero.predict(sentences)]
    hero.save(tmp_path / "hero_tagger.keras")
    with pytest.warns(UserWarning, match="plain .keras file: no checksums verified, no zoo config"):
        plain = rnnzoo.load(str(tmp_path / "hero_tagger.keras"))
    assert [r["tags"] for r in plain.predict(sentences)] == expected
    hero.save_to_preset(tmp_path / "hero")
    assert os.path.getsize(tmp_path / "hero" / "model.keras") < os.path.getsize(tmp_path / "hero_tagger.keras")
    with pytest.warns(UserWarning, match="no zoo config"):
        back = rnnzoo.load(str(tmp_path / "hero"))
    assert back.labels == hero.labels and [r["tags"] for r in back.predict(sentences)] == expected
    back.fit([["Ironman", "punched", "Hulk"]], [["B-HERO", "O", "B-HERO"]], epochs=1, verbose=0)  # compiled


@pytest.mark.slow
def test_evaluate_keeps_checksums_and_the_download_record_consistent(tiny_tagger, tmp_path, monkeypatch):
    import shutil

    from rnnzoo.downloads import index_entry, write_index
    from rnnzoo.evaluation import evaluate_model
    from rnnzoo.artifacts import verify_checksums

    _, out = tiny_tagger
    models = tmp_path / "models"
    art = shutil.copytree(out, models / "tiny_tagger")
    write_index(str(models))
    monkeypatch.setenv("RNNZOO_MODELS", str(models))
    evaluate_model("tiny_tagger")
    verify_checksums(art)
    with open(os.path.join(art, "checksums.json")) as f:
        assert sorted(json.load(f)) == ["model.keras", "vocabularies/chars.txt", "vocabularies/labels.txt",
                                        "vocabularies/words.txt"]
    with open(models / "index.json") as f:
        recorded = json.load(f)["models"]["tiny_tagger"]
    assert recorded["files"] == index_entry(art, "tiny_tagger")["files"]
    assert "MODEL_CARD.md" in recorded["files"] and recorded["metrics"]["metric"] == "f1"
