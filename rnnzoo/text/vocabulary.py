"""Word vocabularies: the training words by frequency, topped up with pretrained (GloVe) words, and their vectors.

Every family builds its word vocabulary here, each with its own policy given
as arguments: the tagger keeps every training word and adds the GloVe words of
the other splits' text and GloVe's most frequent words; the classifier keeps
its most frequent training words up to a cap, then fills the cap with GloVe's
most frequent words.
"""

from rnnzoo.data.glove import embedding_matrix, read_glove


def build_word_vocabulary(counts, embeddings=None, embedding_dim=50, cap=None, extra_words=(), glove_top=0, seed=0):
    """The word list (most frequent first) and, with pretrained vectors, its embedding matrix.

    Words come in this order, `cap` of them at most:

    1. the words of `counts`, most frequent first (ties in alphabetical order);
    2. with `embeddings`: the `extra_words` that have a pretrained vector
       (such as the unlabelled text of the other splits, as Lample et al. 2016
       do), in the vector file's order;
    3. with `embeddings`: the first `glove_top` words of the vector file (GloVe
       lists words by frequency) not listed yet, so that words first seen at
       test time still get pretrained vectors.

    Args:
        counts: `{word: count}` over the training text (a `collections.Counter`),
            the words normalized as the model reads them (the vectors are looked
            up lower-cased).
        embeddings: a known vectors name (`"glove_6b_50d"`) or a list of
            vector files, read by `rnnzoo.data.glove.read_glove`; None for no
            pretrained vectors (then only step 1).
        embedding_dim: the vectors' size.
        cap: the most words in all; None for no cap.
        extra_words: words worth a pretrained vector beyond the training words.
        glove_top: how many of the vector file's first (most frequent) words to add.
        seed: seed of the small random rows of words without a vector.

    Returns:
        `(words, matrix, coverage)`: the word list; float32 `(len(words) + 2,
        embedding_dim)` rows for `[padding, OOV] + words`
        (`rnnzoo.data.glove.embedding_matrix`); the fraction of words with a
        pretrained vector. Without `embeddings`: `(words, None, None)`.

    Example:
    >>> import collections
    >>> counts = collections.Counter("the cat saw the dog".split())
    >>> build_word_vocabulary(counts)
    (['the', 'cat', 'dog', 'saw'], None, None)
    >>> build_word_vocabulary(counts, cap=2)[0]
    ['the', 'cat']
    """
    words = sorted(counts, key=lambda w: (-counts[w], w))
    if cap is not None:
        words = words[:cap]
    if not embeddings:
        return words, None, None
    wanted = set(words) | set(extra_words)
    vectors = read_glove(embeddings, words=wanted, top=glove_top)
    known = set(words)
    found = [w for w in vectors if w not in known and w in wanted]
    known.update(found)
    added = found + [w for w in vectors if w not in known]
    words += added if cap is None else added[: max(0, cap - len(words))]
    matrix, coverage = embedding_matrix(words, vectors, embedding_dim, seed=seed)
    return words, matrix, coverage
