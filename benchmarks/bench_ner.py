"""Tagging and training throughput of the shipped `bilstm_ner` vs the same architecture in PyTorch (CPU).

The PyTorch model is a faithful copy: same layers and sizes (word embedding,
char CNN with masked max-pooling, BiLSTM, linear, CRF with Viterbi), and the
Keras weights are copied into it, so both taggers produce the same tags (the
script checks the agreement). Timings are interleaved (ours, theirs, ours, ...)
and medians reported, so machine noise hits both sides alike.

    python benchmarks/bench_ner.py                      # inference + training, CPU
    python benchmarks/bench_ner.py --sentences 512 --repeats 3

Batch-1 latency covers string -> tags for one sentence (vectorization
included on both sides); batch-64 throughput tags pre-tokenized sentences.
Training throughput is tokens/s of optimizer steps on the same bucketed
batches (CRF loss, Nadam/Adam-like optimizer on both sides).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def torch_twin(keras_tagger):
    """The PyTorch twin (`nn.Module`) of a `BidirectionalTagger`'s layers, weights copied.

    Reads only the Keras layers (no preprocessor, no TensorFlow), so
    `bench_ner_gpu.py` builds it on a machine with JAX and PyTorch alone.
    """
    import torch
    from torch import nn

    bb = keras_tagger.backbone
    get = lambda layer: [np.asarray(w) for w in layer.get_weights()]  # noqa: E731

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            (emb,) = get(bb.get_layer("word_embedding"))
            self.word = nn.Embedding.from_pretrained(torch.tensor(emb), freeze=False, padding_idx=0)
            enc = bb.get_layer("char_encoder")
            (cemb,) = get(enc.embedding)
            self.char = nn.Embedding.from_pretrained(torch.tensor(cemb), freeze=False)
            kernel, bias = get(enc.conv)
            self.conv = nn.Conv1d(kernel.shape[1], kernel.shape[2], kernel.shape[0], padding=kernel.shape[0] // 2)
            self.conv.weight.data = torch.tensor(kernel.transpose(2, 1, 0).copy())
            self.conv.bias.data = torch.tensor(bias)
            rnn = bb.get_layer("rnn_0")
            units = bb.units
            self.lstm = nn.LSTM(self.word.embedding_dim + kernel.shape[2], units, batch_first=True, bidirectional=True)
            for layer, suffix in ((rnn.forward_layer, ""), (rnn.backward_layer, "_reverse")):
                k, rk, b = get(layer)
                getattr(self.lstm, "weight_ih_l0" + suffix).data = torch.tensor(k.T.copy())
                getattr(self.lstm, "weight_hh_l0" + suffix).data = torch.tensor(rk.T.copy())
                getattr(self.lstm, "bias_ih_l0" + suffix).data = torch.tensor(b)
                getattr(self.lstm, "bias_hh_l0" + suffix).data = torch.zeros_like(torch.tensor(b))
            w, b = get(keras_tagger.get_layer("emissions"))
            self.out = nn.Linear(w.shape[0], w.shape[1])
            self.out.weight.data, self.out.bias.data = torch.tensor(w.T.copy()), torch.tensor(b)
            trans, start, end = get(keras_tagger.get_layer("crf"))
            self.trans = nn.Parameter(torch.tensor(trans))
            self.start = nn.Parameter(torch.tensor(start))
            self.end = nn.Parameter(torch.tensor(end))

        def emissions(self, token_ids, char_ids, lengths):
            b, t, c = char_ids.shape
            flat = char_ids.view(b * t, c)
            x = self.conv(self.char(flat).transpose(1, 2)).tanh()  # (bt, F, c)
            cmask = (flat != 0).unsqueeze(1)
            x = x.masked_fill(~cmask, -1e4).max(dim=2).values
            x = torch.where(cmask.any(dim=2), x, torch.zeros_like(x)).view(b, t, -1)
            feats = torch.cat([self.word(token_ids), x], dim=-1)
            packed = nn.utils.rnn.pack_padded_sequence(feats, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=t)
            return self.out(h)

        def viterbi(self, e, mask):
            score = self.start + e[:, 0]
            history = []
            for i in range(1, e.shape[1]):
                best, idx = (score.unsqueeze(2) + self.trans).max(dim=1)
                new = best + e[:, i]
                m = mask[:, i].unsqueeze(1)
                score = torch.where(m, new, score)
                history.append(torch.where(m, idx, torch.arange(e.shape[2], device=e.device).expand_as(idx)))
            score = score + self.end
            tag = score.argmax(dim=1)
            tags = [tag]
            for idx in reversed(history):
                tag = idx.gather(1, tag.unsqueeze(1)).squeeze(1)
                tags.append(tag)
            return torch.stack(tags[::-1], dim=1)

        def nll(self, e, tags, mask):
            maskf = mask.float()
            alpha = self.start + e[:, 0]
            for i in range(1, e.shape[1]):
                new = torch.logsumexp(alpha.unsqueeze(2) + self.trans + e[:, i].unsqueeze(1), dim=1)
                alpha = torch.where(mask[:, i].unsqueeze(1), new, alpha)
            log_z = torch.logsumexp(alpha + self.end, dim=1)
            gold = self.start[tags[:, 0]] + (e.gather(2, tags.unsqueeze(2)).squeeze(2) * maskf).sum(1)
            gold = gold + (self.trans[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
            last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
            return (log_z - gold - self.end[last]).mean()

    return Twin().eval()


def torch_tagger(keras_tagger):
    """The PyTorch twin of a loaded `BidirectionalTagger`, its vectorizer and a `tag(token_lists)` function."""
    import torch

    twin = torch_twin(keras_tagger)
    words = keras_tagger.preprocessor.word_lookup.get_vocabulary()
    chars = keras_tagger.preprocessor.char_lookup.get_vocabulary()
    word_index = {w: i for i, w in enumerate(words)}
    char_index = {c: i for i, c in enumerate(chars)}
    max_chars = keras_tagger.backbone.max_chars

    def vectorize(token_lists):
        t = max(1, max(len(s) for s in token_lists))
        token_ids = np.zeros((len(token_lists), t), "int64")
        char_ids = np.zeros((len(token_lists), t, max_chars), "int64")
        for i, sentence in enumerate(token_lists):
            for j, token in enumerate(sentence):
                token_ids[i, j] = word_index.get(token.lower(), 1)
                for k, ch in enumerate(token[:max_chars]):
                    char_ids[i, j, k] = char_index.get(ch, 1)
        lengths = torch.tensor([max(1, len(s)) for s in token_lists])
        return torch.from_numpy(token_ids), torch.from_numpy(char_ids), lengths

    def tag(token_lists):
        with torch.inference_mode():
            token_ids, char_ids, lengths = vectorize(token_lists)
            e = twin.emissions(token_ids, char_ids, lengths)
            tags = twin.viterbi(e, token_ids != 0).numpy()
        labels = keras_tagger.output_tags
        return [[labels[k] for k in row[: len(s)]] for row, s in zip(tags, token_lists)]

    return twin, vectorize, tag


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=1024, help="test sentences for throughput")
    parser.add_argument("--latency-sentences", type=int, default=100)
    parser.add_argument("--train-batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--model", default="bilstm_ner", help="zoo name or artifact folder")
    args = parser.parse_args(argv)

    import tensorflow as tf
    import torch

    import rnnzoo
    from rnnzoo.data.conll import read_conll
    from rnnzoo.data.paths import dataset_path

    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tagger = rnnzoo.load(args.model)
    twin, vectorize, torch_tag = torch_tagger(tagger)
    sentences, gold = read_conll(dataset_path("conll2003", "test.txt"))
    sentences = sentences[: args.sentences]
    tokens = sum(len(s) for s in sentences)

    ours_tags = [r["tags"] for r in tagger.predict(sentences, batch_size=64)]
    theirs_tags = torch_tag(sentences)
    same = sum(a == b for x, y in zip(ours_tags, theirs_tags) for a, b in zip(x, y)) / tokens
    print(f"tag agreement keras vs torch twin: {100 * same:.2f}% of {tokens} tokens")

    rows = []
    # Batch 64 throughput: pre-tokenized sentences -> tags.
    ours = median_time(lambda: tagger.predict(sentences, batch_size=64), args.repeats)
    theirs = median_time(
        lambda: [torch_tag(sorted(sentences, key=len)[i : i + 64]) for i in range(0, len(sentences), 64)], args.repeats
    )
    rows.append(("batch 64 sentences/s", len(sentences) / ours, len(sentences) / theirs))
    rows.append(("batch 64 tokens/s", tokens / ours, tokens / theirs))
    # Batch 1 latency: raw string -> tags.
    raw = [" ".join(s) for s in sentences[: args.latency_sentences]]
    from rnnzoo.text import tokenize

    # Warm-up: ours compiles one XLA program per padded shape on first sight, on a background thread
    # (see Tagger._emissions_fn); the timing starts once all are compiled.
    warm_start = time.perf_counter()
    for s in raw:
        tagger.predict(s)
    first_pass = time.perf_counter() - warm_start
    compiles = getattr(tagger._emissions_fn(), "compiles", None)
    if compiles is not None:
        compiles.wait()
    print(f"batch-1 warm-up over {len(raw)} sentences (ours): first pass {first_pass:.1f} s, "
          f"{time.perf_counter() - warm_start:.1f} s until every XLA program was compiled")
    [torch_tag([[t for t, _, _ in tokenize(s)]]) for s in raw]
    ours = median_time(lambda: [tagger.predict(s) for s in raw], args.repeats) / len(raw)
    theirs = median_time(lambda: [torch_tag([[t for t, _, _ in tokenize(s)]]) for s in raw], args.repeats) / len(raw)
    rows.append(("batch 1 latency ms (lower is better)", 1000 * ours, 1000 * theirs))

    if not args.skip_training:
        import keras

        train_sentences, train_tags = read_conll(dataset_path("conll2003", "train.txt"))
        dataset = tagger.make_dataset(train_sentences, train_tags, batch_size=32, training=True)
        batches = list(dataset.take(args.train_batches).as_numpy_iterator())
        train_tokens = sum(int(b[2].sum()) for b in batches)
        tagger.compile(optimizer=keras.optimizers.Nadam(1e-4, clipnorm=5.0))
        tagger.train_on_batch(*batches[0][:2])  # compile the step
        torch_batches = []
        for x, y, w in batches:
            t_ids, c_ids = torch.tensor(x["token_ids"]).long(), torch.tensor(x["char_ids"]).long()
            torch_batches.append((t_ids, c_ids, torch.from_numpy(w.sum(1).astype("int64")), torch.from_numpy(y).long()))
        opt = torch.optim.NAdam(twin.parameters(), lr=1e-4)
        twin.train()

        def torch_epoch():
            for t_ids, c_ids, lengths, y in torch_batches:
                opt.zero_grad()
                loss = twin.nll(twin.emissions(t_ids, c_ids, lengths.clamp(min=1)), y, t_ids != 0)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(twin.parameters(), 5.0)
                opt.step()

        def keras_epoch():
            for x, y, _ in batches:
                tagger.train_on_batch(x, y)

        torch_epoch()
        ours = median_time(keras_epoch, args.repeats)
        theirs = median_time(torch_epoch, args.repeats)
        rows.append(("training tokens/s", train_tokens / ours, train_tokens / theirs))

    print(f"\nkeras {keras_version()} backend={backend()} vs torch {torch.__version__}, {args.threads} threads")
    print(f"{'measure':40s} {'rnnzoo':>12s} {'pytorch':>12s} {'ratio':>8s}")
    for name, a, b in rows:
        ratio = (b / a) if "lower" in name else (a / b)
        print(f"{name:40s} {a:12.1f} {b:12.1f} {ratio:7.2f}x")


def keras_version():
    import keras

    return keras.__version__


def backend():
    import keras

    return keras.backend.backend()


if __name__ == "__main__":
    main()
