"""`BidirectionalTagger`: raw sentences in, tokens + BIO tags + entity spans out."""

import os

import keras
import numpy as np
from keras import layers, ops

from rnnzoo.layers import CRF, crf_decode_numpy, encoder_arguments
from rnnzoo.models.compiled import CompiledCall, length_sorted_batches
from rnnzoo.models.tagger.backbone import TaggerBackbone
from rnnzoo.models.tagger.spans import (
    TAG_SCHEMES,
    bio_to_iobes,
    bio_to_spans,
    iobes_labels,
    iobes_tag_to_bio,
    tf_bio_to_iobes,
)
from rnnzoo.models.task import (
    InputError,
    Task,
    as_text,
    check_batch_size,
    check_positive_int,
    warn_near_prior,
    warn_truncated,
)
from rnnzoo.text.tokenize import tokenize

#: On TensorFlow, `predict` runs batches of at most this many sentences (and `XLA_MAX_TIME` tokens)
#: through XLA, padded to `rnnzoo.models.compiled.padded_shape` (one compiled program per shape).
XLA_MAX_BATCH = 8
XLA_MAX_TIME = 128
#: `predict` tags sentences longer than this many tokens in windows of at most this many (see `predict`).
MAX_LENGTH = 256
#: Tokens after which a window preferably ends (the last one in its second half).
_SENTENCE_ENDS = frozenset({".", "!", "?", ";"})


