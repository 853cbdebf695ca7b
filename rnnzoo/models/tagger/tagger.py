"""`BidirectionalTagger`: raw sentences in, tokens + BIO tags + entity spans out."""

import os

import keras
import numpy as np
from keras import layers, ops

from rnnzoo.layers import CRF, crf_decode_numpy, encoder_arguments
from rnnzoo.models.compiled import CompiledCall
from rnnzoo.models.tagger.backbone import TaggerBackbone
from rnnzoo.models.tagger.batching import MAX_LENGTH, read_sentences, tag_sentences
from rnnzoo.models.tagger.batching import SENTENCE_ENDS as _SENTENCE_ENDS
from rnnzoo.models.tagger.batching import trim_chars as _trim_chars
from rnnzoo.models.tagger.batching import windows as _windows  # noqa: F401  (tests import it from here)
from rnnzoo.models.tagger.spans import (
    TAG_SCHEMES,
    bio_to_iobes,
    iobes_labels,
    iobes_tag_to_bio,
    tf_bio_to_iobes,
)
from rnnzoo.models.task import (
    InputError,
    Task,
    check_batch_size,
    check_positive_int,
)
from rnnzoo.text.tokenize import tokenize

#: On TensorFlow, `predict` runs batches of at most this many sentences (and `XLA_MAX_TIME` tokens)
#: through XLA, padded to `rnnzoo.models.compiled.padded_shape` (one compiled program per shape).
XLA_MAX_BATCH = 8
XLA_MAX_TIME = 128


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
        single, parsed = read_sentences(x)
        progress = None
        if verbose:
            from rnnzoo.utils import progress
        results = tag_sentences(
            parsed,
            vectorize=self.vectorize_tokens,
            decode=self._decode_on_host,
            output_tags=self.output_tags,
            batch_size=batch_size,
            max_length=max_length,
            reads_chars=self.backbone.char_vocabulary_size > 0,
            progress=progress,
        )
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
    serving_inputs = {"text": ("string", "[batch]", "raw sentences (UTF-8; invalid bytes are read as U+FFFD)")}
    serving_outputs = {
        "tokens": ("string", "[batch, time]", "each sentence's tokens (`predict`'s `tokens`), '' after its end; "
                   "time >= 1"),
        "tags": ("string", "[batch, time]", "each token's BIO tag (`predict`'s `tags`), '' after the end"),
        "lengths": ("int64", "[batch]", "tokens per sentence"),
        "confidences": ("float32", "[batch, time]", "the softmax probability of each token's tag (what entity "
                        "scores average), 0 after the end"),
        "token_starts": ("int64", "[batch, time]", "each token's first character: an index into the input string "
                         "counted in Unicode code points (Python `str` indices), -1 after the end"),
        "token_ends": ("int64", "[batch, time]", "one past each token's last character (`text[start:end]` is the "
                       "token), -1 after the end"),
        "num_entities": ("int64", "[batch]", "entities per sentence (`len(predict(...)['entities'])`)"),
        "entity_texts": ("string", "[batch, entities]", "each entity's `text`: the input's characters "
                         "`start:end`; '' after the last entity"),
        "entity_types": ("string", "[batch, entities]", "each entity's `type` (PER, LOC, ...); '' after the last"),
        "entity_starts": ("int64", "[batch, entities]", "each entity's `start` character offset (as "
                          "`token_starts`); -1 after the last"),
        "entity_ends": ("int64", "[batch, entities]", "each entity's `end` character offset; -1 after the last"),
        "entity_token_starts": ("int64", "[batch, entities]", "each entity's first token (`token_start`); -1 "
                                "after the last"),
        "entity_token_ends": ("int64", "[batch, entities]", "one past its last token (`token_end`); -1 after "
                              "the last"),
        "entity_scores": ("float64", "[batch, entities]", "each entity's `score`: the mean confidence of its "
                          "tokens, rounded to 4 decimals; 0 after the last"),
    }

    serving_example = "Zoë Müller lives in São Paulo ."
    serving_note = (
        "Character offsets count Unicode code points (Python `str` indices), so `text[start:end]` is the token or "
        "entity in Python for any script; invalid UTF-8 bytes are read as U+FFFD (`predict` refuses them). "
        f"Sentences longer than {MAX_LENGTH} tokens are tagged in windows as `predict` does "
        "(`model.export(DIR, max_length=...)` changes the limit). Row `i` of every output belongs to input `i`; "
        "`lengths` and `num_entities` say how much of each padded row is real."
    )

    def export(self, directory, format="saved_model", version=None, overwrite=False, verbose=True, quantize=None,
               max_length=None):
        """Write the tagger for serving in `directory/<version>/` (see `Task.export`).

        Args:
            max_length: the SavedModel tags sentences longer than this many
                tokens in windows, as `predict(..., max_length=...)` does
                (default `MAX_LENGTH` = 256).
        """
        if format in ("saved_model", "tf_saved_model"):
            max_length = MAX_LENGTH if max_length is None else check_positive_int(
                max_length, "max_length", "tokens per window")
            self.__dict__["__serving_max_length"] = max_length
        elif max_length is not None:
            raise ValueError(f"max_length applies to the saved_model export only, not format={format!r}.")
        return super().export(directory, format=format, version=version, overwrite=overwrite, verbose=verbose,
                              quantize=quantize)

    def serving_signature(self):
        """`serving_default(text: tf.string [batch])` -> everything `predict` returns for str sentences.

        Tokens and tags (`tokens`, `tags`, `lengths`), each token's
        `confidences` and character offsets (`token_starts`, `token_ends`),
        and the entities as padded `[batch, entities]` tensors (`entity_texts`,
        `entity_types`, `entity_starts`, `entity_ends`, `entity_token_starts`,
        `entity_token_ends`, `entity_scores`, with `num_entities` per
        sentence); names, dtypes, shapes and padding in `serving_outputs`.
        Everything runs in the graph, as `predict` does it in Python:
        tokenization follows `rnnzoo.text.tokenize` (offsets in code points,
        like Python `str` indices), sentences longer than the export's
        `max_length` are tagged in the same windows, entities follow
        `bio_to_spans` and their scores are `predict`'s rounded means.
        `export` writes it (see `Task.export`).
        """
        import tensorflow as tf

        from rnnzoo.export import tf_round
        from rnnzoo.text.tokenize import tf_token_offsets, tf_tokenize

        self._require_preprocessor()
        preprocessor = self.preprocessor
        output_tags = self.output_tags
        labels = tf.constant(output_tags)
        max_length = self.__dict__.get("__serving_max_length", MAX_LENGTH)

        def tag(tokens):
            # At least one row: the character encoder cannot reshape an empty batch.
            rows = tf.shape(tokens)[0]
            tokens = tf.pad(tokens, [[0, tf.maximum(1 - rows, 0)], [0, 0]], constant_values="")
            features = preprocessor(tokens)
            tag_ids, confidences = self.decode(features, self(features, training=False))
            return tag_ids[:rows], confidences[:rows]

        def serve(text):
            text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
            ragged = tf_tokenize(text)
            lengths = ragged.row_lengths()
            starts, ends = tf_token_offsets(text, ragged)
            tokens = _at_least_one_step(ragged.to_tensor(default_value=""))
            tag_ids, confidences = _tf_tag_in_windows(tag, tokens, lengths, max_length)
            valid = tf.sequence_mask(lengths, tf.shape(tokens, out_type=tf.int64)[1])
            tags = tf.where(valid, tf.gather(labels, tag_ids), "")
            confidences = tf.where(valid, confidences, 0.0)
            width = tf.shape(tokens)[1]
            token_starts = _at_least_one_step(starts.to_tensor(default_value=-1), width, -1)
            token_ends = _at_least_one_step(ends.to_tensor(default_value=-1), width, -1)
            entities = _tf_entities(text, tag_ids, valid, output_tags, confidences, token_starts, token_ends)
            entities["entity_scores"] = tf_round(entities["entity_scores"])
            return {
                "tokens": tokens,
                "tags": tags,
                "lengths": lengths,
                "confidences": confidences,
                "token_starts": token_starts,
                "token_ends": token_ends,
                **entities,
            }

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


