"""Hostile and broken input, property-based (hypothesis): the contract of every task's `predict`, the tokenizer
and the vectorizers.

The contract: a correct result, or a `ValueError`/`TypeError` whose message names the bad item's index; never
another exception, a hang (each test has a timeout) or a misaligned batch. Results line up 1:1 with inputs:
`predict(batch)[i] == predict([batch[i]])[0]`, and the tokens of result i are input i's tokens. Draws are
derandomized (the same examples on every run, so CI is reproducible); `@example` pins the nasty cases so they
always run. The shipped models are loaded once per module (XLA off: the plain path is deterministic, and no
background compiles compete for the CPUs).
"""

import math
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from rnnzoo.artifacts import MODEL_FILE, models_dir  # noqa: E402
from rnnzoo.text.tokenize import tf_tokenize, tokenize  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.timeout(180)]


def _settings(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ---------------------------------------------------------------- what hostile text looks like
#: Always-run nasty strings: empty, NUL and control characters, zero-width and BOM, combining marks, RTL and
#: bidi overrides, emoji sequences (ZWJ, flags, skin tones), Unicode whitespace, the tokenizer's own rules.
NASTY = [
    "", " ", "\x00", "a\x00b", "\x00\x00 \x00", "\x07\x08\x1b[31mred\x1b[0m\x7f", "\u200b", "\u200bfoo\u200b",
    "\u200c\u200d\u2060", "\ufeffhello", "e\u0301\u0301\u0301 a\u0308", "\u0301", "שלום עולם", "مرحبا بالعالم",
    "\u202eevil\u202c txt", "😀👍🏽 👨\u200d👩\u200d👧 🇩🇪", "\t\n\r\x0b\x0c",
    "\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000",
    "''", "n't", "'s", "--", "...", "U.S.", "10:30 1,000", "<br />", "(\"[{<>}]\")", "Ironman punched on hulk's face.",
    "Pankaj lives in Munich .", "Angela Merkel visited Paris", "a" * 300,
]
WORDS = ["Pankaj", "Angela", "Merkel", "Paris", "Berlin", "Siemens", "Reuters", "New", "York", "the", "company",
         "said", "good", "bad", "film", "not", "very", ".", ",", "'s", "n't", "(", ")", "-", "\u200b", "😀", "\x00"]
#: Any code point but lone surrogates (TensorFlow strings are UTF-8).
unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
texts = st.one_of(
    unicode_text,
    st.lists(st.sampled_from(WORDS + NASTY), max_size=12).map(" ".join),  # word-like, entities included
    st.lists(st.sampled_from(WORDS + NASTY), max_size=6).map("".join),  # pieces glued without spaces
    st.sampled_from(NASTY),
)
#: A str with a lone surrogate (Python can hold it; UTF-8 cannot).
surrogate_text = st.builds(lambda a, s, b: a + s + b, unicode_text, st.characters(categories=("Cs",)), unicode_text)
#: Items of a batch that are not text (or not valid text).
junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.just(float("nan")), st.just(float("inf")),
    st.binary(max_size=6).filter(lambda b: not _utf8(b)), st.lists(st.integers(), max_size=2),
    st.lists(st.lists(texts, max_size=2), min_size=1, max_size=2), st.builds(lambda t: np.array([t]), texts),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1), st.just(np.float64("nan")),
)
#: Junk that is not a list (nested lists are a rank-2 batch to the vectorizer layers).
flat_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.just(float("nan")),
    st.binary(max_size=6).filter(lambda b: not _utf8(b)), st.builds(lambda t: np.array([t]), texts),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
token_lists = st.lists(st.one_of(unicode_text, st.sampled_from(WORDS + NASTY)), max_size=6)


def _utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _readable(item, token_lists_ok):
    """Whether a task must read `item` (True) or refuse it naming its index (False)."""
    if isinstance(item, bytes):
        return _utf8(item)
    if isinstance(item, str):
        return token_lists_ok or _encodable(item)  # the tagger tokenizes in Python: surrogates are just characters
    if token_lists_ok and isinstance(item, (list, tuple)):
        return all(isinstance(t, str) for t in item)
    return False


def _encodable(text):
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _as_str(item):
    return item.decode("utf-8") if isinstance(item, bytes) else item


