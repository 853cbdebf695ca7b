"""Quality metrics, every family's in one place: entity F1, classification scores, BLEU, perplexity.

Plain Python and NumPy on already predicted outputs (no Keras, no backend):
the families' `score`/`evaluate` predict, then call these. Scores are in
percent, rounded to two decimals, as `metrics.json` records them. seqeval
(entity F1) and sacrebleu (BLEU) are imported when called.
"""

import math
import numbers

import numpy as np


def _percent(fraction):
    return round(100 * float(fraction), 2)


def _check_aligned(gold, predicted, what):
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold {what} but {len(predicted)} predicted; they must be aligned.")


def entity_scores(gold, predicted):
    """Entity-level micro precision/recall/F1 and per-type scores, in percent.

    Exact span and type must match (conlleval); computed with seqeval's default
    (conlleval-compatible) mode.

    Args:
        gold, predicted: lists of BIO tag lists, aligned.

    Returns:
        `{"precision", "recall", "f1", "per_type": {TYPE: {"precision", "recall", "f1", "support"}},
        "sentences", "tokens"}`.

    Example:
    >>> scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    >>> scores["precision"], scores["recall"], scores["f1"], scores["per_type"]["LOC"]["support"]
    (100.0, 50.0, 66.67, 1)
    """
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    _check_aligned(gold, predicted, "sequences")
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {
        kind: {
            "precision": _percent(v["precision"]),
            "recall": _percent(v["recall"]),
            "f1": _percent(v["f1-score"]),
            "support": int(v["support"]),
        }
        for kind, v in report.items()
        if not kind.endswith("avg")
    }
    return {
        "precision": _percent(precision_score(gold, predicted, zero_division=0)),
        "recall": _percent(recall_score(gold, predicted, zero_division=0)),
        "f1": _percent(f1_score(gold, predicted, zero_division=0)),
        "per_type": per_type,
        "sentences": len(gold),
        "tokens": sum(len(s) for s in gold),
    }


def classification_scores(gold_ids, predicted_ids, labels):
    """Accuracy and per-label precision/recall/F1 of a single-label classifier, in percent.

    Args:
        gold_ids, predicted_ids: aligned label ids, `(examples,)` ints indexing `labels`.
        labels: the label names, in id order.

    Returns:
        `{"accuracy", "examples", "per_label": {name: {"precision", "recall", "f1", "support"}}}`;
        a label never predicted (or never gold) gets precision (recall) 0.

    Example:
    >>> scores = classification_scores([0, 1, 1], [0, 1, 0], ["negative", "positive"])
    >>> scores["accuracy"], scores["examples"]
    (66.67, 3)
    >>> scores["per_label"]["positive"]
    {'precision': 100.0, 'recall': 50.0, 'f1': 66.67, 'support': 2}
    """
    gold, predicted = np.asarray(gold_ids), np.asarray(predicted_ids)
    _check_aligned(gold, predicted, "labels")
    per_label = {}
    for i, name in enumerate(labels):
        tp = int(np.sum((predicted == i) & (gold == i)))
        n_pred, n_gold = int(np.sum(predicted == i)), int(np.sum(gold == i))
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[name] = {
            "precision": _percent(precision),
            "recall": _percent(recall),
            "f1": _percent(f1),
            "support": n_gold,
        }
    return {
        "accuracy": _percent(np.mean(predicted == gold)),
        "examples": len(gold),
        "per_label": per_label,
    }


def multilabel_scores(gold, predicted):
    """Exact-match accuracy and micro-averaged F1 of a multilabel classifier, in percent.

    Args:
        gold, predicted: aligned multi-hot arrays `(examples, labels)` (0/1, or booleans).

    Returns:
        `{"accuracy", "micro_f1", "examples"}`: accuracy counts an example right
        only when its whole label set is.

    Example:
    >>> multilabel_scores([[1, 0, 1], [0, 1, 0]], [[1, 0, 0], [0, 1, 0]])
    {'accuracy': 50.0, 'micro_f1': 80.0, 'examples': 2}
    """
    gold, predicted = np.asarray(gold, "float32"), np.asarray(predicted, "float32")
    _check_aligned(gold, predicted, "label sets")
    tp = float((predicted * gold).sum())
    micro_f1 = 2 * tp / max(1.0, float(predicted.sum() + gold.sum()))
    return {
        "accuracy": _percent(np.mean(np.all(predicted == gold, axis=1))),
        "micro_f1": _percent(micro_f1),
        "examples": len(gold),
    }


