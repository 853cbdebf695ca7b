"""Pretrain a classifier's bidirectional encoder as two language models on unlabeled text.

ELMo-style: the forward RNN learns to predict the next word, the backward RNN
(reading each window reversed, as a `Bidirectional` layer's backward half
does) the previous one; both share the word embedding. The weights then
initialise the classifier's embedding and first recurrent layer before
fine-tuning (`init` step / `encoder_weights`).

Three steps, so that the heavy one runs on a machine without TensorFlow:

    # 1. where TensorFlow is installed: the classifier's vocabulary and GloVe matrix (as
    #    `rnnzoo train` would build them) and the unlabeled text as one stream of its token ids
    python examples/pretrain_encoder_lm.py prepare --config bigru_sst2 --out .lm/stream.npz
    # 2. anywhere with Keras (JAX backend on a GPU is fastest)
    KERAS_BACKEND=jax python examples/pretrain_encoder_lm.py train --stream .lm/stream.npz --out .lm/encoder.npz
    # 3. fine-tune: the classifier built from the config, initialised from the encoder
    python examples/pretrain_encoder_lm.py finetune --config bigru_sst2 --encoder .lm/encoder.npz --output-dir DIR

Measured (benchmarks/RESULTS.md): on one H200 the two 128-unit language models train at ~3M tokens/s; on
SST-2, 6.7M tokens of IMDB review text gave no gain over GloVe alone (GLUE dev 84.17-84.63 vs 84.63).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


# ----------------------------------------------------------------- prepare (TensorFlow side)
def read_imdb_texts(split="train"):
    import csv
    import gzip

    from rnnzoo.data.paths import dataset_path

    with gzip.open(dataset_path("imdb", f"{split}.csv.gz"), "rt", encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def prepare(args):
    import keras
    import tensorflow as tf

    from rnnzoo.models import get_family
    from rnnzoo.models.classifier.preprocessor import tokenize_texts
    from rnnzoo.zoo import resolve_config

    config = resolve_config(args.config)
    family = get_family(config.family)
    keras.utils.set_random_seed(config.training.seed)
    data = family.load_data(config)
    task = family.build(config, data)  # untrained: the vocabulary and GloVe rows `rnnzoo train` starts from
    lookup = task.preprocessor.word_lookup
    texts = [t for split in args.imdb_splits.split(",") for t in read_imdb_texts(split)]
    texts += list(data["train"][0]) if args.with_train_texts else []
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    pieces = []
    for start in range(0, len(texts), 1024):
        ids = lookup(tokenize_texts(tf.constant(texts[start : start + 1024])))
        for row in ids.to_list():
            pieces.append(np.asarray(row + [0], "int32"))  # 0 ends a text
    stream = np.concatenate(pieces)
    embedding = task.backbone.get_layer("word_embedding").get_weights()[0]
    meta = {"config": config.name, "units": config.architecture.units, "cell": config.architecture.cell,
            "vocabulary": int(embedding.shape[0]), "texts": len(texts)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, stream=stream.astype("uint16" if embedding.shape[0] < 2**16 else "int32"),
                        embedding=embedding, meta=np.array(json.dumps(meta)))
    oov = float(np.mean(stream == 1))
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB): {len(texts)} texts, "
          f"{len(stream)} tokens, {100 * oov:.1f}% out of vocabulary, vocabulary {embedding.shape[0]}")


# ----------------------------------------------------------------- train (any Keras backend)
def build_lm(vocabulary, embedding, units, cell, output_words, dropout):
    import keras
    from keras import layers

    rnn = {"gru": layers.GRU, "lstm": layers.LSTM}[cell]
    forward_ids = keras.Input((None,), dtype="int32", name="forward_ids")
    backward_ids = keras.Input((None,), dtype="int32", name="backward_ids")
    embed = layers.Embedding(vocabulary, embedding.shape[1], name="word_embedding")
    drop = layers.Dropout(dropout)
    outputs = []
    for name, ids in (("forward", forward_ids), ("backward", backward_ids)):
        h = rnn(units, return_sequences=True, name=f"{name}_rnn")(drop(embed(ids)))
        outputs.append(layers.Dense(output_words, name=f"{name}_words")(drop(h)))
    model = keras.Model([forward_ids, backward_ids], outputs)
    embed.set_weights([embedding])
    return model


def windows(stream, starts, length, output_words):
    """Forward inputs/targets and backward (reversed) inputs/targets for windows at `starts`."""
    index = starts[:, None] + np.arange(-1, length + 1)[None, :]  # one word before and after
    w = stream[index].astype("int32")
    x = w[:, 1:-1]
    targets = np.minimum(w, output_words - 1)  # words beyond the output vocabulary share the last class
    return (x, x[:, ::-1]), (targets[:, 2:], targets[:, :-2][:, ::-1])


def train(args):
    import keras

    data = np.load(args.stream)
    meta = json.loads(str(data["meta"]))
    stream = data["stream"][: args.limit_tokens or None]
    embedding = data["embedding"]
    cut = int(len(stream) * (1 - args.validation_share))
    train_stream, val_stream = stream[:cut], stream[cut:]
    keras.utils.set_random_seed(0)
    units = args.units or meta["units"]
    meta["units"] = units
    model = build_lm(meta["vocabulary"], embedding, units, meta["cell"], args.output_words, args.dropout)
    steps = (len(train_stream) - args.length - 2) // (args.batch_size * args.length)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    val_starts = np.arange(1, len(val_stream) - args.length - 2, args.length)[: 64 * args.batch_size]
    val_x, val_y = windows(val_stream, val_starts, args.length, args.output_words)
    print(f"keras {keras.__version__} ({keras.backend.backend()}): {len(train_stream)} training tokens, "
          f"{steps} steps of {args.batch_size} x {args.length} per epoch; {len(val_starts)} validation windows; "
          f"{units} units")

    class Batches(keras.utils.PyDataset):  # reads the current epoch's `starts`
        def __len__(self):
            return steps

        def __getitem__(self, i):
            return windows(train_stream, starts[i * args.batch_size : (i + 1) * args.batch_size], args.length,
                           args.output_words)

    begin = time.perf_counter()
    planned = args.epochs
    for epoch in range(args.epochs):
        if epoch >= planned:
            break
        # Cosine decay per epoch over the planned epochs; with --minutes the plan is fitted to the budget
        # from the second epoch's time (the first one also compiles).
        model.optimizer.learning_rate.assign(args.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / planned)))
        # Every epoch reads the stream once, in windows at a fresh random offset, in random order.
        offset = int(rng.integers(1, args.length + 1))
        starts = offset + args.length * rng.permutation(steps * args.batch_size)
        start = time.perf_counter()
        history = model.fit(Batches(), epochs=1, verbose=0)
        losses = model.evaluate(val_x, val_y, batch_size=args.batch_size, verbose=0)
        elapsed = time.perf_counter() - start
        print(f"epoch {epoch + 1}/{planned}: train loss {history.history['loss'][-1]:.3f}, validation perplexity "
              f"forward {np.exp(losses[1]):.1f} backward {np.exp(losses[2]):.1f} ({elapsed:.1f} s, "
              f"{steps * args.batch_size * args.length * 2 / elapsed:.0f} tokens/s both directions)")
        save(model, meta, args, epoch + 1)
        if args.minutes and epoch == 1:
            left = 60 * args.minutes - (time.perf_counter() - begin)
            planned = max(epoch + 2, min(args.epochs, epoch + 1 + int(left / elapsed)))
            print(f"planning {planned} epochs for the {args.minutes}-minute budget")


def save(model, meta, args, epochs):
    arrays = {"embedding": model.get_layer("word_embedding").get_weights()[0]}
    for name in ("forward", "backward"):
        for i, w in enumerate(model.get_layer(f"{name}_rnn").get_weights()):
            arrays[f"{name}_{i}"] = w
    meta = dict(meta, epochs=epochs, output_words=args.output_words, length=args.length)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez(args.out, meta=np.array(json.dumps(meta)), **arrays)


# ----------------------------------------------------------------- fine-tune (TensorFlow side)
def load_encoder(task, path):
    """Set a classifier's word embedding and first recurrent layer from an `encoder.npz`."""
    data = np.load(path)
    backbone = task.backbone
    embedding = backbone.get_layer("word_embedding")
    if embedding.get_weights()[0].shape != data["embedding"].shape:
        raise ValueError(f"{path}: embedding {data['embedding'].shape} does not match the classifier's "
                         f"{embedding.get_weights()[0].shape}; prepare the stream with the same config.")
    embedding.set_weights([data["embedding"]])
    rnn = backbone.get_layer("rnn_0")
    for name, layer in (("forward", rnn.forward_layer), ("backward", rnn.backward_layer)):
        layer.set_weights([data[f"{name}_{i}"] for i in range(len(layer.get_weights()))])


