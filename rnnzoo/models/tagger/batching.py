"""How the tagger batches sentences: training buckets, windows of long sentences, id arrays built in NumPy.

A module of its own, without TensorFlow or Keras, so benchmarks/bench_ner_gpu.py
reads the same buckets on a JAX machine, and the portable predictors of
`rnnzoo.runtime` (ONNX Runtime, LiteRT) batch and vectorize sentences exactly
as `BidirectionalTagger.predict` does.
"""

import numpy as np

from rnnzoo.models.checks import InputError, as_text, warn_near_prior, warn_truncated
from rnnzoo.models.tagger.spans import entities
from rnnzoo.text.tokenize import tokenize

#: Sentence-length bucket edges of training batches (tokens).
BUCKET_BOUNDARIES = (8, 16, 24, 32, 48, 64, 128)
#: `predict` tags sentences longer than this many tokens in windows of at most this many (see `windows`).
MAX_LENGTH = 256
#: Tokens after which a window preferably ends (the last one in its second half).
SENTENCE_ENDS = frozenset({".", "!", "?", ";"})
#: Tokens whose ids `token_features` remembers per cache (the cache is emptied when full).
TOKEN_CACHE_SIZE = 100_000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def windows(tokens, max_length):
    """`(first, last)` token ranges of at most `max_length` covering `tokens`, preferably cut after a sentence end.

    Example:
    >>> windows(["a", ".", "b", "c", "d"], 3)
    [(0, 2), (2, 5)]
    """
    out, first, n = [], 0, len(tokens)
    while n - first > max_length:
        last = first + max_length
        for j in range(last - 1, first + max_length // 2 - 1, -1):
            if tokens[j] in SENTENCE_ENDS:
                last = j + 1
                break
        out.append((first, last))
        first = last
    out.append((first, n))
    return out


def token_features(token_lists, word_index, char_index, lowercase, max_chars, cache=None):
    """Token lists -> `{"token_ids": (batch, time), "char_ids": (batch, time, max_chars)}` int32 arrays.

    The ids the tagger's TensorFlow preprocessor computes, with dict lookups:
    words lower-cased like `tf.strings.lower` (ASCII letters only) when
    `lowercase`, characters are code points (the first `max_chars` of each
    token), unknown words and characters are 1, padding 0. A sentence that
    is not a list, or a token that is not a str, raises a `TypeError` naming it.

    Args:
        token_lists: lists of str tokens (right-padded to the longest, at least 1 step).
        word_index, char_index: `{word: id}`, `{character: id}` (ids >= 2).
        lowercase: lower-case words before the lookup.
        max_chars: characters per token.
        cache: optional dict `token -> (word id, char ids)` that running text
            fills (emptied at `TOKEN_CACHE_SIZE` tokens).

    Example:
    >>> f = token_features([["Hi", "you"]], {"hi": 2}, {"H": 2, "i": 3}, True, 3)
    >>> f["token_ids"].tolist(), f["char_ids"].tolist()
    ([[2, 1]], [[[2, 3, 0], [1, 1, 1]]])
    """
    seen = {} if cache is None else cache
    for i, tokens in enumerate(token_lists):
        if not isinstance(tokens, (list, tuple)):
            raise TypeError(
                f"sentence {i} is {type(tokens).__name__} ({tokens!r:.40}); vectorize_numpy takes token lists "
                "(lists of str): split text with rnnzoo.text.tokenize first."
            )
    width = max(1, max((len(t) for t in token_lists), default=1))
    token_ids = np.zeros((len(token_lists), width), "int32")
    char_ids = np.zeros((len(token_lists), width, max_chars), "int32")
    for i, tokens in enumerate(token_lists):
        for j, token in enumerate(tokens):
            ids = seen.get(token) if isinstance(token, str) else None
            if ids is None:
                if not isinstance(token, str):
                    raise TypeError(f"sentence {i} token {j} is {type(token).__name__} ({token!r:.40}); tokens are str.")
                key = token.translate(_ASCII_LOWER) if lowercase else token
                ids = (word_index.get(key, 1), [char_index.get(c, 1) for c in token[:max_chars]])
                if len(seen) >= TOKEN_CACHE_SIZE:
                    seen.clear()
                seen[token] = ids
            token_ids[i, j] = ids[0]
            char_ids[i, j, : len(ids[1])] = ids[1]
    return {"token_ids": token_ids, "char_ids": char_ids}


def trim_chars(features, window):
    """Drop the character columns that are padding in every token of the batch.

    Tokens' characters are left-aligned, so the columns past the longest token
    are all padding; `window` of them are kept (a CNN's half window reads them).
    The char encoder's output is unchanged; its cost falls with the width.
    """
    chars = features["char_ids"]
    width = min(chars.shape[-1], int((chars != 0).sum(-1).max(initial=0)) + window)
    return {**features, "char_ids": chars[..., : max(width, 1)]}


def uninformed_rows(features, reads_chars):
    """Which rows of a vectorized batch have no known word and (if read) no known character (ids <= 1)."""
    known = features["token_ids"].max(axis=1) > 1
    if reads_chars:
        known |= features["char_ids"].max(axis=(1, 2)) > 1
    return ~known


def read_sentences(x):
    """A tagger's raw `predict` input -> `(single, parsed)`, or an `InputError` naming the first bad item.

    Args:
        x: a str sentence (bytes are read as UTF-8), or a list/tuple of str
            sentences and token lists (lists of str).

    Returns:
        `single` (x was one sentence) and one `(index, text or None, tokens,
        offsets or None)` per item: a str is tokenized (`rnnzoo.text.tokenize`,
        offsets into the text), a token list is taken as it is.
    """
    single = isinstance(x, (str, bytes))
    items = [x] if single else list(x)
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
    return single, parsed


def tag_sentences(parsed, vectorize, decode, output_tags, batch_size, max_length, reads_chars, progress=None):
    """Tag parsed sentences (`read_sentences`) in length-sorted batches: what a tagger's `predict` returns.

    The one raw-input path of every tagger runtime (the Keras task and the
    portable predictors of `rnnzoo.runtime`): sentences longer than
    `max_length` tokens are tagged in `windows` (with a warning counting
    them), batches of similar length pad little, and a warning counts the
    sentences without a known word or character. Only the model differs.

    Args:
        parsed: `read_sentences` items.
        vectorize: token lists -> the model's feature arrays (`token_features`).
        decode: `(features, lengths) -> (tags, confidence)`: `(batch, time)`
            head ids and each chosen tag's probability.
        output_tags: the BIO tag of each head id.
        batch_size: windows per batch.
        max_length: tokens per window.
        reads_chars: the model reads characters (for the no-information warning).
        progress: optional wrapper of the batch iterable (a progress bar).

    Returns:
        One `{"tokens", "tags", "entities"}` dict per item, in input order.
    """
    results = [None] * len(parsed)
    for p in parsed:
        if not p[2]:
            results[p[0]] = {"tokens": [], "tags": [], "entities": []}
    # Windows (item, first token, last token exclusive) of at most max_length tokens.
    pieces_of = []
    long = 0
    for p in parsed:
        n = len(p[2])
        if n <= max_length:
            if n:
                pieces_of.append((p, 0, n))
            continue
        long += 1
        pieces_of.extend((p, first, last) for first, last in windows(p[2], max_length))
    if long:
        warn_truncated(long, len(parsed), max_length, f"each was tagged in windows of at most {max_length} "
                       "tokens (every token still has a tag; an entity across a window edge may be split)",
                       stacklevel=4)
    order = np.argsort(np.asarray([w[2] - w[1] for w in pieces_of], dtype="int64"), kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    pieces = {}  # item index -> [(first, tag ids, confidence)] of a windowed item
    uninformed = 0
    if progress is not None and len(batches) > 1:
        batches = progress(batches, desc="tagging", unit="batch")
    for chosen in batches:
        batch = [pieces_of[i] for i in chosen]
        features = vectorize([w[0][2][w[1] : w[2]] for w in batch])
        no_information = uninformed_rows(features, reads_chars)
        tags, confidence = decode(features, [w[2] - w[1] for w in batch])
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
                "entities": entities(text, tokens, offsets, tag_names, confidence[row, :n]),
            }
    for i, text, tokens, offsets in parsed:
        if i in pieces:
            parts = sorted(pieces[i], key=lambda part: part[0])
            tag_names = [output_tags[t] for part in parts for t in part[1]]
            confidence = np.concatenate([part[2] for part in parts])
            results[i] = {
                "tokens": tokens,
                "tags": tag_names,
                "entities": entities(text, tokens, offsets, tag_names, confidence),
            }
    if uninformed:
        warn_near_prior(0, uninformed, len(parsed), kind="sentences", unknown_what="known word or character",
                        stacklevel=4)
    return results
