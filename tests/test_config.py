"""rnnzoo.config: validation messages, overrides, and every shipped YAML (swept like timm's registry tests)."""

import dataclasses
import glob
import os

import pytest
import yaml

from rnnzoo.config import (
    ZooConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    parse_override,
)

ZOO_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo_configs")
YAML_FILES = sorted(glob.glob(os.path.join(ZOO_CONFIGS, "*.yaml")))


def _config(**sections):
    """A minimal config of the family that has every key given (the tagger unless a key is the classifier's)."""
    from rnnzoo.models import get_family

    tagger = get_family("tagger")
    family = "tagger"
    for section in ("architecture", "data"):
        own = {f.name for f in dataclasses.fields(getattr(tagger, section))}
        if any(key not in own for key in sections.get(section) or {}):
            family = "classifier"
    return {"name": "tiny", "family": family, **sections}


def test_defaults_are_valid_and_round_trip():
    config = config_from_dict(_config())
    assert isinstance(config, ZooConfig)
    assert config.architecture.cell == "lstm" and config.training.early_stopping is None
    assert load_config(config.to_dict()) == config
    assert load_config(config) == config


# --------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    "values,message",
    [
        ({"architecure": {}}, r"unknown config key 'architecure'\. Did you mean 'architecture'\?"),
        ({"architecture": {"unit": 3}}, r"'architecture\.unit'\. Did you mean 'units'\?"),
        ({"training": {"learning_rte": 0.1}}, r"'training\.learning_rte'\. Did you mean 'learning_rate'\?"),
        ({"training": {"early_stopping": {"patiense": 3}}},
         r"'training\.early_stopping\.patiense'\. Did you mean 'patience'\?"),
        ({"tuning": {"architecture.unit": [1, 2]}}, r"tuning key 'architecture\.unit'.*Did you mean 'units'\?"),
        ({"tuning": {"units": [1, 2]}}, r"tuning key 'units' must be a dotted config key"),
        ({"family": "tager"}, r"Did you mean 'tagger'\?"),
    ],
)
def test_unknown_keys_suggest_the_right_one(values, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(_config(**values) if "family" not in values else {"name": "x", **values})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ValueError, match="Valid keys of 'data' for family 'tagger':.*tag_scheme"):
        config_from_dict({"name": "x", "family": "tagger", "data": {"xyz_totally_unrelated": 1}})


@pytest.mark.parametrize(
    "family,section,key,value,message",
    [
        # A key of another family is unknown here, and the error names the family and its keys.
        ("tagger", "architecture", "pooling", "max", r"unknown config key 'architecture\.pooling'.*for family 'tagger'"),
        ("tagger", "data", "truncate", "tail", r"unknown config key 'data\.truncate'.*for family 'tagger'"),
        ("classifier", "architecture", "char_encoder", "cnn", r"'architecture\.char_encoder'.*for family 'classifier'"),
        ("classifier", "data", "tag_scheme", "iobes", r"'data\.tag_scheme'.*for family 'classifier'"),
        # A head the family does not have fails with the family's own heads.
        ("tagger", "architecture", "head", "binary",
         r"'architecture\.head' must be one of \['crf', 'softmax'\] for family 'tagger', got 'binary'"),
        ("classifier", "architecture", "head", "crf",
         r"'architecture\.head' must be one of \[None, 'binary', 'multiclass', 'multilabel'\] for family 'classifier'"),
        ("tagger", "data", "reader", "csv", r"'data\.reader' must be one of \['conll'\] for family 'tagger'"),
    ],
)
def test_each_family_validates_its_own_keys(family, section, key, value, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict({"name": "x", "family": family, section: {key: value}, "data": {"train": "t", **(
            {key: value} if section == "data" else {})}})


def test_family_sections_are_the_familys_classes():
    from rnnzoo.models import get_family

    for name in ("tagger", "classifier"):
        config = config_from_dict({"name": "x", "family": name, "data": {"train": "t"}})
        family = get_family(name)
        assert type(config.architecture) is family.architecture and type(config.data) is family.data
    assert config_from_dict({"name": "x", "family": "classifier", "data": {"train": "t"}}).architecture.head is None


def test_artifacts_of_the_flat_schema_still_load():
    """Saved config.yaml files of the one flat schema hold every family's keys at their defaults."""
    flat = {"name": "x", "family": "tagger", "architecture": {"pooling": "last", "dense_units": 0, "head": "crf"},
            "data": {"train": "t", "truncate": "head", "train_validation_split": 0.0, "text_column": None}}
    assert config_from_dict(flat, legacy=True).architecture.head == "crf"
    with pytest.raises(ValueError, match="pooling"):
        config_from_dict(flat)  # a user's YAML gets no such leniency
    classifier = {**flat, "family": "classifier", "architecture": {"head": "crf", "char_units": 50}}
    assert config_from_dict(classifier, legacy=True).architecture.head is None  # the flat default "crf" meant "auto"
    with pytest.raises(ValueError, match="pooling"):  # a non-default value of another family's key still fails
        config_from_dict({**flat, "architecture": {"pooling": "max"}}, legacy=True)


# --------------------------------------------------------------------------- types, choices, ranges


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("architecture", "units", "100", "must be a number"),
        ("architecture", "units", 2.5, "must be an integer"),
        ("architecture", "units", True, "must be a number"),
        ("architecture", "bidirectional", "yes", "must be true or false"),
        ("architecture", "cell", 5, "must be a string"),
        ("architecture", "embeddings", 5, "must be a string"),
        ("architecture", "max_vocabulary", "big", "must be a number"),
        ("training", "clipnorm", "x", "must be a number"),
        ("training", "clipnorm", True, "must be a number"),
        ("training", "learning_rate", "1e-3", "must be a number"),
        ("training", "max_steps", 2.5, "must be an integer"),
        ("training", "early_stopping", 5, "must be a mapping"),
        ("data", "labels", "O", "must be a list"),
        ("metadata", "metrics", "f1", "must be a list"),
    ],
)
def test_wrong_types(section, key, value, message):
    with pytest.raises(ValueError, match=rf"'{section}\.{key}' {message}"):
        config_from_dict(_config(**{section: {key: value}}))


