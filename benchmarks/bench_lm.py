"""Language-model speed benchmark (issue #18): training and generation tokens/s vs the same LM in PyTorch (CPU).

The PyTorch model is a twin of ours: `nn.Embedding` -> `nn.LSTM` / `nn.GRU` /
`nn.RNN(tanh)` -> `nn.Linear` (or the tied embedding), same sizes, with the
Keras weights copied into it, and the script checks that both give the same
per-token losses (perplexity) on a Penn Treebank validation sample and the
same greedy continuations. The issue's goal: >= 1.0x PyTorch on CPU (on a GPU,
Keras-on-JAX >= 1.4x PyTorch cuDNN: not measured by this script).

1. Training tokens/s: the same `(batch 20 x 35 steps)` windows of PTB training
   text, SGD (`--lr`, gradients clipped to global norm `--clip`) on both
   sides. Ours is the real training path, `lm.fit(lm.make_dataset(...))`
   (truncated BPTT, state carried across batches by `fit`); theirs is the
   standard PyTorch TBPTT loop (hidden state detached between windows). Each
   repeat is one pass over the windows; the first batch of each pass is left
   out of the timing (it includes `fit`'s trace of its train step: `fit`
   rebuilds the step on every call, and that cost is printed separately).
   After the warm-up pass both sides' validation perplexities are printed:
   same start, same batches, same optimizer, so without dropout they agree.
2. Generation tokens/s at batch 1 and batch 64: `lm.generate(prompts,
   max_length=L, sampler="greedy")` (strings in, strings out; one compiled
   while-loop; warmed up first) vs a PyTorch greedy loop (prompt words looked
   up in a dict, state from the prompt, argmax step by step, ids joined back
   into strings). For a fair count no row may stop early: the `<eos>` and
   padding logits are biased by -1e4 on both sides (same weights otherwise),
   so every call produces batch x L tokens. Greedy outputs are compared token
   by token (agreement printed).

The machine may be shared with other jobs, so the contenders are timed
**interleaved** (each repeat times ours and theirs in a rotating order) and
medians over repeats are reported, as wall-clock throughput and per CPU-second
of this process (`time.process_time`, all threads). Both sides get `--threads`
threads (default: all cores). On a machine where other jobs hold cores, pass
`--threads 1`: PyTorch's OpenMP threads wait for each other at every parallel
region, and with one of two cores taken its steps were measured 5-10x slower
with 2 threads than with 1 (which would flatter our ratios).

Usage:
    python benchmarks/bench_lm.py                                   # 2x200 LSTM, untied (~3-6 min on 2 cores)
    python benchmarks/bench_lm.py --cell gru --units 650 --tie --train-tokens 100000 --repeats 5
    python benchmarks/bench_lm.py --preset vanilla_rnn_ptb          # a shipped artifact (zoo name or folder)
    python benchmarks/bench_lm.py --append benchmarks/RESULTS.md

Data: `$RNNZOO_DATA/ptb/ptb.{train,valid}.txt.gz` (default `../shared/datasets`).
Vocabulary: PTB's 10k words (built from the whole training file), or the preset's.
"""

import argparse
import collections
import datetime
import gzip
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

#: Logit bias given to `<eos>` and padding for the generation timing (no row ends early).
SUPPRESS = -1e4


# ---------------------------------------------------------------------- data
def read_lines(path):
    """A PTB file's lines (word level: without their newline; each line is a text that ends with `<eos>`)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def first_tokens(lines, tokens):
    """The first lines holding at least `tokens` tokens (words + one `<eos>` per line)."""
    out, count = [], 0
    for line in lines:
        if count >= tokens:
            break
        out.append(line)
        count += len(line.split()) + 1
    return out


def ptb_vocabulary(lines):
    """Training words, most frequent first (ties: first seen), as the family's `build_vocabulary` orders them."""
    counts = collections.Counter()
    for line in lines:
        counts.update(line.split())
    return [w for w, _ in counts.most_common()]


