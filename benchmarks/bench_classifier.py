"""Classifier speed and baseline benchmark (CPU, one run, side by side).

1. Training throughput (examples/s, steady-state epoch) of `bilstm_imdb`'s
   architecture through our pipeline (raw strings -> tokenize once + cache ->
   shuffle -> length bucketing -> prefetch -> compiled train step; masked
   recurrences) versus the keras.io "Bidirectional LSTM on IMDB" recipe
   (ids padded/truncated to 200 tokens with `pad_sequences`, no masking,
   `model.fit(x, y, batch_size=32)`), with the same layer sizes (our
   embedding size and recurrent units).
2. Inference throughput: our `predict_proba` on raw strings (tokenization
   included) versus the recipe's `model.predict` on already padded ids.
3. The bag-of-words logistic-regression baseline accuracy on SST-2 dev.

Usage:
    python benchmarks/bench_classifier.py --examples 2000 --epochs 2 --append benchmarks/RESULTS.md
"""

import argparse
import datetime
import os
import platform
import random
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class EpochTimer:
    """Wall time of each epoch (as a Keras callback)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times, self.cpu_times = [], []

            def on_epoch_begin(self, epoch, logs=None):
                self._start, self._cpu = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)
                self.cpu_times.append(time.process_time() - self._cpu)

            def rates(self, n):
                """(examples/s wall, examples per CPU-second) of the fastest epoch after the first."""
                return n / min(self.times[1:]), n / min(self.cpu_times[1:])

        return _Timer()


def imdb_sample(n, seed=0):
    from rnnzoo import zoo
    from rnnzoo.models.classifier import family

    config = zoo.resolve_config("bilstm_imdb", {"architecture.embeddings": None, "data.train_validation_split": 0.0})
    texts, labels = family.read_table(
        family.dataset_path(config.data.root, config.data.train), config.data.reader
    )
    labels = family._name_labels(labels, config.data.labels)
    chosen = random.Random(seed).sample(range(len(texts)), n)
    return config, [texts[i] for i in chosen], [labels[i] for i in chosen]


def ours(config, texts, labels, epochs, max_length=None):
    import keras

    from rnnzoo.models.classifier import family
    from rnnzoo.training.trainer import make_optimizer

    if max_length:
        config.data.max_length = max_length
    keras.utils.set_random_seed(0)
    clf = family.build(config, {"train": (texts, labels)})
    clf.compile(optimizer=make_optimizer(config.training))
    timer = EpochTimer()
    clf.fit(texts, labels, batch_size=config.training.batch_size, epochs=epochs, callbacks=[timer], verbose=0)
    clf.predict_proba(texts[:64])  # trace once
    start, cpu = time.perf_counter(), time.process_time()
    clf.predict_proba(texts, batch_size=config.training.batch_size)
    infer = (len(texts) / (time.perf_counter() - start), len(texts) / (time.process_time() - cpu))
    return clf, timer.rates(len(texts)), infer


def recipe(clf, texts, labels, epochs, maxlen=200):
    """keras.io's recipe with our layer sizes, on ids from our tokenizer (vectorized outside the timing)."""
    import keras
    import numpy as np
    import tensorflow as tf

    a = clf.backbone
    ids = clf.preprocessor.word_lookup(clf.preprocessor.tokenize(tf.constant(texts)))
    sequences = [row.numpy().tolist() for row in ids]
    x = keras.utils.pad_sequences(sequences, maxlen=maxlen)  # recipe defaults: pre-padding, pre-truncation
    y = np.array([label == "positive" for label in labels], "float32")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(a.vocabulary_size, a.embedding_dim)(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(a.units))(h)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x, y, batch_size=32, epochs=epochs, callbacks=[timer], verbose=0)
    model.predict(x[:64], verbose=0)  # trace once
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(x, verbose=0)
    infer = (len(texts) / (time.perf_counter() - start), len(texts) / (time.process_time() - cpu))
    return timer.rates(len(texts)), infer


def bow_sst2():
    from rnnzoo import zoo
    from rnnzoo.models.classifier import family

    config = zoo.resolve_config("bigru_sst2", {"data.train_validation_split": 0.0})
    return family.bow_baseline(family.load_data(config), "test")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="IMDB training reviews timed")
    parser.add_argument("--epochs", type=int, default=2, help="epochs; the fastest after the first is reported")
    parser.add_argument("--skip-bow", action="store_true", help="skip the SST-2 bag-of-words baseline")
    parser.add_argument("--append", help="append a results section to this Markdown file")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch includes tracing and tokenization).")

    config, texts, labels = imdb_sample(args.examples)
    clf, train_ours, infer_ours = ours(config, texts, labels, args.epochs)
    _, train_ours_200, infer_ours_200 = ours(
        imdb_sample(1)[0], texts, labels, args.epochs, max_length=200
    )
    train_recipe, infer_recipe = recipe(clf, texts, labels, args.epochs)
    bow = None if args.skip_bow else bow_sst2()

    a = config.architecture
    rows = [
        ("keras.io recipe (pad/truncate 200, batch 32)", train_recipe, infer_recipe),
        (
            f"ours, bilstm_imdb config (max_length {clf.preprocessor.max_length} {clf.preprocessor.truncate}, "
            f"bucketing, batch {config.training.batch_size})",
            train_ours,
            infer_ours,
        ),
        (f"ours, max_length 200 (bucketing, batch {config.training.batch_size})", train_ours_200, infer_ours_200),
    ]
    lines = [
        f"Architecture: embedding {a.embedding_dim} -> BiLSTM {a.units} per direction "
        f"(ours adds masking and {a.pooling} pooling); {args.examples} IMDB training reviews, "
        f"fastest epoch after the first of {args.epochs}; CPU ({os.cpu_count()} cores, {platform.machine()}), "
        f"load average {os.getloadavg()[0]:.1f} at the end (other jobs share the CPU: the per-CPU-second "
        "columns are the comparable ones).",
        "",
        "| pipeline | train ex/s (wall) | train ex per CPU-s | inference ex/s (wall) | inference ex per CPU-s |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {t[0]:.0f} | {t[1]:.0f} | {i[0]:.0f} | {i[1]:.0f} |" for name, t, i in rows]

    def ratio(ours_, recipe_):
        return f"{ours_[0] / recipe_[0]:.2f}x wall, {ours_[1] / recipe_[1]:.2f}x per CPU-s"

    lines += [
        "",
        f"Ours/recipe, bilstm_imdb config: training {ratio(train_ours, train_recipe)}; "
        f"inference {ratio(infer_ours, infer_recipe)} (goal >= 1.5x).",
        f"Ours/recipe, same 200-token budget: training {ratio(train_ours_200, train_recipe)}; "
        f"inference {ratio(infer_ours_200, infer_recipe)}.",
        "Our inference numbers include tokenizing raw strings; the recipe's start from padded ids.",
    ]
    if bow is not None:
        lines += ["", f"Bag-of-words logistic regression (unigrams+bigrams) on SST-2 dev: accuracy {bow:.2f}%."]
    text = "\n".join(lines)
    print(text)
    if args.append:
        command = "python benchmarks/bench_classifier.py " + " ".join(argv if argv is not None else sys.argv[1:])
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(args.append, "a", encoding="utf-8") as f:
            f.write(f"\n## Text classifier (bench_classifier.py), {stamp}\n\nCommand: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