def finetune(args):
    import keras

    from rnnzoo.config import parse_override
    from rnnzoo.models import get_family
    from rnnzoo.training.trainer import train as train_model
    from rnnzoo.zoo import resolve_config

    overrides = dict(parse_override(item) for item in args.set)
    config = resolve_config(args.config, overrides=overrides)
    family = get_family(config.family)
    keras.utils.set_random_seed(config.training.seed)
    data = family.load_data(config)
    task = family.build(config, data)
    load_encoder(task, args.encoder)
    train_model(config, task=task, data=data, output_dir=args.output_dir, verbose=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="vocabulary, GloVe rows and the token stream (needs TensorFlow)")
    p.add_argument("--config", default="bigru_sst2")
    p.add_argument("--imdb-splits", default="train", help="IMDB splits whose review text is read (labels unused)")
    p.add_argument("--with-train-texts", action="store_true", help="also the config's own training texts")
    p.add_argument("--out", default=".lm/stream.npz")
    t = sub.add_parser("train", help="train the two language models")
    t.add_argument("--stream", default=".lm/stream.npz")
    t.add_argument("--out", default=".lm/encoder.npz")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--minutes", type=float, default=0, help="fit the number of epochs to this budget (0 = --epochs)")
    t.add_argument("--units", type=int, default=0, help="recurrent units (default: the config's)")
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--length", type=int, default=64, help="window length (tokens)")
    t.add_argument("--output-words", type=int, default=20000, help="predicted words; rarer ones share a class")
    t.add_argument("--learning-rate", type=float, default=2e-3)
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--validation-share", type=float, default=0.02)
    t.add_argument("--limit-tokens", type=int, default=0, help="read only this many tokens (0 = all; for dry runs)")
    f = sub.add_parser("finetune", help="train the classifier from the encoder (needs TensorFlow)")
    f.add_argument("--config", default="bigru_sst2")
    f.add_argument("--encoder", default=".lm/encoder.npz")
    f.add_argument("--output-dir", required=True)
    f.add_argument("--set", action="append", default=[], help="config override key=value")
    args = parser.parse_args(argv)
    {"prepare": prepare, "train": train, "finetune": finetune}[args.step](args)


if __name__ == "__main__":
    main()
