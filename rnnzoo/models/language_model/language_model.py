"""`LanguageModel`: perplexity, next-token probabilities and generation from raw text (many-to-many)."""

import contextlib
import math

import keras
import numpy as np
from keras import ops

from rnnzoo.models.compiled import length_sorted_batches
from rnnzoo.models.language_model.backbone import LanguageModelBackbone
from rnnzoo.models.language_model.text import top_tokens
from rnnzoo.models.task import InputError, Task, check_batch_size, check_positive_int
from rnnzoo.models.task import check_texts as task_check_texts

#: Time steps per compiled call when a text is scored with carried state (any length works; this bounds memory).
SCORE_CHUNK = 256


def check_texts(texts, what="text"):
    """A list of `str` from a str or a list of str, or an `InputError` naming the first bad item."""
    return task_check_texts(texts, what, f"a language model reads str {what}s.")


@keras.saving.register_keras_serializable(package="rnnzoo")
class LanguageModel(Task):
    """A recurrent language model: every step predicts the next token (word or character).

    The graph is the backbone's features projected onto the vocabulary (by
    the tied embedding when `tie_weights`, else a Dense layer). Training
    reads contiguous text in `(batch, sequence_length)` windows with the
    hidden state carried from one window to the next (truncated BPTT): `fit`
    on raw text (a list of lines, or one long str) does that by itself.

    Args:
        backbone: a `LanguageModelBackbone`.
        preprocessor: a `LanguageModelPreprocessor` (vocabulary, word or char level).
        sequence_length: BPTT window of training batches (time steps).

    Call arguments:
        token_ids: `(batch, time)` int32.

    Returns:
        Logits `(batch, time, vocabulary_size)`.

    Example:
    >>> lm = rnnzoo.load("vanilla_rnn_ptb")                                  # doctest: +SKIP
    >>> lm.perplexity(["the company said it expects to report a loss"])     # doctest: +SKIP
    >>> lm.predict_next("the stock market", top_k=3)                         # doctest: +SKIP
    >>> lm.generate(["the company said"], max_length=20, sampler="top_k", k=10, seed=1)  # doctest: +SKIP
    """

    default_batch_size = 20

    def __init__(self, backbone, preprocessor, sequence_length=35, **kwargs):
        inputs = backbone.input
        features = backbone(inputs)
        if backbone.tie_weights:
            logits = backbone.token_embedding(features, reverse=True)
        else:
            logits = keras.layers.Dense(backbone.vocabulary_size, name="logits")(features)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._keep_arguments(backbone, preprocessor, sequence_length=sequence_length)

    # ------------------------------------------------------------------ graph
    def project(self, features):
        """Features -> logits over the vocabulary."""
        if self.backbone.tie_weights:
            return self.backbone.token_embedding(features, reverse=True)
        return self.get_layer("logits")(features)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean cross-entropy (nats) per real target token (target 0 = padding does not count)."""
        losses = keras.losses.sparse_categorical_crossentropy(y, ops.cast(y_pred, "float32"), from_logits=True)
        real = ops.cast(ops.not_equal(y, 0), "float32")
        loss = ops.sum(losses * real) / ops.maximum(ops.sum(real), 1.0)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def _token_log_probs(self, inputs, targets, states):
        """`(log P(target) (batch, time), final states)` from given states (inference)."""
        features, states = self.backbone.run(inputs, states, mask=None)
        log_probs = ops.log_softmax(ops.cast(self.project(features), "float32"), axis=-1)
        picked = ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(targets, "int32"), -1), axis=-1)[..., 0]
        return picked, states

    def _compiled(self, name, fn, signature=None):
        """`fn` traced once on TensorFlow (hidden from Keras' tracking); as it is on other backends."""
        cache = self.__dict__.setdefault("__compiled", {})
        if name not in cache:
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                fn = tf.function(fn, input_signature=signature, reduce_retracing=True)
            cache[name] = fn
        return cache[name]

    def _state_signature(self):
        import tensorflow as tf

        units = self.backbone.units
        per_layer = 2 if self.backbone.cell == "lstm" else 1
        return [[tf.TensorSpec([None, units], tf.float32)] * per_layer for _ in range(self.backbone.num_layers)]

    def _log_probs_fn(self):
        signature = None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            ids = tf.TensorSpec([None, None], tf.int32)
            signature = [ids, ids, self._state_signature()]
        return self._compiled("log_probs", self._token_log_probs, signature)

    # ------------------------------------------------------------- data
    accepted_inputs = "a str, a list of str (texts or lines), or vectorized (inputs, targets) token ids"

    def _is_raw(self, x):
        if isinstance(x, (list, tuple)):
            return True
        return super()._is_raw(x)

    def make_dataset(self, x, y=None, batch_size=None, training=False, sequence_length=None):
        """Raw text -> `(inputs, targets)` batches `(batch_size, sequence_length)` over one contiguous stream.

        The texts (lines) are read as one stream (word level: each ends with
        `<eos>`), cut into `batch_size` contiguous rows, and each batch holds
        the next `sequence_length` steps of every row, in order: row `r` of
        batch `i + 1` continues row `r` of batch `i`, so a model that carries
        its state across batches (as `fit` does) reads the rows as unbroken
        text. The last incomplete window is dropped. Batches are never
        shuffled (that would break the carried state).

        Args:
            x: a str (one text) or a list of str (lines).
            y: must be None (the targets are the next tokens).
            batch_size: rows (default 20).
            training: unused (training and evaluation read the same windows).
            sequence_length: time steps per batch (default: the model's `sequence_length`).
        """
        import tensorflow as tf

        if y is not None:
            raise InputError("a language model's targets are the next tokens of the text: pass y=None.")
        batch_size = self._batch_size(batch_size)
        sequence_length = self.sequence_length if sequence_length is None else check_positive_int(
            sequence_length, "sequence_length", "time steps per batch")
        inputs, targets = stream_windows(self.preprocessor.stream(check_texts(x)), batch_size, sequence_length)
        if not len(inputs):
            raise InputError(
                f"the text is too short for one batch of {batch_size} rows x {sequence_length} steps "
                f"({batch_size * sequence_length + 1} tokens needed); use a smaller batch_size or sequence_length."
            )
        return tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------- carried state (truncated BPTT)
    @contextlib.contextmanager
    def carried_state(self, batch_size):
        """Within this context the recurrent layers carry their state from one batch to the next.

        Keras' own mechanism (`stateful=True`): each layer keeps its final
        state in a variable of `batch_size` rows and starts the next batch
        from it; `reset_state()` zeroes them. The state variables exist only
        inside the context (they are not weights: saving is unaffected), and
        the compiled train/test functions are rebuilt on entry and exit. On
        JAX they are tracked as the model's non-trainable variables for the
        session (the jitted step returns their new values); a checkpoint saved
        from inside `fit` on JAX holds them too.
        """
        layers = self.backbone.recurrent_layers
        # JAX's jitted steps are stateless: only the model's own (tracked) variables are threaded through
        # them, so there the state variables are tracked as non-trainable variables for the session.
        track = keras.backend.backend() == "jax"
        for layer in layers:
            layer.stateful = True
            layer._create_state_variables(batch_size)  # untracked: not saved with the weights
            layer._expected_batch_size = batch_size
            if track:
                for variable in layer.states:
                    layer._tracker.unlock()
                    layer._track_variable(variable)
                    layer._tracker.lock()
        self._forget_compiled()
        try:
            yield
        finally:
            for layer in layers:
                if track:
                    for variable in layer.states:
                        layer._untrack_variable(variable)
                layer.stateful = False
                layer.states = None
                layer._expected_batch_size = None
            self._forget_compiled()

    def reset_state(self):
        """Zero the carried state (inside `carried_state`)."""
        for layer in self.backbone.recurrent_layers:
            if layer.stateful and layer.states is not None:
                layer.reset_state()

    def _forget_compiled(self):
        self.train_function = self.test_function = self.predict_function = None

    def training_session(self, dataset):
        """The context `fit` (and rnnzoo's custom loop) trains in: carried state when batches have a fixed size.

        Yields the callbacks to add (one that zeroes the state at each epoch start).
        """
        return _session(self, dataset)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, callbacks=None, **kwargs):
        """`keras.Model.fit`; raw text trains with truncated BPTT (state carried across batches; see `make_dataset`)."""
        self._check_fit_inputs(x, batch_size, "fit")
        if validation_data is not None and self._is_raw(validation_data):
            validation_data = self.make_dataset(validation_data, batch_size=batch_size)
        if self._is_raw(x):
            x = self.make_dataset(x, y, batch_size=batch_size, training=True)
            y = batch_size = None
        with self.training_session(x) as extra:
            return super().fit(
                x, y, batch_size=batch_size, validation_data=validation_data,
                callbacks=list(callbacks or []) + extra, **kwargs,
            )

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate` (the loss is nats per token); raw text is read with carried state."""
        if kwargs.get("_use_cached_eval_dataset"):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        self._check_fit_inputs(x, batch_size, "evaluate")
        if self._is_raw(x):
            x = self.make_dataset(x, y, batch_size=batch_size)
            y = batch_size = None
        with self.training_session(x):
            self.reset_state()
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    # ------------------------------------------------------------- scoring
    def token_losses(self, texts, batch_size=1, chunk_length=None):
        """Per-token losses (nats) of `texts` read as one stream, with the state carried throughout.

        The stream is cut into `batch_size` contiguous rows (1: the exact
        reading of the whole text), each read `chunk_length` steps at a time
        with the state carried from chunk to chunk, so the result does not
        depend on `chunk_length`. With several rows, each row starts from a
        zero state, and the tokens left over after `batch_size` equal rows
        are read as one more row.

        Returns:
            float64 NumPy `(tokens,)`: -log P(token | everything before it), in text order.
        """
        stream = self.preprocessor.stream(check_texts(texts))
        batch_size = check_batch_size(batch_size, 1)
        chunk_length = SCORE_CHUNK if chunk_length is None else check_positive_int(
            chunk_length, "chunk_length", "time steps per call")
        count = len(stream) - 1
        rows = max(1, min(batch_size, count))
        width = count // rows
        losses = []
        if width:
            losses.append(self._row_losses(stream[: rows * width + 1], rows, width, chunk_length).reshape(-1))
        done = rows * width
        if done < count:
            losses.append(self._row_losses(stream[done:], 1, count - done, chunk_length).reshape(-1))
        return np.concatenate(losses) if losses else np.zeros(0)

    def _row_losses(self, stream, rows, width, chunk_length):
        inputs = stream[:-1][: rows * width].reshape(rows, width)
        targets = stream[1:][: rows * width].reshape(rows, width)
        states = self.backbone.initial_states(rows)
        fn = self._log_probs_fn()
        out = np.zeros((rows, width))
        for start in range(0, width, chunk_length):
            end = min(width, start + chunk_length)
            log_probs, states = fn(inputs[:, start:end], targets[:, start:end], states)
            out[:, start:end] = -ops.convert_to_numpy(log_probs)
        return out

    def score(self, x, y=None, batch_size=1):
        """Perplexity of texts read as one contiguous stream (the corpus-level, per-token definition).

        Every token counts, `<eos>` included at word level; the state is
        carried across texts (see `token_losses`).

        Returns:
            `{"perplexity", "loss" (nats per token), "bits_per_token", "tokens"}`.
        """
        if y is not None:
            raise InputError("a language model is scored on texts alone: pass y=None.")
        from rnnzoo.metrics import perplexity

        losses = self.token_losses(x, batch_size=batch_size)
        if not len(losses):
            raise InputError("no token to score: the texts are empty.")
        mean = float(np.mean(losses))
        return {
            "perplexity": round(perplexity(float(np.sum(losses)), len(losses)), 2),
            "loss": round(mean, 4),
            "bits_per_token": round(mean / math.log(2), 4),
            "tokens": int(len(losses)),
        }

    def perplexity(self, texts, batch_size=None):
        """Perplexity of each text on its own (read from a fresh state after the boundary token), and of all.

        Args:
            texts: a str or a list of str.

        Returns:
            `{"per_text": [perplexity or None per text], "perplexity": corpus-level over all their tokens,
            "tokens": count}`; a text with no token to predict (an empty text at character level) gets None.
        """
        texts = check_texts(texts)
        batch_size = self._batch_size(batch_size)
        p = self.preprocessor
        rows = [np.concatenate([[p.boundary_id], ids]).astype("int32") for ids in p.ids(texts)]
        totals = np.zeros(len(rows))
        fn = self._log_probs_fn()
        for chosen in length_sorted_batches([len(r) for r in rows], batch_size):
            batch = _pad_rows([rows[i] for i in chosen])
            if batch.shape[1] < 2:
                continue
            log_probs, _ = fn(batch[:, :-1], batch[:, 1:], self.backbone.initial_states(len(chosen)))
            real = batch[:, 1:] != 0
            totals[chosen] = -(ops.convert_to_numpy(log_probs) * real).sum(axis=1)
        from rnnzoo.metrics import perplexity

        counts = np.array([len(r) - 1 for r in rows])
        per_text = [round(perplexity(t, int(n)), 2) if n else None for t, n in zip(totals, counts)]
        total = int(counts.sum())
        return {
            "per_text": per_text,
            "perplexity": round(perplexity(float(totals.sum()), total), 2) if total else None,
            "tokens": total,
        }

    # ------------------------------------------------------------- prompts
    def _prompt_ids(self, prompts):
        """Prompts -> `(ids (batch, time) int32, lengths (batch,))`: the boundary token, then the prompt's tokens."""
        p = self.preprocessor
        rows = []
        for ids in p.ids(prompts):
            if p.end_id is not None and len(ids) and ids[-1] == p.end_id:
                ids = ids[:-1]  # a prompt is an unfinished text
            rows.append(np.concatenate([[p.boundary_id], ids]).astype("int32"))
        return _pad_rows(rows), np.array([len(r) for r in rows], "int32")

    def _prompt_state(self, ids, lengths):
        """States after every prompt token but the last, and the last token (the first one generation reads)."""
        positions = ops.arange(ops.shape(ids)[1], dtype="int32")[None, :]
        lengths = ops.cast(lengths, "int32")
        mask = positions < (lengths[:, None] - 1)
        _, states = self.backbone.run(ids, self.backbone.initial_states(ops.shape(ids)[0]), mask=mask)
        last = ops.take_along_axis(ids, ops.expand_dims(lengths - 1, -1), axis=1)[:, 0]
        return states, last

    def _next_probabilities(self, ids, lengths):
        states, last = self._prompt_state(ids, lengths)
        features, _ = self.backbone.step(last, states)
        return ops.softmax(ops.cast(self.project(features), "float32"), axis=-1)

    def predict_next(self, prompts, top_k=5):
        """The `top_k` most probable next tokens after each prompt.

        Args:
            prompts: a str or a list of str (an empty prompt: the start of a text).
            top_k: how many tokens to return.

        Returns:
            `[(token, probability), ...]` most probable first; a list of those for a list of prompts.
        """
        single = isinstance(prompts, (str, bytes))
        prompts = check_texts(prompts, "prompt")
        top_k = check_positive_int(top_k, "top_k", "tokens returned")
        if not prompts:
            return []
        ids, lengths = self._prompt_ids(prompts)
        probabilities = ops.convert_to_numpy(self._compiled("next", self._next_probabilities)(ids, lengths))
        results = top_tokens(probabilities, self.preprocessor.tokens, top_k)
        return results[0] if single else results

    def _generate_ids(self, ids, lengths, max_length, sampler):
        from rnnzoo.generation import generate

        states, last = self._prompt_state(ids, lengths)

        vocabulary = self.preprocessor.vocabulary_size
        # Padding (id 0) is never a token: it never wins a greedy/beam step nor gets sampled.
        padding = ops.convert_to_tensor(np.where(np.arange(vocabulary) == 0, -1e9, 0.0).astype("float32"))

        def step(token_ids, state):
            features, state = self.backbone.step(token_ids, state)
            return ops.cast(self.project(features), "float32") + padding, state

        p = self.preprocessor
        return generate(step, states, last, max_length, sampler=sampler, end_id=p.end_id, pad_id=0)

    def generate(self, prompts, max_length=30, sampler="top_k", batch_size=None, return_scores=False, **sampler_kwargs):
        """Continue each prompt by up to `max_length` tokens.

        Args:
            prompts: a str or a list of str; an empty prompt generates from the start of a text.
            max_length: tokens generated per prompt (word level stops early at `<eos>`).
            sampler: `"greedy"`, `"beam"`, `"random"`, `"top_k"` or `"top_p"`, or an
                `rnnzoo.generation.Sampler`.
            batch_size: prompts per compiled call (default 20).
            return_scores: also return each continuation's log-probability under the model.
            **sampler_kwargs: `k=`, `p=`, `temperature=`, `seed=` (random samplers),
                `num_beams=`, `alpha=` (beam).

        Returns:
            The continuations (str; words joined by spaces at word level), one per
            prompt (a str for a str prompt); with `return_scores`, `(text, log_prob)` pairs.

        Example:
        >>> lm.generate(["the company said"], max_length=10, sampler="top_k", k=10, seed=1)  # doctest: +SKIP
        """
        from rnnzoo.generation import get_sampler

        single = isinstance(prompts, (str, bytes))
        prompts = check_texts(prompts, "prompt")
        max_length = check_positive_int(max_length, "max_length", "tokens generated per prompt")
        batch_size = self._batch_size(batch_size)
        sampler = get_sampler(sampler, **sampler_kwargs)  # checks k, p, temperature, num_beams
        fn = self._compiled(f"generate:{max_length}:{sampler!r}",
                            lambda ids, lengths: self._generate_ids(ids, lengths, max_length, sampler))
        texts, scores = [], []
        for start in range(0, len(prompts), batch_size):
            ids, lengths = self._prompt_ids(prompts[start : start + batch_size])
            out = fn(ids, lengths)
            texts += self.preprocessor.detokenize(ops.convert_to_numpy(out["ids"]))
            scores += [round(float(s), 4) for s in ops.convert_to_numpy(out["scores"])]
        results = list(zip(texts, scores)) if return_scores else texts
        return results[0] if single else results

    def predict(self, x, batch_size=None, verbose=0, max_length=30, sampler="top_k", **kwargs):
        """Continuations of raw prompts (`generate`); vectorized token ids go to `keras.Model.predict` (logits)."""
        self._check_input(x)
        if not self._is_raw(x) and not isinstance(x, (str, bytes)):
            return super().predict(x, batch_size=self._batch_size(batch_size), verbose=verbose, **kwargs)
        return self.generate(x, max_length=max_length, sampler=sampler, batch_size=batch_size, **kwargs)

    # ------------------------------------------------------------- export
    serving_inputs = {"prompt": ("string", "[batch]", "raw prompts (UTF-8); an empty prompt generates from the start of a text")}
    serving_outputs = {
        "continuation": ("string", "[batch]", "the generated text (`generate`'s result): words joined by spaces at "
                         "word level, characters at character level; stops before the end token"),
        "log_prob": ("float64", "[batch]", "the continuation's log-probability under the model (natural log, end "
                     "token included), rounded to 4 decimals as `generate(..., return_scores=True)` gives it"),
        "tokens": ("int32", "[batch, max_length]", "the generated token ids (id i: line i of `vocabularies/tokens.txt`, from 0), "
                   "end token included, then padding"),
        "lengths": ("int32", "[batch]", "generated tokens per prompt, up to and including the end token"),
    }

    serving_example = "the king said"
    serving_note = (
        "The decoding is fixed when exporting: greedy, 30 tokens, unless `model.export(DIR, max_length=..., "
        "sampler=..., ...)` says otherwise (`rnnzoo export` uses the defaults); `continuation` and `log_prob` are "
        "then what `generate(prompts, max_length, sampler, return_scores=True)` returns."
    )

    def export(self, directory, format="saved_model", version=None, overwrite=False, verbose=True, quantize=None,
               max_length=30, sampler="greedy", **sampler_kwargs):
        """Write the model for serving in `directory/<version>/` (see `Task.export`).

        The SavedModel's `serving_default` continues raw prompts inside the
        graph: tokenization, the prompt's state, the decoding loop and
        detokenization.

        Args:
            max_length, sampler, **sampler_kwargs: the decoding the signature runs
                (fixed at export; default greedy, 30 tokens): the served
                `continuation` is `generate(prompts, max_length, sampler, ...)`.
        """
        from rnnzoo.generation import get_sampler

        check_positive_int(max_length, "max_length", "tokens generated per prompt")
        self.__dict__["__serving"] = (max_length, get_sampler(sampler, **sampler_kwargs))
        return super().export(directory, format=format, version=version, overwrite=overwrite, verbose=verbose,
                              quantize=quantize)

    def serving_signature(self):
        """`serving_default(prompt: tf.string [batch])` -> `continuation`, `log_prob`, `tokens`, `lengths`.

        What `generate(prompts, return_scores=True)` returns with the decoding
        fixed at export (see `export`), plus the generated ids; names, dtypes
        and shapes in `serving_outputs`. Tokenization, the prompt's state, the
        decoding loop (`rnnzoo.generation`) and detokenization all run in the
        graph.
        """
        import tensorflow as tf

        from rnnzoo.export import tf_at_least_one_row, tf_round

        max_length, sampler = self.__dict__.get("__serving", (30, "greedy"))
        p = self.preprocessor

        def serve(prompt):
            prompt, rows = tf_at_least_one_row(prompt)  # an empty batch runs one "" and returns no row
            tokens = tf.cast(p._lookup(p.tokenize(prompt)), tf.int32)
            start = tf.fill([tokens.nrows(), 1], tf.constant(p.boundary_id, tf.int32))
            ragged = tf.concat([tf.RaggedTensor.from_tensor(start), tokens], axis=1)
            ids, lengths = ragged.to_tensor(), tf.cast(ragged.row_lengths(), tf.int32)
            out = self._generate_ids(ids, lengths, max_length, sampler)
            return {
                "continuation": p.tf_detokenize(out["ids"])[:rows],
                "log_prob": tf_round(out["scores"])[:rows],
                "tokens": out["ids"][:rows],
                "lengths": tf.cast(out["lengths"], tf.int32)[:rows],
            }

        return serve, [tf.TensorSpec([None], tf.string, name="prompt")], [p, p._lookup]


