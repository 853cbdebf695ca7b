"""The BiLSTM(-CRF) named-entity tagger family."""

from rnnzoo.models.tagger.backbone import CharEncoder, TaggerBackbone
from rnnzoo.models.tagger.spans import bio_to_spans
from rnnzoo.models.tagger.tagger import BidirectionalTagger, build_tagger

__all__ = ["BidirectionalTagger", "CharEncoder", "TaggerBackbone", "bio_to_spans", "build_tagger"]
