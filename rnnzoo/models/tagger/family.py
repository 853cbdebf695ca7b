"""The tagger family: its declaration, config sections and training hooks.

Data: CoNLL column files (`reader: conll`; `rnnzoo.data.conll`).
"""

import collections
from dataclasses import dataclass
from typing import Optional

from rnnzoo.data.conll import read_conll
from rnnzoo.data.paths import read_splits, split_files
from rnnzoo.models.registry import Family, register_family
from rnnzoo.schema import DataConfig, RecurrentArchitecture, option
from rnnzoo.text.vocabulary import build_word_vocabulary

NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


@dataclass
class TaggerArchitecture(RecurrentArchitecture):
    """The tagger's `architecture:` section: the shared recurrent keys plus the character encoder and head."""

    head: str = option("crf", choices=("crf", "softmax"))
    word_dropout: float = option(0.0, check="fraction")  # training-time probability of reading a word as OOV
    char_encoder: Optional[str] = option("cnn", choices=("cnn", "bilstm", None))
    char_embedding_dim: int = option(25, check="positive")
    char_units: int = option(50, check="positive")
    max_chars: int = option(20, check="positive")


@dataclass
class TaggerData(DataConfig):
    """The tagger's `data:` section."""

    reader: str = option("conll", choices=("conll",))
    tag_scheme: str = option("bio", choices=("bio", "iobes"))  # what the head predicts; data and outputs stay BIO


@register_family
class TaggerFamily(Family):
    """Sequence tagging (named entities): CoNLL files in, entity-level F1 (seqeval) out."""

    name = "tagger"
    task = "rnnzoo.models.tagger.tagger:BidirectionalTagger"
    preprocessor = "rnnzoo.models.tagger.preprocessor:TaggerPreprocessor"
    architecture = TaggerArchitecture
    data = TaggerData
    primary_metric = ("f1", "max")
    sample_size = 300
    description = "sequence tagger (NER): tokens -> BIO tags and entity spans"

    def load_data(self, config):
        """`{"train": (token_lists, tag_lists), "validation": ..., "test": ...}` from the config's files."""
        return read_splits(config.data, read_conll)

    def build(self, config, data):
        """An untrained tagger for `config`, its vocabularies taken from `data`."""
        from rnnzoo.models.tagger.tagger import build_tagger

        train_sentences, train_tags = data["train"]
        labels = config.data.labels or _labels_in(train_tags)
        extra = [s for split in ("validation", "test") if split in data for s in data[split][0]]
        words, chars, matrix, coverage = build_vocabularies(config, train_sentences, extra)
        if coverage is not None:
            print(f"word vocabulary: {len(words)} words, {100 * coverage:.1f}% with GloVe vectors")
        return build_tagger(
            words, chars, labels, config.architecture, embeddings=matrix, tag_scheme=config.data.tag_scheme
        )

    def evaluate(self, task, data, split="test", limit=None):
        """Entity-level scores on a split (optionally its first `limit` sentences)."""
        x, y = data[split]
        if limit is not None:
            x, y = x[:limit], y[:limit]
        return task.score(x, y)

    def format_prediction(self, result):
        """`token/TAG` pairs, then the entities: how `rnnzoo predict` prints a tagged sentence."""
        tagged = " ".join(f"{t}/{g}" for t, g in zip(result["tokens"], result["tags"]))
        entities = ", ".join(f"{e['text']} ({e['type']}, {e['score']:.2f})" for e in result["entities"])
        return f"{tagged}\n  entities: {entities or '-'}"

    def model_card_extra(self, config, record, others):
        """Tagger-specific model card sections: per-type scores, speed, comparison, caveats."""
        speed = record.get("sentences", 0) / max(record.get("evaluation_seconds", 0), 1e-9)
        rows = [(k, v["precision"], v["recall"], v["f1"], v["support"]) for k, v in sorted(record["per_type"].items())]
        rows.append(("**micro**", record["precision"], record["recall"], record["f1"], sum(r[4] for r in rows)))
        return "\n".join(
            [
                "## Per entity type",
                "",
                "| type | precision | recall | F1 | support |",
                "|---|---|---|---|---|",
                *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
                "",
                "## Speed",
                "",
                f"Tagging the {record.get('sentences')} test sentences ({record.get('tokens')} tokens) took "
                f"{record.get('evaluation_seconds')} s during evaluation: about {speed:.0f} sentences/s "
                f"({record.get('tokens', 0) / max(record.get('evaluation_seconds', 0), 1e-9):.0f} tokens/s), batch 32, "
                f"{record.get('backend')} backend on a 2-core CPU. `benchmarks/bench_ner.py` compares it with the same "
                "architecture in PyTorch on a CPU, and `benchmarks/bench_ner_gpu.py` on a GPU (Keras on JAX vs PyTorch's "
                "cuDNN LSTM); results in `benchmarks/RESULTS.md`.",
                "",
                "## Context",
                "",
                "Published BiLSTM-CRF results on the CoNLL-2003 English test set: Lample et al. 2016 90.94 "
                "(100d embeddings, char BiLSTM), Ma & Hovy 2016 91.21 (100d GloVe, char CNN); the keras.io NER example "
                f"reaches about 68. This model uses the smaller GloVe 6B 50d vectors; {_training_data_note(config)}",
                "",
                "Tokenization of raw strings follows CoNLL conventions (punctuation split off, possessive 's "
                "separated); entity offsets point into the original string. Words outside the vocabulary (the "
                f"training words plus the GloVe top-{config.architecture.max_vocabulary or 0:,}) are read through the "
                "character encoder only; "
                "`tagger.with_vocabulary(vectors)` adds pretrained vectors for more words without retraining.",
            ]
        )