@contextlib.contextmanager
def _session(model, dataset):
    batch = _static_batch(dataset)
    if batch is None:
        yield []
        return
    with model.carried_state(batch):
        yield [_ResetStateEachEpoch(model)]


def _static_batch(dataset):
    spec = getattr(dataset, "element_spec", None)
    if spec is None:
        return None
    first = spec[0] if isinstance(spec, tuple) else spec
    shape = getattr(first, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] is None:
        return None
    return int(shape[0])


class _ResetStateEachEpoch(keras.callbacks.Callback):
    """Zero the carried state when an epoch or a validation pass starts (each reads its stream from the start)."""

    def __init__(self, model):
        super().__init__()
        self._lm = model

    def on_epoch_begin(self, epoch, logs=None):
        self._lm.reset_state()

    def on_test_begin(self, logs=None):
        self._lm.reset_state()


def _pad_rows(rows):
    """Id rows -> one right-padded int32 `(rows, longest)` array (0 = padding)."""
    return keras.utils.pad_sequences(rows, padding="post", dtype="int32")


def stream_windows(stream, batch_size, sequence_length):
    """A token stream -> `(inputs, targets)` int32 `(batches, batch_size, sequence_length)` (see `make_dataset`).

    Example:
    >>> inputs, targets = stream_windows(np.arange(11), batch_size=2, sequence_length=2)
    >>> inputs.tolist(), targets[0].tolist()
    ([[[0, 1], [5, 6]], [[2, 3], [7, 8]]], [[1, 2], [6, 7]])
    """
    stream = np.asarray(stream, "int32")
    width = (len(stream) - 1) // batch_size
    batches = width // sequence_length
    keep = batches * sequence_length
    rows_in = stream[: batch_size * width].reshape(batch_size, width)[:, :keep]
    rows_out = stream[1 : batch_size * width + 1].reshape(batch_size, width)[:, :keep]

    def windows(rows):
        return rows.reshape(batch_size, batches, sequence_length).transpose(1, 0, 2).copy()

    return windows(rows_in), windows(rows_out)


