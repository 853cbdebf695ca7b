"""Reader for CoNLL column files (CoNLL-2003 and any user file in that format)."""

import os


def read_conll(path, token_column=0, tag_column=-1):
    """Read a CoNLL column file into sentences.

    One token per line (`WORD ... TAG`, whitespace separated), blank lines
    between sentences, `-DOCSTART-` lines skipped.

    Args:
        path: file path.
        token_column: column holding the word (default first).
        tag_column: column holding the tag (default last).

    Returns:
        `(sentences, tags)`: two lists of equally long lists of str.

    Example:
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = open(p, "w").write("Pankaj NNP B-NP B-PER\\nlives VBZ B-VP O\\n\\n")
    >>> read_conll(p)
    ([['Pankaj', 'lives']], [['B-PER', 'O']])
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"CoNLL file not found: {path}")
    sentences, tags = [], []
    words, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("-DOCSTART-"):
                if words:
                    sentences.append(words)
                    tags.append(labels)
                    words, labels = [], []
                continue
            fields = line.split()
            if len(fields) < 2:
                raise ValueError(
                    f"{path}:{line_number}: expected 'WORD ... TAG' columns, got {line!r}."
                )
            words.append(fields[token_column])
            labels.append(fields[tag_column])
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags
