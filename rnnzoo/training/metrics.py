"""Quality metrics: entity-level F1 (seqeval, CoNLL convention)."""


def entity_scores(gold, predicted):
    """Entity-level micro precision/recall/F1 and per-type scores, in percent.

    Exact span and type must match (conlleval); computed with seqeval's default
    (conlleval-compatible) mode.

    Args:
        gold, predicted: lists of BIO tag lists, aligned.

    Returns:
        `{"precision", "recall", "f1", "per_type": {TYPE: {"precision", "recall", "f1", "support"}},
        "sentences", "tokens"}`.
    """
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted.")
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {
        kind: {
            "precision": round(100 * float(v["precision"]), 2),
            "recall": round(100 * float(v["recall"]), 2),
            "f1": round(100 * float(v["f1-score"]), 2),
            "support": int(v["support"]),
        }
        for kind, v in report.items()
        if not kind.endswith("avg")
    }
    return {
        "precision": round(100 * float(precision_score(gold, predicted, zero_division=0)), 2),
        "recall": round(100 * float(recall_score(gold, predicted, zero_division=0)), 2),
        "f1": round(100 * float(f1_score(gold, predicted, zero_division=0)), 2),
        "per_type": per_type,
        "sentences": len(gold),
        "tokens": sum(len(s) for s in gold),
    }
