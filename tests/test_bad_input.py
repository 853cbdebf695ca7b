"""Bad input to the tasks' Python API: a clear error (or a warning) instead of a silently wrong result.

Untrained tiny models (built, not trained) keep this fast: every check here is about inputs, not quality.
"""

import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from rnnzoo.models.classifier.family import ClassifierArchitecture  # noqa: E402
from rnnzoo.models.tagger.family import TaggerArchitecture  # noqa: E402
from rnnzoo.models.classifier.classifier import build_classifier  # noqa: E402
from rnnzoo.models.tagger.tagger import MAX_LENGTH, _windows, build_tagger  # noqa: E402
from rnnzoo.models.task import InputError, check_batch_size  # noqa: E402

WORDS = ["good", "bad", "film", "pankaj", "lives", "in", "munich", "."]
CHARS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.")
BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BAD_BATCH_SIZES = [-1, 0, -3, 2.5, "8", True, 8.0]


@pytest.fixture(scope="module")
def clf():
    keras.utils.set_random_seed(0)
    a = ClassifierArchitecture(cell="gru", units=4, embedding_dim=4, head="binary", pooling="max", dropout=0.0)
    model = build_classifier(WORDS, ["negative", "positive"], a, max_length=6)
    model.compile(optimizer="adam")
    return model


def make_tagger(tag_scheme):
    keras.utils.set_random_seed(0)
    a = TaggerArchitecture(cell="lstm", units=4, embedding_dim=4, char_embedding_dim=4, char_units=4, max_chars=8,
                           dropout=0.0)
    model = build_tagger(WORDS, CHARS, BIO, a, tag_scheme=tag_scheme)
    model.compile(optimizer="adam")
    return model


@pytest.fixture(scope="module")
def tagger():
    return make_tagger("bio")


@pytest.fixture(scope="module")
def iobes_tagger():
    return make_tagger("iobes")


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    assert not [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return out


def _one_warning(match, fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1, messages
    assert match in messages[0], messages[0]
    return out, messages[0]


# ---------------------------------------------------------------- 1. batch sizes
def test_check_batch_size_accepts_positive_ints_only():
    assert check_batch_size(None, 32) == 32 and check_batch_size(np.int64(4), 32) == 4
    for bad in BAD_BATCH_SIZES:
        with pytest.raises(ValueError, match=f"batch_size must be a positive int.*got {bad!r}"):
            check_batch_size(bad, 32)


@pytest.mark.parametrize("batch_size", BAD_BATCH_SIZES)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "fit", "evaluate", "make_dataset"])
def test_classifier_refuses_a_bad_batch_size(clf, method, batch_size):
    texts, labels = ["good film", "bad"], ["positive", "negative"]
    args = (texts,) if method in ("predict", "predict_proba") else (texts, labels)
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        getattr(clf, method)(*args, batch_size=batch_size, **kwargs)


@pytest.mark.parametrize("batch_size", BAD_BATCH_SIZES)
@pytest.mark.parametrize("method", ["predict", "score", "fit", "evaluate", "make_dataset"])
def test_tagger_refuses_a_bad_batch_size(tagger, method, batch_size):
    tokens, tags = [["Pankaj", "lives", "in", "Munich"]], [["B-PER", "O", "O", "B-LOC"]]
    args = (tokens,) if method == "predict" else (tokens, tags)
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        getattr(tagger, method)(*args, batch_size=batch_size, **kwargs)


def test_vectorized_inputs_refuse_a_bad_batch_size_too(clf, tagger):
    with pytest.raises(ValueError, match="batch_size"):
        clf.predict(np.array([[2, 3]], "int32"), batch_size=-1)
    with pytest.raises(ValueError, match="batch_size"):
        tagger.predict(tagger.vectorize_tokens([["Pankaj"]]), batch_size=0)


# ---------------------------------------------------------------- 2. what predict accepts
BAD_INPUTS = [None, 42, float("nan"), {"a": 1}, {1, 2}, 3.5]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=repr)
@pytest.mark.parametrize("family", ["clf", "tagger"])
def test_predict_refuses_what_it_cannot_read_and_says_what_it_takes(family, bad, request):
    task = request.getfixturevalue(family)
    with pytest.raises(TypeError, match="predict .*takes a str") as error:
        task.predict(bad)
    assert isinstance(error.value, ValueError) and isinstance(error.value, InputError)


def test_classifier_predict_proba_and_score_refuse_non_lists(clf):
    for method in (clf.predict_proba, lambda x: clf.score(x, ["positive"])):
        with pytest.raises(TypeError, match="str or a list of str, got NoneType"):
            method(None)


