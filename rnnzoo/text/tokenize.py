"""A CoNLL/PTB-style word tokenizer that only ever inserts spaces.

The same ordered regex rules run in Python (`tokenize`, with character offsets
into the original string) and in a TensorFlow graph (`tf_tokenize`, for the
exported SavedModel), so the served model and `predict` split text alike.
The rules use RE2-compatible syntax (no look-arounds) for that reason.
"""

import re

# (pattern, replacement), applied in order to " " + text + " ".
SPLIT_RULES = (
    # Brackets, quotes and most punctuation are tokens of their own.
    (r'([!?;"()\[\]{}<>`]|--)', r" \1 "),
    # Colons and commas, except inside numbers (10:30, 1,000).
    (r"([^0-9])([,:])", r"\1 \2 "),
    (r"([,:])([^0-9])", r" \1 \2"),
    # Possessive 's and contractions: hulk's -> hulk 's, don't -> do n't.
    (r"([^ ])('[sSmMdD]|'ll|'LL|'re|'RE|'ve|'VE) ", r"\1 \2 "),
    (r"([^ ])(n't|N'T) ", r"\1 \2 "),
    # A sentence-final period after a lowercase word or a number (keeps U.S., Mr.).
    (r"([a-z][a-z]|[0-9%])\. ", r"\1 . "),
    # Quotes opening or closing a word.
    (r" '([^ sSmMdDlLrRvVt])", r" ' \1"),
    (r"([^ sS])' ", r"\1 ' "),
)

# Every character `str.isspace()` accepts (what `str.split()` splits on). TF's
# `tf.strings.split` splits on ASCII whitespace only, so both sides first map
# these to " " (one character for one, so offsets are unchanged).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
WHITESPACE_RULE = ("[" + WHITESPACE + "]", " ")

_COMPILED = tuple((re.compile(p), r) for p, r in SPLIT_RULES)
_WHITESPACE = re.compile(WHITESPACE_RULE[0])


#: Space-separated chunks whose tokens `_split` remembers (the cache is emptied when full).
CHUNK_CACHE_SIZE = 200_000
_CHUNKS = {}
#: Every character some rule needs to match: a chunk without any is one token as it is.
_ANCHORS = re.compile(r"[!?;\"()\[\]{}<>`\-,:'.]")


def _split_chunk(chunk):
    if _ANCHORS.search(chunk) is None:
        return [chunk]
    padded = " " + chunk + " "
    for pattern, replacement in _COMPILED:
        # Applied twice: adjacent matches share a boundary character.
        padded = pattern.sub(replacement, pattern.sub(replacement, padded))
    return padded.split()


def _split(text):
    """The rules applied to each space-separated chunk of `text` on its own, chunks' tokens cached.

    The same tokens as applying the rules to the whole padded text: no match
    spans a space, and no rule uses a space both before and after its match,
    so the one space between two chunks is never wanted by two matches at
    once (tested against the whole-text rules on random strings and on the
    zoo's corpora). Running text repeats its chunks, so most are looked up,
    not matched: several times faster on long texts.
    """
    out = []
    for chunk in _WHITESPACE.sub(" ", text).split(" "):
        if chunk:
            tokens = _CHUNKS.get(chunk)
            if tokens is None:
                tokens = _split_chunk(chunk)
                if len(_CHUNKS) >= CHUNK_CACHE_SIZE:
                    _CHUNKS.clear()
                _CHUNKS[chunk] = tokens
            out.extend(tokens)
    return out


def split(text):
    """The tokens of `text` (a `str`) without offsets: what `tf_tokenize` gives for it.

    Example:
    >>> split("Don't stop.")
    ['Do', "n't", 'stop', '.']
    """
    return _split(text)


def tokenize(text):
    """Split `text` into CoNLL-style tokens with character offsets.

    Args:
        text: a `str`.

    Returns:
        A list of `(token, start, end)` with `text[start:end] == token`.

    Example:
    >>> [t for t, _, _ in tokenize("Ironman punched on hulk's face.")]
    ['Ironman', 'punched', 'on', 'hulk', "'s", 'face', '.']
    """
    if not isinstance(text, str):
        raise ValueError(f"tokenize expects a str, got {type(text).__name__}.")
    out, cursor = [], 0
    for token in _split(text):
        start = text.index(token, cursor)
        cursor = start + len(token)
        out.append((token, start, cursor))
    return out


def tf_tokenize(strings):
    """The same rules on a `tf.string` tensor of shape `(batch,)`.

    Returns:
        A `tf.RaggedTensor` of tokens, `(batch, None)`.
    """
    import tensorflow as tf

    strings = tf.strings.regex_replace(strings, *WHITESPACE_RULE)
    padded = tf.strings.join([" ", strings, " "])
    for pattern, replacement in SPLIT_RULES:
        for _ in range(2):
            padded = tf.strings.regex_replace(padded, pattern, replacement)
    return tf.strings.split(tf.strings.strip(padded))


def tf_token_offsets(strings, tokens):
    """Character offsets of `tf_tokenize`'s tokens in `strings`, as `tokenize` gives them: `(starts, ends)`.

    Offsets count Unicode code points (Python `str` indices), not bytes. The
    rules only insert spaces and map whitespace to spaces, so the tokens,
    joined, are the string's non-whitespace characters in order: a token
    starts at the non-whitespace character after those of the tokens before it.

    Args:
        strings: `(batch,)` valid UTF-8 strings.
        tokens: `tf_tokenize(strings)`.

    Returns:
        Two ragged int64 tensors shaped like `tokens`: `text[start:end]` is the token.
    """
    import tensorflow as tf

    chars = tf.strings.unicode_decode(strings, "UTF-8")
    spaces = tf.constant([ord(c) for c in WHITESPACE], tf.int32)
    kept = tf.logical_not(tf.reduce_any(tf.equal(chars.flat_values[:, None], spaces[None, :]), axis=1))
    positions = tf.ragged.range(chars.row_lengths())  # each character's index in its string
    visible = tf.ragged.boolean_mask(positions, chars.with_flat_values(kept))
    lengths = tf.cast(tf.strings.length(tokens.flat_values, unit="UTF8_CHAR"), tf.int64)
    ends = tf.cumsum(tokens.with_flat_values(lengths), axis=1)  # characters up to each token's end, per string
    base = tf.gather(visible.row_splits, tokens.value_rowids())
    last = tf.gather(visible.flat_values, base + ends.flat_values - 1)
    first = tf.gather(visible.flat_values, base + ends.flat_values - lengths)
    return tokens.with_flat_values(first), tokens.with_flat_values(last + 1)
