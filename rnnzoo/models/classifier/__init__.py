"""The many-to-one text classifier family: sentiment, topic, intent (declared in `family.py`; Keras classes load on first use)."""

from rnnzoo.models.registry import lazy_exports

_TASK, _BACKBONE = "rnnzoo.models.classifier.classifier", "rnnzoo.models.classifier.backbone"
__getattr__, __all__ = lazy_exports(__name__, {
    "TextClassifier": _TASK,
    "build_classifier": _TASK,
    "ClassifierBackbone": _BACKBONE,
    "MaskedPooling": _BACKBONE,
    "ClassifierPreprocessor": "rnnzoo.models.classifier.preprocessor",
})
