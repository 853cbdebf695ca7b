"""Corpus readers, tf.data pipelines and TFDS builders over local files."""

from rnnzoo.data.conll import read_conll
from rnnzoo.data.paths import data_root, dataset_path

__all__ = ["data_root", "dataset_path", "read_conll"]