@pytest.mark.parametrize(
    "section,key,value,hint",
    [
        ("architecture", "cell", "lstn", "Did you mean 'lstm'?"),
        ("architecture", "pooling", "maxx", "Did you mean 'max'?"),
        ("architecture", "head", "softmx", "Did you mean 'softmax'?"),
        ("training", "optimizer", "adm", "Did you mean 'adam'?"),
        ("training", "lr_schedule", "cosin", "Did you mean 'cosine'?"),
        ("training", "early_stopping", {"mode": "maximum"}, "Did you mean 'max'?"),
        ("data", "train_validation_unit", "sentences", "Did you mean 'sentence'?"),
    ],
)
def test_bad_choices(section, key, value, hint):
    with pytest.raises(ValueError, match="must be one of") as error:
        config_from_dict(_config(**{section: {key: value}}))
    assert hint in str(error.value)


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("architecture", "units", 0, "must be positive"),
        ("architecture", "layers", -1, "must be positive"),
        ("architecture", "max_chars", 0, "must be positive"),
        ("architecture", "dropout", 1.0, r"must be in \[0, 1\)"),
        ("architecture", "recurrent_dropout", -0.1, r"must be in \[0, 1\)"),
        ("architecture", "dense_units", -1, "must be >= 0"),
        ("architecture", "max_vocabulary", -5, "must be >= 0"),
        ("training", "batch_size", 0, "must be positive"),
        ("training", "epochs", 0, "must be positive"),
        ("training", "learning_rate", 0, "must be positive"),
        ("training", "clipnorm", -1.0, "must be positive or null"),
        ("training", "momentum", -0.5, "must be >= 0"),
        ("training", "max_steps", -2, "must be >= 0"),
        ("training", "early_stopping", {"patience": -1}, "must be >= 0"),
        ("data", "max_length", 0, "must be positive"),
        ("data", "train_validation_split", 1.5, r"must be in \[0, 1\)"),
        ("data", "train", [], "non-empty list of file names"),
        ("data", "train_max_length", 0, "must be positive"),
        ("data", "train", ["train.txt", 3], "non-empty list of file names"),
        ("data", "train", 7, "file name or a non-empty list"),
        ("training", "ema_momentum", 1.0, r"must be in \(0, 1\) or null"),
    ],
)
def test_out_of_range(section, key, value, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(_config(**{section: {key: value}}))


def test_structure_errors():
    with pytest.raises(ValueError, match="must be a mapping"):
        config_from_dict(["not", "a", "dict"])
    with pytest.raises(ValueError, match="section 'training' must be a mapping"):
        config_from_dict(_config(training=[1]))
    with pytest.raises(ValueError, match="needs a 'name'"):
        config_from_dict({"family": "tagger"})
    with pytest.raises(ValueError, match="needs a 'family'"):
        config_from_dict({"name": "x"})
    with pytest.raises(ValueError, match="'tuning' must be a mapping"):
        config_from_dict(_config(tuning=[1]))


def test_numbers_are_coerced_to_the_field_type():
    config = config_from_dict(_config(architecture={"units": 64.0}, training={"learning_rate": 1}))
    assert config.architecture.units == 64 and isinstance(config.architecture.units, int)
    assert isinstance(config.training.learning_rate, float)


# --------------------------------------------------------------------------- overrides


def test_parse_override_parses_yaml_values():
    assert parse_override("training.epochs=1") == ("training.epochs", 1)
    assert parse_override("training.learning_rate=1e-3") == ("training.learning_rate", 1e-3)
    assert parse_override("architecture.bidirectional=false") == ("architecture.bidirectional", False)
    assert parse_override("data.labels=[O, B-PER]") == ("data.labels", ["O", "B-PER"])
    assert parse_override("training.clipnorm=null") == ("training.clipnorm", None)
    assert parse_override(" metadata.description = a=b ") == ("metadata.description", "a=b")


@pytest.mark.parametrize("text", ["training.epochs", "=3", ".epochs=1", "training..epochs=1"])
def test_parse_override_rejects_malformed(text):
    with pytest.raises(ValueError, match="override"):
        parse_override(text)


def test_apply_overrides_copies_and_sets_nested_keys():
    values = _config(training={"epochs": 5})
    out = apply_overrides(values, {"training.epochs": 1, "architecture.units": 8})
    assert out["training"]["epochs"] == 1 and out["architecture"]["units"] == 8
    assert values["training"]["epochs"] == 5 and "architecture" not in values  # input untouched


def test_apply_overrides_into_a_null_section():
    # ZooConfig.to_dict() writes early_stopping: None; an override must still land.
    values = config_from_dict(_config()).to_dict()
    assert values["training"]["early_stopping"] is None
    config = load_config(values, {"training.early_stopping.patience": 2})
    assert config.training.early_stopping.patience == 2


def test_apply_overrides_rejects_setting_inside_a_value():
    with pytest.raises(ValueError, match="not a section"):
        apply_overrides(_config(training={"epochs": 5}), {"training.epochs.x": 1})


def test_overrides_are_validated():
    with pytest.raises(ValueError, match=r"'training\.epochz'\. Did you mean 'epochs'\?"):
        load_config(_config(), {"training.epochz": 1})
    with pytest.raises(ValueError, match="must be positive"):
        load_config(_config(), dict([parse_override("architecture.units=0")]))


def test_load_config_errors(tmp_path):
    with pytest.raises(ValueError, match="neither a zoo config"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(str(bad))


def test_scientific_notation_is_a_number(tmp_path):
    # PyYAML alone reads `1e-3` as a string (YAML 1.1); configs and overrides must not.
    path = tmp_path / "sci.yaml"
    path.write_text("name: sci\nfamily: tagger\ntraining:\n  learning_rate: 1e-3\n  clipnorm: 5e0\n")
    config = load_config(str(path), dict([parse_override("training.decay_rate=9e-1")]))
    assert config.training.learning_rate == 1e-3 and config.training.clipnorm == 5.0
    assert config.training.decay_rate == 0.9


def test_yaml_round_trip(tmp_path):
    config = load_config(_config(training={"early_stopping": {"patience": 3, "mode": "max"}}))
    path = tmp_path / "config.yaml"
    config.to_yaml(str(path))
    assert load_config(str(path)) == config


# --------------------------------------------------------------------------- the shipped configs


def test_zoo_configs_folder_is_not_empty():
    assert YAML_FILES, f"no YAML configs found in {ZOO_CONFIGS}"


@pytest.mark.parametrize("path", YAML_FILES, ids=[os.path.basename(p) for p in YAML_FILES])
def test_every_zoo_config_loads(path):
    config = load_config(path)
    with open(path) as f:
        raw = yaml.safe_load(f)
    assert config.name == raw["name"] == os.path.splitext(os.path.basename(path))[0]
    assert config.metadata.description, "every zoo config describes itself"
    # Every tuning key overrides a real field with a value of the right type.
    for dotted, space in config.tuning.items():
        section, key = dotted.split(".", 1)
        current = getattr(getattr(config, section), key.split(".")[0])
        candidates = space if isinstance(space, list) else [space.get("min"), space.get("max")]
        for candidate in candidates:
            if candidate is not None and current is not None:
                load_config(raw, {dotted: type(current)(candidate) if not isinstance(current, bool) else candidate})
    # The dataclass round trip is lossless.
    assert load_config(dataclasses.asdict(config)) == config
