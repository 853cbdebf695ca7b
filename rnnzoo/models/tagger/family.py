"""The tagger family's hooks for the one training entry point (`rnnzoo.train`)."""

import collections

from rnnzoo.data.conll import read_conll
from rnnzoo.data.paths import split_files
from rnnzoo.models import hooks
from rnnzoo.text.vocabulary import build_word_vocabulary

NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def load_data(config):
    """`{"train": (token_lists, tag_lists), "validation": ..., "test": ...}` from the config's files."""
    d = config.data
    if d.reader != "conll":
        raise ValueError(f"the tagger family reads 'conll' data, got reader {d.reader!r}.")
    return hooks.read_splits(d, read_conll)


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


def build(config, data):
    """An untrained tagger for `config`, its vocabularies taken from `data`."""
    from rnnzoo.models.tagger.tagger import build_tagger

    train_sentences, train_tags = data["train"]
    labels = config.data.labels or _labels_in(train_tags)
    extra = [s for split in ("validation", "test") if split in data for s in data[split][0]]
    words, chars, matrix, coverage = build_vocabularies(config, train_sentences, extra)
    if coverage is not None:
        print(f"word vocabulary: {len(words)} words, {100 * coverage:.1f}% with GloVe vectors")
    return build_tagger(words, chars, labels, config.architecture, embeddings=matrix, tag_scheme=config.data.tag_scheme)


def _labels_in(tag_lists):
    seen = sorted({t for tags in tag_lists for t in tags})
    ordered = [t for t in NER_TAGS if t in seen]
    return (["O"] if "O" in seen and "O" not in ordered else []) + ordered + [t for t in seen if t not in ordered and t != "O"]


train_dataset = hooks.train_dataset


def validation_callbacks(task, data, config):
    """Entity F1 on the validation split after each epoch, logged as `val_f1`."""
    return hooks.validation_callbacks(data, "f1")


def evaluate(task, data, split="test", limit=None):
    """Entity-level scores on a split (optionally its first `limit` sentences)."""
    x, y = data[split]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return task.score(x, y)


#: What `evaluate` reports as the headline number, and its direction.
PRIMARY_METRIC = ("f1", "max")
#: Size of the fixed test sample whose score `rnnzoo evaluate` also records (re-checked by CI).
SAMPLE_SIZE = 300


def model_card_extra(config, record, others):
    """Tagger-specific model card sections: speed, comparison, caveats (`others`, the other models' records, unused)."""
    speed = record.get("sentences", 0) / max(record.get("evaluation_seconds", 0), 1e-9)
    return "\n".join(
        [
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