def bleu(references, hypotheses):
    """Corpus BLEU (sacrebleu: 13a tokenization, exponential smoothing), in percent.

    The standard, comparable BLEU of WMT papers: computed on detokenized text
    by sacrebleu, not on the model's own tokens.

    Args:
        references: one entry per hypothesis: a reference string, or a list of
            reference strings (they may differ in number).
        hypotheses: the system's outputs, detokenized strings.

    Returns:
        The BLEU score, a float in [0, 100], rounded to two decimals.

    Example:
    >>> bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
    100.0
    >>> bleu([["a dog runs in the park", "the dog is running in the park"]], ["the dog is running in a park"])
    66.87
    """
    try:
        import sacrebleu
    except ImportError:  # pragma: no cover
        raise ImportError("rnnzoo.metrics.bleu needs sacrebleu: pip install sacrebleu") from None

    if isinstance(hypotheses, str) or isinstance(references, str):
        raise ValueError("bleu takes lists: one hypothesis string per sentence, and its reference(s).")
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{len(references)} reference entries but {len(hypotheses)} hypotheses; give one entry (a string, "
            "or a list of strings) per hypothesis."
        )
    if not hypotheses:
        raise ValueError("bleu needs at least one hypothesis; got none.")
    for i, hypothesis in enumerate(hypotheses):
        if not isinstance(hypothesis, str):
            raise ValueError(f"hypothesis {i} is {type(hypothesis).__name__}; bleu scores detokenized strings "
                             "(join a token list into its sentence first).")
    per_sentence = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    for i, refs in enumerate(per_sentence):
        if not all(isinstance(r, str) for r in refs):
            raise ValueError(f"reference entry {i} must be a string or a list of strings, got {references[i]!r:.60}.")
    if any(not refs for refs in per_sentence):
        raise ValueError("every hypothesis needs at least one reference; one got an empty list.")
    # sacrebleu takes reference streams (the k-th reference of every sentence); None fills the shorter sets.
    streams = [[refs[k] if k < len(refs) else None for refs in per_sentence]
               for k in range(max(map(len, per_sentence)))]
    return round(float(sacrebleu.corpus_bleu(list(hypotheses), streams).score), 2)


def perplexity(total_negative_log_likelihood, token_count):
    """Perplexity: `exp(total negative log-likelihood / tokens)`, natural log.

    Args:
        total_negative_log_likelihood: the summed NLL (nats) over the tokens,
            a finite number >= 0.
        token_count: how many tokens the sum covers, an int >= 1.

    Returns:
        The perplexity, a float >= 1 (`inf` when it overflows a float).

    Example:
    >>> perplexity(0.0, 10)
    1.0
    >>> round(perplexity(10 * math.log(4), 10), 6)  # uniform over 4 words
    4.0
    """
    if isinstance(token_count, bool) or not isinstance(token_count, numbers.Integral):
        raise ValueError(f"token_count must be an int, the number of tokens scored; got {token_count!r}.")
    if token_count < 1:
        raise ValueError(
            f"perplexity needs at least one token (token_count={token_count}): the mean negative "
            "log-likelihood of no tokens is undefined. Check that the data is not empty or all padding."
        )
    total = float(total_negative_log_likelihood)
    if not math.isfinite(total) or total < 0:
        raise ValueError(
            f"total_negative_log_likelihood must be a finite sum of -log p >= 0, got {total!r}."
        )
    try:
        return math.exp(total / int(token_count))
    except OverflowError:
        return math.inf
