"""Text pipeline: tokenization (pure Python/TF) and Keras vectorizers (TF, loaded lazily)."""

from rnnzoo.text.tokenize import tokenize, tf_tokenize

_LAZY = {"TokenLookup", "CharLookup", "LabelLookup", "SequenceVectorizer", "TargetVectorizer", "bag_of_words"}


def __getattr__(name):
    # The vectorizers import TensorFlow; keep `import rnnzoo.text` TF-free.
    if name in _LAZY:
        from rnnzoo.text import vectorizers

        return getattr(vectorizers, name)
    raise AttributeError(f"module 'rnnzoo.text' has no attribute {name!r}")


__all__ = ["tokenize", "tf_tokenize", *_LAZY]
