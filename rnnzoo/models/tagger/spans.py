"""Tag schemes: BIO tags -> entity spans (and readable entities), and BIO <-> IOBES.

Pure Python: the portable predictors of `rnnzoo.runtime` use it without TensorFlow.
"""

TAG_SCHEMES = ("bio", "iobes")


def bio_to_spans(tags):
    """Return `[(type, first_token, last_token_exclusive), ...]` for a BIO sequence.

    Example:
    >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4)]
    """
    spans, current = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, kind = tag.partition("-")
        starts = prefix == "B" or (prefix == "I" and (current is None or current[0] != kind))
        if current is not None and (prefix == "O" or starts or prefix not in "BI"):
            spans.append((current[0], current[1], i))
            current = None
        if starts:
            current = (kind, i)
    return spans


def entities(text, tokens, offsets, tags, confidence):
    """Readable entities of one tagged sentence: what `BidirectionalTagger.predict` returns under `entities`.

    Args:
        text: the sentence (str), or None for pre-tokenized input.
        tokens: its tokens.
        offsets: `rnnzoo.text.tokenize` spans `(token, start, end)` of `text`, or None.
        tags: BIO tags, one per token.
        confidence: `(len(tokens),)` NumPy array: each chosen tag's probability.

    Returns:
        `[{"type", "score", "text", "start", "end", "token_start", "token_end"}]`
        (`start`/`end`: character offsets, only with `offsets`); `score` is the
        entity's mean tag probability, rounded to 4 digits.
    """
    out = []
    spans = bio_to_spans(tags)
    confidence = confidence.tolist() if spans else ()  # Python floats: cheaper than np.mean per entity
    for kind, first, last in spans:
        entity = {"type": kind, "score": round(sum(confidence[first:last]) / (last - first), 4)}
        if offsets is not None:
            start, end = offsets[first][1], offsets[last - 1][2]
            entity.update({"text": text[start:end], "start": start, "end": end})
        else:
            entity["text"] = " ".join(tokens[first:last])
        entity.update({"token_start": first, "token_end": last})
        out.append(entity)
    return out


def bio_to_iobes(tags):
    """BIO tags -> IOBES: single-token entities become `S-`, last tokens `E-`.

    Follows `bio_to_spans` (a stray `I-` starts an entity), so both schemes
    give the same spans.

    Example:
    >>> bio_to_iobes(["B-PER", "I-PER", "O", "B-LOC", "I-ORG"])
    ['B-PER', 'E-PER', 'O', 'S-LOC', 'S-ORG']
    """
    out = list(tags)
    for kind, first, last in bio_to_spans(tags):
        if last - first == 1:
            out[first] = f"S-{kind}"
        else:
            out[first] = f"B-{kind}"
            out[first + 1 : last - 1] = [f"I-{kind}"] * (last - first - 2)
            out[last - 1] = f"E-{kind}"
    return out


def iobes_tag_to_bio(tag):
    """One IOBES tag -> its BIO tag (`S-X` -> `B-X`, `E-X` -> `I-X`); others unchanged.

    Per tag, so decoded IOBES sequences map to BIO without context (also in a graph:
    the export gathers from the mapped tag list).
    """
    prefix, sep, kind = tag.partition("-")
    if sep and prefix in ("S", "E"):
        return f"{'B' if prefix == 'S' else 'I'}-{kind}"
    return tag


def iobes_labels(labels):
    """A BIO tag set -> the IOBES tag set (`B-X` adds `S-X`, `I-X` adds `E-X`), order kept.

    Example:
    >>> iobes_labels(["O", "B-PER", "I-PER"])
    ['O', 'B-PER', 'S-PER', 'I-PER', 'E-PER']
    """
    out = []
    for tag in labels:
        prefix, sep, kind = tag.partition("-")
        extra = {"B": [f"S-{kind}"], "I": [f"E-{kind}"]}.get(prefix, []) if sep else []
        out += [t for t in [tag] + extra if t not in out]
    return out


def tf_bio_to_iobes(tags):
    """In-graph `bio_to_iobes` for one sentence's 1-D string tag tensor (`tf.data` input; imports TF)."""
    import tensorflow as tf

    prefix = tf.strings.substr(tags, 0, 2)
    kind = tf.strings.regex_replace(tags, "^..", "")
    entity = tf.logical_or(tf.equal(prefix, "B-"), tf.equal(prefix, "I-"))
    inside = tf.strings.join(["I-", kind])
    previous = tf.concat([["O"], tags[:-1]], 0)
    following = tf.concat([tags[1:], ["O"]], 0)
    continues = tf.logical_and(
        tf.equal(prefix, "I-"),
        tf.logical_or(tf.equal(previous, inside), tf.equal(previous, tf.strings.join(["B-", kind]))),
    )
    starts = tf.logical_and(entity, tf.logical_not(continues))
    ends = tf.logical_and(entity, tf.not_equal(following, inside))
    new_prefix = tf.where(starts, tf.where(ends, "S-", "B-"), tf.where(ends, "E-", "I-"))
    return tf.where(entity, tf.strings.join([new_prefix, kind]), tags)