# ---------------------------------------------------------------- the shipped models, once per module
def _shipped(name, **kwargs):
    if not os.path.exists(os.path.join(models_dir(), name, MODEL_FILE)):
        pytest.skip(f"{name} is not shipped here ({models_dir()})")
    import rnnzoo

    task = rnnzoo.load(name, compile=False)
    task.small_batch_xla = False
    return task


@pytest.fixture(scope="module")
def tagger():
    return _shipped("bilstm_ner")


@pytest.fixture(scope="module")
def clf():
    return _shipped("vanilla_rnn_sst2")  # two bidirectional vanilla RNN layers over masked, padded batches


@pytest.fixture(scope="module")
def lm():
    return _shipped("vanilla_rnn_ptb")


def _lm_predict(lm, x):
    return lm.predict(x, max_length=3, sampler="greedy")


# ---------------------------------------------------------------- the tokenizer
@_settings(200)
@given(st.one_of(st.text(max_size=80), texts))  # st.text: every code point, lone surrogates included
@example("\ud800 \udfff")
@example("\x00\u200b\u202e\ufeff")
@example("a\u0301'' n't's--...(x)")
def test_tokenizer_offsets_index_the_original_and_tokens_hold_no_whitespace(text):
    spans = tokenize(text)
    assert tokenize(text) == spans  # deterministic
    cursor = 0
    for token, start, end in spans:
        assert token and text[start:end] == token
        assert start >= cursor  # in order, never overlapping
        assert not any(c.isspace() for c in token)
        assert text[cursor:start].strip() == ""  # only whitespace between tokens
        cursor = end
    assert text[cursor:].strip() == ""
    assert "".join(t for t, _, _ in spans) == "".join(text.split())  # nothing dropped, nothing added


@_settings(60)
@given(st.lists(st.one_of(unicode_text, texts), min_size=1, max_size=4))
@example(["\x00 a\x00b", "\u200b\ufeff x", "", "\x1c\x85\u3000'n't"])
def test_graph_tokenizer_splits_every_text_like_python(batch):
    graph = [[t.decode("utf-8") for t in row] for row in tf_tokenize(tf.constant(batch)).to_list()]
    assert graph == [[t for t, _, _ in tokenize(text)] for text in batch]


def test_tokenizer_refuses_non_str_and_reads_100k_characters():
    for bad in (None, b"bytes", 3, ["a"]):
        with pytest.raises(ValueError, match="tokenize expects a str"):
            tokenize(bad)
    text = ("Pankaj\u200b lives in Munich, 10:30 -- 'quoted' n't... 😀\x00 " * 2000)[:100_000]
    spans = tokenize(text)
    assert len(spans) > 10_000 and all(text[s:e] == t for t, s, e in spans)


# ---------------------------------------------------------------- predict: hostile batches
@_settings(25)
@given(st.lists(st.one_of(texts, st.binary(max_size=6), token_lists, junk, surrogate_text), max_size=5))
@example([])
@example([None])
@example(["ok", b"\xff\xfe", "x"])
@example(["fine", ["tok", 3]])
@example([float("nan"), "x"])
@example(["a", np.array(["b", "c"])])
@example(["x", "ab\ud800c"])
def test_tagger_reads_each_item_or_names_the_first_bad_one(tagger, batch):
    bad = next((i for i, item in enumerate(batch) if not _readable(item, token_lists_ok=True)), None)
    if bad is not None:
        with pytest.raises((TypeError, ValueError), match=f"item {bad} "):
            tagger.predict(batch)
        return
    results = tagger.predict(batch)
    assert isinstance(results, list) and len(results) == len(batch)
    for item, result in zip(batch, results):
        item = _as_str(item)
        expected = [t for t, _, _ in tokenize(item)] if isinstance(item, str) else list(item)
        assert result["tokens"] == expected
        assert len(result["tags"]) == len(expected) and set(result["tags"]) <= set(tagger.labels)
        for entity in result["entities"]:
            assert 0 <= entity["token_start"] < entity["token_end"] <= len(expected)
            assert 0.0 <= entity["score"] <= 1.0
            if isinstance(item, str):
                assert item[entity["start"] : entity["end"]] == entity["text"]