# ---------------------------------------------------------------------- the twin
def torch_twin(lm):
    """The PyTorch twin (`nn.Module`) of a `LanguageModel`'s layers, Keras weights copied.

    Supports the backbone's three cells (LSTM: Keras' gate order i, f, c, o is
    PyTorch's i, f, g, o; GRU: Keras' `reset_after=True` GRU with gates z, r, h
    and biases `(2, 3 * units)` is PyTorch's GRU with gates r, z, n; vanilla:
    `nn.RNN` with tanh or relu), tied or untied output, the tie projection and
    the backbone's dropouts (plain, locked, embedding; not `recurrent_dropout`,
    which `nn.LSTM` has no equivalent of).
    """
    import torch
    from torch import nn

    bb = lm.backbone
    if bb.recurrent_dropout:
        raise SystemExit("the PyTorch twin has no recurrent_dropout (nn.LSTM cannot drop h_{t-1}); "
                         "benchmark a model without it.")
    get = lambda layer: [np.asarray(w) for w in layer.get_weights()]  # noqa: E731
    t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    cell, units, layers = bb.cell, bb.units, bb.num_layers
    locked = bool(bb.dropout and bb.variational_dropout)
    if cell == "vanilla" and bb.activation not in ("tanh", "relu"):
        raise SystemExit(f"nn.RNN has tanh or relu only; the model's vanilla cell uses {bb.activation!r}.")

    def make_rnn(input_size, num_layers, dropout):
        kwargs = {"batch_first": True, "num_layers": num_layers, "dropout": dropout if num_layers > 1 else 0.0}
        if cell == "lstm":
            return nn.LSTM(input_size, units, **kwargs)
        if cell == "gru":
            return nn.GRU(input_size, units, **kwargs)
        return nn.RNN(input_size, units, nonlinearity=bb.activation, **kwargs)

    def copy_layer(rnn, index, keras_layer):
        weights = get(keras_layer)
        kernel, recurrent = weights[0], weights[1]
        bias = weights[2] if len(weights) > 2 else np.zeros(kernel.shape[1], "float32")
        if cell == "gru":
            if not keras_layer.reset_after:
                raise SystemExit("the twin copies Keras GRUs with reset_after=True (the default) only.")
            # Keras columns [z | r | h], PyTorch rows [r | z | n]; two bias vectors (input, recurrent).
            def order(a):
                return np.concatenate([a[..., units : 2 * units], a[..., :units], a[..., 2 * units :]], -1)

            kernel, recurrent = order(kernel), order(recurrent)
            bias_ih, bias_hh = order(bias[0]), order(bias[1])
        else:
            bias_ih, bias_hh = bias, np.zeros_like(bias)
        getattr(rnn, f"weight_ih_l{index}").data = t(kernel.T)
        getattr(rnn, f"weight_hh_l{index}").data = t(recurrent.T)
        getattr(rnn, f"bias_ih_l{index}").data = t(bias_ih)
        getattr(rnn, f"bias_hh_l{index}").data = t(bias_hh)
        if cell != "gru":
            # Keras' LSTM and vanilla cells have one bias; PyTorch's b_ih + b_hh, both trained, would
            # step the sum twice as fast. b_hh stays zero, so both train the same model.
            getattr(rnn, f"bias_hh_l{index}").requires_grad_(False)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            embedding = get(bb.token_embedding)
            self.embedding = nn.Embedding(*embedding[0].shape)
            self.embedding.weight.data = t(embedding[0])
            self.dropout, self.embedding_dropout = bb.dropout, bb.embedding_dropout
            # One multi-layer module (the usual PyTorch LM, its dropout between layers), or one module
            # per layer when the dropout between layers is locked (one mask per sequence).
            if locked:
                self.rnns = nn.ModuleList(
                    [make_rnn(bb.embedding_dim if i == 0 else units, 1, 0.0) for i in range(layers)])
                for rnn, keras_layer in zip(self.rnns, bb.recurrent_layers):
                    copy_layer(rnn, 0, keras_layer)
            else:
                self.rnns = nn.ModuleList([make_rnn(bb.embedding_dim, layers, bb.dropout)])
                for i, keras_layer in enumerate(bb.recurrent_layers):
                    copy_layer(self.rnns[0], i, keras_layer)
            self.projection = None
            if bb.tie_weights and units != bb.embedding_dim:
                kernel, bias = get(bb.get_layer("tie_projection"))
                self.projection = nn.Linear(units, bb.embedding_dim)
                self.projection.weight.data, self.projection.bias.data = t(kernel.T), t(bias)
            if bb.tie_weights:
                self.decoder = nn.Linear(bb.embedding_dim, embedding[0].shape[0], bias=len(embedding) > 1)
                self.decoder.weight = self.embedding.weight  # tied: one parameter
                if len(embedding) > 1:
                    self.decoder.bias.data = t(embedding[1])
            else:
                kernel, bias = get(lm.get_layer("logits"))
                self.decoder = nn.Linear(*kernel.shape)
                self.decoder.weight.data, self.decoder.bias.data = t(kernel.T), t(bias)

        def drop(self, x):
            if not self.training or not self.dropout:
                return x
            if locked:
                mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.dropout) / (1 - self.dropout)
                return x * mask
            return nn.functional.dropout(x, self.dropout, True)

        def zero_state(self, batch):
            per_module = layers if len(self.rnns) == 1 else 1
            zeros = lambda: torch.zeros(per_module, batch, units)  # noqa: E731
            return [(zeros(), zeros()) if cell == "lstm" else zeros() for _ in self.rnns]

        def features(self, ids, state):
            """`(batch, time)` ids -> last-layer features `(batch, time, dim)` and the new state."""
            x = self.embedding(ids)
            if self.training and self.embedding_dropout:
                keep = (torch.rand(self.embedding.num_embeddings) >= self.embedding_dropout).float()
                x = x * (keep / (1 - self.embedding_dropout))[ids].unsqueeze(-1)
            x = self.drop(x)
            new_state = []
            for rnn, s in zip(self.rnns, state):
                x, s = rnn(x, s)
                new_state.append(s)
                x = self.drop(x)
            if self.projection is not None:
                x = self.projection(x)
            return x, new_state

        def forward(self, ids, state):
            x, state = self.features(ids, state)
            return self.decoder(x), state

    return Twin().eval()