@keras.saving.register_keras_serializable(package="rnnzoo")
class BidirectionalTagger(Task):
    """A sequence tagger (NER): backbone -> dropout -> per-token scores -> CRF or softmax.

    Args:
        backbone: a `TaggerBackbone`.
        preprocessor: a `TaggerPreprocessor` (its tag list fixes the head size).
        head: `"crf"` (default; Viterbi decoding, CRF log-likelihood loss) or
            `"softmax"` (independent per-token cross-entropy).
        dropout: dropout before the head.
        tag_scheme: `"bio"` (default) or `"iobes"`: the scheme the head predicts.
            With `"iobes"` the head learns single-token (`S-`) and last-token
            (`E-`) tags too (Lample et al. 2016); data in and tags out stay BIO
            (`fit` converts, `predict`/`export` map `S-`/`E-` back to `B-`/`I-`).

    Call arguments:
        inputs: the backbone's dict of `token_ids` / `char_ids`.

    Returns:
        Emission scores `(batch, time, num_tags)`.

    `fit`/`evaluate` also take raw data: a CoNLL file path, `(token_lists,
    tag_lists)`, or a `tf.data.Dataset` of `(tokens, tags)` string pairs.
    `predict` takes raw sentences (str) or token lists and returns readable
    results.

    Example:
    >>> import rnnzoo
    >>> tagger = rnnzoo.load("bilstm_ner")               # doctest: +SKIP
    >>> tagger.predict(["Pankaj lives in Munich"])[0]["entities"]  # doctest: +SKIP
    [{'text': 'Pankaj', 'type': 'PER', 'start': 0, 'end': 6, 'score': 0.99}, ...]
    """

    def __init__(self, backbone, preprocessor=None, head="crf", dropout=0.5, labels=None, tag_scheme="bio", **kwargs):
        if head not in ("crf", "softmax"):
            raise ValueError(f"head must be 'crf' or 'softmax', got {head!r}.")
        if tag_scheme not in TAG_SCHEMES:
            raise ValueError(f"tag_scheme must be one of {', '.join(TAG_SCHEMES)}, got {tag_scheme!r}.")
        if preprocessor is None and not labels:
            raise ValueError("give a preprocessor, or `labels` to train on already vectorized arrays.")
        labels = list(preprocessor.labels if preprocessor is not None else labels)
        num_tags = len(labels)
        inputs = backbone.input
        x = backbone(inputs)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        emissions = layers.Dense(num_tags, name="emissions")(x)
        if head == "crf":
            emissions = CRF(num_tags, name="crf")(emissions)
        super().__init__(inputs=inputs, outputs=emissions, **kwargs)
        self._keep_arguments(backbone, preprocessor, head=head, dropout=dropout, tag_scheme=tag_scheme)
        self._labels = labels

    # ------------------------------------------------------------------ graph
    @property
    def labels(self):
        """The BIO tag set: the tags `fit` takes and `predict` returns (`with_labels(tagger.labels + [...])`).

        With `tag_scheme="iobes"` the head predicts more tags internally (see
        `model_tags`); they are never shown to users.
        """
        if self.tag_scheme == "bio":
            return list(self._labels)
        return list(dict.fromkeys(self.output_tags))

    @property
    def model_tags(self):
        """The tags the head predicts, in the model's `tag_scheme` (BIO or IOBES), by head id.

        What the label vocabulary (`vocabularies()["labels"]`, `labels.txt`) stores.
        """
        return list(self._labels)

    @property
    def output_tags(self):
        """The BIO tag each head id (`model_tags` index) is reported as by `predict` and `export`."""
        if self.tag_scheme == "iobes":
            return [iobes_tag_to_bio(t) for t in self._labels]
        return list(self._labels)

    def _to_model_scheme(self, tag_lists):
        """Users' BIO tag lists -> the head's scheme."""
        if self.tag_scheme == "iobes":
            return [bio_to_iobes(tags) for tags in tag_lists]
        return tag_lists

    def _require_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                "this tagger has no preprocessor (it was built from `labels` for vectorized arrays); "
                "pass dicts of `token_ids`/`char_ids` arrays, or build it with a TaggerPreprocessor."
            )

    def _mask(self, x):
        return ops.not_equal(x["token_ids"], 0)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mask = self._mask(x)
        if self.head == "crf":
            log_likelihood = self.get_layer("crf").log_likelihood(y_pred, y, mask)
            # Mean over sentences; all-padding rows (a padded batch's filler) score 0 and do not count.
            sentences = ops.cast(ops.any(mask, axis=1), "float32")
            loss = -ops.sum(log_likelihood) / ops.maximum(ops.sum(sentences), 1.0)
        else:
            maskf = ops.cast(mask, "float32")
            per_token = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
            loss = ops.sum(per_token * maskf) / ops.maximum(ops.sum(maskf), 1.0)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def decode(self, x, emissions):
        """Best tags `(batch, time)` and each chosen tag's softmax probability."""
        mask = self._mask(x)
        if self.head == "crf":
            tags, _ = self.get_layer("crf").decode(emissions, mask)
        else:
            tags = ops.cast(ops.argmax(emissions, axis=-1), "int32")
        probabilities = ops.softmax(ops.cast(emissions, "float32"), axis=-1)
        confidence = ops.take_along_axis(probabilities, ops.expand_dims(tags, -1), axis=-1)[..., 0]
        return tags, confidence

    def get_decoder(self):
        """A `keras.Model` from the same inputs to `{"tags", "confidence"}` (shares all weights).

        Built lazily and hidden from Keras' tracking and saving walk (a `__`-prefixed
        instance entry), so saving the tagger is unchanged; running it through Keras'
        own `predict_on_batch` keeps decoding compiled on every backend.
        """
        decoder = self.__dict__.get("__decoder")
        if decoder is None:
            inputs = {k: keras.Input(shape=v.shape[1:], dtype=v.dtype, name=k) for k, v in self.input.items()}
            tags, confidence = _Decode(self)(inputs, self(inputs))
            decoder = keras.Model(inputs, {"tags": tags, "confidence": confidence}, name=f"{self.name}_decoder")
            self.__dict__["__decoder"] = decoder
        return decoder

    # ------------------------------------------------------------- raw data
    def _check_tags(self, tag_lists):
        """Users' BIO tag lists against `labels`; errors name the tags as the user wrote them."""
        known = set(self.labels)
        unknown = sorted({t for tags in tag_lists for t in tags} - known, key=str)
        if unknown:
            raise ValueError(
                f"tags {unknown} are not in this tagger's tag set {self.labels}. To fine-tune "
                "on new tags, first call `tagger = tagger.with_labels(tagger.labels + new_tags)`."
            )

    def _check_model_tags(self, tag_lists, user_tag_lists):
        """After BIO -> IOBES: a tag the head lacks (e.g. `S-X` of a stray `I-X` when `B-X` is not in the set)."""
        known = set(self._labels)
        for tags, user in zip(tag_lists, user_tag_lists):
            missing = [(u, t) for u, t in zip(user, tags) if t not in known]
            if missing:
                u, t = missing[0]
                raise ValueError(
                    f"tag {u!r} in {user} is read as {t!r} by this tagger's {self.tag_scheme.upper()} head, which "
                    f"has no such tag; add the matching B-/I- tag with `tagger.with_labels(...)`."
                )

    def _as_token_lists(self, x, y):
        """Normalise raw inputs to (token lists, tag lists or None)."""
        from rnnzoo.data.conll import read_conll

        if isinstance(x, (str, os.PathLike)):
            if y is not None:
                raise ValueError("pass either a CoNLL path alone, or token lists with tag lists.")
            return read_conll(os.fspath(x))
        x = list(x)
        sentences = [
            [t for t, _, _ in tokenize(item)] if isinstance(item, str) else [str(t) for t in item]
            for item in x
        ]
        if y is None:
            return sentences, None
        y = [list(tags) for tags in y]
        if len(y) != len(sentences):
            raise ValueError(f"got {len(sentences)} sentences but {len(y)} tag sequences.")
        for i, (tokens, tags) in enumerate(zip(sentences, y)):
            if len(tokens) != len(tags):
                raise ValueError(
                    f"sentence {i} has {len(tokens)} tokens but {len(tags)} tags; pass "
                    "pre-tokenized token lists aligned with the tags."
                )
        return sentences, y

    def examples(self, x, y=None):
        """Raw tagged data -> a dataset of `(tokens, tags)` string pairs (the head's tag scheme) and its size.

        `make_dataset` (see `Task.make_dataset`) reads: a CoNLL file path;
        token lists (with `y` tag lists); raw strings (with `y` tags aligned
        to `rnnzoo.text.tokenize`); or a `tf.data.Dataset` of `(tokens, tags)`
        1-D string tensors. Its batches are `(features, tag_ids, token_mask)`.
        """
        import tensorflow as tf

        self._require_preprocessor()
        if isinstance(x, tf.data.Dataset):
            if self.tag_scheme == "iobes":
                x = x.map(lambda tokens, tags: (tokens, tf_bio_to_iobes(tags)))
            return x, None
        sentences, tags = self._as_token_lists(x, y)
        if tags is None:
            raise ValueError("training/evaluation data needs tags (y).")
        self._check_tags(tags)
        user_tags, tags = tags, self._to_model_scheme(tags)
        if tags is not user_tags:
            self._check_model_tags(tags, user_tags)
        keep = [i for i, s in enumerate(sentences) if s]
        sentences = [sentences[i] for i in keep]
        tags = [tags[i] for i in keep]
        if not sentences:
            raise ValueError("no non-empty sentence to train or evaluate on.")
        spec = tf.TensorSpec([None], tf.string)
        dataset = tf.data.Dataset.from_generator(lambda: zip(sentences, tags), output_signature=(spec, spec))
        return dataset, len(sentences)

    # ------------------------------------------------------------- predict
    accepted_inputs = (
        "a str sentence, a list of str sentences or of token lists (lists of str), or vectorized inputs "
        "(a dict of 'char_ids'/'token_ids' arrays, or a tf.data.Dataset)"
    )

    def predict(self, x, batch_size=None, verbose=0, max_length=None, **kwargs):
        """Tag raw sentences or token lists.

        Every token gets a tag. Sentences longer than `max_length` tokens are
        tagged in windows of at most `max_length` tokens (each ending after the
        last `.`, `!`, `?` or `;` of its second half when there is one, else
        cut at `max_length`), and a warning counts them: the model was trained
        on sentences, so a whole document passed as one string reads better in
        sentence-sized pieces, and the memory of a batch stays bounded. An
        entity that straddles a window edge may be cut in two. An empty
        sentence gives an empty result (no tokens, tags or entities). A
        sentence with no known word and no known character warns that its tags
        carry no information.

        Args:
            x: a str, a list of str (tokenized CoNLL-style), or a list of token
                lists (tags aligned one-to-one with the given tokens); bytes
                are read as UTF-8. Vectorized inputs (a dict of arrays) go to
                `keras.Model.predict`. Anything else raises an `InputError` (a
                `TypeError` and `ValueError`) naming the bad item's index.
            batch_size: sentences per batch (default 32; sentences are sorted by
                length so batches pad little): a positive int.
            max_length: tokens per window (default `MAX_LENGTH` = 256, longer
                than any CoNLL-2003 sentence).

        Returns:
            One dict per input: `tokens`, `tags`, `entities` (each with `text`,
            `type`, `start`/`end` character offsets for str inputs or token
            indices `token_start`/`token_end`, and `score`).
        """
        self._check_input(x)
        batch_size = self._batch_size(batch_size)
        max_length = MAX_LENGTH if max_length is None else check_positive_int(max_length, "max_length", "tokens per window")
        if not isinstance(x, (list, tuple, bytes)) and not self._is_raw(x):
            # Vectorized inputs: Keras' predict over the decoder ({"tags", "confidence"} arrays).
            return self.get_decoder().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)
        self._require_preprocessor()
        single = isinstance(x, (str, bytes))
        items = [x] if single else list(x)
        results = [None] * len(items)
        parsed = []
        for i, item in enumerate(items):
            item = as_text(item, i)
            if isinstance(item, str):
                spans = tokenize(item)
                parsed.append((i, item, [t for t, _, _ in spans], spans))
            elif isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item):
                parsed.append((i, None, list(item), None))
            else:
                raise InputError(
                    f"item {i} is {type(item).__name__} ({item!r:.40}); predict takes str sentences or lists of "
                    "str tokens."
                )
        for p in parsed:
            if not p[2]:
                results[p[0]] = {"tokens": [], "tags": [], "entities": []}
        # Windows (item, first token, last token exclusive) of at most max_length tokens.
        windows = []
        long = 0
        for p in parsed:
            n = len(p[2])
            if n <= max_length:
                if n:
                    windows.append((p, 0, n))
                continue
            long += 1
            windows.extend((p, first, last) for first, last in _windows(p[2], max_length))
        if long:
            warn_truncated(long, len(items), max_length, f"each was tagged in windows of at most {max_length} "
                           "tokens (every token still has a tag; an entity across a window edge may be split)")
        output_tags = self.output_tags
        batches = length_sorted_batches([w[2] - w[1] for w in windows], batch_size)
        pieces = {}  # item index -> [(first, tag ids, confidence)] of a windowed item
        uninformed = 0
        if verbose and len(batches) > 1:
            from rnnzoo.utils import progress

            batches = progress(batches, desc="tagging", unit="batch")
        for chosen in batches:
            batch = [windows[i] for i in chosen]
            features = self.vectorize_tokens([w[0][2][w[1] : w[2]] for w in batch])
            no_information = _uninformed_rows(features, self.backbone.char_vocabulary_size > 0)
            tags, confidence = self._decode_on_host(features, [w[2] - w[1] for w in batch])
            for row, ((i, text, tokens, offsets), first, last) in enumerate(batch):
                n = last - first
                uninformed += bool(no_information[row]) and n == len(tokens)
                if n < len(tokens):
                    pieces.setdefault(i, []).append((first, tags[row, :n], confidence[row, :n]))
                    continue
                tag_names = [output_tags[t] for t in tags[row, :n]]
                results[i] = {
                    "tokens": tokens,
                    "tags": tag_names,
                    "entities": _entities(text, tokens, offsets, tag_names, confidence[row, :n]),
                }
        for i, text, tokens, offsets in parsed:
            if i in pieces:
                parts = sorted(pieces[i], key=lambda part: part[0])
                tag_names = [output_tags[t] for part in parts for t in part[1]]
                confidence = np.concatenate([part[2] for part in parts])
                results[i] = {
                    "tokens": tokens,
                    "tags": tag_names,
                    "entities": _entities(text, tokens, offsets, tag_names, confidence),
                }
        if uninformed:
            warn_near_prior(0, uninformed, len(items), kind="sentences", unknown_what="known word or character")
        return results[0] if single else results

    def _decode_on_host(self, features, lengths):
        """Emissions from the compiled model, then decoding in NumPy: same tags as `get_decoder()`.

        For the small batches of interactive tagging the in-graph Viterbi's two
        while loops cost more than the NumPy loop (see benchmarks/bench_ner.py).
        """
        out = self._emissions_fn()(features)
        emissions = np.asarray(out["emissions"], "float32")
        if self.head == "crf":
            tags = crf_decode_numpy(
                emissions, lengths, *(np.asarray(out[k]) for k in ("transitions", "start", "end"))
            )
        else:
            tags = emissions.argmax(axis=-1).astype("int32")
        shifted = np.exp(emissions - emissions.max(axis=-1, keepdims=True))
        chosen = np.take_along_axis(shifted, tags[..., None], axis=-1)[..., 0]
        return tags, chosen / shifted.sum(axis=-1)

    def _emissions_fn(self):
        """features -> `{"emissions"}` (+ the CRF's `transitions`, `start`, `end`): a `CompiledCall`.

        Small batches (at most `XLA_MAX_BATCH` sentences and `XLA_MAX_TIME`
        tokens) run through XLA on TensorFlow (about a third less latency for
        one sentence); `tagger.small_batch_xla = False` turns that off. The
        plain path drops the character columns that are padding in every token.
        Hidden from Keras' tracking.
        """
        fn = self.__dict__.get("__emissions_fn")
        if fn is not None:
            return fn
        crf = self.get_layer("crf") if self.head == "crf" else None
        encoder = self.backbone.get_layer("char_encoder") if self.backbone.char_vocabulary_size else None
        char_window = encoder.kernel_size // 2 if encoder is not None and encoder.encoder == "cnn" else 0

        def constants():
            if crf is None:
                return {}
            return {"transitions": crf.transitions, "start": crf.start_transitions, "end": crf.end_transitions}

        fn = CompiledCall(
            self,
            outputs=lambda emissions: {"emissions": emissions},
            constants=constants,
            plain_inputs=lambda features: _trim_chars(features, char_window),
            use_xla=lambda: self.small_batch_xla,
            xla_max_batch=XLA_MAX_BATCH,
            xla_max_time=XLA_MAX_TIME,
            time_outputs=("emissions",),
        )
        self.__dict__["__emissions_fn"] = fn
        return fn

    def id_limits(self):
        """`token_ids` and (with a character encoder) `char_ids`: see `Task.id_limits`."""
        limits = super().id_limits()
        if self.backbone.char_vocabulary_size:
            limits["char_ids"] = int(self.backbone.char_vocabulary_size)
        return limits

    def vectorize_tokens(self, token_lists):
        """Token lists -> padded feature arrays (NumPy) for the backbone."""
        self._require_preprocessor()
        return self.preprocessor.vectorize_numpy(token_lists)

    # ------------------------------------------------------------- scoring
    def score(self, x, y=None, batch_size=None):
        """Entity-level (CoNLL) precision/recall/F1 on tagged data, via seqeval.

        Args:
            x: a CoNLL path, or token lists with `y` tag lists.

        Returns:
            `{"precision", "recall", "f1", "per_type": {TYPE: {...}}, "sentences", "tokens"}`
            with scores in percent.
        """
        from rnnzoo.metrics import entity_scores

        check_batch_size(batch_size, self.default_batch_size)
        sentences, gold = self._as_token_lists(x, y)
        if gold is None:
            raise ValueError("score needs gold tags (y).")
        # verbose=1: a progress bar when stderr is a terminal (see rnnzoo.utils.progress).
        predicted = [r["tags"] for r in self.predict(sentences, batch_size=batch_size, verbose=1)]
        return entity_scores(gold, predicted)

    # ------------------------------------------------------------- new tags
    def with_labels(self, labels):
        """A tagger sharing this backbone's weights with a fresh head for `labels`.

        Head rows (emission weights and CRF transitions) of tags that exist in
        both tag sets are copied, so fine-tuning starts from what was learned.
        With `tag_scheme="iobes"`, BIO `labels` get their `S-`/`E-` tags added.

        Args:
            labels: the BIO tag set: unique str tags, `"O"` and `B-TYPE` /
                `I-TYPE` tags (e.g. `tagger.labels + ["B-HERO", "I-HERO"]`).
                Anything else raises an `InputError` (a `ValueError`).
        """
        from rnnzoo.models.tagger.preprocessor import TaggerPreprocessor
        from rnnzoo.text.vectorizers import LabelLookup

        labels = check_bio_tags(labels)
        labels = iobes_labels(labels) if self.tag_scheme == "iobes" else labels
        preprocessor = TaggerPreprocessor(
            self.preprocessor.word_lookup,
            self.preprocessor.char_lookup,
            LabelLookup(labels, name="label_lookup"),
            name=self.preprocessor.name,
        )
        new = BidirectionalTagger(
            self.backbone, preprocessor, head=self.head, dropout=self.dropout, tag_scheme=self.tag_scheme, name=self.name
        )
        old_index = {t: i for i, t in enumerate(self.model_tags)}
        pairs = [(j, old_index[t]) for j, t in enumerate(labels) if t in old_index]
        kernel, bias = [np.array(w) for w in self.get_layer("emissions").get_weights()]
        new_kernel, new_bias = [np.array(w) for w in new.get_layer("emissions").get_weights()]
        for j, i in pairs:
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
        new.get_layer("emissions").set_weights([new_kernel, new_bias])
        if self.head == "crf":
            trans, start, end = [np.array(w) for w in self.get_layer("crf").get_weights()]
            n_trans, n_start, n_end = [np.array(w) for w in new.get_layer("crf").get_weights()]
            for j, i in pairs:
                n_start[j], n_end[j] = start[i], end[i]
                for j2, i2 in pairs:
                    n_trans[j, j2] = trans[i, i2]
            new.get_layer("crf").set_weights([n_trans, n_start, n_end])
        return self._derive(new)

    def with_vocabulary(self, vectors):
        """A tagger whose word vocabulary also covers the words of `vectors`.

        New words get their given (e.g. GloVe) vectors; every existing row, and
        every other weight, is kept. Words never seen in training keep their
        pretrained vectors during training anyway, so this is equivalent to having
        built the tagger with the larger vocabulary -- useful to add domain words
        to a trained tagger without retraining.

        Args:
            vectors: dict word -> vector of the embedding size (lower-cased words).

        Returns:
            A new `BidirectionalTagger` (the preprocessor's word lookup extended).
        """
        from rnnzoo.models.tagger.preprocessor import TaggerPreprocessor
        from rnnzoo.text.vectorizers import TokenLookup

        self._require_preprocessor()
        old_lookup = self.preprocessor.word_lookup
        words = old_lookup.get_vocabulary()[2:]
        known = set(words)
        added = [w for w in vectors if w not in known]
        (matrix,) = [np.asarray(w) for w in self.backbone.get_layer("word_embedding").get_weights()]
        if added and len(vectors[added[0]]) != matrix.shape[1]:
            raise ValueError(f"vectors have size {len(vectors[added[0]])}, the embeddings {matrix.shape[1]}.")
        matrix = np.concatenate([matrix, np.stack([vectors[w] for w in added])]) if added else matrix
        lookup = TokenLookup(words + added, lowercase=old_lookup.lowercase, name=old_lookup.name)
        preprocessor = TaggerPreprocessor(
            lookup, self.preprocessor.char_lookup, self.preprocessor.label_lookup, name=self.preprocessor.name
        )
        backbone_config = self.backbone.get_config()
        backbone_config["vocabulary_size"] = matrix.shape[0]
        backbone = TaggerBackbone.from_config(backbone_config)
        for layer in self.backbone.layers:
            if layer.weights and layer.name != "word_embedding":
                backbone.get_layer(layer.name).set_weights(layer.get_weights())
        backbone.get_layer("word_embedding").set_weights([matrix])
        new = BidirectionalTagger(
            backbone, preprocessor, head=self.head, dropout=self.dropout, tag_scheme=self.tag_scheme, name=self.name
        )
        for name in ("emissions", "crf"):
            if self.head == "crf" or name == "emissions":
                new.get_layer(name).set_weights(self.get_layer(name).get_weights())
        return self._derive(new)

    # ------------------------------------------------------------- export
    def serving_signature(self):
        """`serving_default(text: tf.string [batch])` -> `tokens`, `tags` and `lengths`.

        `tokens` and `tags` are `[batch, time]` strings ("" past each
        sentence's end), `lengths` `[batch]` int64. Tokenization follows
        `rnnzoo.text.tokenize`; `export` writes it (see `Task.export`).
        """
        import tensorflow as tf

        self._require_preprocessor()
        preprocessor = self.preprocessor
        labels = tf.constant(self.output_tags)

        def serve(text):
            tokens = preprocessor.from_strings(text)[0]
            lengths = tokens.row_lengths()
            # At least one time step, so empty strings and empty batches stay valid.
            dense = tokens.to_tensor(default_value="")
            dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]], constant_values="")
            features = preprocessor(dense)
            tags, _ = self.decode(features, self(features, training=False))
            tag_names = tf.gather(labels, tags)
            tag_names = tf.where(tf.not_equal(dense, ""), tag_names, tf.fill(tf.shape(tag_names), ""))
            return {"tokens": dense, "tags": tag_names, "lengths": lengths}

        return serve, [tf.TensorSpec([None], tf.string, name="text")], [preprocessor]

    # ------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "labels": None if self.preprocessor is not None else self.model_tags}


class _Decode(layers.Layer):
    """Emissions -> (tags, confidence) with the tagger's head; used only by `decoder`."""

    def __init__(self, tagger, **kwargs):
        super().__init__(name="decode", **kwargs)
        self.__dict__["__tagger"] = tagger  # untracked: the tagger owns the weights

    def call(self, inputs, emissions):
        return self.__dict__["__tagger"].decode(inputs, emissions)

    def compute_output_spec(self, inputs, emissions):
        shape = emissions.shape[:2]
        return (keras.KerasTensor(shape, dtype="int32"), keras.KerasTensor(shape, dtype="float32"))


def _windows(tokens, max_length):
    """`(first, last)` token ranges of at most `max_length` covering `tokens`, preferably cut after a sentence end."""
    out, first, n = [], 0, len(tokens)
    while n - first > max_length:
        last = first + max_length
        for j in range(last - 1, first + max_length // 2 - 1, -1):
            if tokens[j] in _SENTENCE_ENDS:
                last = j + 1
                break
        out.append((first, last))
        first = last
    out.append((first, n))
    return out


def _uninformed_rows(features, reads_chars):
    """Which rows of a vectorized batch have no known word and (if read) no known character (ids <= 1)."""
    known = features["token_ids"].max(axis=1) > 1
    if reads_chars:
        known |= features["char_ids"].max(axis=(1, 2)) > 1
    return ~known


def check_bio_tags(labels):
    """A tagger's new tag set as a list: unique BIO tags (`"O"`, `B-TYPE`, `I-TYPE`) with `"O"`."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise InputError(f"labels must be a list of BIO tags (str), got {type(labels).__name__} ({labels!r:.40}).")
    labels = list(labels)
    for i, tag in enumerate(labels):
        if not isinstance(tag, str):
            raise InputError(f"tag {i} is {type(tag).__name__} ({tag!r:.40}); tags are str.")
        prefix, sep, kind = tag.partition("-")
        if tag != "O" and not (sep and prefix in ("B", "I") and kind):
            scheme = " (S-/E- tags of the IOBES scheme are added internally)" if prefix in ("S", "E") and sep else ""
            raise InputError(
                f"tag {i} ({tag!r}) is not a BIO tag: tags are 'O' or 'B-TYPE' / 'I-TYPE', "
                f"e.g. 'B-HERO', 'I-HERO'{scheme}."
            )
    duplicates = sorted({t for t in labels if labels.count(t) > 1})
    if duplicates:
        raise InputError(f"tags must be unique, got {duplicates} more than once.")
    if "O" not in labels:
        raise InputError(f"a BIO tag set needs 'O' (outside any entity); got {labels}.")
    return labels


def _trim_chars(features, window):
    """Drop the character columns that are padding in every token of the batch.

    Tokens' characters are left-aligned, so the columns past the longest token
    are all padding; `window` of them are kept (a CNN's half window reads them).
    The char encoder's output is unchanged; its cost falls with the width.
    """
    chars = features["char_ids"]
    width = min(chars.shape[-1], int((chars != 0).sum(-1).max(initial=0)) + window)
    return {**features, "char_ids": chars[..., : max(width, 1)]}


def _entities(text, tokens, offsets, tags, confidence):
    entities = []
    spans = bio_to_spans(tags)
    confidence = confidence.tolist() if spans else ()  # Python floats: cheaper than np.mean per entity
    for kind, first, last in spans:
        entity = {"type": kind, "score": round(sum(confidence[first:last]) / (last - first), 4)}
        if offsets is not None:
            start, end = offsets[first][1], offsets[last - 1][2]
            entity.update({"text": text[start:end], "start": start, "end": end})
        else:
            entity["text"] = " ".join(tokens[first:last])
        entity.update({"token_start": first, "token_end": last})
        entities.append(entity)
    return entities


def build_tagger(word_vocabulary, char_vocabulary, labels, architecture, embeddings=None, tag_scheme="bio"):
    """Build an untrained `BidirectionalTagger` from vocabularies and an architecture config.

    Args:
        word_vocabulary, char_vocabulary: lists (without padding/OOV).
        labels: BIO tag names (expanded to IOBES with `tag_scheme="iobes"`).
        architecture: an `ArchitectureConfig` (or anything with its fields).
        embeddings: optional `(len(word_vocabulary) + 2, embedding_dim)` matrix.
        tag_scheme: `"bio"` or `"iobes"` (what the head predicts).
    """
    from rnnzoo.models.tagger.preprocessor import make_preprocessor

    a = architecture
    if tag_scheme == "iobes":
        labels = iobes_labels(labels)
    preprocessor = make_preprocessor(word_vocabulary, char_vocabulary, labels, max_chars=a.max_chars)
    backbone = TaggerBackbone(
        vocabulary_size=len(word_vocabulary) + 2,
        char_vocabulary_size=(len(char_vocabulary) + 2) if a.char_encoder else 0,
        char_encoder=a.char_encoder,
        char_embedding_dim=a.char_embedding_dim,
        char_units=a.char_units,
        max_chars=a.max_chars,
        word_dropout=a.word_dropout,
        **encoder_arguments(a, embeddings),
        name="tagger_backbone",
    )
    return BidirectionalTagger(
        backbone, preprocessor, head=a.head, dropout=a.dropout, tag_scheme=tag_scheme, name="bidirectional_tagger"
    )