@_settings(25)
@given(st.lists(st.one_of(texts, st.binary(max_size=6), junk, surrogate_text), max_size=5))
@example([])
@example([None])
@example(["ok", b"\xff\xfe"])
@example(["x", "ab\ud800c"])
@example(["a", ["b"]])
@example([np.float64("nan")])
def test_classifier_reads_each_item_or_names_the_first_bad_one(clf, batch):
    bad = next((i for i, item in enumerate(batch) if not _readable(item, token_lists_ok=False)), None)
    if bad is not None:
        with pytest.raises((TypeError, ValueError), match=f"text {bad} "):
            clf.predict(batch)
        return
    results = clf.predict(batch)
    assert isinstance(results, list) and len(results) == len(batch)
    for result in results:
        assert result["label"] in clf.labels and 0.0 <= result["score"] <= 1.0


@_settings(12)
@given(st.lists(st.one_of(texts, junk, surrogate_text), max_size=4))
@example([])
@example(["the company", None])
@example(["x", "ab\ud800c"])
def test_language_model_reads_each_prompt_or_names_the_first_bad_one(lm, batch):
    bad = next((i for i, item in enumerate(batch) if not _readable(item, token_lists_ok=False)), None)
    if bad is not None:
        with pytest.raises((TypeError, ValueError), match=f"prompt {bad} "):
            _lm_predict(lm, batch)
        return
    results = _lm_predict(lm, batch)
    assert len(results) == len(batch) and all(isinstance(r, str) for r in results)


# ---------------------------------------------------------------- predict: batches line up with their items
def _same_tagging(a, b):
    assert a["tokens"] == b["tokens"] and a["tags"] == b["tags"]
    assert [{k: v for k, v in e.items() if k != "score"} for e in a["entities"]] == [
        {k: v for k, v in e.items() if k != "score"} for e in b["entities"]]
    for x, y in zip(a["entities"], b["entities"]):
        assert math.isclose(x["score"], y["score"], abs_tol=2e-3)


@_settings(20)
@given(st.lists(st.one_of(texts, token_lists), min_size=1, max_size=5))
@example(["Pankaj lives in Munich .", "", "Angela Merkel visited Paris and Berlin with Siemens", "x"])
@example([["Angela", "Merkel"], "\u202eParis\u202c", "😀 New York 😀", "\x00"])
def test_tagger_batch_results_are_the_items_own_results(tagger, batch):
    together = tagger.predict(batch)
    assert len(together) == len(batch)
    for item, result in zip(batch, together):
        _same_tagging(result, tagger.predict([item])[0])


@_settings(20)
@given(st.lists(texts, min_size=1, max_size=5))
@example(["a great , moving film", "", "bad " * 80, "x", "not good at all \u200b"])
def test_classifier_batch_results_are_the_items_own_results(clf, batch):
    together = clf.predict_proba(batch)
    assert together.shape == (len(batch), len(clf.labels)) and np.isfinite(together).all()
    alone = np.concatenate([clf.predict_proba([item]) for item in batch])
    np.testing.assert_allclose(together, alone, atol=2e-3)
    labels = [r["label"] for r in clf.predict(batch)]
    for i, row in enumerate(alone):
        if abs(row[0] - row[1]) > 5e-3:  # a near tie may fall either way
            assert labels[i] == clf.labels[int(np.argmax(row))]


@_settings(8)
@given(st.lists(texts, min_size=2, max_size=4))
@example(["the company said", "", "\x00 😀", "stocks fell sharply in new york trading"])
def test_language_model_batch_results_are_the_items_own_results(lm, batch):
    assert _lm_predict(lm, batch) == [_lm_predict(lm, [item])[0] for item in batch]


# ---------------------------------------------------------------- huge inputs and empty batches
HUGE = {
    "one token": "x" * 100_000,
    "words": ("Pankaj lives in Munich . " * 5000)[:100_000],
    "hostile": ("\x00\u200b😀 e\u0301 שלום '' n't\u202e (x) " * 5000)[:100_000],
}


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_100k_character_inputs_are_read_in_bounded_time(tagger, clf, lm, kind):
    text = HUGE[kind]
    tagged = tagger.predict([text, "Angela Merkel"])
    tokens = [t for t, _, _ in tokenize(text)]
    assert tagged[0]["tokens"] == tokens and len(tagged[0]["tags"]) == len(tokens)
    _same_tagging(tagged[1], tagger.predict(["Angela Merkel"])[0])
    labels = [r["label"] for r in clf.predict([text, "good"])]
    assert labels == [clf.predict(text)["label"], clf.predict("good")["label"]]
    assert isinstance(_lm_predict(lm, text), str)


