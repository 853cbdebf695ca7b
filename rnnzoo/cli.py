"""The `rnnzoo` command line: list, info, download, cache, predict, train, evaluate, export, tune, gradflow."""

import argparse
import json
import math
import os
import sys

from rnnzoo.downloads import DownloadError
from rnnzoo.utils import MissingPackageError
from rnnzoo.utils import non_negative_int, positive_int


def _json_safe(value):
    """`value` with NaN/Infinity floats as None, so the output is valid JSON (which has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _dumps(value, **kwargs):
    return json.dumps(_json_safe(value), allow_nan=False, **kwargs)


def cmd_list(args):
    if args.families:
        from rnnzoo.models import families

        for name, family in sorted(families().items()):
            metric, direction = family.primary_metric
            print(f"{name:16s} {family.description}  [{family.inputs} in; {metric} ({direction}); {family.task}]")
        return
    from rnnzoo.downloads import read_index
    from rnnzoo.zoo import list_models, local_artifact

    index = read_index()
    for name in list_models():
        directory, m = local_artifact(name), None
        if directory and os.path.exists(os.path.join(directory, "metrics.json")):
            with open(os.path.join(directory, "metrics.json")) as f:
                m = json.load(f)
        elif not directory and name in index:
            m = index[name].get("metrics")
        if m:  # the file too: SST-2's evaluation split is the GLUE dev file
            status = f"{m['metric']} {m['value']} ({m.get('split_name', m['split'])}: {m.get('data_file', '?')})"
        else:
            status = "trained, not evaluated" if directory or name in index else "config only (not trained)"
        if not directory and name in index:
            status += f"  [download {sum(f['size'] for f in index[name]['files'].values()) / 2**20:.1f} MB]"
        print(f"{name:24s} {status}")


def cmd_info(args):
    from rnnzoo.downloads import artifact_url, read_index
    from rnnzoo.zoo import local_artifact, resolve_config

    target = args.name
    if not os.path.exists(target) and ("/" in target or os.sep in target or target.endswith(".keras")):
        raise FileNotFoundError(f"{target}: no such artifact folder or .keras file.")
    if os.path.isfile(target):
        return _info_keras_file(target)
    if os.path.isdir(target):
        from rnnzoo.zoo import artifact_config

        directory, config = target, artifact_config(target)
        print(config.to_yaml().rstrip() if config is not None else "# no config.yaml")
    else:
        print(resolve_config(target).to_yaml().rstrip())
        directory = local_artifact(target)
    if directory is None:
        entry = read_index().get(target)
        where = f"published at {artifact_url(target, entry)}; `rnnzoo download {target}` fetches it" if entry else ""
        print(f"\n# no trained artifact here{'; ' + where if where else ''}")
        return
    print(f"\n# artifact: {directory}")
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            path = os.path.join(root, name)
            print(f"#   {os.path.relpath(path, directory):24s} {os.path.getsize(path) / 2**20:8.2f} MB")
    metrics = os.path.join(directory, "metrics.json")
    if os.path.exists(metrics):
        with open(metrics) as f:
            m = json.load(f)
        print(f"# {m['metric']} = {m['value']} on the {m.get('split_name', m['split'])} split ({m['evaluated_at']})")


def _info_keras_file(path):
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            meta = json.loads(archive.read("metadata.json")) if "metadata.json" in archive.namelist() else {}
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ValueError(f"{path} is not a Keras .keras archive.") from None
    print(f"# {path}: a .keras file, {os.path.getsize(path) / 2**20:.2f} MB")
    kind = f"{config.get('module', '?')}.{config.get('class_name', '?')}"
    print(f"# class {kind}, saved by Keras {meta.get('keras_version', '?')}")
    print("# no config.yaml or checksums.json travel with it; `task.save_to_preset(folder)` writes a zoo artifact")


def cmd_download(args):
    from rnnzoo.zoo import resolve_artifact

    for name in args.names:
        print(f"{name}: {resolve_artifact(name)[1]}")


def cmd_cache(args):
    from rnnzoo.downloads import cache_dir, cache_entries, clear_cache

    if args.action == "clear":
        removed = clear_cache(args.name)
        print(f"removed {len(removed)} folder(s) from {cache_dir()}")
        return
    print(f"# {cache_dir()}")
    for label, revision, size, path in cache_entries():
        print(f"{label:24s} {revision:12s} {size / 2**20:8.1f} MB  {path}")


def cmd_predict(args):
    import rnnzoo

    from rnnzoo.models import Family, family_of

    texts = list(args.text)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        raise SystemExit("rnnzoo predict: give TEXT arguments (image files for image models) or lines on standard input.")
    model = rnnzoo.load(args.name, compile=False, runtime=args.runtime, quantize=args.quantize)
    if hasattr(model, "runtime"):  # a portable predictor (ONNX Runtime / LiteRT)
        from rnnzoo.models import get_family

        family = get_family(model.family)
    else:
        family = family_of(model, default=Family())  # a model of no family prints as JSON
    if family.inputs == "image":
        missing = [t for t in texts if not os.path.isfile(t)]
        if missing:
            raise FileNotFoundError(f"{missing[0]}: no such image file ({args.name} reads image files).")
    if hasattr(model, "small_batch_xla"):
        model.small_batch_xla = False  # one predict call: a program compiled for it would never be reused
    options = _predict_options(args.option)
    results = model.predict(texts, batch_size=args.batch_size, verbose=1, **options)
    for text, result in zip(texts, results):
        if args.json:
            if isinstance(result, str):  # a generated continuation
                result = {"continuation": result}
            print(_dumps({"text": text, **result} if isinstance(result, dict) else result, ensure_ascii=False))
        else:
            print(family.format_prediction(result))


def _predict_options(pairs):
    """`--option KEY=VALUE` pairs -> keyword arguments of the model's `predict` (values read as YAML scalars)."""
    import yaml

    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--option takes KEY=VALUE (e.g. sampler=greedy), got {pair!r}.")
        options[key] = yaml.safe_load(value)
    return options