@pytest.mark.parametrize("family,match", [("clf", "text 0 is int"), ("tagger", "item 0 is int")])
def test_a_bad_item_is_named_by_its_index(family, match, request):
    task = request.getfixturevalue(family)
    with pytest.raises(TypeError, match=match):
        task.predict([1, "x"])
    with pytest.raises(ValueError, match=match.replace("0", "1").replace("int", "float")):
        task.predict(["x", float("nan")])


def test_tagger_names_a_token_list_with_a_non_str_token(tagger):
    with pytest.raises(TypeError, match="item 1 is list"):
        tagger.predict([["ok"], ["a", 3]])


def test_empty_lists_give_empty_results(clf, tagger):
    assert clf.predict([]) == [] and tagger.predict([]) == []
    assert clf.predict_proba([]).shape == (0, 2)


def test_bytes_are_read_as_utf8_by_both_families(clf, tagger):
    assert tagger.predict(b"Pankaj lives") == tagger.predict("Pankaj lives")
    assert clf.predict(b"good film") == clf.predict("good film")


def test_vectorized_inputs_still_go_to_keras(clf, tagger):
    ids = np.array([[2, 3, 4]], "int32")
    assert clf.predict(ids).shape == (1, 2)
    assert clf.predict({"token_ids": ids}).shape == (1, 2)
    assert clf.predict(tf.data.Dataset.from_tensor_slices(ids).batch(1)).shape == (1, 2)
    features = tagger.vectorize_tokens([["Pankaj", "lives"]])
    out = tagger.predict(features)
    assert out["tags"].shape == (1, 2)
    with pytest.raises(TypeError, match=r"keys \['token_ids'\].*\['char_ids', 'token_ids'\]"):
        tagger.predict({"token_ids": features["token_ids"]})


def test_fit_refuses_no_data(clf, tagger):
    for task in (clf, tagger):
        with pytest.raises(TypeError, match="fit needs data"):
            task.fit(None, verbose=0)
        with pytest.raises(TypeError, match="evaluate takes"):
            task.evaluate(42, verbose=0)


# ---------------------------------------------------------------- 4. the tagger speaks BIO
def test_iobes_tagger_labels_are_the_bio_tags_users_pass(iobes_tagger):
    t = iobes_tagger
    assert t.labels == BIO
    assert t.model_tags == ["O", "B-PER", "S-PER", "I-PER", "E-PER", "B-LOC", "S-LOC", "I-LOC", "E-LOC"]
    assert t.vocabularies()["labels"] == t.model_tags  # labels.txt keeps the head's tags
    assert t.output_tags == [t if t[0] not in "SE" else {"S": "B", "E": "I"}[t[0]] + t[1:] for t in t.model_tags]


def test_fit_errors_name_the_users_tags(iobes_tagger):
    with pytest.raises(ValueError, match=r"tags \['B-HERO'\] are not in this tagger's tag set") as error:
        iobes_tagger.fit([["Ironman", "punched", "Hulk"]], [["B-HERO", "O", "B-HERO"]], verbose=0)
    assert "S-HERO" not in str(error.value)


def test_with_labels_of_labels_plus_new_tags_keeps_working(iobes_tagger):
    hero = iobes_tagger.with_labels(iobes_tagger.labels + ["B-HERO", "I-HERO"])
    assert hero.labels == BIO + ["B-HERO", "I-HERO"]
    assert hero.model_tags == iobes_tagger.model_tags + ["B-HERO", "S-HERO", "I-HERO", "E-HERO"]
    old = iobes_tagger.get_layer("emissions").get_weights()[0]
    new = hero.get_layer("emissions").get_weights()[0]
    np.testing.assert_array_equal(new[:, : old.shape[1]], old)  # the known tags' rows are kept
    hero.compile(optimizer="adam")
    hero.fit([["Ironman", "punched", "Hulk"]], [["B-HERO", "O", "B-HERO"]], epochs=1, verbose=0)
    assert set(hero.predict("Ironman punched Hulk")["tags"]) <= set(hero.labels)


def test_shipped_tagger_speaks_bio_and_keeps_its_label_file():
    import os

    import rnnzoo
    from rnnzoo.artifacts import models_dir

    path = os.path.join(models_dir(), "bilstm_ner", "vocabularies", "labels.txt")
    if not os.path.exists(path):
        pytest.skip("bilstm_ner is not shipped here")
    tagger = rnnzoo.load("bilstm_ner")
    assert tagger.labels == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    with open(path, encoding="utf-8") as f:
        assert tagger.vocabularies()["labels"] == tagger.model_tags == f.read().split()