@pytest.mark.parametrize("empty", [[], (), np.array([], dtype=str)], ids=["list", "tuple", "str_array"])
def test_empty_batches_give_empty_results(tagger, clf, lm, empty):
    assert tagger.predict(empty) == [] and clf.predict(empty) == [] and _lm_predict(lm, empty) == []
    assert clf.predict_proba(empty).shape == (0, len(clf.labels))


# ---------------------------------------------------------------- predict: vectorized arrays with NaN/inf
SPECIAL_IDS = [np.nan, np.inf, -np.inf, -1.0, 2.5, 1e12]


def _ids(limit):
    """(2, 4) float arrays of ids: mostly valid, sometimes NaN/inf/negative/fractional/too large."""
    return hnp.arrays(np.float64, (2, 4), elements=st.one_of(
        st.integers(0, 40).map(float), st.sampled_from(SPECIAL_IDS + [float(limit), float(limit - 1)])))


def _first_bad_row(ids, limit):
    bad = ~np.isfinite(ids) | (ids != np.round(ids)) | (ids < 0) | (ids >= limit)
    return int(np.argwhere(bad)[0][0]) if bad.any() else None


@_settings(15)
@given(data=st.data())
def test_vectorized_ids_with_nan_inf_or_out_of_range_are_refused_by_row(tagger, clf, lm, data):
    for task in (clf, lm, tagger):
        limits = task.id_limits()
        ids = data.draw(_ids(limits["token_ids"]), label=type(task).__name__)
        x = ids
        if "char_ids" in limits:
            x = {"token_ids": ids, "char_ids": np.ones((2, 4, task.preprocessor.max_chars), "float64")}
        row = _first_bad_row(ids, limits["token_ids"])
        if row is not None:
            with pytest.raises(ValueError, match=f"input 'token_ids' row {row} holds"):
                task.predict(x)
        elif task is clf:
            np.testing.assert_allclose(clf.predict(ids), clf.predict(ids.astype("int32")), atol=1e-5)


@pytest.mark.parametrize("x,match", [
    (np.zeros((0, 4), "int32"), "has no rows"),
    (np.zeros((2, 0), "int32"), "has no time steps"),
    (np.array([2, 3]), r"must be 2-D \(batch, time\)"),
    (np.ones((1, 2, 3), "int32"), "must be 2-D"),
    (np.array([[2, None]], dtype=object), "text 0 is list"),
])
def test_vectorized_arrays_of_the_wrong_shape_or_kind_are_refused(clf, x, match):
    with pytest.raises(ValueError, match=match):
        clf.predict(x)


def test_vectorized_tagger_inputs_must_agree(tagger):
    features = tagger.vectorize_tokens([["Angela", "Merkel"]])
    with pytest.raises(ValueError, match="different numbers of rows"):
        tagger.predict({"token_ids": features["token_ids"], "char_ids": np.ones((3, 2, 20), "int32")})
    with pytest.raises(ValueError, match="'char_ids' holds <U1 values"):
        tagger.predict({"token_ids": features["token_ids"], "char_ids": np.full((1, 2, 20), "a")})
    limit = tagger.id_limits()["char_ids"]
    message = fr"'char_ids' row 0 holds id \d+; ids are whole numbers from 0 to {limit - 1}"
    with pytest.raises(ValueError, match=message):
        tagger.predict({**features, "char_ids": features["char_ids"] + tagger.id_limits()["char_ids"]})


# ---------------------------------------------------------------- the vectorizers and preprocessors
@pytest.fixture(scope="module")
def vectorizers():
    from rnnzoo.text.vectorizers import CharLookup, SequenceVectorizer, TokenLookup

    words = ["pankaj", "munich", "the", "film", "good", "'s", "."]
    return {
        "TokenLookup": TokenLookup(words),
        "CharLookup": CharLookup(list("abcdefghijklmnopqrstuvwxyz.'"), max_chars=6),
        "SequenceVectorizer": SequenceVectorizer(words),
    }


