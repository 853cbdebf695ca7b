"""Paths from configs and artifacts cannot leave their folder: `..`, absolute names and symbolic links.

Dataset files stay inside the dataset folder (`data.root`, itself inside `$RNNZOO_DATA` unless absolute),
checksum entries and downloaded files inside the artifact folder, zoo names inside `saved_models/`, the
configs folder and the cache. A folder path the user passes (an absolute `data.root`, an artifact folder
given to `rnnzoo.load`) is the user's choice and is taken as it is. No file is needed from $RNNZOO_DATA.
"""

import json
import os

import pytest

from rnnzoo.artifacts import check_model_name, verify_checksums, write_checksums
from rnnzoo.config import config_from_dict
from rnnzoo.data.paths import dataset_path
from rnnzoo.utils import contained_path

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def data(tmp_path, monkeypatch):
    """$RNNZOO_DATA with a dataset folder `ds` (train.txt), and a secret file next to $RNNZOO_DATA."""
    root = tmp_path / "datasets"
    (root / "ds").mkdir(parents=True)
    (root / "ds" / "train.txt").write_text("Pankaj B-PER\n\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    monkeypatch.setenv("RNNZOO_DATA", str(root))
    return root


# ---------------------------------------------------------------- contained_path
@pytest.mark.parametrize("parts,match", [
    (["../secret.txt"], r"leaves .* \('\.\.' segments\)"),
    (["a", "..", "..", "secret.txt"], "leaves"),
    (["/etc/passwd"], "is an absolute path"),
    (["a\0b"], "NUL"),
])
def test_contained_path_refuses_what_leads_out(tmp_path, parts, match):
    with pytest.raises(ValueError, match=match):
        contained_path(tmp_path / "base", *parts)


def test_contained_path_keeps_what_stays_inside_and_sees_through_symlinks(tmp_path):
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    assert contained_path(base, "sub/../x.txt") == str(base / "x.txt")  # '..' that stays inside is fine
    (base / "link").symlink_to(tmp_path)  # a link inside the folder that leads out of it
    with pytest.raises(ValueError, match="through a symbolic link"):
        contained_path(base, "link", "secret.txt")
    assert contained_path(base, "link", "secret.txt", follow_symlinks=False).endswith("secret.txt")


# ---------------------------------------------------------------- dataset files
@pytest.mark.parametrize("parts,match", [
    (("ds", "../../secret.txt"), r"data file \(data.train/validation/test\) '\.\./\.\./secret.txt' leaves"),
    (("ds", "/etc/passwd"), "data file .* is an absolute path"),
    (("../", "secret.txt"), r"dataset folder \(data.root\) '\.\./' leaves"),
    (("../../etc/passwd",), "dataset path .* leaves"),
])
def test_dataset_paths_stay_in_their_folder(data, parts, match):
    with pytest.raises(ValueError, match=match):
        dataset_path(*parts)
    assert dataset_path("ds", "train.txt") == str(data / "ds" / "train.txt")


def test_a_symlinked_data_file_cannot_lead_out_but_a_symlinked_dataset_folder_may(data, tmp_path):
    (data / "ds" / "train.txt").unlink()
    (data / "ds" / "train.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ValueError, match="through a symbolic link"):
        dataset_path("ds", "train.txt")
    # A dataset folder that is a link (how big data is often set up under $RNNZOO_DATA) is fine.
    (tmp_path / "big" / "conll").mkdir(parents=True)
    (tmp_path / "big" / "conll" / "train.txt").write_text("x O\n\n")
    (data / "conll").symlink_to(tmp_path / "big" / "conll")
    assert os.path.exists(dataset_path("conll", "train.txt"))


def test_an_absolute_data_root_is_the_users_choice_but_its_files_stay_inside(data, tmp_path):
    assert dataset_path(str(tmp_path), "secret.txt") == str(tmp_path / "secret.txt")
    with pytest.raises(ValueError, match="leaves"):
        dataset_path(str(data / "ds"), "../../secret.txt")


def _config(**data):
    return {"name": "x", "family": "tagger", "data": {"reader": "conll", "root": "ds", "train": "train.txt", **data}}


@pytest.mark.parametrize("data,match", [
    ({"train": "../../secret.txt"}, r"'data.train' \('\.\./\.\./secret.txt'\) leads out of data.root"),
    ({"train": ["train.txt", "../secret.txt"]}, "'data.train'.*leads out"),
    ({"validation": "/etc/passwd"}, "'data.validation' must be a file name relative to data.root"),
    ({"test": "a/../../b"}, "'data.test'.*leads out"),
    ({"root": "../elsewhere"}, r"'data.root'.*leads out of \$RNNZOO_DATA"),
])
def test_configs_naming_paths_that_leave_their_folder_are_refused_naming_the_key(data, match):
    with pytest.raises(ValueError, match=match):
        config_from_dict(_config(**data))


def test_config_keeps_paths_inside_and_absolute_roots():
    config_from_dict(_config(root="/abs/datasets", train="sub/train.txt", test="a/../test.txt"))
    with pytest.raises(ValueError, match="'architecture.embeddings'.*leads out"):
        config_from_dict({**_config(), "architecture": {"embeddings": "../../home/me/vectors.txt"}})


def test_a_family_reading_a_config_with_a_symlinked_training_file_refuses_it(data, tmp_path):
    from rnnzoo.models import get_family

    (data / "ds" / "evil.txt").symlink_to(tmp_path / "secret.txt")
    config = config_from_dict(_config(train="evil.txt"))
    with pytest.raises(ValueError, match="through a symbolic link"):
        get_family("tagger").load_data(config)


# ---------------------------------------------------------------- artifact folders and the cache
def _artifact(folder):
    (folder / "vocabularies").mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"weights")
    (folder / "vocabularies" / "words.txt").write_text("a\nb\n")
    write_checksums(str(folder))
    return folder


@pytest.mark.parametrize("entry", ["vocabularies/../../secret.txt", "vocabularies/../../../../../../../../etc/passwd"])
def test_checksum_entries_cannot_name_files_outside_the_artifact(tmp_path, entry):
    (tmp_path / "secret.txt").write_text("secret\n")
    folder = _artifact(tmp_path / "artifact")
    sums = json.loads((folder / "checksums.json").read_text())
    sums[entry] = "0" * 64
    (folder / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ValueError, match="checksums.json entry .* leaves"):
        verify_checksums(str(folder))


def test_a_symlinked_model_file_is_refused(tmp_path):
    outside = tmp_path / "outside.keras"
    outside.write_bytes(b"weights")
    folder = _artifact(tmp_path / "artifact")
    (folder / "model.keras").unlink()
    (folder / "model.keras").symlink_to(outside)  # same bytes, same checksum: only the link is wrong
    with pytest.raises(ValueError, match="through a symbolic link"):
        verify_checksums(str(folder))


def test_a_download_listing_cannot_write_outside_the_cache(tmp_path, monkeypatch):
    from rnnzoo.downloads import fetch_url

    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path / "cache"))
    published = _artifact(tmp_path / "published")
    (published / "checksums.json").write_text(json.dumps({"model.keras": None, "../../../../escaped.txt": None}))
    (tmp_path / "escaped.txt").write_text("served")  # what the traversal would fetch
    with pytest.raises(ValueError, match="the listed file '../../../../escaped.txt' leaves"):
        fetch_url(published.as_uri())
    assert not any(p.name == "escaped.txt" for p in (tmp_path / "cache").rglob("*"))
    assert not (tmp_path / "cache" / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert not [p for p in (tmp_path / "cache").rglob(".staging-*")]  # nothing half-written is left


@pytest.mark.parametrize("name", ["..", ".", "../x", "../../etc", "a/b", "a\\b", "", "/abs", "x\0y"])
def test_zoo_names_are_one_path_component(name):
    with pytest.raises(ValueError, match="is not a zoo model name"):
        check_model_name(name)


def test_zoo_names_cannot_reach_outside_saved_models_configs_or_the_cache(tmp_path, monkeypatch):
    import rnnzoo
    from rnnzoo import downloads, zoo

    models, configs, cache = tmp_path / "models", tmp_path / "configs", tmp_path / "cache"
    for folder in (models, configs, cache / "models"):
        folder.mkdir(parents=True)
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "model.keras").write_bytes(b"not a zoo model")  # models/../evil
    (tmp_path / "evil.yaml").write_text("name: evil\nfamily: tagger\ndata: {train: t.txt}\n")  # configs/../evil.yaml
    (models / "index.json").write_text(json.dumps({"models": {"../evil": {"url": "x", "files": {}}}}))
    monkeypatch.setenv("RNNZOO_MODELS", str(models))
    monkeypatch.setenv("RNNZOO_CONFIGS", str(configs))
    monkeypatch.setenv("RNNZOO_HOME", str(cache))
    (tmp_path / "work" / "here").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "here")  # "../evil" is no path from here: only a (bad) name
    assert "../evil" not in zoo.list_models()  # a hostile record entry is not a name
    with pytest.raises(ValueError, match="is not a zoo model name"):
        zoo.local_artifact("../evil")
    with pytest.raises(ValueError, match="unknown model '../evil'"):
        zoo.resolve_config("../evil")
    with pytest.raises(ValueError, match="is not a zoo model name"):
        downloads.cached_artifact("../evil", {"files": {}})
    (cache / "keep.txt").write_text("the cache")
    with pytest.raises(ValueError, match="is not a zoo model name"):
        downloads.clear_cache("..")  # would have removed $RNNZOO_HOME/models/.. = the whole cache
    assert (cache / "keep.txt").exists() and (tmp_path / "evil.yaml").exists()
    with pytest.raises(FileNotFoundError, match="'../evil' is not a zoo name and no such file or folder exists"):
        rnnzoo.load("../evil")  # not models/../evil
