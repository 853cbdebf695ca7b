"""Import every serializable class so `keras.saving.load_model` can find them."""

import rnnzoo.layers  # noqa: F401
import rnnzoo.models.tagger  # noqa: F401
import rnnzoo.models.tagger.preprocessor  # noqa: F401

try:
    import rnnzoo.models.classifier  # noqa: F401
    import rnnzoo.models.classifier.preprocessor  # noqa: F401
except ImportError:  # the family may not exist in this checkout
    pass