def _rows(tensor):
    return tensor.to_list() if isinstance(tensor, tf.RaggedTensor) else tensor.numpy().tolist()


def _trim(row):
    """A padded id row without its trailing padding (0, or all-0 character rows)."""
    if not isinstance(row, list):
        return row
    while row and (row[-1] == 0 or (isinstance(row[-1], list) and not any(row[-1]))):
        row.pop()
    return row


@_settings(20)
@given(st.lists(st.one_of(texts, st.binary(max_size=6), flat_junk, surrogate_text), max_size=4))
@example([])
@example([None, "a"])
@example(["a", b"\xff"])
@example(["x", "\ud800"])
@example([float("nan")])
def test_vectorizers_read_each_item_or_name_the_first_bad_one(vectorizers, tagger, clf, lm, batch):
    layers = {**vectorizers, "tagger preprocessor": tagger.preprocessor,
              "classifier preprocessor": clf.preprocessor, "language model preprocessor": lm.preprocessor}
    bad = next((i for i, item in enumerate(batch) if not _readable(item, token_lists_ok=False)), None)
    for name, layer in layers.items():
        if bad is not None:
            with pytest.raises((TypeError, ValueError), match=fr"item {bad}\b"):
                layer(batch)
            continue
        out = layer(batch)
        first = out["token_ids"] if isinstance(out, dict) else out
        rows = _rows(first)
        assert len(rows) == len(batch), name
        for i, item in enumerate(batch):  # each row is the item's own
            alone = layer([item])
            alone = _rows(alone["token_ids"] if isinstance(alone, dict) else alone)[0]
            assert _trim(rows[i]) == _trim(alone), (name, item)


@_settings(20)
@given(st.lists(st.one_of(token_lists, st.text(max_size=3), junk), max_size=4))
@example([["Pankaj"], "Pankaj lives"])
@example([[b"bytes"]])
@example([["ok", None]])
def test_tagger_vectorize_numpy_reads_token_lists_or_names_the_bad_one(tagger, batch):
    bad = next((i for i, s in enumerate(batch) if not (isinstance(s, (list, tuple)) and all(
        isinstance(t, str) for t in s))), None)
    if bad is not None:
        with pytest.raises(TypeError, match=f"sentence {bad} "):
            tagger.preprocessor.vectorize_numpy(batch)
        return
    out = tagger.preprocessor.vectorize_numpy(batch)
    assert out["token_ids"].shape[0] == len(batch)
    for i, tokens in enumerate(batch):
        assert (out["token_ids"][i, : len(tokens)] > 0).all() and not out["token_ids"][i, len(tokens):].any()


@_settings(15)
@given(st.lists(st.one_of(texts, st.binary(max_size=6).filter(_utf8)), max_size=4))
@example([])
@example(["\x00", "a\x00b", "😀 e\u0301"])
def test_bag_of_words_counts_each_document(batch):
    from rnnzoo.text.vectorizers import bag_of_words

    features, counts = bag_of_words(batch)
    assert counts.shape == (len(batch), len(features)) and (counts >= 0).all()


@pytest.mark.parametrize("bad,error,match", [
    ([None], TypeError, "item 0 is NoneType"),
    (["a", 1], TypeError, "item 1 is int"),
    ([float("nan")], TypeError, "item 0 is float"),
    ([b"\xff"], ValueError, "item 0 is bytes that are not valid UTF-8"),
    (["\ud800"], ValueError, "item 0 holds '\\\\ud800'"),
])
def test_bag_of_words_names_a_bad_document(bad, error, match):
    from rnnzoo.text.vectorizers import bag_of_words

    with pytest.raises(error, match=match):
        bag_of_words(bad)


def test_label_lookup_names_an_undecodable_label():
    from rnnzoo.text.vectorizers import LabelLookup

    with pytest.raises(ValueError, match=r"unknown label\(s\) \['\\\\xff'\]"):
        LabelLookup(["a", "b"])(tf.constant([b"\xff"]))
