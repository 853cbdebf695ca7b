"""The command line and the training entry point behave like a mature library's (issue #15).

Bad numbers are usage errors (exit 2), nothing is overwritten by accident, artifacts get normal
permissions, TensorFlow's start-up logs stay off stderr, a closed pipe ends quietly, progress bars
know the epoch's length and stay out of log files, JSON output is valid JSON, options go anywhere.
"""

import io
import json
import os
import re
import stat
import subprocess
import sys

import pytest
import yaml

from distributed_helpers import tiny_tagger_config
from rnnzoo.cli import build_parser, main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# An absl/glog record ("I0000 00:00:1796185411.736916    4232 port.cc:153] ...") or abseil's pre-init notice.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]|absl::InitializeLog", re.M)


class FakeModel:
    """What `rnnzoo.load` returns, minus TensorFlow: records the predict call."""

    calls = []

    def predict(self, texts, batch_size=None, verbose=0):
        FakeModel.calls.append((list(texts), batch_size))
        return [{"label": "positive", "score": 0.5} for _ in texts]


@pytest.fixture
def fake_load(monkeypatch):
    """`rnnzoo.load` gives a `FakeModel`; `train`, `tune` and `evaluate` only record that they ran."""
    FakeModel.calls = []
    monkeypatch.setattr("rnnzoo.load", lambda name, **kwargs: FakeModel())
    for name in ("rnnzoo.train", "rnnzoo.tune", "rnnzoo.evaluation.evaluate_model"):
        monkeypatch.setattr(name, lambda *args, _name=name, **kwargs: FakeModel.calls.append(_name) or {})
    return FakeModel.calls


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNNZOO_VERBOSE")}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(args, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env or _clean_env(), capture_output=True, text=True,
        timeout=300, **kwargs,
    )


# ------------------------------------------------------------------ 1, 9: numbers are validated


@pytest.mark.parametrize(
    "argv, option",
    [
        (["predict", "bilstm_imdb", "great film", "awful", "--batch-size", "-3"], "--batch-size"),
        (["predict", "bilstm_imdb", "great film", "--batch-size", "0"], "--batch-size"),
        (["predict", "bilstm_imdb", "great film", "--batch-size", "2.5"], "--batch-size"),
        (["evaluate", "bilstm_imdb", "--limit", "0"], "--limit"),
        (["evaluate", "bilstm_imdb", "--limit", "-1"], "--limit"),
        (["tune", "bilstm_ner", "--max-trials", "0"], "--max-trials"),
        (["gradflow", "--steps", "0"], "--steps"),
    ],
)
def test_bad_numbers_are_usage_errors(argv, option, capsys, fake_load):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: expected a positive integer" in err
    assert not fake_load  # nothing ran


@pytest.mark.parametrize("error", [ValueError("batch_size must be a positive integer, got -3"), TypeError("bad type")])
def test_an_api_value_or_type_error_is_exit_2_without_traceback(error, monkeypatch, capsys):
    def load(name, **kwargs):
        raise error

    monkeypatch.setattr("rnnzoo.load", load)
    assert main(["predict", "bilstm_imdb", "great film"]) == 2
    err = capsys.readouterr().err
    assert f"rnnzoo predict: error: {error}" in err and "Traceback" not in err


def test_evaluate_prints_valid_json_even_for_nan_scores(monkeypatch, capsys):
    record = {"model": "m", "metric": "f1", "value": float("nan"), "f1": float("inf"), "examples": 0}
    monkeypatch.setattr("rnnzoo.evaluation.evaluate_model", lambda *a, **k: record)
    assert main(["evaluate", "bilstm_ner", "--no-write"]) is None
    out = capsys.readouterr().out

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    summary = json.loads(out, parse_constant=no_constants)
    assert summary["value"] is None and summary["f1"] is None and summary["examples"] == 0


# ------------------------------------------------------------------ 10: options anywhere


