"""The steps around an exported tensor model, in pure Python and NumPy: text -> ids, scores -> results.

A portable export (`rnnzoo.runtime.export_portable`) holds the tensor model
(`model.onnx` or `model.tflite`: token ids in, scores out), the vocabularies
(`vocabularies/*.txt`, one entry a line, id = line number; 0 is padding and 1
the unknown word) and `processing.json`, the settings of the steps the
tensor model cannot carry (tokenization, lower-casing, truncation, labels,
tag scheme, CRF transitions). This module reads them and runs those steps;
it needs NumPy only (no TensorFlow, no Keras), and reuses rnnzoo's own
pure-Python pieces, so an export reads text exactly as `predict` does:

- classifier: `rnnzoo.models.classifier.text` (standardize, tokenize, look up,
  truncate), then probabilities -> `{"label", "score"}` (`readable_results`);
- tagger: `rnnzoo.text.tokenize` and `rnnzoo.models.tagger.batching`
  (`token_features`: word and character ids), then emissions -> tags by
  Viterbi decoding (`viterbi`, NumPy) with the CRF's transitions, each tag's
  probability, and entity spans with character offsets
  (`rnnzoo.models.tagger.spans.entities`);
- language model: prompts -> ids (words or characters), generated ids -> text
  (the decoding loop around the exported one-step model is the predictor's).

`rnnzoo.runtime.predictor` puts these steps around an ONNX Runtime or LiteRT
session; an export also carries `portable.py`, these modules in one file.

Example:
>>> settings = {"family": "classifier", "classifier": {"labels": ["neg", "pos"], "head": "binary",
...             "max_length": 4, "truncate": "head", "threshold": 0.5}}
>>> p = processing_for(settings, {"words": ["", "[UNK]", "good"]})
>>> p.encode(["Good good film", ""], 4)
([[2, 2, 1], [1]], [3, 0])
>>> p.results(np.array([[0.1, 0.9]], "float32"))
[{'label': 'pos', 'score': 0.9}]
"""

import json
import os
import re

import numpy as np

from rnnzoo.models.classifier.text import readable_results, token_ids
from rnnzoo.models.tagger.batching import token_features, trim_chars

#: The export's settings file, beside the model.
SETTINGS_FILE = "processing.json"
#: The export's vocabulary folder (`<name>.txt`, one entry a line).
VOCABULARY_FOLDER = "vocabularies"
#: The model file of each format.
MODEL_FILES = {"onnx": "model.onnx", "tflite": "model.tflite"}