def _at_least_one_step(dense, width=None, value=""):
    """`dense` `(batch, time)` padded with `value` to `width` steps (default: at least one), in the graph.

    Empty strings and empty batches keep a time axis of one step, so the model runs on them.
    """
    import tensorflow as tf

    width = tf.maximum(tf.shape(dense)[1], 1) if width is None else width
    return tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]], constant_values=value)


def _tf_windows(tokens, lengths, max_length):
    """`_windows` of every sentence with tokens, in the graph: `(rows, firsts, lasts)` int64, one entry per window.

    One pass of the loop cuts one window off every sentence still longer
    than `max_length` tokens (at the last sentence end of its second half,
    else after `max_length` tokens); a sentence that fits is one window.
    """
    import tensorflow as tf

    half = max_length // 2
    sentence_ends = tf.reduce_any(tf.equal(tokens[..., None], tf.constant(sorted(_SENTENCE_ENDS))), axis=-1)
    candidates = tf.range(half, max_length, dtype=tf.int64)  # j - first for j in [first + half, first + max_length)
    width = tf.shape(tokens, out_type=tf.int64)[1]
    all_rows = tf.range(tf.shape(lengths, out_type=tf.int64)[0])
    empty = tf.zeros([0], tf.int64)

    def body(first, active, rows, firsts, lasts):
        long = active & (lengths - first > max_length)
        j = tf.minimum(first[:, None] + candidates[None, :], width - 1)
        hit = tf.cast(tf.gather(sentence_ends, j, batch_dims=1) & long[:, None], tf.int32)
        last_hit = first + max_length - tf.argmax(tf.reverse(hit, [1]), axis=1)  # one past the last hit
        cut = tf.where(tf.reduce_any(hit > 0, axis=1), last_hit, first + max_length)
        last = tf.where(long, cut, lengths)
        rows = tf.concat([rows, tf.boolean_mask(all_rows, active)], 0)
        firsts = tf.concat([firsts, tf.boolean_mask(first, active)], 0)
        lasts = tf.concat([lasts, tf.boolean_mask(last, active)], 0)
        return tf.where(active, last, first), long, rows, firsts, lasts

    _, _, rows, firsts, lasts = tf.while_loop(
        lambda first, active, *_: tf.reduce_any(active),
        body,
        (tf.zeros_like(lengths), lengths > 0, empty, empty, empty),
        shape_invariants=(lengths.shape, lengths.shape, tf.TensorShape([None]), tf.TensorShape([None]),
                          tf.TensorShape([None])),
    )
    return rows, firsts, lasts