def test_options_before_between_and_after_the_texts(fake_load, capsys):
    assert main(["predict", "--json", "bilstm_imdb", "great film", "--batch-size", "1", "awful", "--verbose"]) is None
    assert fake_load == [(["great film", "awful"], 1)]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["great film", "awful"]
    fake_load.clear()
    assert main(["predict", "bilstm_ner", "--json", "Pankaj lives in Munich"]) is None
    assert fake_load == [(["Pankaj lives in Munich"], 32)]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--set", "training.epochs=1", "cfg.yaml", "--output-dir", "out", "--set", "training.seed=3"],
         {"config": "cfg.yaml", "set": ["training.epochs=1", "training.seed=3"], "output_dir": "out"}),
        (["evaluate", "--no-write", "bilstm_ner", "--limit", "5"], {"name": "bilstm_ner", "limit": 5, "no_write": True}),
        (["tune", "--max-trials", "2", "bilstm_ner", "--tuner", "bayesian"],
         {"config": "bilstm_ner", "max_trials": 2, "tuner": "bayesian"}),
        (["export", "bilstm_ner", "--verbose", "out"], {"name": "bilstm_ner", "directory": "out", "verbose": True}),
        (["--verbose", "info", "bilstm_ner"], {"name": "bilstm_ner", "verbose": True}),
        (["list", "--verbose"], {"verbose": True}),
        (["list"], {"verbose": False}),
    ],
)
def test_every_subcommand_takes_options_anywhere(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


def test_train_reads_set_anywhere(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("rnnzoo.train", lambda config, **kwargs: seen.update(kwargs, config=config))
    out = str(tmp_path / "out")
    assert main(["train", "--set", "training.epochs=1", "bilstm_ner", "--output-dir", out, "--set", "training.seed=3"]) is None
    assert seen["config"] == "bilstm_ner" and seen["output_dir"] == out and seen["overwrite"] is False
    assert seen["overrides"] == {"training.epochs": 1, "training.seed": 3}


# ------------------------------------------------------------------ 2, 4: never lose or overwrite a model


def test_training_refuses_a_non_empty_output_dir_before_it_starts(tmp_path, monkeypatch, capsys):
    import rnnzoo
    from rnnzoo.training import distribute

    def started(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(distribute, "resolve_strategy", started)
    config = tiny_tagger_config(tmp_path / "data", train_sentences=16)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "model.keras").write_text("the pretrained weights")
    (shipped / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds a trained model.*overwrite=True"):
        rnnzoo.train(config, output_dir=str(shipped), verbose=0)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path), "--output-dir", str(shipped)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (shipped / "model.keras").read_text() == "the pretrained weights" and (shipped / "metrics.json").exists()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(FileExistsError, match="is an existing file"):
        rnnzoo.train(config, output_dir=str(not_a_folder), overwrite=True, verbose=0)
    (tmp_path / "empty").mkdir()  # an empty folder is fine: this one gets as far as the strategy
    with pytest.raises(AssertionError, match="training started"):
        rnnzoo.train(config, output_dir=str(tmp_path / "empty"), verbose=0)


def test_train_without_output_dir_saves_under_runs_with_a_timestamp(monkeypatch, tmp_path, capsys):
    import datetime

    from rnnzoo.cli import default_output_dir

    assert default_output_dir("bilstm_ner", now=datetime.datetime(2026, 5, 4, 3, 2, 1)) == os.path.join(
        "runs", "bilstm_ner-20260504-030201"
    )
    seen = {}
    monkeypatch.setattr("rnnzoo.train", lambda config, **kwargs: seen.update(kwargs))
    assert main(["train", "bilstm_ner"]) is None
    assert re.fullmatch(r"runs[/\\]bilstm_ner-\d{8}-\d{6}", seen["output_dir"])
    assert main(["train", "bilstm_ner", "--no-save"]) is None
    assert seen["output_dir"] is None and "will not be saved" in capsys.readouterr().out
    assert main(["train", "bilstm_ner", "--no-save", "--output-dir", "x"]) == 2


@pytest.mark.slow
def test_cli_train_saves_by_default_and_overwrites_only_when_asked(tmp_path, monkeypatch):
    config = tiny_tagger_config(tmp_path / "data", train_sentences=16, epochs=1)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["train", str(path)]) is None
    (saved,) = (tmp_path / "runs").iterdir()
    assert saved.name.startswith("tiny_tagger-") and (saved / "model.keras").exists()
    assert f"saved to {saved}" in out.getvalue()
    assert main(["train", str(path), "--output-dir", str(saved)]) == 2
    before = (saved / "model.keras").stat().st_mtime_ns
    assert main(["train", str(path), "--output-dir", str(saved), "--overwrite"]) is None
    assert (saved / "model.keras").stat().st_mtime_ns != before


# ------------------------------------------------------------------ 3: permissions


def test_an_artifact_folder_gets_the_umask_permissions_like_mkdir(tmp_path):
    import rnnzoo
    from rnnzoo.artifacts import save_artifact
    from rnnzoo.zoo import resolve_config

    config = resolve_config(tiny_tagger_config(tmp_path / "data", train_sentences=16))
    task = rnnzoo.build(config)
    old = os.umask(0o027)
    try:
        directory = save_artifact(task, config, str(tmp_path / "artifact"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o750
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".staging-")]


# ------------------------------------------------------------------ 5: TensorFlow's start-up noise


def test_filter_log_lines_drops_tf_records_below_the_level_and_keeps_the_rest():
    from rnnzoo._tf_logging import filter_log_lines

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796185411.812642    4232 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
        "E0000 00:00:1796185415.761363    4232 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
        "\n"
        "/x.py:1: UserWarning: a Python warning\n"
        "F0000 00:00:1796185415.761363    4232 x.cc:1] fatal\n"
    )
    assert filter_log_lines(text, 3) == "\n/x.py:1: UserWarning: a Python warning\nF0000 00:00:1796185415.761363    4232 x.cc:1] fatal\n"
    assert "cuInit" in filter_log_lines(text, 2) and "optimized" not in filter_log_lines(text, 2)
    assert filter_log_lines(text, 0) == text