def detach(state):
    return [tuple(s.detach() for s in x) if isinstance(x, tuple) else x.detach() for x in state]


def twin_token_losses(twin, stream, chunk=256):
    """-log P(token) of `stream[1:]` read at batch 1 with the state carried (as `LanguageModel.token_losses`)."""
    import torch

    twin.eval()
    ids = torch.from_numpy(np.asarray(stream, "int64"))
    state, out = twin.zero_state(1), []
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, chunk):
            inputs = ids[start : min(start + chunk, len(ids) - 1)]
            targets = ids[start + 1 : start + 1 + len(inputs)]
            logits, state = twin(inputs[None], state)
            log_probs = torch.log_softmax(logits[0].float(), -1)
            out.append(-log_probs.gather(1, targets[:, None])[:, 0].double().numpy())
    return np.concatenate(out)


def twin_generator(twin, lm):
    """`generate(prompts, max_length)` with the twin: greedy, the prompt handling of `LanguageModel.generate`."""
    import torch

    p = lm.preprocessor
    index = {token: i for i, token in enumerate(p.tokens)}
    tokens = p.tokens
    separator = " " if p.level == "word" else ""

    def vectorize(prompt):
        text = prompt.lower() if p.lowercase else prompt
        pieces = text.split() if p.level == "word" else list(text)
        return [p.boundary_id] + [index.get(piece, 1) for piece in pieces]

    def generate(prompts, max_length):
        with torch.inference_mode():
            rows = [vectorize(prompt) for prompt in prompts]
            if len({len(r) for r in rows}) != 1:
                raise ValueError("the benchmark's prompts all have the same number of tokens")
            ids = torch.tensor(rows)
            state = twin.zero_state(len(rows))
            if ids.shape[1] > 1:
                _, state = twin.features(ids[:, :-1], state)  # the state after all prompt tokens but the last
            last = ids[:, -1]
            out = torch.empty(len(rows), max_length, dtype=torch.long)
            for step in range(max_length):
                logits, state = twin(last[:, None], state)
                last = logits[:, 0].argmax(-1)
                out[:, step] = last
            return [separator.join(tokens[i] for i in row) for row in out.tolist()]

    return generate


