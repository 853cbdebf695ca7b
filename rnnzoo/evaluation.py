"""`rnnzoo evaluate`: measure a shipped model on its real test split and write
`metrics.json` and `MODEL_CARD.md` next to it (quality numbers are never typed by hand)."""

import datetime
import json
import os
import platform
import time

from rnnzoo.data.paths import split_files

MODEL_CARD = "MODEL_CARD.md"
METRICS = "metrics.json"
SAMPLE_SEED = 2026


def sample_indices(total, size, seed=SAMPLE_SEED):
    """The fixed evaluation sample: `size` sorted indices of `range(total)`, seeded."""
    import numpy as np

    if size >= total:
        return list(range(total))
    return sorted(np.random.default_rng(seed).choice(total, size=size, replace=False).tolist())


def sample_split(data, split, size, seed=SAMPLE_SEED):
    """`data` with `split` reduced to its fixed sample (splits are tuples of aligned lists)."""
    columns = data[split]
    keep = sample_indices(len(columns[0]), size, seed)
    return {**data, split: tuple([column[i] for i in keep] for column in columns)}


def evaluate_model(name_or_path, split=None, limit=None, write=True):
    """Evaluate a zoo artifact on a split of its configured data.

    Args:
        name_or_path: zoo name or artifact folder.
        split: `"test"` (default when the config has one) or `"validation"`.
        limit: evaluate on the first `limit` examples only (never written).
        write: write `metrics.json` and `MODEL_CARD.md`, refresh checksums and,
            for the zoo's own artifact, its entry in `saved_models/index.json`
            (only for full-split evaluations).

    Returns:
        The metrics record (dict).
    """
    import keras

    import rnnzoo
    from rnnzoo.models import get_family
    from rnnzoo.artifacts import write_checksums
    from rnnzoo.zoo import artifact_dir, load

    directory = artifact_dir(os.fspath(name_or_path))
    task = load(directory)
    config = task.zoo_config
    if config is None:
        raise ValueError(f"{directory} has no config.yaml: evaluation needs the config's data section.")
    family = get_family(config.family)
    data = family.load_data(config)
    split = split or ("test" if "test" in data else "validation")
    if split not in data:
        raise ValueError(f"{config.name} has no {split!r} split configured; available: {', '.join(data)}.")
    start = time.time()
    scores = family.evaluate(task, data, split=split, limit=limit)
    seconds = time.time() - start
    metric, _ = family.primary_metric
    sample = None
    size = family.sample_size
    if size and limit is None:
        # The fixed sample CI re-checks the shipped numbers on (see tests/).
        sample_scores = family.evaluate(task, sample_split(data, split, size), split=split)
        sample = {"size": size, "seed": SAMPLE_SEED, metric: sample_scores[metric]}
    record = {
        "model": config.name,
        "family": config.family,
        "split": split,
        "split_name": (config.data.test_name or "test") if split == "test" else split,
        "data_file": os.path.join(config.data.root, getattr(config.data, "test" if split == "test" else split) or ""),
        "metric": metric,
        "value": scores[metric],
        **scores,
        "sample": sample,
        "evaluation_seconds": round(seconds, 1),
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": f"rnnzoo evaluate {config.name}" + (f" --split {split}" if split != "test" else ""),
        "rnnzoo_version": rnnzoo.__version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "machine": platform.machine(),
        "parameters": int(task.count_params()),
    }
    if write and limit is None:
        kept = _kept_runtimes(directory)
        if kept:  # the portable runtimes' numbers of these very weights (see evaluate_runtime)
            record["runtimes"] = kept
        with open(os.path.join(directory, METRICS), "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        write_checksums(directory)
        _write_card(task, config, record, directory)
    return record


def write_model_card(name_or_path):
    """Rewrite an artifact's `MODEL_CARD.md` from its `metrics.json`, without evaluating again.

    For changes of the card's text (a new section, the serving signature)
    that must not re-type or re-measure numbers: every number comes from the
    recorded metrics, the config and the artifact's files, as
    `evaluate_model` writes them (`model_card_from_metrics`). The
    learning-curve plot is kept as it is (drawn again only when missing).
    `rnnzoo evaluate NAME --card-only`.

    Returns:
        The card's path.
    """
    task, record, directory = _recorded(name_or_path)
    return _write_card(task, task.zoo_config, record, directory, plot=False)


def model_card_from_metrics(name_or_path):
    """The `MODEL_CARD.md` text `write_model_card` would write (nothing is written).

    Tests compare it with the shipped card: a card that is not what the
    writer makes of its recorded metrics is out of date.
    """
    task, record, directory = _recorded(name_or_path)
    return _card_text(task, task.zoo_config, record, directory, plot=False)


def _recorded(name_or_path):
    """`(task, metrics record, directory)` of an evaluated artifact."""
    from rnnzoo.zoo import artifact_dir, load

    directory = artifact_dir(os.fspath(name_or_path))
    path = os.path.join(directory, METRICS)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{directory} has no {METRICS}: its card is written from the evaluation's record; run "
            f"`rnnzoo evaluate {name_or_path}` first."
        )
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    task = load(directory, compile=False)
    if task.zoo_config is None:
        raise ValueError(f"{directory} has no config.yaml: the model card is written from the config.")
    return task, record, directory


