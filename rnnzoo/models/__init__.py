"""Model families. Each family module exposes the hooks `rnnzoo.train` uses:
`load_data`, `build`, `train_dataset`, `validation_callbacks`, `evaluate`, `PRIMARY_METRIC`.
"""

import importlib

FAMILY_MODULES = {
    "tagger": "rnnzoo.models.tagger.family",
    "classifier": "rnnzoo.models.classifier.family",
}


def get_family(name):
    """The family module for `name` (imported lazily: families need TensorFlow)."""
    if name not in FAMILY_MODULES:
        raise ValueError(
            f"family {name!r} has no implementation yet; implemented: {', '.join(FAMILY_MODULES)}."
        )
    return importlib.import_module(FAMILY_MODULES[name])
