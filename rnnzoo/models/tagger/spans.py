"""BIO tags -> entity spans (conlleval convention: a stray I- starts an entity)."""


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
