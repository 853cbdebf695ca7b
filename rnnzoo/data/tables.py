"""Readers for labelled text tables: CSV and TSV files (optionally gzip) with a header row.

The text column is `data.text_column` (default: the first of `TEXT_COLUMNS`
in the header) and the label column `data.label_column` (default: `label`).
`name_labels` turns the raw label cells into label names: when the file
holds integer ids `0..n-1` and names are given, id `i` means `names[i]`
(IMDB and SST-2 store 0 = negative, 1 = positive); for multilabel data a
cell lists names separated by `|`.
"""

import csv
import gzip

#: `data.reader` -> the column delimiter.
READERS = {"csv": ",", "tsv": "\t"}
#: Text column names looked for, in order, when `data.text_column` is not set.
TEXT_COLUMNS = ("text", "sentence", "review")


def read_table(path, reader="csv", text_column=None, label_column=None):
    """Read `(texts, raw_labels)` from a CSV/TSV file with a header row.

    TSV files are read with quoting disabled (GLUE's convention: a `"` is
    text); CSV files use RFC 4180 quoting. `.gz` files are decompressed.

    Args:
        path: the file.
        reader: `"csv"` or `"tsv"` (`READERS`).
        text_column: the text column's name (default: the first of `TEXT_COLUMNS` in the header).
        label_column: the label column's name (default `"label"`).

    Returns:
        `(texts, raw_labels)`: two lists of str, the label cells stripped.

    Raises:
        ValueError: naming the missing column (and the header), or the short row.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> _ = open(path, "w").write('id,label,text\\n1,1,"Great, really ""great"" film"\\n2,0,awful\\n')
    >>> read_table(path)
    (['Great, really "great" film', 'awful'], ['1', '0'])
    """
    if reader not in READERS:
        raise ValueError(f"read_table reads {sorted(READERS)} files (data.reader), got reader {reader!r}.")
    opener = gzip.open if str(path).endswith(".gz") else open
    quoting = csv.QUOTE_NONE if reader == "tsv" else csv.QUOTE_MINIMAL
    csv.field_size_limit(1 << 24)
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter=READERS[reader], quoting=quoting)
        header = rows.fieldnames or []
        text_column = text_column or next((c for c in TEXT_COLUMNS if c in header), None)
        label_column = label_column or "label"
        for column, what in ((text_column, "text"), (label_column, "label")):
            if column not in header:
                raise ValueError(
                    f"{path}: no {what} column {column!r}; the header is {header}. "
                    f"Set data.{what}_column to the right column name."
                )
        texts, labels = [], []
        for line, row in enumerate(rows, 2):
            text, label = row[text_column], row[label_column]
            if text is None or label is None:
                raise ValueError(f"{path}:{line}: the row has fewer columns than the header.")
            texts.append(text)
            labels.append(label.strip())
    return texts, labels


def name_labels(raw, names, multilabel=False):
    """Map raw label cells to label names (integer ids index `names` when given).

    Args:
        raw: the label cells, as `read_table` returns them.
        names: the label names in id order, or None/empty to keep the cells as they are.
        multilabel: a cell lists names (or ids) separated by `|`.

    Returns:
        One name per cell, or one list of names per cell when `multilabel`.
        Ids are mapped only when every cell is an id below `len(names)`.

    Example:
    >>> name_labels(["1", "0"], ["negative", "positive"])
    ['positive', 'negative']
    >>> name_labels(["sports|politics", "arts"], None, multilabel=True)
    [['sports', 'politics'], ['arts']]
    """
    split = (lambda cell: [p for p in cell.split("|") if p]) if multilabel else (lambda cell: [cell])
    cells = [split(c) for c in raw]
    if names and all(p.isdigit() and int(p) < len(names) for ps in cells for p in ps):
        cells = [[names[int(p)] for p in ps] for ps in cells]
    return cells if multilabel else [ps[0] for ps in cells]
