"""The served path's speed: raw strings in, `predict`'s outputs out, on CPU, vs the baselines of issue 16.

Contenders are callables `predict(texts)` made by a function each, and are
timed **interleaved** (every repeat runs each contender once, in a rotating
order) with the medians reported, as wall-clock rate and per CPU-second of this
process (`time.process_time`, all threads), since other jobs share the CPU.

* `--model bilstm_imdb`: our classifier (raw strings -> probabilities,
  tokenization included) vs the keras.io "Bidirectional LSTM on IMDB" recipe's
  `model.predict` on ids already padded/truncated to 200 tokens (Embedding
  20000x128, BiLSTM 64 with sequences, BiLSTM 64, Dense sigmoid; untrained:
  speed only), called three ways (`model.predict` per call, `predict_on_batch`
  per call, one amortized `model.predict(all texts, batch_size=64)`); ratios
  are to the best of the three per column. Also the same recipe with our layer
  sizes (what bench_classifier.py times). Our path reads at most 200 tokens per text
  (`--max-length`, truncated as the model truncates: head_tail), and again at
  the model's own budget (`data.max_length`, 1000).
* `--model bilstm_ner`: our tagger (raw sentence -> tokens, tags, entities)
  vs the PyTorch twin of bench_ner.py (same weights; raw sentence -> tokens
  with `rnnzoo.text.tokenize` -> tags), at `--threads` and at 1 thread; ratios
  are to the faster of the two per column.

Two call patterns: "batch 64" = one call per 64 texts (a request of 64, texts
in random order; a contender may reorder inside its request), and "batch 1" =
one call per text (latency).

Our served path (issue 16 section 2, see RESULTS.md) is the product's:
`rnnzoo.load(name, runtime="onnx", quantize=None | "int8", threads=--threads)`,
i.e. the hand-built ONNX graph (`rnnzoo.runtime.onnx_graphs`) on a
single-threaded ONNX Runtime session, the text side in Python with token
caches, each request sorted by length into sub-batches run on a pool of
`--threads` threads (`rnnzoo.runtime.predictor`). The export is written once
into the runtime cache (`$RNNZOO_HOME/runtimes/`). Before timing, the script
checks ours against Keras (probabilities, tags) and reports int8's accuracy
on the test sets.

Usage:
    python benchmarks/bench_serving.py --model bilstm_imdb --texts 1024 --repeats 5 --threads 2
    python benchmarks/bench_serving.py --model bilstm_ner --texts 1024 --repeats 5 --append benchmarks/RESULTS.md
"""

import argparse
import datetime
import os
import platform
import random
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


# ------------------------------------------------------------------------------------------ contenders
class Contender:
    """A named `predict(texts)`; `times` collects `(wall, cpu)` per timed call pattern."""

    def __init__(self, name, predict, ours=False):
        self.name, self.predict, self.ours = name, predict, ours
        self.times = {}


def ours(name, quantize=None, threads=1):
    """Our served path: `rnnzoo.load(name, runtime="onnx", quantize=quantize, threads=threads)` (a portable predictor).

    The export (a hand-built ONNX graph, `rnnzoo.runtime.onnx_graphs`) is written once into the runtime cache.
    """
    import rnnzoo

    return rnnzoo.load(name, runtime="onnx", quantize=quantize, threads=threads)