# ---------------------------------------------------------------------- timing
def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def interleaved(contenders, repeats, label):
    """`{name: [(wall, cpu), ...]}`: each repeat runs every contender once, in a rotating order.

    A contender is a function returning its own `(wall, cpu)` (training: from its second batch on).
    """
    names = list(contenders)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(contenders[name]())
            print(f"{label} repeat {r + 1}: {name}: {times[name][-1][0]:.2f} s", flush=True)
    return times


def rates(amount, times):
    """(amount per wall second, amount per CPU second) from median times."""
    return amount / statistics.median(t[0] for t in times), amount / statistics.median(t[1] for t in times)


def agreement(ours, theirs, level):
    """Fraction of generated tokens (position by position) that are the same."""
    split = (lambda s: s.split(" ")) if level == "word" else list
    same = total = 0
    for a, b in zip(ours, theirs):
        a, b = split(a), split(b)
        total += max(len(a), len(b))
        same += sum(x == y for x, y in zip(a, b))
    return same / max(total, 1), total


# ---------------------------------------------------------------------- main
def build_model(args, train_lines):
    import keras

    if args.preset:
        import rnnzoo
        from rnnzoo.zoo import resolve_artifact

        try:
            resolve_artifact(args.preset)
        except (FileNotFoundError, ValueError, OSError) as e:
            raise SystemExit(f"--preset {args.preset}: no trained language model found ({e}). Train it first "
                             f"(`rnnzoo train NAME --output-dir DIR`) or pass an artifact folder.") from None
        lm = rnnzoo.load(args.preset)
        if type(lm).__name__ != "LanguageModel":
            raise SystemExit(f"--preset {args.preset} is a {type(lm).__name__}, not a LanguageModel.")
        return lm
    from rnnzoo.models.language_model.family import LanguageModelArchitecture
    from rnnzoo.models.language_model.language_model import build_language_model

    keras.utils.set_random_seed(args.seed)
    architecture = LanguageModelArchitecture(
        cell=args.cell, units=args.units, layers=args.layers, embedding_dim=args.embedding_dim,
        tie_weights=args.tie, dropout=args.dropout, variational_dropout=args.variational_dropout,
    )
    return build_language_model(ptb_vocabulary(train_lines), architecture, level="word", sequence_length=args.bptt)


def describe(lm):
    bb = lm.backbone
    parts = [f"{bb.num_layers}x{bb.units} {bb.cell}", f"embedding {bb.embedding_dim}",
             "tied" if bb.tie_weights else "untied", f"vocabulary {bb.vocabulary_size}"]
    if bb.dropout:
        parts.append(f"{'locked ' if bb.variational_dropout else ''}dropout {bb.dropout}")
    if bb.embedding_dropout:
        parts.append(f"embedding dropout {bb.embedding_dropout}")
    return ", ".join(parts)


