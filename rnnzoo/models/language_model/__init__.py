"""The language-model family: word- and character-level recurrent LMs (declared in `family.py`; Keras classes load on first use)."""

from rnnzoo.models.registry import lazy_exports

_TASK = "rnnzoo.models.language_model.language_model"
__getattr__, __all__ = lazy_exports(__name__, {
    "LanguageModel": _TASK,
    "build_language_model": _TASK,
    "stream_windows": _TASK,
    "LanguageModelBackbone": "rnnzoo.models.language_model.backbone",
    "LanguageModelPreprocessor": "rnnzoo.models.language_model.preprocessor",
})
