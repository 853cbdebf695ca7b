"""The language model's readable results from arrays: pure NumPy, shared by the Keras task and the portable runtimes."""

import numpy as np


def top_tokens(probabilities, tokens, top_k):
    """`[[(token, probability), ...] per row]`: each row's `top_k` most probable tokens, most probable first.

    Padding (id 0) is never a token: its column is zeroed (in place) before
    ranking. Probabilities are rounded to 4 decimals; ties keep id order.

    Example:
    >>> top_tokens(np.array([[0.5, 0.2, 0.3]]), ["", "a", "b"], 2)
    [[('b', 0.3), ('a', 0.2)]]
    """
    probabilities[:, 0] = 0.0
    results = []
    for row in probabilities:
        best = np.argsort(-row, kind="stable")[:top_k]
        results.append([(tokens[i], round(float(row[i]), 4)) for i in best])
    return results