def read_settings(directory):
    """`processing.json` of an export folder, or a `FileNotFoundError` saying what the folder lacks."""
    path = os.path.join(directory, SETTINGS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{directory} is not a portable rnnzoo export: it has no {SETTINGS_FILE} "
            "(write one with rnnzoo.runtime.export_portable or `rnnzoo export NAME DIR --format onnx|tflite`)."
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_vocabulary(path):
    """One vocabulary file -> its entries (id = position). Lines end with `\\n` only: entries may hold `\\r`."""
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def read_vocabularies(directory):
    """`{name: entries}` of an export folder's `vocabularies/`."""
    folder = os.path.join(directory, VOCABULARY_FOLDER)
    return {
        name[: -len(".txt")]: read_vocabulary(os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
        if name.endswith(".txt")
    }


def viterbi(emissions, lengths, transitions, start, end):
    """The best tag path of a linear-chain CRF for each row: Viterbi decoding in NumPy.

    Args:
        emissions: `(batch, time, num_tags)` scores.
        lengths: `(batch,)` real steps per row (rows are left-aligned).
        transitions: `(num_tags, num_tags)`, `[i, j]` scores tag i followed by j;
            `start`, `end`: `(num_tags,)` scores of the first and last tag.

    Returns:
        `(batch, time)` int32 tags (steps past a row's length repeat its last
        tag; a row of length 0 is decoded as its first step alone).

    The steps run over the whole batch without per-step masking (the rows'
    scores past their lengths are never read): each row's final score is
    taken at its own last step and its path traced back from there. The same
    paths as `rnnzoo.layers.crf_decode_numpy`, with fewer NumPy calls.

    Example:
    >>> e = np.array([[[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    >>> viterbi(e, [3], np.array([[0.0, -5.0], [-5.0, 0.0]]), np.zeros(2), np.zeros(2)).tolist()
    [[0, 0, 0]]
    """
    emissions = np.asarray(emissions, "float32")
    transitions = np.asarray(transitions, "float32")
    batch, steps, num_tags = emissions.shape
    if steps == 0 or batch == 0:
        return np.zeros((batch, steps), "int32")
    lengths = np.clip(np.asarray(lengths, "int64"), 1, steps)
    longest = int(lengths.max())
    ends = {}  # step -> the rows whose last real step it is
    for row, n in enumerate(lengths.tolist()):
        ends.setdefault(n - 1, []).append(row)
    score = emissions[:, 0] + np.asarray(start, "float32")
    final = np.empty_like(score)
    if 0 in ends:
        final[ends[0]] = score[ends[0]]
    backpointers = np.empty((longest, batch, num_tags), "int64")
    for t in range(1, longest):
        candidates = score[:, :, None] + transitions[None]  # (batch, from, to)
        backpointers[t] = candidates.argmax(axis=1)
        score = candidates.max(axis=1) + emissions[:, t]
        if t in ends:
            final[ends[t]] = score[ends[t]]
    last = (final + np.asarray(end, "float32")).argmax(axis=1)
    tags = np.empty((batch, steps), "int32")
    rows = np.arange(batch)
    tag = last.copy()
    for t in range(longest - 1, -1, -1):
        if t in ends:  # these rows' paths start here, from their own final tag
            tag[ends[t]] = last[ends[t]]
        tags[:, t] = tag
        if t:
            tag = backpointers[t][rows, tag]
    past = np.arange(steps)[None, :] >= lengths[:, None]
    return np.where(past, last[:, None], tags).astype("int32")


def chosen_probability(emissions, tags):
    """Each chosen tag's softmax probability over its step's emissions: `(batch, time)` float32."""
    emissions = np.asarray(emissions, "float32")
    shifted = np.exp(emissions - emissions.max(axis=-1, keepdims=True))
    chosen = np.take_along_axis(shifted, tags[..., None], axis=-1)[..., 0]
    return chosen / shifted.sum(axis=-1)


class ClassifierProcessing:
    """A text classifier's steps: texts -> token id rows -> `{"token_ids"}` batches; probabilities -> results.

    Args:
        settings: `processing.json` (its `classifier` section: `labels`, `head`,
            `max_length`, `truncate`, `threshold`).
        vocabularies: `{"words": entries}` (id = position).
    """

    family = "classifier"

    def __init__(self, settings, vocabularies):
        c = settings["classifier"]
        self.labels = list(c["labels"])
        self.head = c["head"]
        self.threshold = float(c.get("threshold", 0.5))
        self.max_length = int(c["max_length"])
        self.truncate = c["truncate"]
        self.word_index = {w: i for i, w in enumerate(vocabularies["words"]) if i > 1}

    def encode(self, texts, max_length=None):
        """Texts -> `(rows, counts)`: the ids the model reads per text, and its token count before truncation."""
        max_length = self.max_length if max_length is None else max_length
        rows, counts = [], []
        for text in texts:
            ids, count = token_ids(text, self.word_index, max_length, self.truncate)
            rows.append(ids)
            counts.append(count)
        return rows, counts

    @staticmethod
    def batch(rows, size=None):
        """Id rows -> `{"token_ids": (size or len(rows), longest) int32}`, right-padded with 0."""
        longest = max((len(r) for r in rows), default=1)
        ids = np.zeros((size or len(rows), max(longest, 1)), "int32")
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return {"token_ids": ids}

    def results(self, probabilities):
        """`(n, num_labels)` probabilities -> what the classifier's `predict` returns (`readable_results`)."""
        return readable_results(probabilities, self.labels, self.head, self.threshold)


class TaggerProcessing:
    """A tagger's steps: token lists -> word and character ids; emissions -> tags and their probabilities.

    Args:
        settings: `processing.json` (its `tagger` section: `head`, `model_tags`,
            `output_tags`, `lowercase`, `max_chars`, `char_window`,
            `reads_chars`, and `crf` transitions for a CRF head).
        vocabularies: `{"words", "chars"}` entries (id = position).
    """

    family = "tagger"

    def __init__(self, settings, vocabularies):
        t = settings["tagger"]
        self.head = t["head"]
        self.model_tags = list(t["model_tags"])
        self.output_tags = list(t["output_tags"])
        self.labels = list(dict.fromkeys(self.output_tags))
        self.lowercase = bool(t["lowercase"])
        self.max_chars = int(t["max_chars"])
        self.char_window = int(t.get("char_window", 0))
        self.reads_chars = bool(t["reads_chars"])
        self.word_index = {w: i for i, w in enumerate(vocabularies["words"]) if i > 0}
        self.char_index = {c: i for i, c in enumerate(vocabularies.get("chars", ["", "[UNK]"])) if i > 0}
        if self.head == "crf":
            crf = t["crf"]
            self.transitions = np.asarray(crf["transitions"], "float32")
            self.start = np.asarray(crf["start"], "float32")
            self.end = np.asarray(crf["end"], "float32")
        self._seen = {}  # token -> ids, filled by running text (see token_features)

    def features(self, token_lists):
        """Token lists -> `{"token_ids", "char_ids"}` int32 arrays, the all-padding character columns dropped."""
        features = token_features(
            token_lists, self.word_index, self.char_index, self.lowercase, self.max_chars, self._seen
        )
        return trim_chars(features, self.char_window)

    def decode(self, emissions, lengths):
        """Emissions `(batch, time, tags)` -> best tag ids (Viterbi for a CRF head, else argmax) and their probabilities."""
        emissions = np.asarray(emissions, "float32")
        if self.head == "crf":
            tags = viterbi(emissions, lengths, self.transitions, self.start, self.end)
        else:
            tags = emissions.argmax(axis=-1).astype("int32")
        return tags, chosen_probability(emissions, tags)


class LanguageModelProcessing:
    """A language model's steps: prompts -> token ids (boundary token first); generated ids -> text.

    Word level splits on ASCII whitespace (as `tf.strings.split`), character
    level reads code points; unknown tokens are 1 (`<unk>`). Text ends at the
    end token (`<eos>`, word level); padding (0) is skipped.

    Args:
        settings: `processing.json` (its `language_model` section: `level`,
            `lowercase`, `tokens`, `boundary_id`, `end_id`, `states`, `units`).
        vocabularies: unused (the exact tokens are in the settings).
    """

    family = "language_model"

    def __init__(self, settings, vocabularies=None):
        m = settings["language_model"]
        self.level = m["level"]
        self.lowercase = bool(m["lowercase"])
        self.tokens = list(m["tokens"])
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.boundary_id = int(m["boundary_id"])
        self.end_id = m["end_id"]
        self.states = list(m["states"])
        self.units = int(m["units"])
        self.default_batch_size = int(m.get("default_batch_size", 20))
        self.labels = self.tokens
        self._split = re.compile(r"[ \t\n\x0b\x0c\r]+")

    def text_tokens(self, text):
        """A text's tokens: words (split on ASCII whitespace) or characters, lower-cased if the model is."""
        if self.lowercase:
            text = text.lower()
        if self.level == "word":
            return [t for t in self._split.split(text) if t]
        return list(text)

    def prompt_ids(self, prompt):
        """A prompt -> its ids after the boundary token (a prompt is an unfinished text: no end token)."""
        return [self.boundary_id] + [self.index.get(t, 1) for t in self.text_tokens(prompt)]

    def detokenize(self, rows):
        """Generated id rows -> text: cut at the end token, padding skipped; words joined by spaces."""
        out = []
        for row in rows:
            tokens = []
            for i in row:
                i = int(i)
                if self.end_id is not None and i == self.end_id:
                    break
                if i:
                    tokens.append(self.tokens[i])
            out.append((" " if self.level == "word" else "").join(tokens))
        return out


PROCESSING = {"classifier": ClassifierProcessing, "tagger": TaggerProcessing, "language_model": LanguageModelProcessing}


def processing_for(settings, vocabularies):
    """The family's processing (`ClassifierProcessing` or `TaggerProcessing`) for an export's settings."""
    family = settings.get("family")
    if family not in PROCESSING:
        raise ValueError(f"portable exports of family {family!r} are not supported; families: {', '.join(PROCESSING)}.")
    return PROCESSING[family](settings, vocabularies)
