"""The `rnnzoo` command line: list, info, predict, train, evaluate, export, tune, gradflow."""

import argparse
import json
import math
import os
import sys

from rnnzoo.utils import positive_int

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
    from rnnzoo.zoo import artifact_dir, list_models, read_metrics

    for name in list_models():
        try:
            artifact_dir(name)
            try:
                m = read_metrics(name)
                # The file too: SST-2's evaluation split is the GLUE dev file.
                status = f"{m['metric']} {m['value']} ({m.get('split_name', m['split'])}: {m.get('data_file', '?')})"
            except FileNotFoundError:
                status = "trained, not evaluated"
        except (FileNotFoundError, ValueError):
            status = "config only (not trained)"
        print(f"{name:24s} {status}")


def cmd_info(args):
    from rnnzoo.zoo import artifact_dir, resolve_config

    config = resolve_config(args.name)
    print(config.to_yaml().rstrip())
    try:
        directory = artifact_dir(args.name)
    except (FileNotFoundError, ValueError):
        print("\n# no trained artifact")
        return
    print(f"\n# artifact: {directory}")
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            print(f"#   {name:20s} {os.path.getsize(path) / 2**20:8.2f} MB")
    metrics = os.path.join(directory, "metrics.json")
    if os.path.exists(metrics):
        with open(metrics) as f:
            m = json.load(f)
        print(f"# {m['metric']} = {m['value']} on the {m.get('split_name', m['split'])} split ({m['evaluated_at']})")


def _format_prediction(result):
    if isinstance(result, dict) and "tags" in result:
        tagged = " ".join(f"{t}/{g}" for t, g in zip(result["tokens"], result["tags"]))
        ents = ", ".join(f"{e['text']} ({e['type']}, {e['score']:.2f})" for e in result["entities"])
        return f"{tagged}\n  entities: {ents or '-'}"
    if isinstance(result, dict) and "label" in result:
        return f"{result['label']}\t{result['score']:.4f}"
    return _dumps(result)


def cmd_predict(args):
    import rnnzoo

    texts = list(args.text)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        raise SystemExit("rnnzoo predict: give TEXT arguments or lines on standard input.")
    model = rnnzoo.load(args.name, compile=False)
    if hasattr(model, "small_batch_xla"):
        model.small_batch_xla = False  # one predict call: a program compiled for it would never be reused
    results = model.predict(texts, batch_size=args.batch_size, verbose=1)
    for text, result in zip(texts, results):
        if args.json:
            print(_dumps({"text": text, **result} if isinstance(result, dict) else result, ensure_ascii=False))
        else:
            print(_format_prediction(result))


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
    from rnnzoo.evaluation import evaluate_model

    record = evaluate_model(args.name, split=args.split, limit=args.limit, write=not args.no_write)
    summary = {k: v for k, v in record.items() if k != "per_type"}
    print(_dumps(summary, indent=2))
    if "per_type" in record:
        for kind, v in sorted(record["per_type"].items()):
            print(f"  {kind:6s} P {v['precision']:6.2f}  R {v['recall']:6.2f}  F1 {v['f1']:6.2f}  n={v['support']}")


def cmd_export(args):
    import rnnzoo

    model = rnnzoo.load(args.name, compile=False)
    model.export(args.directory)


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

    p = sub.add_parser("list", help="list the zoo's models and their scores")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's config, files and metrics")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="run a pretrained model on raw text (arguments or stdin lines)")
    p.add_argument("name", help="zoo name or artifact folder")
    p.add_argument("text", nargs="*", help="texts; none or '-' reads lines from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--batch-size", type=positive_int, default=32, help="texts per batch (default 32)")
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
    p.add_argument("--limit", type=positive_int, help="only the first N examples (nothing is written)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write a TF SavedModel whose serving_default takes raw strings")
    p.add_argument("name")
    p.add_argument("directory")
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
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as error:
        # Bad input (an argument, a file, a config value): the message says what to fix, no traceback.
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
