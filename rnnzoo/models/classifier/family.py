"""The classifier family: its declaration (`ClassifierFamily`), config sections and training hooks.

Data: `reader: csv` or `reader: tsv` files (optionally gzip) with a header;
the text column is `data.text_column` (default: `text` or `sentence`) and the
label column `data.label_column` (default: `label`). Labels are names; when
the file holds integer ids `0..n-1` and `data.labels` lists the names, id `i`
means `data.labels[i]` (IMDB and SST-2 store 0 = negative, 1 = positive).
For a multilabel head, a label cell lists names separated by `|`.
"""

import collections
import random
from dataclasses import dataclass
from typing import Optional

from rnnzoo.data.paths import read_splits
from rnnzoo.data.splits import hold_out_sentences
from rnnzoo.data.tables import READERS, name_labels, read_table
from rnnzoo.models.registry import Family, register_family
from rnnzoo.schema import DataConfig, RecurrentArchitecture, option
from rnnzoo.text.vocabulary import build_word_vocabulary


def load_data(config):
    """`{"train": (texts, labels), "validation": ..., "test": ...}` from the config's files.

    Without `data.validation`, `data.train_validation_split` of the training
    rows (a seeded random part) is held out as the validation split.
    """
    d = config.data
    multilabel = config.architecture.head == "multilabel"

    def read(path):
        texts, raw = read_table(path, d.reader, d.text_column, d.label_column)
        return texts, name_labels(raw, d.labels, multilabel)

    splits = read_splits(d, read)
    if "validation" not in splits and d.train_validation_split > 0:
        texts, labels = splits["train"]
        if d.train_validation_unit == "sentence":
            train, held = hold_out_sentences(texts, d.train_validation_split, config.training.seed)
        else:
            order = list(range(len(texts)))
            random.Random(config.training.seed).shuffle(order)
            count = int(round(len(order) * d.train_validation_split))
            train, held = order[count:], order[:count]
        pick = lambda idx: ([texts[i] for i in idx], [labels[i] for i in idx])  # noqa: E731
        splits["validation"] = pick(held)
        splits["train"] = pick(train)
    return splits


def count_words(texts, batch_size=1024):
    """Token counts of `texts` under the classifier's own tokenizer (the one the model runs)."""
    import tensorflow as tf

    from rnnzoo.models.classifier.preprocessor import tokenize_texts

    counts = collections.Counter()
    for start in range(0, len(texts), batch_size):
        tokens = tokenize_texts(tf.constant(texts[start : start + batch_size]))
        counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy().tolist())
    return counts


def build_vocabulary(config, train_texts):
    """Words (most frequent training words first) and, with GloVe, the embedding matrix.

    The `architecture.max_vocabulary` most frequent training words; with
    `architecture.embeddings`, topped up to that cap with GloVe's most
    frequent words that the training text lacks, so words first seen at test
    time still get pretrained vectors (`rnnzoo.text.vocabulary.build_word_vocabulary`).

    Returns:
        `(words, matrix or None, coverage or None)`.
    """
    a = config.architecture
    counts = count_words(train_texts)
    cap = a.max_vocabulary or len(counts)
    return build_word_vocabulary(counts, a.embeddings, a.embedding_dim, cap=cap, glove_top=cap, seed=config.training.seed)


def label_names(config, labels):
    """The label list: `data.labels`, or the sorted names seen in training."""
    if config.data.labels:
        return list(config.data.labels)
    if config.architecture.head == "multilabel":
        return sorted({name for names in labels for name in names})
    return sorted(set(labels))


