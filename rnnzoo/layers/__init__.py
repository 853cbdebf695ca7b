"""Recurrent building blocks: the vanilla cell, its fast layer, the layer and cell factories, the shared
text encoder, the CRF, word, locked and embedding dropout, the reversible (tied) embedding."""

from rnnzoo.layers.dropout import EmbeddingDropout, LockedDropout
from rnnzoo.layers.embedding import ReversibleEmbedding
from rnnzoo.layers.crf import CRF, crf_decode, crf_decode_numpy, crf_log_likelihood
from rnnzoo.layers.encoder import RecurrentEncoder, encoder_arguments
from rnnzoo.layers.recurrent import CELLS, Bidirectional, recurrent_cell, recurrent_layer
from rnnzoo.layers.vanilla_rnn import VanillaRNN, VanillaRNNCell
from rnnzoo.layers.word_dropout import WordDropout

__all__ = [
    "CELLS",
    "Bidirectional",
    "CRF",
    "EmbeddingDropout",
    "LockedDropout",
    "ReversibleEmbedding",
    "RecurrentEncoder",
    "encoder_arguments",
    "VanillaRNN",
    "VanillaRNNCell",
    "WordDropout",
    "crf_decode",
    "crf_decode_numpy",
    "crf_log_likelihood",
    "recurrent_cell",
    "recurrent_layer",
]
