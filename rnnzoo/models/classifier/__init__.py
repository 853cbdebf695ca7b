"""The many-to-one text classifier family (sentiment, topic, intent)."""

from rnnzoo.models.classifier.backbone import ClassifierBackbone, MaskedPooling
from rnnzoo.models.classifier.classifier import TextClassifier, build_classifier

__all__ = ["ClassifierBackbone", "MaskedPooling", "TextClassifier", "build_classifier"]