def bow_baseline(data, split="test", max_features=50_000):
    """Accuracy (percent) of a bag-of-words logistic regression trained on `data["train"]`.

    The reference a recurrent classifier must beat: scikit-learn's
    `CountVectorizer` (unigrams + bigrams, binary counts) and
    `LogisticRegression(C=1.0)`; multilabel data is not supported.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    (train_x, train_y), (test_x, test_y) = data["train"], data[split]
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, max_features=max_features)
    features = vectorizer.fit_transform(train_x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(features, train_y)
    predicted = model.predict(vectorizer.transform(test_x))
    return round(100.0 * sum(p == g for p, g in zip(predicted, test_y)) / len(test_y), 2)


def model_card_extra(config, record, others):
    """Per-label scores, the other shipped classifiers on the same data, and the BoW baseline.

    Args:
        config: the evaluated model's `ZooConfig`.
        record: its metrics record (what `rnnzoo evaluate` writes to `metrics.json`).
        others: the metrics records of the zoo's other shipped models (`rnnzoo.evaluation` reads them).
    """
    lines = []
    if record.get("per_label"):
        lines += ["## Per label", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, v in record["per_label"].items():
            lines.append(f"| {name} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |")
        lines.append("")
    rows = [
        (other.get("model"), other.get("accuracy"))
        for other in others
        if other.get("family") == "classifier" and other.get("data_file") == record.get("data_file")
    ]
    rows.append((f"**{config.name}** (this model)", record.get("accuracy")))
    baseline = None
    if config.architecture.head != "multilabel":
        try:
            baseline = bow_baseline(load_data(config), split=record.get("split", "test"))
        except (ImportError, FileNotFoundError) as error:
            lines += [f"(bag-of-words baseline not computed: {error})", ""]
    lines += [
        f"## Compared on `{record.get('data_file')}`",
        "",
        "Accuracy of the zoo's classifiers evaluated on the same file (from their `metrics.json`), and of a "
        "bag-of-words logistic regression (scikit-learn, unigrams + bigrams) trained on the same training "
        "split, computed by this evaluation:",
        "",
        "| model | accuracy |",
        "|---|---|",
    ]
    lines += [f"| {name} | {accuracy} |" for name, accuracy in rows]
    if baseline is not None:
        lines.append(f"| bag-of-words logistic regression | {baseline} |")
    return "\n".join(lines) + "\n"


@dataclass
class ClassifierArchitecture(RecurrentArchitecture):
    """The classifier's `architecture:` section: the shared recurrent keys plus pooling and head."""

    # null: "binary" for two labels, "multiclass" otherwise.
    head: Optional[str] = option(None, choices=(None, "binary", "multiclass", "multilabel"))
    pooling: str = option("last", choices=("last", "max", "mean", "max_mean"))
    dense_units: int = option(0, check="non_negative")


@dataclass
class ClassifierData(DataConfig):
    """The classifier's `data:` section (see the module docstring for the file format)."""

    reader: str = option("csv", choices=tuple(READERS))
    # CSV/TSV columns (None = auto: "text"/"sentence"/"review" and "label")
    text_column: Optional[str] = None
    label_column: Optional[str] = None
    truncate: str = option("head", choices=("head", "tail", "head_tail"))  # which tokens a long text keeps
    # Tokens per text in training batches (a speed setting; the model reads up to max_length at
    # inference). null: max_length.
    train_max_length: Optional[int] = option(None, check="positive")
    # Without data.validation, this part of the training rows is held out for validation.
    train_validation_split: float = option(0.0, check="fraction")
    # What train_validation_split holds out. row: a random part of the rows. sentence: for sentence +
    # phrase corpora (GLUE SST-2), a part of the whole texts (rows inside no other row), and the rows
    # found only inside them leave training too, so validation scores unseen sentences.
    train_validation_unit: str = option("row", choices=("row", "sentence"))


@register_family
class ClassifierFamily(Family):
    """Many-to-one text classification: CSV/TSV files in, accuracy and per-label scores out."""

    name = "classifier"
    task = "rnnzoo.models.classifier.classifier:TextClassifier"
    preprocessor = "rnnzoo.models.classifier.preprocessor:ClassifierPreprocessor"
    architecture = ClassifierArchitecture
    data = ClassifierData
    primary_metric = ("accuracy", "max")
    sample_size = 500
    description = "text classifier: text -> label (binary, multiclass or multilabel)"

    def load_data(self, config):
        return load_data(config)

    def build(self, config, data):
        """An untrained classifier for `config`, its vocabulary taken from `data["train"]`."""
        from rnnzoo.models.classifier.classifier import build_classifier

        texts, labels = data["train"]
        words, matrix, coverage = build_vocabulary(config, texts)
        if coverage is not None:
            print(f"word vocabulary: {len(words)} words, {100 * coverage:.1f}% with GloVe vectors")
        return build_classifier(
            words,
            label_names(config, labels),
            config.architecture,
            embeddings=matrix,
            max_length=config.data.max_length or 400,
            truncate=config.data.truncate,
        )

    def train_dataset(self, task, data, config):
        """The training split through the classifier's pipeline, cut to `data.train_max_length` tokens if set."""
        x, y = data["train"]
        return task.make_dataset(
            x, y, batch_size=config.training.batch_size, training=True, max_length=config.data.train_max_length
        )

    def format_prediction(self, result):
        """`label<TAB>score`; a multilabel result (a list) as JSON."""
        if isinstance(result, dict):
            return f"{result['label']}\t{result['score']:.4f}"
        return super().format_prediction(result)

    def model_card_extra(self, config, record, others):
        return model_card_extra(config, record, others)