def _card_text(task, config, record, directory, plot=True):
    from rnnzoo.models import get_family

    extra = get_family(config.family).model_card_extra(config, record, shipped_metrics(exclude=config.name))
    return model_card(config, record, directory, extra, serving=serving_section(task, config.name), plot=plot)


def _write_card(task, config, record, directory, plot=True):
    """`MODEL_CARD.md` from the record (and the zoo's download record refreshed); returns its path."""
    path = os.path.join(directory, MODEL_CARD)
    text = _card_text(task, config, record, directory, plot=plot)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    _refresh_download_record(directory, config.name)
    return path


def serving_section(task, name):
    """The model card's "Serving" section: the exported `serving_default` signature, from `task.serving_docs()`.

    One description per family (its `serving_inputs`/`serving_outputs`, next
    to `serving_signature`), so every card says the same thing the export
    does; tests/test_export.py checks the descriptions against written
    SavedModels. Returns "" for a task without them.
    """
    docs = task.serving_docs()
    if not docs["outputs"]:
        return ""
    first = next(iter(docs["inputs"]), "text")
    example = getattr(task, "serving_example", "")
    rows = [(f"`{n}`", kind, d, f"`{s}`", m) for kind in ("inputs", "outputs") for n, (d, s, m) in docs[kind].items()]
    note = getattr(task, "serving_note", "")
    lines = [
        "## Serving",
        "",
        f"`rnnzoo export {name} DIR` (or `model.export(DIR)`) writes a TensorFlow SavedModel into `DIR/<version>/`, "
        "the layout TF Serving reads (the next free version unless `--version` says which; an existing version is "
        "replaced only with `--overwrite`). Its `serving_default` signature takes raw strings and returns everything "
        "`predict` returns, batch-major:",
        "",
        _table([(r[0], r[1][:-1], *r[2:]) for r in rows], ("name", "kind", "dtype", "shape", "meaning")),
        "",
    ]
    if note:
        lines += [note, ""]
    lines += [
        "Inspect and run it with TensorFlow's own tool:",
        "",
        "```bash",
        "saved_model_cli show --dir DIR/1 --all",
        "saved_model_cli run --dir DIR/1 --tag_set serve --signature_def serving_default \\",
        f"    --input_exprs '{first}=[{json.dumps(example, ensure_ascii=False)}]'",
        "```",
        "",
    ]
    return "\n".join(lines)


def runtime_key(runtime, quantize=None):
    """The key of a portable runtime's entry under `runtimes` in `metrics.json`: `onnx`, `onnx_int8`, `tflite`, ..."""
    return runtime + (f"_{quantize}" if quantize else "")


