"""The BiLSTM(-CRF) named-entity tagger family (declared in `family.py`).

The Keras classes load on first use, so finding the family costs no Keras import.
"""

import importlib

_PUBLIC = {
    "BidirectionalTagger": "rnnzoo.models.tagger.tagger",
    "build_tagger": "rnnzoo.models.tagger.tagger",
    "CharEncoder": "rnnzoo.models.tagger.backbone",
    "TaggerBackbone": "rnnzoo.models.tagger.backbone",
    "TaggerPreprocessor": "rnnzoo.models.tagger.preprocessor",
    "bio_to_spans": "rnnzoo.models.tagger.spans",
}


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_PUBLIC)