def _tf_tag_in_windows(tag, tokens, lengths, max_length):
    """Tag ids and confidences `(batch, time)` of `tokens`, each sentence tagged in `predict`'s windows.

    `tag(window_tokens) -> (tag ids, confidences)` runs the model on a batch
    of windows (padded with ""); the results are put back at each window's
    place. Past a sentence's end: tag 0, confidence 0.
    """
    import tensorflow as tf

    rows, firsts, lasts = _tf_windows(tokens, lengths, max_length)
    positions = tf.ragged.range(lasts - firsts)
    window = positions.value_rowids()
    source = tf.stack([tf.gather(rows, window), tf.gather(firsts, window) + positions.flat_values], axis=1)
    windows = tf.RaggedTensor.from_row_splits(tf.gather_nd(tokens, source), positions.row_splits)
    tag_ids, confidences = tag(_at_least_one_step(windows.to_tensor(default_value="")))
    target = tf.stack([window, positions.flat_values], axis=1)
    shape = tf.shape(tokens, out_type=tf.int64)
    tag_ids = tf.scatter_nd(source, tf.gather_nd(tf.cast(tag_ids, tf.int32), target), shape)
    confidences = tf.scatter_nd(source, tf.gather_nd(tf.cast(confidences, tf.float32), target), shape)
    return tag_ids, confidences