# ---------------------------------------------------------------- 5. nothing to read
def test_classifier_warns_once_about_empty_and_unknown_texts(clf):
    _, message = _one_warning("label prior", clf.predict, ["good film", "", "  \n", "zzqx qqzz"])
    assert "2 of 4 texts had no token" in message and "1 of 4 had no known word" in message
    _, message = _one_warning("label prior", clf.predict_proba, ["zzqx"])
    assert "1 of 1 texts had no known word" in message
    _no_warnings(clf.predict, ["good film", "bad zzqx"])


def test_tagger_warns_about_sentences_without_known_words_or_characters(tagger):
    assert _no_warnings(tagger.predict, ["", "Pankaj lives in Munich", "Zzyzx Qwerty"])[0] == {
        "tokens": [], "tags": [], "entities": []}  # empty: an empty result; unknown words: chars are read
    out, message = _one_warning("label prior", tagger.predict, ["😀 東京", "Pankaj", "Москва"])
    assert "2 of 3 sentences had no known word or character" in message
    assert len(out[0]["tags"]) == 2


# ---------------------------------------------------------------- 6. with_labels
@pytest.mark.parametrize("labels,match", [
    (["only"], "at least 2 labels"),
    ([], "at least 2 labels"),
    (["a", "b", "a"], r"unique, got \['a'\]"),
    (["a", 3], "label 1 is int"),
    ("ab", "a list of label names"),
])
def test_classifier_with_labels_refuses_bad_label_sets(clf, labels, match):
    with pytest.raises(ValueError, match=match):
        clf.with_labels(labels)


@pytest.mark.parametrize("labels,match", [
    (["O", "HERO"], r"tag 1 \('HERO'\) is not a BIO tag"),
    (["O", "S-HERO"], "IOBES scheme are added internally"),
    (["O", "B-"], "not a BIO tag"),
    (["O", "B-X", "B-X"], r"unique, got \['B-X'\]"),
    (["B-X", "I-X"], "needs 'O'"),
    (["O", None], "tag 1 is NoneType"),
    ("O", "a list of BIO tags"),
])
def test_tagger_with_labels_refuses_non_bio_tag_sets(tagger, labels, match):
    with pytest.raises(ValueError, match=match):
        tagger.with_labels(labels)


# ---------------------------------------------------------------- 7. long inputs
def test_classifier_max_length_truncates_and_warns(clf):
    long_text = " ".join(["good"] * 20)
    _, message = _one_warning("1 of 2 inputs were longer than max_length=6 tokens", clf.predict, [long_text, "bad"])
    assert "first 6 tokens" in message
    probabilities, message = _one_warning("max_length=3", clf.predict_proba, [long_text], max_length=3)
    np.testing.assert_allclose(probabilities, clf.predict_proba(["good good good"]), rtol=1e-6)
    assert [len(r) for r in clf.token_ids([long_text], max_length=3)] == [3]
    for bad in (0, -1, 2.5, "6"):
        with pytest.raises(ValueError, match="max_length must be a positive int"):
            clf.predict(["good"], max_length=bad)


def test_windows_cover_every_token_and_end_at_sentence_ends():
    tokens = (["w"] * 9 + ["."]) * 10  # 100 tokens, a sentence end every 10
    windows = _windows(tokens, 25)
    assert windows[0] == (0, 20) and windows[-1][1] == 100
    assert all(last - first <= 25 for first, last in windows)
    assert [w[0] for w in windows[1:]] == [w[1] for w in windows[:-1]]  # contiguous, no token twice
    assert _windows(["w"] * 60, 25) == [(0, 25), (25, 50), (50, 60)]  # no sentence end: cut at max_length
    assert _windows(["w"] * 3, 25) == [(0, 3)]


def test_tagger_tags_long_sentences_in_windows_with_a_warning(tagger):
    sentence = ["Pankaj", "lives", "in", "Munich", "."]
    long_tokens = sentence * 30  # 150 tokens
    _, message = _one_warning("1 of 2 inputs were longer than max_length=40", tagger.predict,
                              [long_tokens, sentence], max_length=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        windowed = tagger.predict([long_tokens], max_length=40)[0]
        text = " ".join(long_tokens)
        from_text = tagger.predict(text, max_length=40)
    assert windowed["tokens"] == long_tokens and len(windowed["tags"]) == 150
    # Every token is tagged, each window as if it were a sentence of its own.
    pieces = [long_tokens[first:last] for first, last in _windows(long_tokens, 40)]
    assert [len(p) for p in pieces] == [40, 40, 40, 30]
    assert windowed["tags"] == [t for r in tagger.predict(pieces) for t in r["tags"]]
    assert from_text["tags"] == windowed["tags"]
    for entity in from_text["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    assert MAX_LENGTH >= 128  # CoNLL-2003 sentences (at most 124 tokens) are never windowed
    _no_warnings(tagger.predict, [["w"] * MAX_LENGTH])
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        tagger.predict(["x"], max_length=0)
