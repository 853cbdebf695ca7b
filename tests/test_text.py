"""Text pipeline: the tokenizer (Python and TF), the lookups, bag-of-words and the seq2seq target vectorizer."""

import collections
import re

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from rnnzoo.text import tokenize, tf_tokenize  # noqa: E402
from rnnzoo.text.tokenize import WHITESPACE  # noqa: E402
from rnnzoo.text.vectorizers import (  # noqa: E402
    CharLookup,
    LabelLookup,
    SequenceVectorizer,
    TargetVectorizer,
    TokenLookup,
    bag_of_words,
)

SENTENCES = [
    "Ironman punched on hulk's face.",
    "I don't like U.S. politics, said Mr. Smith.",
    "It costs $1,000 at 10:30 (approx.)!",
    '"Quoted" words -- and \'single\' quotes.',
    "Dog hates a cat. It loves to drink milk.",
    "They'll we're I've you'd she's CAN'T",
    "He said: \"no\"?",
    "",
    "   ",
    "Emoji 😀 test 👍🏽!",
    "東京は日本の首都です。",
    "Привет, мир!",
    "naïve café's menu",
    "tabs\tand\nnewlines",
    "non\u00a0breaking\u3000spaces\u2009here",
    "zero\u200bwidth stays",
    "x--y [brackets] {braces} <angles>",
]


def _words(text):
    return [t for t, _, _ in tokenize(text)]


# --------------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Ironman punched on hulk's face.", ["Ironman", "punched", "on", "hulk", "'s", "face", "."]),
        ("I don't like it.", ["I", "do", "n't", "like", "it", "."]),
        ("U.S. and Mr. Smith", ["U.S.", "and", "Mr.", "Smith"]),
        ("1,000 people at 10:30, ok", ["1,000", "people", "at", "10:30", ",", "ok"]),
        ("(EU) rejects German call", ["(", "EU", ")", "rejects", "German", "call"]),
        ('He said "no"!', ["He", "said", '"', "no", '"', "!"]),
        ("we'll they're I've", ["we", "'ll", "they", "'re", "I", "'ve"]),
        ("Привет, мир!", ["Привет", ",", "мир", "!"]),
        ("", []),
    ],
)
def test_conll_style_splits(text, expected):
    assert _words(text) == expected


@pytest.mark.parametrize("text", SENTENCES)
def test_offsets_point_into_original(text):
    tokens = tokenize(text)
    cursor = 0
    for token, start, end in tokens:
        assert text[start:end] == token
        assert start >= cursor  # in order, non-overlapping
        cursor = end
    # Only whitespace is dropped.
    assert "".join(t for t, _, _ in tokens) == re.sub(r"\s", "", text)


def test_python_and_tf_tokenizers_agree():
    tf_tokens = [[t.decode("utf-8") for t in row] for row in tf_tokenize(tf.constant(SENTENCES)).to_list()]
    for text, theirs in zip(SENTENCES, tf_tokens):
        assert _words(text) == theirs, text


