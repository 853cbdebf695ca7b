"""The language-model family: its declaration (`LanguageModelFamily`), config sections and data readers.

Data: plain-text files (optionally gzip). `reader: lines` reads each file's
lines as texts (Penn Treebank, WikiText: one sentence or paragraph a line;
word level appends `<eos>` to each, empty lines included, as Mikolov's and
PyTorch's `word_language_model` readers do). `reader: text_split` reads one
file as one text and splits it by characters: the first `split_fraction` is
training, the rest validation (nanoGPT's Tiny Shakespeare split); the rest is
also the `test` split that `rnnzoo evaluate` scores (name it with
`data.test_name`). Splits are 1-tuples `(texts,)`: a language model has no labels.
"""

import collections
import gzip
from dataclasses import dataclass
from typing import Optional

from rnnzoo.data.paths import dataset_path, split_files
from rnnzoo.models.registry import Family, register_family
from rnnzoo.schema import DataConfig, RecurrentArchitecture, option

READERS = ("lines", "text_split")


def _read_text(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return f.read()


def _lines(text, level):
    """A text's lines: without their newline at word level, with it at char level (it is a character to predict)."""
    if level == "char":
        return text.splitlines(keepends=True)
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def load_data(config):
    """`{"train": (lines,), "validation": (lines,), "test": (lines,)}` from the config's files."""
    d, level = config.data, config.architecture.level
    if d.reader == "text_split":
        files = split_files(d.train)
        text = "".join(_read_text(dataset_path(d.root, name)) for name in files)
        cut = int(len(text) * d.split_fraction)
        held = (_lines(text[cut:], level),)
        return {"train": (_lines(text[:cut], level),), "validation": held, "test": held}
    splits = {}
    for split in ("train", "validation", "test"):
        names = split_files(getattr(d, split))
        if names:
            splits[split] = ([line for name in names for line in _lines(_read_text(dataset_path(d.root, name)), level)],)
    if "train" not in splits:
        raise ValueError("data.train must name the training file.")
    return splits


def build_vocabulary(config, lines):
    """The training tokens, most frequent first (ties: first seen), capped at `architecture.max_vocabulary`."""
    from rnnzoo.models.language_model.preprocessor import LanguageModelPreprocessor

    a = config.architecture
    counts = collections.Counter()
    if a.level == "char":
        for line in lines:
            counts.update(line.lower() if config.data.lowercase else line)
    else:
        probe = LanguageModelPreprocessor([], level="word", lowercase=config.data.lowercase)
        import tensorflow as tf

        for start in range(0, len(lines), 8192):
            tokens = probe.tokenize(tf.constant(lines[start : start + 8192], tf.string))
            counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy().tolist())
    words = [w for w, _ in counts.most_common()]
    return words[: a.max_vocabulary] if a.max_vocabulary else words


def model_card_extra(config, record, others):
    """The per-character figures at char level, and the other language models scored on the same file."""
    lines = []
    if config.architecture.level == "char":
        lines += [
            "## Per character",
            "",
            f"Loss {record.get('loss')} nats/char ({record.get('bits_per_token')} bits/char) on "
            f"{record.get('tokens')} characters of `{record.get('data_file')}`.",
            "",
        ]
    rows = [
        (other.get("model"), other.get("perplexity"), other.get("loss"))
        for other in others
        if other.get("family") == "language_model" and other.get("data_file") == record.get("data_file")
    ]
    if rows:
        lines += ["## Other language models on the same file", "", "| model | perplexity | loss |", "|---|---|---|"]
        lines += [f"| {name} | {ppl} | {loss} |" for name, ppl, loss in rows]
        lines.append("")
    return "\n".join(lines)


@dataclass
class LanguageModelArchitecture(RecurrentArchitecture):
    """The language model's `architecture:` section: the shared recurrent keys plus the LM regularisers."""

    bidirectional: bool = option(False, choices=(False,))  # a language model reads left to right
    head: Optional[str] = option(None, choices=(None,))
    level: str = option("word", choices=("word", "char"))
    embeddings: Optional[str] = option(None, choices=(None,))  # trained from scratch
    dropout: float = option(0.0, check="fraction")  # embeddings, between layers, output (Zaremba et al. 2014)
    variational_dropout: bool = False  # one mask per sequence: locked dropout (Gal & Ghahramani 2016)
    embedding_dropout: float = option(0.0, check="fraction")  # whole words dropped per batch
    tie_weights: bool = False  # input embedding = output projection (Press & Wolf 2017; Inan et al. 2017)


@dataclass
class LanguageModelData(DataConfig):
    """The language model's `data:` section (see the module docstring for the readers)."""

    reader: str = option("lines", choices=READERS)
    lowercase: bool = False
    sequence_length: int = option(35, check="positive")  # BPTT window of training batches
    split_fraction: float = option(0.9, check="open_fraction")  # text_split: the training part


@register_family
class LanguageModelFamily(Family):
    """Word- and character-level recurrent language models: perplexity, next-token probabilities, generation."""

    name = "language_model"
    task = "rnnzoo.models.language_model.language_model:LanguageModel"
    preprocessor = "rnnzoo.models.language_model.preprocessor:LanguageModelPreprocessor"
    architecture = LanguageModelArchitecture
    data = LanguageModelData
    primary_metric = ("perplexity", "min")
    sample_size = 300
    description = "language model: text -> next-token probabilities, perplexity and generated continuations"

    def load_data(self, config):
        return load_data(config)

    def build(self, config, data):
        """An untrained language model for `config`, its vocabulary taken from `data["train"]`."""
        from rnnzoo.models.language_model.language_model import build_language_model

        vocabulary = build_vocabulary(config, data["train"][0])
        print(f"vocabulary: {len(vocabulary) + 2} {config.architecture.level} tokens (with padding and <unk>)")
        return build_language_model(
            vocabulary, config.architecture, level=config.architecture.level, lowercase=config.data.lowercase,
            sequence_length=config.data.sequence_length,
        )

    def train_dataset(self, task, data, config):
        """The training text as contiguous `(batch_size, sequence_length)` windows (truncated BPTT)."""
        return task.make_dataset(
            data["train"][0], batch_size=config.training.batch_size, training=True,
            sequence_length=config.data.sequence_length,
        )

    def validation_score(self, task, data):
        if "validation" not in data:
            return None
        return task.score(data["validation"][0])["perplexity"]

    def evaluate(self, task, data, split="test", limit=None):
        """Stream perplexity of a split (every line in order), or of a fixed random sample of `limit` lines."""
        if split not in data:
            raise ValueError(f"no {split!r} split in the data; available: {sorted(data)}.")
        from rnnzoo.evaluation import sample_indices

        lines = data[split][0]
        if limit is not None:
            lines = [lines[i] for i in sample_indices(len(lines), limit)]
        return task.score(lines)

    def format_prediction(self, result):
        return result if isinstance(result, str) else super().format_prediction(result)

    def model_card_extra(self, config, record, others):
        return model_card_extra(config, record, others)
