"""bilstm_ner's architecture on an accelerator: Keras 3 on JAX vs PyTorch's cuDNN `nn.LSTM`.

Training throughput (tokens/s of optimizer steps, CRF loss) and tagging
throughput (emissions + Viterbi) of the shipped `bilstm_ner` and its PyTorch
twin (`bench_ner.torch_twin`: same layers, the Keras weights copied), side by
side in one run, timings interleaved (ours, theirs, ours, ...), medians reported.
It also checks that both give the same tags (and each one's token accuracy), and
times two variants for context: PyTorch trained with a softmax loss instead of
its CRF (whose forward algorithm loops over time steps in Python), and Keras with
its own masked `Bidirectional` (a select per step, so no cuDNN on a GPU) instead
of rnnzoo's right-padded one.

The GPU machine has JAX and PyTorch but no TensorFlow, so this runs in two steps:

    # 1. where TensorFlow is installed: vectorize CoNLL-2003 with the shipped model's vocabularies
    #    and save its weights and configuration (a local file: keep it out of git, e.g. under .bench/)
    python benchmarks/bench_ner_gpu.py prepare --out .bench/ner_arrays.npz
    # 2. anywhere with JAX and PyTorch (a GPU if there is one, else the CPU)
    KERAS_BACKEND=jax python benchmarks/bench_ner_gpu.py run --arrays .bench/ner_arrays.npz

Batches: sentences are bucketed by length (the tagger's `BUCKET_BOUNDARIES`)
and each batch padded in time to `rnnzoo.models.compiled.padded_shape`, so
the jitted Keras step compiles a handful of shapes (all compiled in a warm-up
pass before timing); Keras batches also get all-padding rows up to the batch
size (they carry no loss). PyTorch takes the same sentences unpadded in rows
and packs them for cuDNN. Throughput counts real tokens only.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


# ----------------------------------------------------------------- prepare (TensorFlow side)
def prepare(args):
    import rnnzoo
    from rnnzoo.data.conll import read_conll
    from rnnzoo.data.paths import dataset_path

    tagger = rnnzoo.load(args.model)
    label_index = {t: i for i, t in enumerate(tagger.model_tags)}
    arrays = {}
    for split, limit in (("train", args.train_sentences), ("test", args.test_sentences)):
        sentences, tags = read_conll(dataset_path("conll2003", f"{split}.txt"))
        keep = [i for i, s in enumerate(sentences) if s][: limit or None]
        sentences = [sentences[i] for i in keep]
        tags = tagger._to_model_scheme([tags[i] for i in keep])
        words, chars = [], []
        for start in range(0, len(sentences), 1024):
            chunk = sentences[start : start + 1024]
            features = tagger.vectorize_tokens(chunk)
            mask = features["token_ids"] != 0
            words.append(features["token_ids"][mask])
            chars.append(features["char_ids"][mask])
        arrays[f"{split}_lengths"] = np.array([len(s) for s in sentences], "int32")
        arrays[f"{split}_token_ids"] = np.concatenate(words).astype("int32")
        arrays[f"{split}_char_ids"] = np.concatenate(chars).astype("int16")
        arrays[f"{split}_tags"] = np.array([label_index[t] for row in tags for t in row], "int16")
    weights = tagger.get_weights()
    arrays.update({f"weight_{i}": w for i, w in enumerate(weights)})
    meta = {
        "model": args.model,
        "backbone": tagger.backbone.get_config(),
        "head": tagger.head,
        "dropout": tagger.dropout,
        "labels": list(tagger.model_tags),
        "weights": len(weights),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB): "
          f"{len(arrays['train_lengths'])} train / {len(arrays['test_lengths'])} test sentences")


# ----------------------------------------------------------------- run (JAX + PyTorch side)
def split_sentences(data, split):
    """Ragged arrays -> a list of (token_ids, char_ids, tags) per sentence."""
    bounds = np.concatenate([[0], np.cumsum(data[f"{split}_lengths"])])
    tok, chars, tags = data[f"{split}_token_ids"], data[f"{split}_char_ids"], data[f"{split}_tags"]
    return [(tok[a:b], chars[a:b], tags[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def make_batches(sentences, batch_size, seed=0):
    """Bucket by length, batch, pad: `[(keras_batch, torch_batch, real_tokens)]`.

    keras_batch = ({"token_ids", "char_ids"}, tags), shape (batch_size, padded time);
    torch_batch = the same sentences without filler rows.
    """
    from rnnzoo.models.compiled import padded_shape
    from rnnzoo.models.tagger.batching import BUCKET_BOUNDARIES

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sentences))
    buckets = {}
    for i in order:
        n = len(sentences[i][0])
        bucket = next((b for b in BUCKET_BOUNDARIES if n < b), None)
        buckets.setdefault(bucket, []).append(i)
    batches = []
    for members in buckets.values():
        for start in range(0, len(members), batch_size):
            chosen = [sentences[i] for i in members[start : start + batch_size]]
            longest = max(len(s[0]) for s in chosen)
            time_ = padded_shape(batch_size, longest)[1]
            width = chosen[0][1].shape[1]
            token_ids = np.zeros((batch_size, time_), "int32")
            char_ids = np.zeros((batch_size, time_, width), "int32")
            tags = np.zeros((batch_size, time_), "int32")
            for r, (t, c, y) in enumerate(chosen):
                token_ids[r, : len(t)], char_ids[r, : len(t)], tags[r, : len(t)] = t, c, y
            real = len(chosen)
            keras_batch = ({"token_ids": token_ids, "char_ids": char_ids}, tags)
            torch_batch = (token_ids[:real, :longest], char_ids[:real, :longest], tags[:real, :longest])
            batches.append((keras_batch, torch_batch, int(sum(len(s[0]) for s in chosen))))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def build_keras_tagger(data):
    from rnnzoo.models.tagger.backbone import TaggerBackbone
    from rnnzoo.models.tagger.tagger import BidirectionalTagger

    meta = json.loads(str(data["meta"]))
    backbone = TaggerBackbone.from_config(meta["backbone"])
    tagger = BidirectionalTagger(backbone, labels=meta["labels"], head=meta["head"], dropout=meta["dropout"])
    tagger.set_weights([data[f"weight_{i}"] for i in range(meta["weights"])])
    return tagger, meta


def py_dataset(batches):
    """A `keras.utils.PyDataset` over prepared `(features, tags)` batches, in order."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()

        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i]

    return Batches()