def _weights_sha256(directory):
    from rnnzoo.artifacts import CHECKSUMS, MODEL_FILE

    path = os.path.join(directory, CHECKSUMS)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get(MODEL_FILE)


def _kept_runtimes(directory):
    """The `runtimes` entries of the artifact's `metrics.json` measured on its current weights."""
    path = os.path.join(directory, METRICS)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f).get("runtimes") or {}
    weights = _weights_sha256(directory)
    return {k: v for k, v in old.items() if weights is not None and v.get("weights_sha256") == weights}


class _Examples:
    """Stands in for a model in `family.evaluate` to learn which examples it scores (the split, sampled as it samples)."""

    def score(self, x, y=None, batch_size=None):
        self.x, self.y = x, y
        return {}


def _predictions(model, family, x):
    """Classifier: `(n, labels)` probabilities; tagger: tag lists. The same call for the Keras task and a predictor."""
    if family == "classifier":
        return model.predict_proba(x, batch_size=128)
    return [r["tags"] for r in model.predict(x)]


def _runtime_scores(family, labels, y, predicted):
    from rnnzoo.metrics import classification_scores, entity_scores

    if family == "classifier":
        import numpy as np

        index = {name: i for i, name in enumerate(labels)}
        return classification_scores([index[name] for name in y], np.argmax(predicted, axis=1), labels)
    return entity_scores(y, predicted)


def _agreement(family, predicted, reference):
    """How often the runtime's predictions equal the Keras model's (percent), and how far its probabilities are."""
    import numpy as np

    if family == "classifier":
        same = np.argmax(predicted, axis=1) == np.argmax(reference, axis=1)
        difference = np.abs(np.asarray(predicted) - np.asarray(reference))
        return {
            "labels_equal": round(100.0 * float(same.mean()), 2) if len(same) else 100.0,
            "labels_different": int((~same).sum()),
            "max_probability_difference": float(f"{difference.max(initial=0.0):.3g}"),
            "mean_probability_difference": float(f"{difference.mean() if difference.size else 0.0:.3g}"),
        }
    tokens = sum(len(t) for t in reference)
    same_tokens = sum(a == b for p, r in zip(predicted, reference) for a, b in zip(p, r))
    same_sentences = sum(p == r for p, r in zip(predicted, reference))
    return {
        "tags_equal": round(100.0 * same_tokens / max(tokens, 1), 3),
        "tags_different": tokens - same_tokens,
        "sentences_equal": round(100.0 * same_sentences / max(len(reference), 1), 2),
    }