def _overrides(pairs):
    from rnnzoo.config import parse_override

    return dict(parse_override(p) for p in pairs or [])


def _keras_verbosity():
    """Progress bars on a terminal; one line per epoch in a log file or pipe."""
    return 1 if sys.stdout.isatty() else 2


def default_output_dir(config, overrides=None, now=None):
    """`runs/<config name>-<YYYYmmdd-HHMMSS>`: where `rnnzoo train` saves when not told."""
    import datetime

    from rnnzoo.zoo import resolve_config

    name = resolve_config(config, overrides).name
    now = now or datetime.datetime.now()
    return os.path.join("runs", f"{name}-{now:%Y%m%d-%H%M%S}")


def cmd_train(args):
    import rnnzoo

    overrides = _overrides(args.set)
    output_dir = args.output_dir
    if args.no_save:
        if output_dir:
            raise ValueError("--no-save and --output-dir contradict each other; give one.")
        print("--no-save: the trained model will not be saved.", flush=True)
    elif output_dir is None:
        # A run must never end with the model thrown away: save it somewhere new and say where.
        output_dir = default_output_dir(args.config, overrides)
    rnnzoo.train(
        args.config,
        strategy=args.strategy,
        output_dir=output_dir,
        overwrite=args.overwrite,
        overrides=overrides,
        verbose=_keras_verbosity(),
        run_dir=args.run_dir,
        loop=args.loop,
        tpu=args.tpu,
    )


