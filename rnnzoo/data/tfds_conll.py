"""A TFDS builder over local CoNLL-2003 files, so `tfds.load` works offline.

Example:
>>> import tensorflow_datasets as tfds
>>> from rnnzoo.data.tfds_conll import Conll2003Local, load_conll2003  # registers the builder
>>> ds = load_conll2003("test")             # doctest: +SKIP
>>> next(iter(ds))["tokens"]                # doctest: +SKIP

Files are taken from TFDS' manual directory when one is given
(`download_config=tfds.download.DownloadConfig(manual_dir=...)`), else from
`$RNNZOO_DATA/conll2003/` -- any folder with `train.txt`, `valid.txt`,
`test.txt` in the CoNLL-2003 column format works.
"""

import os

import tensorflow_datasets as tfds
from tensorflow_datasets.core.dataset_builders.conll import conll_dataset_builder_utils as conll_lib

from rnnzoo.data.paths import dataset_path

SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}


class Conll2003Local(tfds.dataset_builders.ConllDatasetBuilder):
    """CoNLL-2003 English NER from local files (tokens, pos, chunks, ner)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Local-file builder for rnnzoo."}
    BUILDER_CONFIGS = [conll_lib.CONLL_2003_CONFIG]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Place train.txt, valid.txt and test.txt (CoNLL-2003 column format) in the manual "
        "directory, or set RNNZOO_DATA so that $RNNZOO_DATA/conll2003/ holds them."
    )

    def _info(self):
        return self.create_dataset_info(
            supervised_keys=("tokens", "ner"),
            homepage="https://www.clips.uantwerpen.be/conll2003/ner/",
        )

    def _split_generators(self, dl_manager):
        try:
            root = os.fspath(dl_manager.manual_dir)
            if not os.path.exists(os.path.join(root, SPLIT_FILES["train"])):
                raise FileNotFoundError(root)
        except (AssertionError, FileNotFoundError, ValueError):
            root = dataset_path("conll2003")
        return {split: self._generate_examples(os.path.join(root, name)) for split, name in SPLIT_FILES.items()}

    def _generate_examples(self, filepaths):
        # The base class also yields an empty example after a trailing blank line.
        for key, example in super()._generate_examples(filepaths):
            if example["tokens"]:
                yield key, example


def load_conll2003(split, data_dir=None, manual_dir=None, as_supervised=False):
    """`tfds.load` of the local builder (prepared once under `data_dir`)."""
    kwargs = {}
    if manual_dir is not None:
        kwargs["download_config"] = tfds.download.DownloadConfig(manual_dir=manual_dir)
    return tfds.load(
        "conll2003_local",
        split=split,
        data_dir=data_dir,
        as_supervised=as_supervised,
        download_and_prepare_kwargs=kwargs,
    )
