"""Models: the preset registry and the loaded pair of models every other capability uses.

A preset (:mod:`~cdir.models.presets`) names a CLIP-style embedder and a captioner; weights resolve
from ``--model-dir`` or the Hugging Face cache (:mod:`~cdir.models.weights`); :func:`load_models`
builds :class:`Models` (an :class:`~cdir.models.encoders.ClipEmbedder` for images and text, a
captioner from :mod:`~cdir.models.captioners`, optionally int8 via :mod:`~cdir.models.quantize`),
and :func:`get_models` shares one loaded pair per process. :class:`Neutraliser`
(:mod:`~cdir.models.style_words`) removes style words from captions before the text tower embeds
them; :mod:`~cdir.models.text_embeddings` embeds captions, prompts and queries through the text
tower, cached by text hash in the store's cache. Stands on the store (that cache) and nothing else
of cdir.
"""

from cdir.models.loaded import Models, get_models, load_models, save_models
from cdir.models.presets import Preset, UnknownPresetError, get_preset, list_presets
from cdir.models.style_words import Neutraliser
from cdir.models.weights import ModelUnavailableError

__all__ = [
    "ModelUnavailableError",
    "Models",
    "Neutraliser",
    "Preset",
    "UnknownPresetError",
    "get_models",
    "get_preset",
    "list_presets",
    "load_models",
    "save_models",
]
