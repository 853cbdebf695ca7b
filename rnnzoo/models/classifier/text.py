"""The classifier's text pipeline in pure Python: standardize, tokenize, look up, truncate.

`ClassifierPreprocessor` runs these steps as TensorFlow string ops inside the
model's input pipeline; `token_ids` here is their twin for a single text, with
Python's `re` and dict lookups (the rules are shared: `HTML_BREAK`,
`rnnzoo.text.tokenize`), for the portable predictors of `rnnzoo.runtime`,
which serve exported models without TensorFlow. Tests check both give the
same ids on the shipped classifiers' test texts.
"""

import re

import numpy as np

from rnnzoo.models.checks import warn_near_prior, warn_truncated
from rnnzoo.text.tokenize import split

#: Which tokens a text longer than `max_length` keeps: the first, the last, or the first and last halves.
TRUNCATIONS = ("head", "tail", "head_tail")
#: The out-of-vocabulary id; an empty text reads as one of it.
OOV_ID = 1
#: HTML line breaks (`<br />`, as in IMDB), read as spaces. `[\t\n\f\r ]` is RE2's `\s` (Python's is wider).
HTML_BREAK = r"<[bB][rR][\t\n\f\r ]*/?>"
_HTML_BREAK = re.compile(HTML_BREAK)
#: How each `truncate` mode is described in warnings.
_KEPT = {"head": "the first", "tail": "the last", "head_tail": "the first and last halves of"}


def text_tokens(text):
    """A text's tokens as the classifier reads them: line breaks to spaces, lower-cased, tokenized.

    Example:
    >>> text_tokens("A GOOD film!<br />Really.")
    ['a', 'good', 'film', '!', 'really', '.']
    """
    return split(_HTML_BREAK.sub(" ", text).lower())


def truncate(ids, max_length, mode="head"):
    """Keep at most `max_length` of `ids` as `mode` says (`TRUNCATIONS`); an empty list becomes `[OOV_ID]`.

    Example:
    >>> truncate([5, 6, 7, 8, 9], 4, "head_tail"), truncate([], 4)
    ([5, 6, 8, 9], [1])
    """
    if not ids:
        return [OOV_ID]
    if len(ids) <= max_length:
        return ids
    if mode == "head":
        return ids[:max_length]
    if mode == "tail":
        return ids[len(ids) - max_length :]
    head = max_length // 2
    return ids[:head] + ids[len(ids) - (max_length - head) :]


def token_ids(text, word_index, max_length, mode="head"):
    """One text -> `(ids the model reads, token count before truncation)`; unknown words are `OOV_ID`.

    Args:
        text: a str.
        word_index: `{word: id}` (lower-cased words, ids >= 2).
        max_length: tokens kept; `mode`: which ones (`truncate`).
    """
    tokens = text_tokens(text)
    return truncate([word_index.get(t, OOV_ID) for t in tokens], max_length, mode), len(tokens)


def warn_read_as(rows, counts, max_length, mode, stacklevel=3):
    """The classifiers' warnings for one call: texts truncated, and texts read as unknown words only.

    Args:
        rows: the id rows the model reads (one per text, each >= 1 id).
        counts: `(len(rows),)` token counts before truncation (0: an empty text).
        max_length, mode: the truncation applied (`truncate`).
        stacklevel: the frame the warnings point at, as `warnings.warn` counts from the caller of this function.
    """
    counts = np.asarray(counts)
    truncated = int(np.count_nonzero(counts > max_length))
    warn_truncated(
        truncated, len(rows), max_length, f"the model read {_KEPT[mode]} {max_length} tokens of each (truncate={mode!r})",
        stacklevel=stacklevel + 1,
    )
    # A row of OOV ids only (1): an empty text (one OOV filler) or a text without a known word.
    no_known = sum(1 for row in rows if (row.max() if hasattr(row, "max") else max(row)) <= OOV_ID)
    empty = int(np.count_nonzero(counts == 0))
    warn_near_prior(empty, no_known - empty, len(rows), stacklevel=stacklevel + 1)


def readable_results(probabilities, labels, head, threshold=0.5):
    """`(n, num_labels)` probabilities -> what a classifier's `predict` returns for each text.

    One `{"label", "score"}` dict per row (the most probable label; score rounded
    to 4 digits), or for a `"multilabel"` head a list of them: the labels at or
    above `threshold`, most probable first.

    Example:
    >>> readable_results(np.array([[0.2, 0.8]]), ["negative", "positive"], "binary")
    [{'label': 'positive', 'score': 0.8}]
    """
    results = []
    for row in probabilities:
        if head == "multilabel":
            chosen = [i for i in np.argsort(-row) if row[i] >= threshold]
            results.append([{"label": labels[i], "score": round(float(row[i]), 4)} for i in chosen])
        else:
            best = int(np.argmax(row))
            results.append({"label": labels[best], "score": round(float(row[best]), 4)})
    return results