def cmd_evaluate(args):
    from rnnzoo.evaluation import evaluate_model, evaluate_runtime, write_model_card
    from rnnzoo.runtime import check_runtime

    if args.card_only:
        print(write_model_card(args.name))
        return
    if check_runtime(args.runtime, args.quantize) != "keras":
        record = evaluate_runtime(
            args.name, args.runtime, quantize=args.quantize, split=args.split, limit=args.limit, write=not args.no_write
        )
        print(_dumps(record, indent=2))
        return
    record = evaluate_model(args.name, split=args.split, limit=args.limit, write=not args.no_write)
    tables = {k: v for k, v in record.items() if isinstance(v, dict) and v and all(isinstance(r, dict) for r in v.values())}
    print(_dumps({k: v for k, v in record.items() if k not in tables}, indent=2))
    for rows in tables.values():  # per-type / per-label scores, one line each
        for name, row in sorted(rows.items()):
            print(f"  {name:10s} " + "  ".join(f"{key} {value}" for key, value in row.items()))


def cmd_export(args):
    import rnnzoo
    from rnnzoo.export import check_format, describe_saved_model, format_signature

    fmt = check_format(args.format)
    model = rnnzoo.load(args.name, compile=False)
    path = model.export(args.directory, format=fmt, version=args.version, overwrite=args.overwrite,
                        quantize=args.quantize, verbose=False)
    print(path)
    if fmt == "saved_model":
        print(format_signature(describe_saved_model(path), model.serving_docs()))
    else:
        for root, _, names in sorted(os.walk(path)):
            for name in sorted(names):
                print(f"  {os.path.relpath(os.path.join(root, name), path)}")


def cmd_tune(args):
    import rnnzoo

    best = rnnzoo.tune(
        args.config,
        tuner=args.tuner,
        max_trials=args.max_trials,
        directory=args.directory,
        overrides=_overrides(args.set),
        overwrite=args.overwrite,
        best_config_path=args.best_config,
        verbose=_keras_verbosity(),
    )
    print(best.to_yaml() if hasattr(best, "to_yaml") else best)


def cmd_gradflow(args, rest):
    from rnnzoo.diagnostics import main as gradflow_main

    return gradflow_main(rest)


