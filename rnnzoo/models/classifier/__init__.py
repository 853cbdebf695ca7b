"""The many-to-one text classifier family: sentiment, topic, intent (declared in `family.py`).

The Keras classes load on first use, so finding the family costs no Keras import.
"""

import importlib

_PUBLIC = {
    "TextClassifier": "rnnzoo.models.classifier.classifier",
    "build_classifier": "rnnzoo.models.classifier.classifier",
    "ClassifierBackbone": "rnnzoo.models.classifier.backbone",
    "MaskedPooling": "rnnzoo.models.classifier.backbone",
    "ClassifierPreprocessor": "rnnzoo.models.classifier.preprocessor",
}


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_PUBLIC)
