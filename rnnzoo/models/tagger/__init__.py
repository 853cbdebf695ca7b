"""The BiLSTM(-CRF) named-entity tagger family (declared in `family.py`; Keras classes load on first use)."""

from rnnzoo.models.registry import lazy_exports

_TASK, _BACKBONE = "rnnzoo.models.tagger.tagger", "rnnzoo.models.tagger.backbone"
__getattr__, __all__ = lazy_exports(__name__, {
    "BidirectionalTagger": _TASK,
    "build_tagger": _TASK,
    "CharEncoder": _BACKBONE,
    "TaggerBackbone": _BACKBONE,
    "TaggerPreprocessor": "rnnzoo.models.tagger.preprocessor",
    "bio_to_spans": "rnnzoo.models.tagger.spans",
})