class _IntermixedParser(argparse.ArgumentParser):
    """A subcommand's parser: options may come before, between or after its positionals.

    argparse's default stops at a variable-length positional (`predict NAME
    --json TEXT` would leave TEXT unrecognized); `parse_known_intermixed_args`
    reads the options first, then the positionals.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


VERBOSE_HELP = "show TensorFlow's own log lines (same as RNNZOO_VERBOSE=1)"


def _add_runtime_options(parser, what):
    parser.add_argument(
        "--runtime", choices=["keras", "tf", "onnx", "tflite"], default="keras",
        help=f"keras or tf (the default): the Keras/TensorFlow model; onnx: ONNX Runtime; tflite: LiteRT. {what} "
        "(onnx/tflite export the model once into the cache, $RNNZOO_HOME/runtimes)",
    )
    parser.add_argument("--quantize", choices=["int8"], help="with --runtime onnx|tflite: dynamic-range int8 weights")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnzoo",
        description="A Keras 3 model zoo of recurrent networks: pretrained taggers and classifiers.",
        epilog='Example: rnnzoo predict bilstm_ner "Pankaj lives in Munich"',
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    # Accepted after the command too; SUPPRESS keeps a subcommand's default from hiding `rnnzoo --verbose CMD`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_IntermixedParser)
    _add_parser = sub.add_parser

    def add_parser(name, **kwargs):
        kwargs.setdefault("parents", [common])
        return _add_parser(name, **kwargs)

    sub.add_parser = add_parser

    p = sub.add_parser("list", help="list the zoo's models and their scores (--families: the model families)")
    p.add_argument("--families", action="store_true", help="list the registered model families instead")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's config, files and metrics")
    p.add_argument("name", help="zoo name, artifact folder or .keras file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("download", help="fetch published artifacts into the cache ($RNNZOO_HOME)")
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo name or artifact URL")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("cache", help="list or clear the downloaded artifacts")
    p.add_argument("action", choices=["list", "clear"])
    p.add_argument("name", nargs="?", help="clear only this model")
    p.set_defaults(func=cmd_cache)

    p = sub.add_parser("predict", help="run a pretrained model on raw text (arguments or stdin lines)")
    p.add_argument("name", help="zoo name or artifact folder")
    p.add_argument("text", nargs="*", help="texts; none or '-' reads lines from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--batch-size", type=positive_int, default=32, help="texts per batch (default 32)")
    p.add_argument(
        "--option", action="append", metavar="KEY=VALUE",
        help="a keyword argument of the model's predict, e.g. sampler=greedy, max_length=20, k=10, seed=1 "
        "(language models); repeatable",
    )
    _add_runtime_options(p, "Taggers, classifiers, and language models (greedy decoding only).")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train a model from a zoo name or YAML config")
    p.add_argument("config", help="zoo name or YAML path")
    p.add_argument(
        "--output-dir",
        help="write the artifact here (atomically); default runs/<name>-<timestamp>. "
        "An existing non-empty folder is refused unless --overwrite",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the model already in --output-dir")
    p.add_argument("--no-save", action="store_true", help="train without saving the model (a dry run)")
    p.add_argument(
        "--strategy", default="auto", choices=["auto", "one_device", "mirrored", "multi_worker", "tpu"]
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. training.epochs=1")
    p.add_argument("--run-dir", help="checkpoints, TensorBoard logs and params.yaml; a rerun resumes from it")
    p.add_argument("--loop", choices=["auto", "fit", "custom"], help="Keras fit or the custom distributed loop")
    p.add_argument("--tpu", help="TPU name/address for --strategy tpu (default: the environment's)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a shipped model on its test split; writes metrics.json + MODEL_CARD.md")
    p.add_argument("name")
    p.add_argument("--split", choices=["test", "validation"])
    p.add_argument("--limit", type=positive_int,
                   help="a fixed sample of N examples (the tagger: the first N); nothing is written")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--card-only", action="store_true",
                   help="rewrite MODEL_CARD.md from the recorded metrics.json, without evaluating")
    _add_runtime_options(
        p, "onnx/tflite score the exported model and write it under `runtimes` in metrics.json and the model card, "
        "with the change vs Keras (the Keras metrics are left as they are).",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write DIR/<version>/ for serving: a TF SavedModel (raw strings in), TFLite or ONNX")
    p.add_argument("name")
    p.add_argument("directory", help="the model's folder; each export is a version subfolder (TF Serving's layout)")
    p.add_argument("--format", default="saved_model", choices=["saved_model", "tflite", "onnx"])
    p.add_argument("--version", type=non_negative_int,
                   help="the version folder to write (default: 1 + the highest existing one)")
    p.add_argument("--overwrite", action="store_true", help="replace that version if it exists")
    p.add_argument("--quantize", choices=["int8"], help="dynamic-range int8 weights (tflite and onnx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("tune", help="KerasTuner search over the config's tuning: section")
    p.add_argument("config")
    p.add_argument("--tuner", default="random", choices=["random", "bayesian", "hyperband"])
    p.add_argument("--max-trials", type=positive_int, default=10)
    p.add_argument("--directory", default="runs/tuning", help="results folder; an existing search resumes")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")
    p.add_argument("--best-config", help="where to write the best config as YAML")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "gradflow",
        help="plot gradient norms through time for vanilla/GRU/LSTM cells",
        add_help=False,
        parents=[],
    )
    p.set_defaults(func=None, passthrough=True)
    return parser


def main(argv=None):
    from rnnzoo import _tf_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gradflow":
        rest = argv[1:]
        if "--verbose" in rest:
            rest.remove("--verbose")
            _tf_logging.set_verbose(True)
        return cmd_gradflow(None, rest)
    args = build_parser().parse_args(argv)
    if args.verbose:
        _tf_logging.set_verbose(True)  # before anything imports TensorFlow
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, DownloadError, MissingPackageError) as error:
        # Bad input (an argument, a file, a config value), a failed download or an optional package not
        # installed: the message says what to fix.
        print(f"rnnzoo {args.command}: error: {error}", file=sys.stderr)
        return 2


def console_main():
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`rnnzoo list | head -3`): stop quietly, as the Python docs recommend
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
