"""The data readers and splitters (rnnzoo.data): their docstring examples run, and their edge cases."""

import doctest
import importlib

import pytest

from rnnzoo.data.splits import SAMPLE_SEED, sample
from rnnzoo.data.tables import name_labels, read_table

MODULES = ["rnnzoo.data.conll", "rnnzoo.data.tables", "rnnzoo.data.splits"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


def test_read_table_tsv_keeps_quotes_and_reads_gzip(tmp_path):
    import gzip

    path = tmp_path / "train.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('sentence\tlabel\n"quoted" start\t1 \nplain\t0\n')
    assert read_table(path, "tsv") == (['"quoted" start', "plain"], ["1", "0"])
    with pytest.raises(ValueError, match=r"no label column 'stars'.*data.label_column"):
        read_table(path, "tsv", label_column="stars")
    with pytest.raises(ValueError, match=r"read_table reads \['csv', 'tsv'\] files \(data.reader\), got reader 'json'"):
        read_table(path, "json")


def test_read_table_names_a_short_row(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("text,label\nfine,1\nno label here\n")
    with pytest.raises(ValueError, match=r"short.csv:3: the row has fewer columns than the header"):
        read_table(path)


def test_name_labels_maps_ids_only_when_every_cell_is_one():
    assert name_labels(["0", "1", "0"], ["neg", "pos"]) == ["neg", "pos", "neg"]
    assert name_labels(["0", "2"], ["neg", "pos"]) == ["0", "2"]  # 2 is no id of two names: kept as it is
    assert name_labels(["1|0", "1"], ["a", "b"], multilabel=True) == [["b", "a"], ["b"]]


def test_sample_is_fixed_and_keeps_everything_without_a_limit():
    texts, labels = [f"t{i}" for i in range(50)], list(range(50))
    assert sample(texts, labels, None) == (texts, labels)
    assert sample(texts, labels, 80) == (texts, labels)
    first = sample(texts, labels, 5)
    assert first == sample(texts, labels, 5, seed=SAMPLE_SEED)
    assert [int(t[1:]) for t in first[0]] == first[1] == sorted(first[1])