def test_import_rnnzoo_does_not_import_tensorflow():
    proc = _run(["-c", "import sys, rnnzoo, rnnzoo.cli; print('tensorflow' in sys.modules)"])
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        'import rnnzoo; t = rnnzoo.load("bilstm_ner"); print(t.predict(["Pankaj lives in Munich"]))',
        'import rnnzoo; c = rnnzoo.load("bilstm_imdb"); print(c.predict(["great film", "awful"]))',
    ],
    ids=["bilstm_ner", "bilstm_imdb"],
)
def test_the_python_api_is_quiet_on_a_healthy_machine(code):
    proc = _run(["-c", code])
    assert proc.returncode == 0, proc.stderr
    assert "[{" in proc.stdout
    assert not TF_LOG_LINE.search(proc.stderr), proc.stderr


@pytest.mark.slow
def test_every_cli_command_is_quiet_and_verbose_brings_the_logs_back():
    proc = _run(["-m", "rnnzoo.cli", "predict", "bilstm_imdb", "great film"])
    assert proc.returncode == 0 and proc.stdout.startswith("positive"), proc.stderr
    assert not TF_LOG_LINE.search(proc.stderr), proc.stderr
    loud = _run(["-m", "rnnzoo.cli", "predict", "bilstm_imdb", "great film", "--verbose"])
    assert loud.returncode == 0 and TF_LOG_LINE.search(loud.stderr), loud.stderr


@pytest.mark.slow
@pytest.mark.parametrize("env", [{"RNNZOO_VERBOSE": "1"}, {"TF_CPP_MIN_LOG_LEVEL": "0"}])
def test_rnnzoo_verbose_and_an_explicit_tf_level_are_respected(env):
    proc = _run(["-c", "import rnnzoo, keras; keras.ops.ones(2)"], env=_clean_env(**env))
    assert proc.returncode == 0 and TF_LOG_LINE.search(proc.stderr), proc.stderr


# ------------------------------------------------------------------ 6: a closed pipe


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo.cli", "list"], cwd=REPO, env=_clean_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 1


# ------------------------------------------------------------------ 7: the epoch's length is known


def test_with_known_length_counts_the_actual_bucketed_batches():
    import tensorflow as tf

    from rnnzoo.training.trainer import with_known_length

    def make():
        lengths = tf.data.Dataset.from_tensor_slices([1, 2, 9, 9, 9, 1, 2, 9, 1, 1, 9])
        rows = lengths.shuffle(11).map(lambda n: tf.ones([n]))
        # Buckets of 4, 2 and 5 rows in batches of 3: 2 + 1 + 2 = 5 batches, not ceil(11 / 3) = 4.
        return rows.bucket_by_sequence_length(lambda r: tf.shape(r)[0], [2, 5], [3, 3, 3])

    assert int(make().cardinality()) == tf.data.UNKNOWN_CARDINALITY
    expected = sum(1 for _ in make())
    known = with_known_length(make(), fresh_dataset=make)
    assert int(known.cardinality()) == expected == 5
    assert sum(1 for _ in known) == expected
    finite = tf.data.Dataset.range(4).batch(3)
    assert with_known_length(finite) is finite


def test_the_first_epoch_knows_how_many_steps_it_has(tmp_path):
    import keras

    from rnnzoo.training.trainer import train

    steps = []

    class Steps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            steps.append(self.params.get("steps"))

    config = tiny_tagger_config(tmp_path / "data", train_sentences=24, batch_size=8, epochs=1)
    train(config, callbacks=[Steps()], verbose=0)
    assert steps == [3]  # 24 one-bucket sentences, 8 a batch


# ------------------------------------------------------------------ 8: no bars in log files


def test_tune_and_train_draw_bars_only_on_a_terminal(monkeypatch):
    seen = []
    monkeypatch.setattr("rnnzoo.tune", lambda config, **kwargs: seen.append(kwargs["verbose"]) or "best")
    monkeypatch.setattr("rnnzoo.train", lambda config, **kwargs: seen.append(kwargs["verbose"]))
    monkeypatch.setattr("sys.stdout", io.StringIO())  # a log file
    main(["tune", "bilstm_ner", "--max-trials", "1"])
    main(["train", "bilstm_ner", "--no-save"])
    tty = io.StringIO()
    tty.isatty = lambda: True
    monkeypatch.setattr("sys.stdout", tty)
    main(["tune", "bilstm_ner", "--max-trials", "1"])
    assert seen == [2, 2, 1]


def test_progress_writes_plain_lines_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    from rnnzoo.utils import progress

    monkeypatch.delenv("RNNZOO_PROGRESS", raising=False)
    assert list(progress(range(5), desc="tagging")) == list(range(5))
    assert capsys.readouterr().err == ""  # silent by default in a log
    monkeypatch.setenv("RNNZOO_PROGRESS", "1")
    assert list(progress(range(20), desc="tagging", unit="batch")) == list(range(20))
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert 2 <= len(lines) <= 11 and lines[-1].startswith("tagging: 20/20 batch")