def suppress_endings(lm):
    """Bias the `<eos>` and padding logits by `SUPPRESS` (in place) so that no generated row ends early."""
    import keras

    bb = lm.backbone
    layer = bb.token_embedding if bb.tie_weights else lm.get_layer("logits")
    bias = getattr(layer, "bias", None)
    if bias is None:
        raise SystemExit("the output projection has no bias to keep <eos> out of the greedy continuations.")
    values = np.array(keras.ops.convert_to_numpy(bias))
    ends = [0] + ([lm.preprocessor.end_id] if lm.preprocessor.end_id is not None else [])
    values[ends] = SUPPRESS
    bias.assign(values)


def check_perplexity(lm, twin, lines, tolerance, label):
    """Per-token losses of ours and the twin on the same stream; exits when the perplexities differ."""
    ours = lm.token_losses(lines)
    theirs = twin_token_losses(twin, lm.preprocessor.stream(lines))
    ppl_ours, ppl_theirs = math.exp(ours.mean()), math.exp(theirs.mean())
    rel = abs(ppl_ours - ppl_theirs) / ppl_ours
    line = (f"perplexity check ({label}): keras {ppl_ours:.3f} vs torch twin {ppl_theirs:.3f} on {len(ours)} "
            f"validation tokens (relative difference {rel:.1e}, max |token loss difference| "
            f"{np.abs(ours - theirs).max():.1e})")
    print(line, flush=True)
    if len(ours) != len(theirs) or not rel <= tolerance:
        raise SystemExit(f"the twin does not compute our model: {line}")
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", help="benchmark a trained LM (zoo name or artifact folder) instead of building one")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "vanilla"))
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=200)
    parser.add_argument("--tie", action="store_true", help="tie the embedding and the output projection")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--variational-dropout", action="store_true", help="locked dropout (one mask per sequence)")
    parser.add_argument("--train-tokens", type=int, default=40000, help="PTB training tokens per timed pass")
    parser.add_argument("--valid-tokens", type=int, default=5000, help="PTB validation tokens of the perplexity check")
    parser.add_argument("--batch-size", type=int, default=20, help="training rows (and --bptt steps per batch)")
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (both sides)")
    parser.add_argument("--clip", type=float, default=5.0, help="gradient clipping to this global norm (both sides)")
    parser.add_argument("--gen-length", type=int, default=50, help="tokens generated per prompt")
    parser.add_argument("--gen-batch", type=int, default=64, help="prompts of the batched generation")
    parser.add_argument("--gen-single", type=int, default=8, help="batch-1 generate calls per timed repeat")
    parser.add_argument("--prompt-words", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed repeats (after one warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads of both sides (use 1 on a loaded machine: see the docstring)")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="relative perplexity difference allowed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--append", help="append a results section to this Markdown file")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf
    import torch

    from rnnzoo.data.paths import dataset_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    train_all = read_lines(dataset_path("ptb", "ptb.train.txt.gz"))
    valid_all = read_lines(dataset_path("ptb", "ptb.valid.txt.gz"))
    lm = build_model(args, train_all)
    if lm.preprocessor.level != "word":
        print("note: a character-level model; PTB text is read character by character")
    train_lines = first_tokens(train_all, args.train_tokens)
    valid_lines = first_tokens(valid_all, args.valid_tokens)
    print(f"model: {describe(lm)}; keras {keras.__version__} backend={keras.backend.backend()}, "
          f"torch {torch.__version__}, {args.threads} threads", flush=True)

    checks = [check_perplexity(lm, torch_twin(lm), valid_lines, args.tolerance,
                               "the preset's weights" if args.preset else "initial weights")]
    rows, notes = [], []

    # ------------------------------------------------------------ training
    if not args.skip_training:
        snapshot = lm.get_weights()
        dataset = lm.make_dataset(train_lines, batch_size=args.batch_size, sequence_length=args.bptt)
        batches = list(dataset.as_numpy_iterator())
        if len(batches) < 2:
            raise SystemExit(f"--train-tokens {args.train_tokens} gives {len(batches)} batch(es) of "
                             f"{args.batch_size} x {args.bptt}; the timing needs at least 2.")
        timed_tokens = (len(batches) - 1) * args.batch_size * args.bptt
        twin = torch_twin(lm).train()
        lm.compile(optimizer=keras.optimizers.SGD(args.lr, global_clipnorm=args.clip))
        trained = [p for p in twin.parameters() if p.requires_grad]
        opt = torch.optim.SGD(trained, lr=args.lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        torch_batches = [(torch.tensor(x, dtype=torch.long), torch.tensor(y, dtype=torch.long)) for x, y in batches]
        fit_overheads = []

        class FromSecondBatch(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 1:
                    self.start = time.perf_counter(), time.process_time()

        def keras_pass():
            clock = FromSecondBatch()
            start = time.perf_counter()
            lm.fit(dataset, epochs=1, verbose=0, callbacks=[clock])
            end = time.perf_counter(), time.process_time()
            fit_overheads.append(clock.start[0] - start)
            return end[0] - clock.start[0], end[1] - clock.start[1]

        def torch_pass():
            state = twin.zero_state(args.batch_size)
            for i, (x, y) in enumerate(torch_batches):
                if i == 1:
                    start = time.perf_counter(), time.process_time()
                state = detach(state)
                opt.zero_grad()
                logits, state = twin(x, state)
                loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, args.clip)
                opt.step()
            return time.perf_counter() - start[0], time.process_time() - start[1]

        keras_pass(), torch_pass()  # warm-up
        # One pass each from the same weights over the same batches: the same model trained the same way
        # gives the same perplexity. (Later passes drift apart: SGD at lr 1 amplifies float rounding, by
        # ~100x a pass early in training, PyTorch against itself with 1e-7 noise alike.)
        ppl_ours = math.exp(lm.token_losses(valid_lines).mean())
        ppl_theirs = math.exp(twin_token_losses(twin, lm.preprocessor.stream(valid_lines)).mean())
        twin.train()
        same_training = not lm.backbone.dropout and not lm.backbone.embedding_dropout
        checks.append(
            f"training check: validation perplexity after one pass each: keras {ppl_ours:.3f}, the twin trained "
            f"by PyTorch {ppl_theirs:.3f}" + (f" (relative difference {abs(ppl_ours - ppl_theirs) / ppl_ours:.1e})"
                                              if same_training else " (different dropout masks)")
        )
        print(checks[-1], flush=True)
        times = interleaved({"rnnzoo": keras_pass, "pytorch": torch_pass}, args.repeats, "training")
        rows.append(("training tokens/s", rates(timed_tokens, times["rnnzoo"]), rates(timed_tokens, times["pytorch"])))
        notes.append(
            f"Training: {len(batches)} batches of {args.batch_size} x {args.bptt} per pass ({timed_tokens} tokens "
            f"timed, the first batch left out), SGD lr {args.lr}, global norm clip {args.clip}. "
            f"`lm.fit` spends {statistics.median(fit_overheads):.2f} s (median) per call before its second batch "
            f"(tracing its train step, rebuilt on every call, and the first batch)."
        )
        if args.preset:  # generation on the shipped weights
            lm.set_weights(snapshot)
            checks.append(check_perplexity(lm, torch_twin(lm), valid_lines, args.tolerance, "restored preset"))
        else:  # generation on the trained weights (fewer near-ties than random ones)
            checks.append(check_perplexity(lm, torch_twin(lm), valid_lines, args.tolerance, "after training"))

    # ------------------------------------------------------------ generation
    suppress_endings(lm)
    twin = torch_twin(lm)
    torch_generate = twin_generator(twin, lm)
    k, n = args.prompt_words, args.gen_batch
    prompts = [" ".join(line.split()[:k]) for line in valid_all if len(line.split()) >= k][: n + args.gen_single]
    batch_prompts, single_prompts = prompts[:n], prompts[n : n + args.gen_single]
    length = args.gen_length

    def ours_single():
        return [lm.generate(p, max_length=length, sampler="greedy") for p in single_prompts]

    def ours_batch():
        return lm.generate(batch_prompts, max_length=length, sampler="greedy", batch_size=n)

    def theirs_single():
        return [torch_generate([p], length)[0] for p in single_prompts]

    def theirs_batch():
        return torch_generate(batch_prompts, length)

    start = time.perf_counter()
    for _ in range(2):  # compiles (one trace per batch size, then one for any batch size)
        ours_single(), ours_batch()
    notes.append(f"Generation: warm-up of `lm.generate` (compiling) {time.perf_counter() - start:.1f} s.")
    level = lm.preprocessor.level
    for name, ours_fn, theirs_fn in (("batch 1", ours_single, theirs_single), (f"batch {n}", ours_batch, theirs_batch)):
        ours_out, theirs_out = ours_fn(), theirs_fn()
        same, total = agreement(ours_out, theirs_out, level)
        expected = len(ours_out) * length
        checks.append(f"greedy agreement keras vs torch twin ({name}): {100 * same:.2f}% of {total} tokens")
        print(checks[-1], flush=True)
        if total != expected:
            raise SystemExit(f"{name}: {total} tokens generated, {expected} expected (a row ended early)")
        times = interleaved({"rnnzoo": lambda f=ours_fn: timed(f), "pytorch": lambda f=theirs_fn: timed(f)},
                            args.repeats, f"generation {name}")
        rows.append((f"generation tokens/s, {name}", rates(expected, times["rnnzoo"]),
                     rates(expected, times["pytorch"])))

    # ------------------------------------------------------------ report
    lines = [
        f"Model: {describe(lm)} ({'preset ' + args.preset if args.preset else 'built untrained'}); PyTorch twin "
        f"with the Keras weights copied. keras {keras.__version__} (backend {keras.backend.backend()}), "
        f"TensorFlow {tf.__version__}, torch {torch.__version__}; CPU ({os.cpu_count()} cores, "
        f"{platform.machine()}), {args.threads} threads, load average {os.getloadavg()[0]:.1f} at the end. "
        f"Medians of {args.repeats} interleaved repeats after a warm-up.",
        "",
        "| measure | rnnzoo (wall) | pytorch (wall) | ratio (wall) | rnnzoo per CPU-s | pytorch per CPU-s | "
        "ratio (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ours_rate, theirs_rate in rows:
        lines.append(f"| {name} | {ours_rate[0]:.0f} | {theirs_rate[0]:.0f} | {ours_rate[0] / theirs_rate[0]:.2f}x | "
                     f"{ours_rate[1]:.0f} | {theirs_rate[1]:.0f} | {ours_rate[1] / theirs_rate[1]:.2f}x |")
    lines.append("")
    for name, ours_rate, theirs_rate in rows:
        lines.append(f"ratio rnnzoo/pytorch, {name}: {ours_rate[0] / theirs_rate[0]:.2f}x wall, "
                     f"{ours_rate[1] / theirs_rate[1]:.2f}x per CPU-s (goal >= 1.0x on CPU)")
    lines += ["", *checks, "", *notes,
              f"Generated {length} tokens per prompt ({k}-word PTB validation prompts; batch 1: "
              f"{len(single_prompts)} calls per repeat); <eos> and padding logits biased by {SUPPRESS:g} on both "
              "sides so that no row ends early."]
    text = "\n".join(lines)
    print("\n" + text)
    if args.append:
        command = "python benchmarks/bench_lm.py " + " ".join(argv if argv is not None else sys.argv[1:])
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(args.append, "a", encoding="utf-8") as f:
            f.write(f"\n## Language model vs PyTorch (bench_lm.py), {stamp}\n\nCommand: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
