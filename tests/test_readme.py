"""The README's Python examples run as written and show what they print (as doctests).

Each ```python block of README.md holding `>>>` prompts is a doctest; blocks run in order in one namespace
(later examples use earlier ones' models), in a temporary folder holding the files the README names.
"""

import doctest
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
CONLL_EXAMPLE = re.compile(r"For example `conll_test.txt`:\n\n```text\n(.*?)```", re.S)


def python_blocks(text):
    return [block for block in BLOCK.findall(text) if ">>>" in block]


def test_every_python_example_is_a_doctest():
    # A block without prompts would run unchecked: the README shows outputs as doctests.
    with open(README, encoding="utf-8") as f:
        blocks = BLOCK.findall(f.read())
    assert blocks, "README.md has no python examples"
    assert all(">>>" in b for b in blocks), "every ```python block in README.md must be a doctest"


@pytest.mark.slow
def test_readme_examples(tmp_path, monkeypatch):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    monkeypatch.chdir(tmp_path)
    # The CoNLL file the README shows, byte for byte, is the one the examples read.
    conll = CONLL_EXAMPLE.search(text).group(1)
    (tmp_path / "conll_test.txt").write_text(conll, encoding="utf-8")
    (tmp_path / "my_train.txt").write_text(conll, encoding="utf-8")
    import keras

    keras.utils.set_random_seed(0)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    namespace = {}
    blocks = python_blocks(text)
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, namespace, f"README block {i}", README, 0)
        runner.run(test, clear_globs=False)
        namespace = test.globs
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} README examples failed (see output above)"