def _tf_entities(text, tag_ids, valid, tags, confidences, token_starts, token_ends):
    """`_entities` of a padded batch of tag ids, in the graph: the `entity_*` outputs and `num_entities`.

    As `bio_to_spans`: a token opens an entity when its tag is `B-X`, or
    `I-X` not right after a token of a type-X entity; the entity runs while
    such `I-X` tags follow. Each tag's prefix and type are read once in
    Python (`str.partition`, as `bio_to_spans` does) into small tables the
    graph gathers from, so no string op runs per token. Scores are float64
    means of the float32 confidences (the sums of a few float32 numbers are
    exact in float64, so they equal Python's); `serving_signature` rounds them.

    Args:
        tag_ids: `(batch, time)` ids into `tags`; `valid` marks the real tokens.
        tags: the BIO tag of each id (`output_tags`).
    """
    import tensorflow as tf

    parts = [tag.partition("-") for tag in tags]
    kinds = sorted({kind for prefix, _, kind in parts if prefix in ("B", "I")})
    kind_of = tf.constant([kinds.index(kind) if prefix in ("B", "I") else -1 for prefix, _, kind in parts], tf.int32)
    is_inside = tf.constant([prefix == "I" for prefix, _, _ in parts])
    kind = tf.where(valid, tf.gather(kind_of, tag_ids), -1)  # the entity type of each token, -1 outside
    inside = kind >= 0
    batch = tf.shape(tag_ids)[0]
    before = tf.concat([tf.fill([batch, 1], -1), kind[:, :-1]], axis=1)
    continues = inside & tf.gather(is_inside, tag_ids) & tf.equal(before, kind)
    opens = inside & ~continues
    closes = inside & ~tf.concat([continues[:, 1:], tf.zeros([batch, 1], tf.bool)], axis=1)
    first = tf.where(opens)  # (entities, 2): row, token; row-major, as `closes`
    last = tf.where(closes)
    rows = first[:, 0]
    count = tf.reduce_sum(tf.cast(opens, tf.int64), axis=1)
    entity = tf.cumsum(tf.reshape(tf.cast(opens, tf.int64), [-1])) - 1  # each token's entity id (row-major)
    flat_inside = tf.reshape(inside, [-1])
    totals = tf.math.unsorted_segment_sum(
        tf.boolean_mask(tf.reshape(tf.cast(confidences, tf.float64), [-1]), flat_inside),
        tf.boolean_mask(entity, flat_inside),
        tf.shape(first, out_type=tf.int64)[0],
    )
    token_start, token_end = first[:, 1], last[:, 1] + 1
    start = tf.gather_nd(token_starts, first)
    end = tf.gather_nd(token_ends, last)
    values = {
        "entity_texts": tf.strings.substr(tf.gather(text, rows), start, end - start, unit="UTF8_CHAR"),
        "entity_types": tf.gather(tf.constant(kinds + [""]), tf.gather_nd(kind, first)),
        "entity_starts": start,
        "entity_ends": end,
        "entity_token_starts": token_start,
        "entity_token_ends": token_end,
        "entity_scores": totals / tf.cast(token_end - token_start, tf.float64),
    }
    padding = {"entity_texts": "", "entity_types": "", "entity_scores": 0.0}
    out = {
        name: tf.RaggedTensor.from_value_rowids(v, rows, nrows=tf.cast(batch, tf.int64)).to_tensor(
            default_value=padding.get(name, -1))
        for name, v in values.items()
    }
    out["num_entities"] = count
    return out


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