def evaluate_runtime(name_or_path, runtime, quantize=None, split=None, limit=None, write=True):
    """Score a tagger or classifier exported to ONNX or LiteRT on its test split, beside the Keras model.

    The model is exported once into the runtime cache (`rnnzoo.load(name,
    runtime=...)`), then the runtime's predictor and the Keras task predict
    the same examples (those `rnnzoo evaluate` scores): the entry records the
    runtime's score, the Keras score on the same examples and the change,
    how often their predictions agree, the file size and the timings.
    Numbers are measured, never typed.

    Args:
        name_or_path: zoo name or artifact folder.
        runtime: `"onnx"` or `"tflite"`; `quantize`: None or `"int8"`.
        split: `"test"` (default when configured) or `"validation"`.
        limit: a fixed sample of `limit` examples (as `evaluate_model`); never written.
        write: for a full split, write the entry under `runtimes[<runtime>[_int8]]` in
            `metrics.json` (the Keras metrics are left as they are) and the model
            card's "Runtimes" table.

    Returns:
        The entry (dict).
    """
    import rnnzoo
    from rnnzoo.models import get_family
    from rnnzoo.runtime import check_runtime
    from rnnzoo.zoo import artifact_dir, load

    if check_runtime(runtime, quantize) == "keras":
        raise ValueError("evaluate_runtime scores a portable runtime ('onnx' or 'tflite'); "
                         "`rnnzoo evaluate NAME` scores the Keras model.")
    directory = artifact_dir(os.fspath(name_or_path))
    task = load(directory, compile=False)
    config = task.zoo_config
    if config is None:
        raise ValueError(f"{directory} has no config.yaml: evaluation needs the config's data section.")
    family = get_family(config.family)
    if family.name not in ("classifier", "tagger") or getattr(task, "head", None) == "multilabel":
        raise ValueError(f"runtime evaluation covers single-label classifiers and taggers, not {config.name} "
                         f"({family.name}).")
    data = family.load_data(config)
    split = split or ("test" if "test" in data else "validation")
    if split not in data:
        raise ValueError(f"{config.name} has no {split!r} split configured; available: {', '.join(data)}.")
    examples = _Examples()
    family.evaluate(examples, data, split=split, limit=limit)
    start = time.time()
    predictor = load(directory, runtime=runtime, quantize=quantize)
    prepare_seconds = time.time() - start
    start = time.time()
    predicted = _predictions(predictor, family.name, examples.x)
    seconds = time.time() - start
    start = time.time()
    reference = _predictions(task, family.name, examples.x)
    keras_seconds = time.time() - start
    scores = _runtime_scores(family.name, predictor.labels, examples.y, predicted)
    keras_scores = _runtime_scores(family.name, list(task.labels), examples.y, reference)
    metric, _ = family.primary_metric
    settings = predictor.settings
    model_file = os.path.join(predictor.directory, f"model.{runtime}")
    command = f"rnnzoo evaluate {config.name} --runtime {runtime}" + (f" --quantize {quantize}" if quantize else "")
    command += f" --split {split}" if split != "test" else ""
    command += f" --limit {limit}" if limit is not None else ""
    entry = {
        "runtime": runtime,
        "quantize": quantize,
        "metric": metric,
        "value": scores[metric],
        **{k: v for k, v in scores.items() if not isinstance(v, dict)},
        "keras_value": keras_scores[metric],
        "change": round(scores[metric] - keras_scores[metric], 2),
        "agreement": _agreement(family.name, predicted, reference),
        "split": split,
        "data_file": os.path.join(config.data.root, getattr(config.data, "test" if split == "test" else split) or ""),
        "model_file": os.path.basename(model_file),
        "model_megabytes": round(os.path.getsize(model_file) / 2**20, 2),
        "converter": settings[runtime].get("converter"),
        "quantizer": settings[runtime].get("quantizer"),
        "conversion_seconds": settings.get("conversion_seconds"),
        "load_seconds": round(prepare_seconds, 1),
        "evaluation_seconds": round(seconds, 1),
        "keras_evaluation_seconds": round(keras_seconds, 1),
        "runtime_version": getattr(predictor.model, "version", None),
        "threads": predictor.model.threads,
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "rnnzoo_version": rnnzoo.__version__,
        "machine": platform.machine(),
        "weights_sha256": _weights_sha256(directory),
    }
    if write and limit is None:
        path = os.path.join(directory, METRICS)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: run `rnnzoo evaluate {config.name}` (the Keras model) first.")
        with open(path) as f:
            record = json.load(f)
        record["runtimes"] = {**_kept_runtimes(directory), runtime_key(runtime, quantize): entry}
        record["runtimes"] = dict(sorted(record["runtimes"].items()))
        with open(path, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        card = os.path.join(directory, MODEL_CARD)
        if os.path.exists(card):
            with open(card, encoding="utf-8") as f:
                text = f.read()
            with open(card, "w", encoding="utf-8") as f:
                f.write(with_section(text, runtimes_section(record)))
        _refresh_download_record(directory, config.name)
    return entry


def runtimes_section(record):
    """The model card's "Runtimes" section from a metrics record's `runtimes` entries ("" without any)."""
    runtimes = record.get("runtimes") or {}
    if not runtimes:
        return ""
    name = record.get("model", "NAME")
    first = next(iter(runtimes.values()))
    metric = first.get("metric", record.get("metric"))
    classifier = "labels_equal" in first.get("agreement", {})
    same = "same labels" if classifier else "same tags (tokens)"
    rows = []
    for key, e in runtimes.items():
        agreement = e.get("agreement", {})
        rows.append([
            f"`{e['runtime']}`" + (" int8" if e.get("quantize") else ""),
            f"{e['model_file']} {e['model_megabytes']:.1f} MB",
            e["value"],
            e["keras_value"],
            f"{e['change']:+.2f}",
            f"{agreement.get('labels_equal', agreement.get('tags_equal'))}%",
            e.get("evaluated_at", "?"),
        ])
    onnx = (runtimes.get("onnx") or runtimes.get("onnx_int8") or {}).get("converter") or "tf2onnx"
    onnx = "a hand-built graph, `rnnzoo.runtime.onnx_graphs`" if onnx.startswith("rnnzoo.") else "tf2onnx"
    return "\n".join([
        "## Runtimes",
        "",
        f"The model exported for ONNX Runtime ({onnx}) and LiteRT (TFLite builtin ops), float32 and with "
        f"dynamic-range int8 weights, scored on the same {_counted(first)} of `{first.get('data_file')}` as the Keras "
        f"model in the same run (`rnnzoo evaluate {name} --runtime onnx|tflite [--quantize int8]`). Use one with "
        f'`rnnzoo.load("{name}", runtime="onnx")` or `rnnzoo predict {name} TEXT --runtime onnx`.',
        "",
        _table(rows, ("runtime", "file", metric, f"Keras {metric}", "change", same, "measured")),
        "",
    ])


def with_section(card, section):
    """`card` (Markdown) with its "Runtimes" section replaced by `section`, or `section` added before "## License"."""
    lines = card.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Runtimes"), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section.rstrip("\n").split("\n") + [""] if section else []
        return "\n".join(lines)
    at = next((i for i, line in enumerate(lines) if line.strip() == "## License"), len(lines))
    if section:
        lines[at:at] = section.rstrip("\n").split("\n") + [""]
    return "\n".join(lines)


def shipped_metrics(exclude=None):
    """The metrics records (`metrics.json`) of the zoo's shipped models, by name, leaving out `exclude`.

    What a model card compares its model with: the families' `model_card_extra` get these
    records instead of reading the zoo's folders themselves.
    """
    from rnnzoo.artifacts import models_dir

    root = models_dir()
    records = []
    for name in sorted(os.listdir(root) if os.path.isdir(root) else []):
        path = os.path.join(root, name, METRICS)
        if name != exclude and os.path.exists(path):
            with open(path) as f:
                records.append(json.load(f))
    return records


def _refresh_download_record(directory, name):
    """Keep `saved_models/index.json` describing the zoo's own artifact after its card and metrics change."""
    from rnnzoo.artifacts import models_dir
    from rnnzoo.downloads import INDEX, write_index

    parent = os.path.dirname(os.path.abspath(directory))
    if os.path.basename(os.path.abspath(directory)) == name and os.path.exists(os.path.join(parent, INDEX)):
        if os.path.abspath(parent) == os.path.abspath(models_dir()):
            write_index(parent, [name])


def _table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _counted(record):
    for key, unit in (("sentences", "examples"), ("examples", "examples"), ("tokens", "tokens")):
        if key in record:
            return f"{record[key]} {unit}"
    return "? examples"


def learning_curve(directory, metric, plot=True):
    """The model card's learning curve: `learning_curve.png` and a table from the artifact's `training_log.json`.

    `plot=False` keeps an existing `learning_curve.png` as it is (only the
    table is written). Returns Markdown, or "" when the artifact has no
    training log.
    """
    from rnnzoo.artifacts import TRAINING_LOG

    path = os.path.join(directory, TRAINING_LOG)
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        rows = json.load(f)["epochs"]
    keys = [k for k in ("loss", f"val_{metric}", "val_loss", "learning_rate") if any(k in r for r in rows)]
    table = _table([[r["epoch"]] + [round(r[k], 4) if k in r else "" for k in keys] for r in rows], ["epoch"] + keys)
    if plot or not os.path.exists(os.path.join(directory, "learning_curve.png")):
        _plot_learning_curve(directory, metric, rows, keys)
    return "\n".join([
        "## Learning curve",
        "",
        f"From the training run's `{TRAINING_LOG}` (loss: the training batches' mean, nats per target).",
        "",
        "![learning curve](learning_curve.png)",
        "",
        table,
        "",
    ])


def _plot_learning_curve(directory, metric, rows, keys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    plotted = [k for k in ("loss", f"val_{metric}") if k in keys]
    fig, axes = plt.subplots(1, len(plotted), figsize=(4.5 * len(plotted), 3.2), squeeze=False)
    for ax, key in zip(axes[0], plotted):
        ax.plot(epochs, [r.get(key) for r in rows], marker="o")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "learning_curve.png"), dpi=90)
    plt.close(fig)