def run(args):
    import keras
    import torch

    from bench_ner import torch_twin

    data = dict(np.load(args.arrays, allow_pickle=False))
    device = torch.device(args.torch_device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    if device.type == "cpu":
        torch.set_num_threads(args.threads or os.cpu_count())
    keras.utils.set_random_seed(0)
    tagger, meta = build_keras_tagger(data)
    twin = torch_twin(tagger).to(device)
    jax_device = ""
    if keras.backend.backend() == "jax":
        import jax

        jax_device = str(jax.devices()[0])
    print(f"keras {keras.__version__} backend={keras.backend.backend()} {jax_device} | torch {torch.__version__} "
          f"on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()})")

    def to_torch(batch):
        t, c, y = batch
        return (torch.from_numpy(t).long().to(device), torch.from_numpy(c).long().to(device),
                torch.from_numpy(y).long().to(device))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    decoder = tagger.get_decoder()  # emissions + in-graph Viterbi, one compiled call per padded shape
    test_sentences = split_sentences(data, "test")
    test_sets = {}
    for size in args.infer_batch_size:
        test = make_batches(test_sentences, size)
        test_sets[size] = (test, [to_torch(tb) for _, tb, _ in test], sum(n for _, _, n in test))

    def keras_tag(size):
        return [np.asarray(decoder.predict_on_batch(kb[0])["tags"]) for kb, _, _ in test_sets[size][0]]

    def torch_tag(size):
        out = []
        with torch.inference_mode():
            for t, c, _ in test_sets[size][1]:
                lengths = (t != 0).sum(1).cpu()
                out.append(twin.viterbi(twin.emissions(t, c, lengths), t != 0))
        sync()
        return [o.cpu().numpy() for o in out]

    # Agreement on the test sentences (weights copied: the same tags up to float rounding), and each side's
    # token accuracy against the gold tags.
    size = args.infer_batch_size[0]
    same = total = keras_right = torch_right = 0
    for (kb, tb, _), ours, theirs in zip(test_sets[size][0], keras_tag(size), torch_tag(size)):
        mask = tb[0] != 0
        ours = ours[: mask.shape[0], : mask.shape[1]][mask]
        theirs, gold = theirs[mask], tb[2][mask]
        same += int((ours == theirs).sum())
        keras_right += int((ours == gold).sum())
        torch_right += int((theirs == gold).sum())
        total += int(mask.sum())
    print(f"tag agreement keras vs torch twin: {100 * same / total:.2f}% of {total} test tokens "
          f"(token accuracy vs gold: keras {100 * keras_right / total:.2f}%, torch {100 * torch_right / total:.2f}%)")
    for size in args.infer_batch_size[1:]:
        keras_tag(size)  # compile this batch size's shapes before timing

    # Training: the same sentences and batch order; Keras on padded batches, PyTorch on packed ones.
    train = make_batches(split_sentences(data, "train"), args.batch_size)[: args.train_batches or None]
    train_tokens = sum(n for _, _, n in train)
    shapes = sorted({kb[0]["token_ids"].shape for kb, _, _ in train})
    print(f"training: {len(train)} batches of {args.batch_size}, {train_tokens} tokens, "
          f"{len(shapes)} padded shapes (Keras compiles each once in the warm-up)")
    # The same model with Keras' own masked Bidirectional (a select per step, so no cuDNN on a GPU) instead of
    # rnnzoo's right-padded path, for context.
    masked, _ = build_keras_tagger(data)
    masked.backbone.get_layer("rnn_0").right_padded = False
    keras_data = py_dataset([kb for kb, _, _ in train])
    warm = {}
    for kb, _, _ in train:
        warm.setdefault(kb[0]["token_ids"].shape, kb)
    keras_warmup = 0.0
    for model in (tagger, masked):
        model.compile(optimizer=keras.optimizers.Nadam(args.learning_rate, clipnorm=5.0))
        start = time.perf_counter()
        model.fit(py_dataset(list(warm.values())), epochs=1, verbose=0)
        keras_warmup += time.perf_counter() - start
    torch_train = [to_torch(tb) for _, tb, _ in train]
    opt = torch.optim.NAdam(twin.parameters(), lr=args.learning_rate)

    def torch_epoch(crf=True):
        twin.train()
        for t, c, y in torch_train:
            opt.zero_grad(set_to_none=True)
            lengths = (t != 0).sum(1).cpu()
            mask = t != 0
            emissions = twin.emissions(t, c, lengths)
            if crf:
                loss = twin.nll(emissions, y, mask)
            else:
                loss = torch.nn.functional.cross_entropy(emissions[mask], y[mask])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(twin.parameters(), 5.0)
            opt.step()
        sync()

    start = time.perf_counter()
    torch_epoch()
    torch_epoch(crf=False)
    torch_warmup = time.perf_counter() - start
    jobs = {
        "keras_train": lambda: tagger.fit(keras_data, epochs=1, verbose=0, shuffle=False),
        "torch_train": torch_epoch,
        "keras_masked_train": lambda: masked.fit(keras_data, epochs=1, verbose=0, shuffle=False),
        "torch_softmax_train": lambda: torch_epoch(crf=False),
    }
    for size in args.infer_batch_size:
        jobs[f"keras_tag_{size}"] = lambda size=size: keras_tag(size)
        jobs[f"torch_tag_{size}"] = lambda size=size: torch_tag(size)
    times = {name: [] for name in jobs}
    for _ in range(args.repeats):
        for name, fn in jobs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [("training tokens/s (CRF loss)", train_tokens / med["keras_train"], train_tokens / med["torch_train"])]
    for size in args.infer_batch_size:
        tokens = test_sets[size][2]
        rows.append((f"tagging tokens/s (batch {size})", tokens / med[f"keras_tag_{size}"],
                     tokens / med[f"torch_tag_{size}"]))
    print(f"warm-up: keras {keras_warmup:.1f} s (compilation), torch {torch_warmup:.1f} s")
    print(f"\n{'measure':36s} {'rnnzoo/keras':>14s} {'pytorch':>14s} {'ratio':>8s}")
    for name, ours, theirs in rows:
        print(f"{name:36s} {ours:14.0f} {theirs:14.0f} {ours / theirs:7.2f}x")
    context = {
        "torch_softmax_train": train_tokens / med["torch_softmax_train"],
        "keras_masked_train": train_tokens / med["keras_masked_train"],
    }
    print(f"\ncontext: pytorch trained with a softmax loss instead of its CRF: {context['torch_softmax_train']:.0f} "
          f"tokens/s (rnnzoo with its CRF: {rows[0][1] / context['torch_softmax_train']:.2f}x of that)")
    print(f"context: keras' masked Bidirectional instead of rnnzoo's right-padded one: "
          f"{context['keras_masked_train']:.0f} tokens/s (right-padded: {rows[0][1] / context['keras_masked_train']:.2f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "context": context, "times": times, "device": str(device),
                       "jax_device": jax_device, "keras": keras.__version__, "torch": torch.__version__,
                       "agreement": same / total, "keras_accuracy": keras_right / total,
                       "torch_accuracy": torch_right / total, "args": vars(args)}, f, indent=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="vectorize CoNLL-2003 and save the model's weights (needs TensorFlow)")
    p.add_argument("--out", default=".bench/ner_arrays.npz")
    p.add_argument("--model", default="bilstm_ner", help="zoo name or artifact folder")
    p.add_argument("--train-sentences", type=int, default=0, help="0 = all")
    p.add_argument("--test-sentences", type=int, default=0, help="0 = all")
    r = sub.add_parser("run", help="time Keras (JAX) vs PyTorch on the prepared arrays")
    r.add_argument("--arrays", default=".bench/ner_arrays.npz")
    r.add_argument("--batch-size", type=int, default=256, help="training sentences per batch")
    r.add_argument("--infer-batch-size", type=lambda v: [int(x) for x in v.split(",")], default=[64, 512],
                   help="tagging batch sizes, comma-separated (the first also gives the agreement)")
    r.add_argument("--train-batches", type=int, default=0, help="0 = one whole epoch")
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--learning-rate", type=float, default=1e-4)
    r.add_argument("--torch-device", default=None, help="default: cuda if available, else cpu")
    r.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (default: all cores)")
    r.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    prepare(args) if args.step == "prepare" else run(args)


if __name__ == "__main__":
    main()
