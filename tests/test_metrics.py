"""rnnzoo.metrics: the docstring examples run, scores match a by-hand count, bad inputs say what is wrong."""

import doctest
import math

import numpy as np
import pytest

import rnnzoo.metrics
from rnnzoo.metrics import bleu, classification_scores, entity_scores, multilabel_scores, perplexity

EXAMPLES = [t for t in doctest.DocTestFinder().find(rnnzoo.metrics) if t.examples]


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name.rsplit(".", 1)[-1] for t in EXAMPLES])
def test_docstring_examples_run(test):
    if test.name.endswith(".bleu"):
        pytest.importorskip("sacrebleu")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{test.name}: {runner.failures} example(s) failed (see the output above)"


def test_every_metric_has_an_example():
    documented = {t.name.rsplit(".", 1)[-1] for t in EXAMPLES}
    assert {"entity_scores", "classification_scores", "multilabel_scores", "bleu", "perplexity"} <= documented


def test_classification_scores_count_by_hand():
    gold = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 1])
    scores = classification_scores(gold, predicted, ["a", "b", "c"])
    assert scores["accuracy"] == round(100 * 3 / 6, 2) and scores["examples"] == 6
    # b: predicted 3 times, right once; gold once.
    assert scores["per_label"]["b"] == {"precision": 33.33, "recall": 100.0, "f1": 50.0, "support": 1}
    # c: predicted once, right; gold 3 times.
    assert scores["per_label"]["c"] == {"precision": 100.0, "recall": 33.33, "f1": 50.0, "support": 3}
    assert list(scores["per_label"]) == ["a", "b", "c"]
    # A label nobody predicts or holds scores 0, not a division error.
    assert classification_scores([0], [0], ["a", "never"])["per_label"]["never"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_multilabel_scores_exact_match_and_micro_f1():
    gold = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]], "float32")
    predicted = np.array([[True, False, True], [True, True, False], [False, False, False]])
    scores = multilabel_scores(gold, predicted)
    assert scores == {"accuracy": 66.67, "micro_f1": round(100 * 2 * 3 / (4 + 3), 2), "examples": 3}
    assert multilabel_scores(np.zeros((2, 3)), np.zeros((2, 3)))["micro_f1"] == 0.0


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="3 gold labels but 2 predicted"):
        classification_scores([0, 1, 1], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="2 gold label sets but 1 predicted"):
        multilabel_scores([[1], [0]], [[1]])
    with pytest.raises(ValueError, match="1 gold sequences but 0 predicted"):
        entity_scores([["O"]], [])


def test_bleu_agrees_with_sacrebleu_and_reads_several_references():
    sacrebleu = pytest.importorskip("sacrebleu")
    hypotheses = ["the cat is on the mat", "there is a dog in the garden"]
    first = ["the cat sat on the mat", "a dog is in the garden"]
    second = ["a cat is on the mat", None]
    expected = round(sacrebleu.corpus_bleu(hypotheses, [first, second]).score, 2)
    assert bleu([[first[0], second[0]], [first[1]]], hypotheses) == expected
    assert bleu(first, hypotheses) == round(sacrebleu.corpus_bleu(hypotheses, [first]).score, 2)


def test_bleu_refuses_what_it_cannot_score():
    pytest.importorskip("sacrebleu")
    with pytest.raises(ValueError, match="2 reference entries but 1 hypotheses"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one hypothesis"):
        bleu([], [])
    with pytest.raises(ValueError, match="takes lists"):
        bleu("the cat", "the cat")
    with pytest.raises(ValueError, match="at least one reference"):
        bleu([[]], ["the cat"])
    with pytest.raises(ValueError, match="hypothesis 0 is list; bleu scores detokenized strings"):
        bleu(["the cat"], [["the", "cat"]])
    with pytest.raises(ValueError, match="reference entry 0 must be a string or a list of strings"):
        bleu([[["the", "cat"]]], ["the cat"])


def test_perplexity_is_the_exponent_of_the_mean_and_refuses_no_tokens():
    assert perplexity(np.float32(20 * math.log(8)), 20) == pytest.approx(8.0, rel=1e-6)
    assert perplexity(1e6, 1) == math.inf
    with pytest.raises(ValueError, match="at least one token"):
        perplexity(0.0, 0)
    with pytest.raises(ValueError, match="token_count must be an int"):
        perplexity(1.0, 2.5)
    with pytest.raises(ValueError, match="token_count must be an int"):
        perplexity(1.0, True)
    with pytest.raises(ValueError, match="finite sum"):
        perplexity(float("nan"), 3)
    with pytest.raises(ValueError, match="finite sum"):
        perplexity(-1.0, 3)
