"""KerasTuner search over a config's `tuning:` section."""

import pytest
import yaml

from distributed_helpers import tiny_tagger_config


def test_search_space_validation_names_the_bad_entry():
    from rnnzoo.training.tuning import search_space

    with pytest.raises(ValueError, match="no 'tuning:' section"):
        search_space({})
    with pytest.raises(ValueError, match="tuning.architecture.units: min .* below max"):
        search_space({"architecture.units": {"min": 8, "max": 4}})
    with pytest.raises(ValueError, match="log sampling needs min > 0"):
        search_space({"training.learning_rate": {"min": 0, "max": 1, "sampling": "log"}})
    with pytest.raises(ValueError, match="dotted config key"):
        search_space({"units": [1, 2]})
    space = search_space({"architecture.units": {"min": 4, "max": 8, "step": 4}, "architecture.cell": ["gru", "lstm"],
                          "training.learning_rate": {"min": 1e-3, "max": 1e-2, "sampling": "log"}})
    assert [(k, kind) for k, kind, _ in space] == [
        ("architecture.units", "int"), ("architecture.cell", "choice"), ("training.learning_rate", "float")]


def test_unknown_tuning_key_fails_before_any_trial(tmp_path):
    import rnnzoo

    config = tiny_tagger_config(tmp_path / "data", validation=True)
    config["tuning"] = {"architecture.unitz": [4, 8]}
    with pytest.raises(ValueError, match="'architecture.unitz'.*units"):
        rnnzoo.tune(config, max_trials=1, directory=str(tmp_path / "search"))


def test_sampled_overrides_cover_choices_with_null():
    import keras_tuner as kt

    from rnnzoo.training.tuning import sample_overrides, search_space

    hp = kt.HyperParameters()
    values = sample_overrides(hp, search_space({"architecture.char_encoder": ["cnn", None],
                                                "architecture.dropout": {"min": 0.1, "max": 0.3, "step": 0.1}}))
    assert values["architecture.char_encoder"] in ("cnn", None)
    assert 0.1 <= values["architecture.dropout"] <= 0.3


@pytest.mark.slow
def test_three_trial_random_search_writes_a_best_config_that_trains(tmp_path):
    import rnnzoo
    from rnnzoo.config import load_config

    config = tiny_tagger_config(tmp_path / "data", train_sentences=24, epochs=1, validation=True)
    config["tuning"] = {
        "architecture.units": [4, 8],
        "architecture.char_encoder": ["cnn", None],
        "training.learning_rate": {"min": 0.001, "max": 0.05, "sampling": "log"},
    }
    best = rnnzoo.tune(config, tuner="random", max_trials=3, directory=str(tmp_path / "search"))
    path = tmp_path / "search" / "tiny_tagger" / "best_config.yaml"
    assert path.exists()
    written = load_config(str(path))
    assert written == best and written.architecture.units in (4, 8)
    trials = [p for p in (tmp_path / "search" / "tiny_tagger").iterdir() if p.name.startswith("trial_")]
    assert len(trials) == 3
    # `rnnzoo train` accepts the written config as it is.
    task = rnnzoo.train(str(path), verbose=0)
    assert len(task.history.history["loss"]) == 1
    # The results directory is resumable: a second call with the same budget runs no new trial.
    again = rnnzoo.tune(config, tuner="random", max_trials=3, directory=str(tmp_path / "search"))
    assert again == best
    assert yaml.safe_load(path.read_text())["name"] == "tiny_tagger"
