"""Input checks shared by the tasks and the portable predictors: pure Python, no TensorFlow or Keras.

The tasks (`rnnzoo.models.task` re-exports these names) and `rnnzoo.runtime`'s
predictors, which serve exported models without TensorFlow, check their
inputs with the same functions, so both raise the same errors and warnings.
"""

import numbers
import warnings


class InputError(TypeError, ValueError):
    """A task was given an input of the wrong kind (a `TypeError` that is also a `ValueError`).

    Raised by `check_batch_size` and the tasks' input checks; catching either
    `TypeError` or `ValueError` catches it.
    """


def check_batch_size(batch_size, default):
    """`batch_size` as a positive `int`, or `default` for None; an `InputError` otherwise.

    `True`, floats (even 8.0), strings, zero and negative numbers are refused:
    a silently empty batch loop would return filler results.

    Example:
    >>> check_batch_size(None, 32), check_batch_size(8, 32)
    (32, 8)
    """
    if batch_size is None:
        return default
    return check_positive_int(batch_size, "batch_size", f"number of inputs per batch) or None for the default ({default}")


def check_positive_int(value, name, meaning):
    """`value` as an `int` >= 1, else an `InputError` saying `name must be a positive int (meaning), got ...`.

    `True` and floats (even 8.0) are refused too: the shared check behind
    `batch_size` and `max_length`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a positive int ({meaning}), got {value!r}.")
    return int(value)


def describe(x):
    """A short description of a bad input for error messages: its type and a bit of its value."""
    if x is None:
        return "None"
    return f"{type(x).__name__} ({x!r:.40})"


def as_text(item, index, what="item"):
    """`item`, with bytes read as UTF-8 (a `ValueError` naming `what` `index` when they are not)."""
    if isinstance(item, bytes):
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{what} {index} is bytes that are not valid UTF-8: {error}") from None
    return item


def check_encodable(text, index, what="text"):
    """Refuse a str that UTF-8 cannot encode (a lone surrogate such as `"\\ud800"`), naming `what` `index`.

    TensorFlow's string tensors hold UTF-8, so such a text would fail deep in
    the conversion without saying which one it was.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(
            f"{what} {index} holds {text[error.start]!r} at character {error.start}, a lone surrogate that is not "
            "valid Unicode text (it cannot be written as UTF-8). Decode your bytes with errors='replace', "
            "or drop the character."
        ) from None


def check_texts(texts, what="text", hint=""):
    """A list of `str` from a str or a list/tuple/array of str, or an `InputError` naming the first bad item.

    Bytes are read as UTF-8 (`as_text`); a str with a lone surrogate is refused
    (`check_encodable`). `hint` ends the message about a bad
    item (what the task reads, and what to do).

    Example:
    >>> check_texts("one text")
    ['one text']
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    import numpy as np

    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, (list, tuple)):
        raise InputError(f"{what}s must be a str or a list of str, got {type(texts).__name__} ({texts!r:.40}).")
    out = []
    for i, text in enumerate(texts):
        text = as_text(text, i, what)
        if not isinstance(text, str):
            raise InputError(f"{what} {i} is {type(text).__name__} ({text!r:.40}); {hint}")
        check_encodable(text, i, what)
        out.append(text)
    return out


def warn_near_prior(empty, unknown, total, kind="texts", unknown_what="known word", stacklevel=3):
    """One warning for inputs the model has nothing to read in (counts over one call)."""
    if not (empty or unknown):
        return
    parts = []
    if empty:
        parts.append(f"{empty} of {total} {kind} had no token (empty or whitespace)")
    if unknown:
        parts.append(f"{unknown} of {total}{'' if empty else ' ' + kind} had no {unknown_what}")
    warnings.warn(
        f"{' and '.join(parts)}: the model reads them as unknown words only, so their results are close to "
        "the label prior, not a judgement of the text.",
        UserWarning,
        stacklevel=stacklevel,
    )


def warn_truncated(count, total, max_length, what, stacklevel=3):
    """One warning for the inputs of one call that were longer than `max_length` tokens."""
    if count:
        warnings.warn(
            f"{count} of {total} inputs were longer than max_length={max_length} tokens: {what}. "
            "Pass max_length=... to change the limit.",
            UserWarning,
            stacklevel=stacklevel,
        )
