"""The `rnnzoo` command line: list, info, download, cache, predict, train, evaluate, export, tune, gradflow."""

import argparse
import json
import os
import sys

from rnnzoo.downloads import DownloadError


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cmd_list(args):
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
        directory, config_file = target, os.path.join(target, "config.yaml")
        print(resolve_config(config_file).to_yaml().rstrip() if os.path.exists(config_file) else "# no config.yaml")
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


def _format_prediction(result):
    if isinstance(result, dict) and "tags" in result:
        tagged = " ".join(f"{t}/{g}" for t, g in zip(result["tokens"], result["tags"]))
        ents = ", ".join(f"{e['text']} ({e['type']}, {e['score']:.2f})" for e in result["entities"])
        return f"{tagged}\n  entities: {ents or '-'}"
    if isinstance(result, dict) and "label" in result:
        return f"{result['label']}\t{result['score']:.4f}"
    return json.dumps(result)


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
            print(json.dumps({"text": text, **result} if isinstance(result, dict) else result, ensure_ascii=False))
        else:
            print(_format_prediction(result))


def _overrides(pairs):
    from rnnzoo.config import parse_override

    return dict(parse_override(p) for p in pairs or [])


def cmd_train(args):
    import rnnzoo

    rnnzoo.train(
        args.config,
        strategy=args.strategy,
        output_dir=args.output_dir,
        overrides=_overrides(args.set),
        verbose=1 if sys.stdout.isatty() else 2,
        run_dir=args.run_dir,
        loop=args.loop,
        tpu=args.tpu,
    )


def cmd_evaluate(args):
    from rnnzoo.evaluation import evaluate_model

    record = evaluate_model(args.name, split=args.split, limit=args.limit, write=not args.no_write)
    summary = {k: v for k, v in record.items() if k != "per_type"}
    print(json.dumps(summary, indent=2))
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
        verbose=1,
    )
    print(best.to_yaml() if hasattr(best, "to_yaml") else best)


def cmd_gradflow(args, rest):
    from rnnzoo.diagnostics import main as gradflow_main

    return gradflow_main(rest)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnzoo",
        description="A Keras 3 model zoo of recurrent networks: pretrained taggers and classifiers.",
        epilog='Example: rnnzoo predict bilstm_ner "Pankaj lives in Munich"',
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the zoo's models and their scores")
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
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train a model from a zoo name or YAML config")
    p.add_argument("config", help="zoo name or YAML path")
    p.add_argument("--output-dir", help="write the artifact here (atomically)")
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
    p.add_argument("--limit", type=int, help="only the first N examples (nothing is written)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write a TF SavedModel whose serving_default takes raw strings")
    p.add_argument("name")
    p.add_argument("directory")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("tune", help="KerasTuner search over the config's tuning: section")
    p.add_argument("config")
    p.add_argument("--tuner", default="random", choices=["random", "bayesian", "hyperband"])
    p.add_argument("--max-trials", type=int, default=10)
    p.add_argument("--directory", default="runs/tuning", help="results folder; an existing search resumes")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")
    p.add_argument("--best-config", help="where to write the best config as YAML")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "gradflow",
        help="plot gradient norms through time for vanilla/GRU/LSTM cells",
        add_help=False,
    )
    p.set_defaults(func=None, passthrough=True)
    return parser


def main(argv=None):
    _quiet_tensorflow()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gradflow":
        return cmd_gradflow(None, argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, DownloadError) as error:
        print(f"rnnzoo {args.command}: error: {error}", file=sys.stderr)
        return 2


def console_main():
    sys.exit(main())


if __name__ == "__main__":
    console_main()