def build_vocabularies(config, train_sentences, extra_sentences=()):
    """Word and character vocabularies (plus GloVe vectors when configured).

    Words (`rnnzoo.text.vocabulary.build_word_vocabulary`): every lower-cased
    training word, plus -- with GloVe -- the GloVe words that occur in
    `extra_sentences` (unlabelled text of the other splits, as Lample et al.
    do) and the `architecture.max_vocabulary` most frequent GloVe words, so
    words never seen in training still get pretrained vectors.
    """
    a = config.architecture
    counts = collections.Counter(w.lower() for s in train_sentences for w in s)
    chars = collections.Counter(c for s in train_sentences for w in s for c in w)
    char_vocabulary = sorted(c for c, n in chars.items() if n >= 1)
    words, matrix, coverage = build_word_vocabulary(
        counts,
        a.embeddings,
        a.embedding_dim,
        extra_words={w.lower() for s in extra_sentences for w in s},
        glove_top=a.max_vocabulary or 0,
        seed=config.training.seed,
    )
    return words, char_vocabulary, matrix, coverage


def _labels_in(tag_lists):
    seen = sorted({t for tags in tag_lists for t in tags})
    ordered = [t for t in NER_TAGS if t in seen]
    return (["O"] if "O" in seen and "O" not in ordered else []) + ordered + [t for t in seen if t not in ordered and t != "O"]


def _training_data_note(config):
    """One sentence on what the model was trained and selected on (from the config, not typed by hand)."""
    d, t = config.data, config.training
    train = split_files(d.train)
    if d.validation and d.validation in train:
        return (
            f"it is trained on {' + '.join(train)} (the validation split is part of the training data, as in "
            f"Chiu & Nichols 2016 and flair, so its score below is not a held-out number) for a fixed "
            f"{t.epochs} epochs."
        )
    if d.validation:
        return f"it is trained on {' + '.join(train)} only (validation = early stopping / model selection)."
    return f"it is trained on {' + '.join(train)} for a fixed {t.epochs} epochs (no validation split)."