def runtime_contender(predictor, call_options=None):
    """`predict(texts)` of a portable predictor: a classifier's `predict_proba(texts, **call_options)`, a tagger's
    `predict(texts, **call_options)`, warnings (truncation) silenced."""
    call_options = call_options or {}
    method = predictor.predict_proba if hasattr(predictor, "predict_proba") else predictor.predict

    def predict(texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return method(texts, **call_options)

    predict.predictor = predictor
    return predict


def keras_recipe(layer_sizes="keras_io", clf=None, maxlen=200, threads=2):
    """The keras.io recipe's `model.predict` on ids pre-padded to `maxlen` (its ids come from our tokenizer).

    `layer_sizes="keras_io"`: Embedding(20000, 128) -> BiLSTM 64 (sequences)
    -> BiLSTM 64 -> Dense sigmoid, as published; `"ours"`: one BiLSTM with
    bilstm_imdb's sizes (what bench_classifier.py times). Untrained weights.
    Returns `(predict(texts), predict_on_batch(texts), predict_batched(texts))`
    (the last: one `predict(batch_size=64)` over all the texts it is given),
    all on ids vectorized outside the timing (the recipe vectorizes once, up front).
    """
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    if layer_sizes == "keras_io":
        vocabulary = 20000
        h = keras.layers.Embedding(vocabulary, 128)(inputs)
        h = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(h)
        h = keras.layers.Bidirectional(keras.layers.LSTM(64))(h)
    else:
        a = clf.backbone
        vocabulary = a.vocabulary_size
        h = keras.layers.Embedding(a.vocabulary_size, a.embedding_dim)(inputs)
        h = keras.layers.Bidirectional(keras.layers.LSTM(a.units))(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    padded = {}

    def ids(texts):
        key = tuple(texts)
        if key not in padded:  # vectorized once per text list, outside the timing (see `prepare`)
            rows = [np.minimum(r, vocabulary - 1) for r in clf.token_ids(list(texts), max_length=100_000)]
            padded[key] = keras.utils.pad_sequences(rows, maxlen=maxlen)  # pre-padding, pre-truncation
        return padded[key]

    def predict(texts):
        return model.predict(ids(texts), batch_size=len(texts), verbose=0)

    def predict_on_batch(texts):
        return model.predict_on_batch(ids(texts))

    def predict_batched(texts):  # one `predict` over all texts, 64 per batch (its per-call overhead amortized)
        return model.predict(ids(texts), batch_size=64, verbose=0)

    predict.prepare = predict_on_batch.prepare = predict_batched.prepare = ids
    return predict, predict_on_batch, predict_batched


def torch_tagger_contender(tagger, threads):
    """The PyTorch twin of bench_ner.py on raw sentences: `rnnzoo.text.tokenize`, then its `tag(token_lists)`."""
    import torch
    from bench_ner import torch_tagger

    from rnnzoo.text import tokenize

    _, _, tag = torch_tagger(tagger)

    def predict(texts):
        torch.set_num_threads(threads)
        token_lists = [[t for t, _, _ in tokenize(s)] for s in texts]
        order = sorted(range(len(texts)), key=lambda i: len(token_lists[i]))
        out = [None] * len(texts)
        live = [i for i in order if token_lists[i]]
        for i, tags in zip(live, tag([token_lists[i] for i in live]) if live else []):
            out[i] = tags
        return [o or [] for o in out]

    return predict


# ------------------------------------------------------------------------------------------ timing
def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def run_interleaved(contenders, patterns, repeats):
    """Every repeat times every (contender, pattern), contenders in a rotating order; warm-up first."""
    for c in contenders:
        for name, (fn, _) in patterns.items():
            fn(c)()
            c.times[name] = []
    for r in range(repeats):
        shift = r % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            for name, (fn, _) in patterns.items():
                c.times[name].append(timed(fn(c)))
        print(f"repeat {r + 1}/{repeats} done", flush=True)


def rates(times, count):
    return count / statistics.median(t[0] for t in times), count / statistics.median(t[1] for t in times)


def table(contenders, patterns, baselines):
    """Markdown rows: per pattern, rate wall / per CPU-s and the ratio to the best of `baselines` (higher is better).

    The best baseline is taken per pattern and per measure (wall, CPU).
    """
    head = "| contender | " + " | ".join(
        f"{p}: {unit} wall / per CPU-s | vs baseline" for p, (_, (_, unit)) in patterns.items()
    ) + " |"
    lines = [head, "|---" * (1 + 2 * len(patterns)) + "|"]
    best = {}
    for p, (_, (count, _)) in patterns.items():
        r = [rates(b.times[p], count) for b in baselines]
        best[p] = (max(x[0] for x in r), max(x[1] for x in r))
    for c in contenders:
        cells = []
        for p, (_, (count, _)) in patterns.items():
            wall, cpu = rates(c.times[p], count)
            cells += [f"{wall:.0f} / {cpu:.0f}", f"**{wall / best[p][0]:.2f}x** / **{cpu / best[p][1]:.2f}x**"]
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------------------------------ models
def keras_quiet(clf, max_length):
    """`clf.predict_proba` at `max_length` tokens, without its per-call truncation warning."""

    def predict(texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return clf.predict_proba(texts, batch_size=64, max_length=max_length)

    return predict


def bench_classifier(args):
    import tensorflow as tf

    import rnnzoo
    from rnnzoo.data.paths import dataset_path
    from rnnzoo.data.tables import name_labels, read_table

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    clf = rnnzoo.load("bilstm_imdb")
    all_texts, all_labels = read_table(dataset_path("imdb", "test.csv.gz"), "csv")
    all_labels = name_labels(all_labels, clf.labels)
    chosen = random.Random(0).sample(range(len(all_texts)), max(args.texts, args.check))
    texts = [all_texts[i] for i in chosen[: args.texts]]
    check = [all_texts[i] for i in chosen[: args.check]]
    gold = np.array([clf.labels.index(all_labels[i]) for i in chosen[: args.check]])
    own = clf.preprocessor.max_length
    budget = args.max_length

    # Correctness first: fp32 within 1e-4 of Keras, int8 agreement and test accuracy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the truncation warnings
        keras_probs = {m: clf.predict_proba(check, max_length=m) for m in (budget, own)}
    report = []
    predictors = {quant: ours("bilstm_imdb", quant, args.threads) for quant in (None, "int8")}
    for quant, predictor in predictors.items():
        for m in (budget, own):
            mine = runtime_contender(predictor, {"batch_size": 64, "max_length": m})(check)
            diff = float(np.abs(mine - keras_probs[m]).max())
            agree = float(np.mean(mine.argmax(1) == keras_probs[m].argmax(1)))
            acc = float(np.mean(mine.argmax(1) == gold))
            report.append(f"| {quant or 'fp32'} | {m} | {diff:.2e} | {100 * agree:.2f}% | {100 * acc:.2f}% |")
    keras_acc = {m: float(np.mean(keras_probs[m].argmax(1) == gold)) for m in keras_probs}
    print("\n".join(report))

    # Tokenization cost (64 reviews; `rnnzoo.text.tokenize`'s chunk cache is warm by now).
    processing = predictors[None].processing
    blocks = [texts[i : i + 64] for i in range(0, len(texts) - 63, 64)]
    warm = statistics.median(timed(lambda b=b: processing.encode(b, budget))[1] for b in blocks)

    keras_io, keras_io_on_batch, keras_io_batched = keras_recipe("keras_io", clf, threads=args.threads)
    same_sizes, _, _ = keras_recipe("ours", clf, threads=args.threads)
    batched = Contender("keras.io recipe, ONE `model.predict(all texts, batch_size=64)` (batch-1 column: "
                        "`predict` per text)", keras_io_batched)
    batched.all_at_once = True
    contenders = [
        Contender("keras.io recipe `model.predict` per call (ids pre-padded to 200)", keras_io),
        Contender("keras.io recipe `predict_on_batch` per call (ids pre-padded to 200)", keras_io_on_batch),
        batched,
        Contender("recipe with bilstm_imdb's sizes, `model.predict` (ids pre-padded to 200)", same_sizes),
        Contender(f"bilstm_imdb Keras `predict_proba`, {budget} tokens", keras_quiet(clf, budget)),
    ]
    for m in (budget, own):
        for quant in (None, "int8"):
            contenders.append(Contender(
                f"ours: `rnnzoo.load(..., runtime='onnx', quantize={quant!r})`, {m} tokens",
                runtime_contender(predictors[quant], {"batch_size": 64, "max_length": m}), ours=True,
            ))
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    singles = texts[: args.singles]
    singles_lists = [[s] for s in singles]
    for c in contenders:  # the recipe's ids: vectorized once, outside the timing
        for t in batches + singles_lists + [texts]:
            getattr(c.predict, "prepare", lambda t: None)(t)

    def batch64(c):
        if getattr(c, "all_at_once", False):
            return lambda: c.predict(texts)
        return lambda: [c.predict(b) for b in batches]

    patterns = {
        "batch 64": (batch64, (len(texts), "texts/s")),
        "batch 1": (lambda c: lambda: [c.predict(s) for s in singles_lists], (len(singles), "texts/s")),
    }
    run_interleaved(contenders, patterns, args.repeats)
    lines = [
        f"bilstm_imdb vs the keras.io recipe: {len(texts)} random IMDB test reviews; batch 64 = one call per 64 "
        f"reviews, batch 1 = one call per review ({len(singles)} reviews). Medians of {args.repeats} interleaved "
        f"repeats; {args.threads} threads allowed on every side; {os.cpu_count()} CPUs ({platform.machine()}), "
        f"load average {os.getloadavg()[0]:.1f} at the end (shared machine). Our rows read raw strings "
        "(tokenization included); the recipe's start from padded ids. Ratios are to the best of the three "
        "keras.io-recipe rows in each column.",
        "",
        *table(contenders, patterns, contenders[:3]),
        "",
        f"Tokenization + lookup of 64 reviews (the predictor's `processing.encode`, {budget} tokens, warm "
        f"token cache): {1000 * warm:.1f} ms CPU time.",
        "",
        f"Predictions on {len(check)} of these reviews vs Keras `predict_proba` at the same budget (Keras accuracy: "
        + ", ".join(f"{100 * v:.2f}% at {m}" for m, v in keras_acc.items()) + "):",
        "",
        "| ours | tokens | max abs prob diff | label agreement | accuracy |",
        "|---|---|---|---|---|",
        *report,
    ]
    return lines


def bench_tagger(args):
    import tensorflow as tf
    import torch

    import rnnzoo
    from rnnzoo.data.conll import read_conll
    from rnnzoo.data.paths import dataset_path
    from rnnzoo.metrics import entity_scores
    from rnnzoo.models.tagger.spans import iobes_tag_to_bio

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tagger = rnnzoo.load("bilstm_ner")
    sentences, gold = read_conll(dataset_path("conll2003", "test.txt"))
    raw_all = [" ".join(s) for s in sentences]

    # Correctness on the whole test set: tokens, tags identical (fp32), agreement and F1 (int8).
    # Raw strings (retokenized): identical results; gold token lists: test F1.
    keras_out = tagger.predict(raw_all, batch_size=64)
    keras_tags = [r["tags"] for r in keras_out]
    keras_gold_tokens = [r["tags"] for r in tagger.predict(sentences, batch_size=64)]
    report = []
    tokens = sum(len(t) for t in keras_tags)
    bio = lambda tag_lists: [[iobes_tag_to_bio(t) for t in tags] for tags in tag_lists]  # noqa: E731
    predictors = {quant: runtime_contender(ours("bilstm_ner", quant, args.threads), {"batch_size": 64})
                  for quant in (None, "int8")}
    for quant, served in predictors.items():
        mine = served(raw_all)
        same = sum(a == b for a, b in zip(mine, keras_out))
        same_tokens = all(a["tokens"] == b["tokens"] for a, b in zip(mine, keras_out))
        agree = sum(x == y for a, b in zip(mine, keras_tags) for x, y in zip(a["tags"], b)) / tokens
        f1 = entity_scores(gold, bio(r["tags"] for r in served(sentences)))["f1"]
        report.append(f"| {quant or 'fp32'} | {same_tokens} | {100 * agree:.3f}% | {same}/{len(raw_all)} "
                      f"| {f1:.2f} |")
    keras_f1 = entity_scores(gold, bio(keras_gold_tokens))["f1"]
    twin_tags = torch_tagger_contender(tagger, args.threads)(raw_all)
    twin_agree = sum(x == y for a, b in zip(twin_tags, keras_tags) for x, y in zip(a, b)) / tokens
    print("\n".join(report))

    order = random.Random(0).sample(range(len(raw_all)), min(args.texts, len(raw_all)))
    texts = [raw_all[i] for i in order]
    contenders = [
        Contender(f"PyTorch {torch.__version__} twin, {args.threads} threads (raw string -> tokenize -> tags)",
                  torch_tagger_contender(tagger, args.threads)),
        Contender(f"PyTorch {torch.__version__} twin, 1 thread", torch_tagger_contender(tagger, 1)),
        Contender("bilstm_ner Keras `predict`", lambda t: tagger.predict(t, batch_size=64)),
        *[Contender(f"ours: `rnnzoo.load(..., runtime='onnx', quantize={quant!r})`", served, ours=True)
          for quant, served in predictors.items()],
    ]
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    singles = [[s] for s in texts[: args.singles]]
    patterns = {
        "batch 64": (lambda c: lambda: [c.predict(b) for b in batches], (len(texts), "sentences/s")),
        "batch 1": (lambda c: lambda: [c.predict(s) for s in singles], (len(singles), "sentences/s")),
    }
    # The Keras tagger compiles XLA programs for small shapes on a background thread: let them finish.
    for s in singles:
        tagger.predict(s)
    compiles = getattr(tagger._emissions_fn(), "compiles", None)
    if compiles is not None:
        compiles.wait()
    run_interleaved(contenders, patterns, args.repeats)
    lat = {c.name: 1000 / rates(c.times["batch 1"], len(singles))[0] for c in contenders}
    lines = [
        f"bilstm_ner vs its PyTorch twin: {len(texts)} random CoNLL-2003 test sentences (tokens joined by spaces: raw "
        f"strings); batch 64 = one call per 64 sentences, batch 1 = one call per sentence ({len(singles)}). Medians of "
        f"{args.repeats} interleaved repeats; {args.threads} threads allowed on every side; {os.cpu_count()} CPUs "
        f"({platform.machine()}), load average {os.getloadavg()[0]:.1f} at the end (shared machine). Every side "
        "includes its tokenization; ours and Keras also build entity spans.",
        "",
        *table(contenders, patterns, contenders[:2]),
        "",
        "Ratios are to the faster PyTorch row of each column (PyTorch's OpenMP threads wait badly on a busy machine).",
        "",
        "Batch-1 latency (wall, ms): " + ", ".join(f"{n.split(' (')[0]} {v:.2f}" for n, v in lat.items()) + ".",
        "",
        f"Predictions on all {len(raw_all)} test sentences ({tokens} tokens) vs Keras `predict` (Keras F1 "
        f"{keras_f1:.2f}; the PyTorch twin agrees with Keras on {100 * twin_agree:.3f}% of tags):",
        "",
        "| ours | same tokens | tag agreement | identical results (tokens, tags, entities with scores) | test F1 (gold tokens) |",
        "|---|---|---|---|---|",
        *report,
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("bilstm_imdb", "bilstm_ner"), default="bilstm_imdb")
    parser.add_argument("--texts", type=int, default=1024, help="texts timed at batch 64")
    parser.add_argument("--singles", type=int, default=100, help="texts timed one per call (batch 1)")
    parser.add_argument("--check", type=int, default=2000, help="classifier: test reviews for the accuracy check")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed repeats (after one warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads every side may use")
    parser.add_argument("--max-length", type=int, default=200, help="classifier: tokens read (the recipe's 200)")
    parser.add_argument("--append", help="append a results section to this Markdown file")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_ner's twin
    lines = (bench_classifier if args.model == "bilstm_imdb" else bench_tagger)(args)
    text = "\n".join(lines)
    print(text)
    if args.append:
        command = "python benchmarks/bench_serving.py " + " ".join(argv if argv is not None else sys.argv[1:])
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(args.append, "a", encoding="utf-8") as f:
            f.write(f"\n## Served path, {args.model} (bench_serving.py), {stamp}\n\nCommand: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