def build_language_model(vocabulary, architecture, level="word", lowercase=False, sequence_length=35):
    """An untrained `LanguageModel` from a vocabulary and an architecture config.

    Args:
        vocabulary: tokens, most frequent first (see `LanguageModelPreprocessor`).
        architecture: a `LanguageModelArchitecture` (or anything with its fields).
        level: `"word"` or `"char"`; lowercase: lower-case text first.
        sequence_length: the BPTT window.

    Example:
    >>> from rnnzoo.models.language_model.family import LanguageModelArchitecture
    >>> a = LanguageModelArchitecture(cell="gru", units=8, embedding_dim=8, layers=1)
    >>> lm = build_language_model(["the", "cat", "sat"], a)
    >>> lm.perplexity(["the cat"])["tokens"]
    3
    """
    from rnnzoo.models.language_model.preprocessor import LanguageModelPreprocessor

    a = architecture
    preprocessor = LanguageModelPreprocessor(vocabulary, level=level, lowercase=lowercase)
    backbone = LanguageModelBackbone(
        vocabulary_size=preprocessor.vocabulary_size,
        cell=a.cell,
        units=a.units,
        num_layers=a.layers,
        embedding_dim=a.embedding_dim,
        dropout=a.dropout,
        variational_dropout=a.variational_dropout,
        embedding_dropout=a.embedding_dropout,
        recurrent_dropout=a.recurrent_dropout,
        activation=a.activation,
        tie_weights=a.tie_weights,
        name="language_model_backbone",
    )
    return LanguageModel(backbone, preprocessor, sequence_length=sequence_length, name="language_model")
