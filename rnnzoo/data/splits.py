"""Splitting and sampling labelled data: a leak-free validation split, a fixed evaluation sample."""

import collections
import random

#: Seed of the fixed sample a family's `evaluate(..., limit=n)` draws.
SAMPLE_SEED = 0
#: `hold_out_sentences` refuses corpora whose span search would take longer than this many sub-spans.
MAX_SPAN_WORK = 50_000_000


def hold_out_sentences(texts, fraction, seed):
    """A leak-free validation split for sentence + phrase corpora such as GLUE SST-2.

    GLUE SST-2's training rows are sentences together with their parse-tree
    phrases, each labelled. A random part of the rows puts phrases of one
    sentence on both sides, so validation accuracy is inflated and picks
    models for the wrong reason. Here the whole texts (rows that are no
    contiguous word span of another row; texts are split on whitespace) are
    sampled instead: a seeded `fraction` of them is held out, and every row
    found only inside held-out texts leaves training. A phrase also found in
    a training sentence stays in training.

    Args:
        texts: the training texts.
        fraction: the part of the whole texts to hold out, in (0, 1).
        seed: the sampling seed.

    Returns:
        `(train_indices, validation_indices)`, both sorted; validation holds
        whole texts only.

    Example:
    >>> hold_out_sentences(["a good film", "good film", "a bad one", "bad", "fine"], 0.34, seed=0)
    ([0, 1, 4], [2])
    """
    spans = [tuple(text.split()) for text in texts]
    rows = collections.defaultdict(list)  # span -> the row indices with that text
    for i, span in enumerate(spans):
        rows[span].append(i)
    work = sum(len(span) * (len(span) - 1) // 2 for span in rows)
    if work > MAX_SPAN_WORK:
        raise ValueError(
            f"data.train_validation_unit 'sentence' looks for phrases inside the training texts; these are too "
            f"long for it ({work:,} word spans to check). It is meant for sentence + phrase corpora such as "
            "GLUE SST-2; use train_validation_unit: row (or give data.validation)."
        )
    # Longest first: a row inside another is skipped, since its container's spans cover its own.
    containers = collections.defaultdict(list)  # span -> the whole texts it occurs in (other than itself)
    whole = []
    for span in sorted(rows, key=lambda s: (-len(s), s)):
        if span in containers:
            continue
        whole.append(span)
        for start in range(len(span)):
            for end in range(start + 1, len(span) + 1 - (start == 0)):
                inner = span[start:end]
                if inner in rows and (not containers[inner] or containers[inner][-1] != span):
                    containers[inner].append(span)
    random.Random(seed).shuffle(whole)
    held = set(whole[: max(1, int(round(len(whole) * fraction)))])
    train, validation = [], []
    for span, indices in rows.items():
        if span in held:
            validation += indices
        elif not (containers.get(span) and all(c in held for c in containers[span])):
            train += indices
    return sorted(train), sorted(validation)


def sample(texts, labels, limit, seed=SAMPLE_SEED):
    """A fixed random sample of `limit` aligned examples (files are often sorted by label, so not the first ones).

    Args:
        texts, labels: aligned lists.
        limit: how many examples to keep; None (or at least `len(texts)`) keeps all.
        seed: the sampling seed (`SAMPLE_SEED`: the sample `evaluate(..., limit=n)` scores).

    Returns:
        `(texts, labels)`, the chosen examples in their original order.

    Example:
    >>> sample(["a", "b", "c", "d"], [0, 1, 0, 1], 2)
    (['b', 'd'], [1, 1])
    """
    if limit is None or limit >= len(texts):
        return texts, labels
    chosen = sorted(random.Random(seed).sample(range(len(texts)), limit))
    return [texts[i] for i in chosen], [labels[i] for i in chosen]