def model_card(config, record, directory, extra="", serving="", plot=True):
    """Markdown model card from the config and a metrics record.

    Args:
        extra: the family's sections (`model_card_extra`).
        serving: the serving section (`serving_section`).
        plot: draw `learning_curve.png` again (False keeps an existing one).
    """
    a, t, d = config.architecture, config.training, config.data
    size_mb = os.path.getsize(os.path.join(directory, "model.keras")) / 2**20
    arch_rows = [(k, v) for k, v in vars(a).items()]
    train_rows = [(k, v) for k, v in vars(t).items() if k != "early_stopping"]
    if t.early_stopping is not None:
        es = t.early_stopping
        train_rows.append(("early_stopping", f"{es.monitor} ({es.mode}), patience {es.patience}"))
    parts = [
        f"# {config.name}",
        "",
        config.metadata.description,
        "",
        "## Use",
        "",
        "```python",
        "import rnnzoo",
        f'model = rnnzoo.load("{config.name}")',
        "```",
        "",
        f"## Results ({record.get('split_name', record['split'])} split, `{record['data_file']}`)",
        "",
        f"**{record['metric']} = {record['value']}** on {_counted(record)}, "
        f"measured by `{record['command']}` on {record['evaluated_at']} (Keras {record['keras_version']}, "
        f"{record['backend']} backend).",
        "",
    ]
    parts += [
        "## Architecture",
        "",
        f"Family `{config.family}`, {record['parameters']:,} parameters, `model.keras` {size_mb:.1f} MB.",
        "",
        _table(arch_rows, ("setting", "value")),
        "",
        "## Data",
        "",
        f"Reader `{d.reader}`, files under `$RNNZOO_DATA/{d.root}`: train `{' + '.join(split_files(d.train))}`, "
        f"validation `{d.validation}`, test `{d.test}`" + (f" (the {d.test_name} set)." if d.test_name else "."),
        "",
        "## Training",
        "",
        f"`rnnzoo train zoo_configs/{config.name}.yaml --output-dir saved_models/{config.name} --overwrite` then "
        f"`rnnzoo evaluate {config.name}`.",
        "",
        _table(train_rows, ("setting", "value")),
        "",
    ]
    curve = learning_curve(directory, record["metric"], plot=plot)
    if curve:
        parts += [curve.rstrip(), ""]
    if extra:
        parts += [extra.rstrip(), ""]
    if serving:
        parts += [serving.rstrip(), ""]
    runtimes = runtimes_section(record)
    if runtimes:
        parts += [runtimes.rstrip(), ""]
    parts += ["## License", "", config.metadata.license or "See the dataset README.", ""]
    return "\n".join(parts)
