"""How the tagger batches sentences: training buckets, windows of long sentences, id arrays built in NumPy.

A module of its own, without TensorFlow or Keras, so benchmarks/bench_ner_gpu.py
reads the same buckets on a JAX machine, and the portable predictors of
`rnnzoo.runtime` (ONNX Runtime, LiteRT) batch and vectorize sentences exactly
as `BidirectionalTagger.predict` does.
"""

import numpy as np

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
    token), unknown words and characters are 1, padding 0.

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
    width = max(1, max((len(t) for t in token_lists), default=1))
    token_ids = np.zeros((len(token_lists), width), "int32")
    char_ids = np.zeros((len(token_lists), width, max_chars), "int32")
    for i, tokens in enumerate(token_lists):
        for j, token in enumerate(tokens):
            ids = seen.get(token)
            if ids is None:
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