def test_chunked_rules_give_the_whole_text_rules_tokens():
    # `_split` applies the rules per space-separated chunk (cached); on the whole padded text they give the
    # same tokens, and so does TensorFlow's twin. Random strings over the characters the rules look at.
    import importlib
    import random

    module = importlib.import_module("rnnzoo.text.tokenize")  # the module (rnnzoo.text.tokenize is also a function)

    def whole(text):
        padded = " " + module._WHITESPACE.sub(" ", text) + " "
        for pattern, replacement in module._COMPILED:
            padded = pattern.sub(replacement, pattern.sub(replacement, padded))
        return padded.split()

    rng = random.Random(0)
    pieces = list("ab1 ,:.'\"sSmMdDlLrRvVtnNT-!?%`()\u00a09") + ["'s", "n't", "--", "'ll", " '", "' ", "\t"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    assert [module._split(t) for t in texts] == [whole(t) for t in texts]
    tf_tokens = [[t.decode("utf-8") for t in row] for row in tf_tokenize(tf.constant(texts[:300])).to_list()]
    assert [module._split(t) for t in texts[:300]] == tf_tokens


def test_unicode_whitespace_splits_in_both():
    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
    text = "a\u00a0b\u2028c\x1cd"
    assert _words(text) == ["a", "b", "c", "d"]
    assert tf_tokenize(tf.constant([text])).to_list() == [[b"a", b"b", b"c", b"d"]]


def test_tf_tokenize_in_a_graph():
    fn = tf.function(tf_tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert fn(tf.constant(["Cat loves milk."])).to_list() == [[b"Cat", b"loves", b"milk", b"."]]


def test_tokenize_rejects_non_strings():
    with pytest.raises(ValueError, match="expects a str"):
        tokenize(b"bytes")


# --------------------------------------------------------------------------- lookups


def test_token_lookup_padding_oov_and_case():
    lookup = TokenLookup(["pankaj", "munich"])
    assert lookup.get_vocabulary() == ["", "[UNK]", "pankaj", "munich"]
    ids = lookup(tf.constant([["Pankaj", "in", "MUNICH", ""]]))
    assert ids.numpy().tolist() == [[2, 1, 3, 0]]
    cased = TokenLookup(["Pankaj"], lowercase=False)
    assert cased(tf.constant(["Pankaj", "pankaj"])).numpy().tolist() == [2, 1]
    ragged = lookup(tf.ragged.constant([["munich"], ["pankaj", "x"]]))
    assert ragged.to_list() == [[3], [2, 1]]


def test_token_lookup_adapts_from_a_streamed_dataset():
    def generator():  # a stream: the dataset has no known size
        for sentence in ["Dog hates a cat .", "Cat loves milk .", "It hates a dog ."]:
            yield sentence.split()

    dataset = tf.data.Dataset.from_generator(generator, output_signature=tf.TensorSpec([None], tf.string))
    lookup = TokenLookup(max_tokens=6)
    lookup.adapt(dataset)
    vocabulary = lookup.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) == 6
    # Most frequent first (lower-cased): "." x3, then dog/cat/hates/a x2.
    assert vocabulary[2] == "."
    assert set(vocabulary[3:]) <= {"dog", "cat", "hates", "a"}
    assert lookup(tf.constant(["milk"])).numpy().tolist() == [1]  # capped out -> OOV


def test_token_lookup_config_round_trip_keeps_vocabulary(tmp_path):
    lookup = TokenLookup(max_tokens=10)
    lookup.adapt(tf.data.Dataset.from_tensor_slices(["Dog", "cat", "dog", "milk"]))
    clone = TokenLookup.from_config(lookup.get_config())
    assert clone.get_vocabulary() == lookup.get_vocabulary()
    tokens = tf.constant([["dog", "milk", "zebra", ""]])
    assert clone(tokens).numpy().tolist() == lookup(tokens).numpy().tolist()
    # And inside a saved model.
    inputs = keras.Input((None,), dtype="string")
    model = keras.Model(inputs, lookup(inputs))
    path = str(tmp_path / "lookup.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded(tokens).numpy().tolist() == lookup(tokens).numpy().tolist()


def test_char_lookup():
    lookup = CharLookup(max_chars=4)
    lookup.adapt(tf.data.Dataset.from_tensor_slices(["abc", "é😀", "ab"]))
    vocabulary = lookup.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and set(vocabulary[2:]) == {"a", "b", "c", "é", "😀"}
    ids = lookup(tf.constant([["abcde", "é😀z", ""]])).numpy()
    assert ids.shape == (1, 3, 4)
    index = {c: i for i, c in enumerate(vocabulary)}
    assert ids[0, 0].tolist() == [index["a"], index["b"], index["c"], 1]  # truncated, d unknown
    assert ids[0, 1].tolist() == [index["é"], index["😀"], 1, 0]  # one id per code point
    assert ids[0, 2].tolist() == [0, 0, 0, 0]
    clone = CharLookup.from_config(lookup.get_config())
    assert clone.get_vocabulary() == vocabulary and clone.max_chars == 4


def test_label_lookup():
    labels = LabelLookup(["O", "B-PER", "I-PER"])
    ids = labels(tf.constant([["B-PER", "I-PER", "O"]]))
    assert ids.numpy().tolist() == [[1, 2, 0]]  # no padding/OOV slots
    assert labels.decode(ids).numpy().tolist() == [[b"B-PER", b"I-PER", b"O"]]
    assert LabelLookup.from_config(labels.get_config()).labels == ["O", "B-PER", "I-PER"]
    assert labels(tf.ragged.constant([["O"], ["I-PER", "O"]])).to_list() == [[0], [2, 0]]
    with pytest.raises(ValueError, match="unknown label.*B-LOC"):
        labels(tf.constant(["O", "B-LOC"]))
    with pytest.raises(ValueError, match="unique"):
        LabelLookup(["O", "O"])
    with pytest.raises(ValueError, match="non-empty"):
        LabelLookup([])


# --------------------------------------------------------------------------- bag of words (the seed lesson)

CORPUS = [
    "Dog hates a cat. It loves to drink milk.",
    "Cat loves milk. It hates a dog.",
    "A dog and a cat drink milk!",
    "It loves to hate.",
]


def test_bag_of_words_matches_python_counts():
    features, counts = bag_of_words(CORPUS)
    documents = [re.sub(r"[^\w\s]", "", d.lower()).split() for d in CORPUS]
    expected_vocabulary = collections.Counter(w for d in documents for w in d)
    assert sorted(features) == sorted(expected_vocabulary)
    # Most frequent first.
    frequencies = [expected_vocabulary[f] for f in features]
    assert frequencies == sorted(frequencies, reverse=True)
    assert features[0] == "a"  # 5 occurrences
    assert counts.shape == (len(CORPUS), len(features)) and counts.dtype == np.int64
    for row, words in zip(counts, documents):
        document_counts = collections.Counter(words)
        assert row.tolist() == [document_counts[f] for f in features]
    assert counts.sum() == sum(len(d) for d in documents)


def test_bag_of_words_from_dataset_and_cap():
    features, counts = bag_of_words(tf.data.Dataset.from_tensor_slices(CORPUS), max_tokens=4)
    assert len(features) == 3  # max_tokens counts the OOV bucket
    assert counts.shape == (len(CORPUS), 3)
    full_features, full_counts = bag_of_words(CORPUS)
    for j, feature in enumerate(features):
        assert counts[:, j].tolist() == full_counts[:, full_features.index(feature)].tolist()


# --------------------------------------------------------------------------- sequence / target vectorizers


def test_sequence_vectorizer():
    vectorizer = SequenceVectorizer(["the", "cat"])
    ids = vectorizer(tf.constant(["The cat sat.", "cat"]))
    assert ids.numpy().tolist() == [[2, 3, 1, 1], [3, 0, 0, 0]]
    fixed = SequenceVectorizer(["the", "cat"], sequence_length=2)
    assert fixed(tf.constant(["the cat the", "cat"])).numpy().tolist() == [[2, 3], [3, 0]]
    with pytest.raises(ValueError, match="sequence_length"):
        SequenceVectorizer(sequence_length=0)


def test_target_vectorizer_adds_start_end_and_shifts():
    vectorizer = TargetVectorizer(sequence_length=6)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(["Ich bin hier.", "Du bist hier!"]).batch(2))
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert {"ich", "bin", "hier", "du", "bist", ".", "!"} == set(vocabulary[4:])
    decoder_inputs, targets = vectorizer(tf.constant(["Ich bin hier.", "Du"]))
    index = {w: i for i, w in enumerate(vocabulary)}
    words = ["ich", "bin", "hier", "."]
    assert decoder_inputs.numpy()[0].tolist() == [2] + [index[w] for w in words] + [0]
    assert targets.numpy()[0].tolist() == [index[w] for w in words] + [3, 0]
    assert decoder_inputs.numpy()[1].tolist() == [2, index["du"], 0, 0, 0, 0]
    assert targets.numpy()[1].tolist() == [index["du"], 3, 0, 0, 0, 0]
    # Teacher forcing: the words of the target are the decoder input shifted left by one.
    np.testing.assert_array_equal(targets.numpy()[0, :4], decoder_inputs.numpy()[0, 1:5])
    # One padding mask serves both.
    np.testing.assert_array_equal(decoder_inputs.numpy() != 0, targets.numpy() != 0)


def test_target_vectorizer_round_trip_and_cap():
    vectorizer = TargetVectorizer(max_tokens=6)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(["hier hier ich", "du hier ich bin"]))
    assert vectorizer.vocabulary_size() == 6
    assert vectorizer.get_vocabulary()[4:] == ["hier", "ich"]
    clone = TargetVectorizer.from_config(vectorizer.get_config())
    assert clone.get_vocabulary() == vectorizer.get_vocabulary()
    sentences = tf.constant(["ich bin hier", "du"])
    for a, b in zip(clone(sentences), vectorizer(sentences)):
        assert a.numpy().tolist() == b.numpy().tolist()
    given = TargetVectorizer(["[start]", "ich"])  # reserved tokens are not duplicated
    assert given.get_vocabulary() == ["", "[UNK]", "[start]", "[end]", "ich"]


def test_lazy_exports():
    import rnnzoo.text as text

    for name in text.__all__:
        assert getattr(text, name) is not None
