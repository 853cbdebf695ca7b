"""Corpus readers, splits, tf.data pipelines and TFDS builders over local files."""

from rnnzoo.data.conll import read_conll
from rnnzoo.data.paths import data_root, dataset_path
from rnnzoo.data.tables import read_table

__all__ = ["data_root", "dataset_path", "read_conll", "read_table"]
