"""The classifier's text pipeline in pure Python: standardize, tokenize, look up, truncate.

`ClassifierPreprocessor` runs these steps as TensorFlow string ops inside the
model's input pipeline; `token_ids` here is their twin for a single text, with
Python's `re` and dict lookups (the rules are shared: `HTML_BREAK`,
`rnnzoo.text.tokenize`), for the portable predictors of `rnnzoo.runtime`,
which serve exported models without TensorFlow. Tests check both give the
same ids on the shipped classifiers' test texts.
"""

import re

from rnnzoo.text.tokenize import split

#: Which tokens a text longer than `max_length` keeps: the first, the last, or the first and last halves.
TRUNCATIONS = ("head", "tail", "head_tail")
#: The out-of-vocabulary id; an empty text reads as one of it.
OOV_ID = 1
#: HTML line breaks (`<br />`, as in IMDB), read as spaces. `[\t\n\f\r ]` is RE2's `\s` (Python's is wider).
HTML_BREAK = r"<[bB][rR][\t\n\f\r ]*/?>"
_HTML_BREAK = re.compile(HTML_BREAK)


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
