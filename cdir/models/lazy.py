"""Models that are built only when something needs them: an ingest that finds nothing new (every
file already embedded and captioned, or in the cache) never imports open_clip nor builds a model.

:class:`LazyModels` answers what ingest asks of :class:`~cdir.models.loaded.Models` without loading:
``preset``, ``caption_key`` (the device is only looked at, importing torch, for int8 BLIP
captioners, whose key depends on it) and ``embedder.dim`` (from the store's ``dim`` when it has
one). ``embedder.encode_texts`` loads the text tower alone when it can
(:mod:`cdir.models.text_only`: a text query). Any other use (``embedder.prepare``,
``embedder.encode_images``, ``captioner``, ...) loads the models once, through ``loader`` (default
:func:`cdir.models.loaded.get_models`, shared per process), and forwards to them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.presets import Preset, get_preset
from cdir.models.quantize import quantize_mode, query_quantize_mode

if TYPE_CHECKING:
    from cdir.models.loaded import Models

log = logging.getLogger(__name__)

Loader = Callable[[str, "str | Path | None"], "Models"]


def _get_models(preset: str, model_root: str | Path | None) -> Models:
    from cdir.models.loaded import get_models

    return get_models(preset, model_root)


class LazyModels:
    """Stands in for :class:`~cdir.models.loaded.Models` of ``preset``; ``dim``: the embedding
    width when already known (an existing store's), else the embedder is built to tell it."""

    def __init__(
        self,
        preset: str,
        model_root: str | Path | None = None,
        dim: int | None = None,
        loader: Loader | None = None,
    ) -> None:
        self.preset: Preset = get_preset(preset)
        self.model_root = model_root
        self.embedder = LazyEmbedder(self, dim)
        self._loader = loader or _get_models
        self._models: Models | None = None
        self._captioners: dict[bool, Any] = {}  # int8 -> a captioner loaded without the embedder
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._models is not None

    def load(self) -> Models:
        """The real models (built on the first call); a captioner loaded alone before
        (:attr:`captioner`) becomes theirs."""
        with self._lock:
            if self._models is None:
                log.info("loading the %s models: there is work for them", self.preset.name)
                self._models = self._loader(self.preset.name, self.model_root)
                for int8, captioner in self._captioners.items():
                    self._models.adopt_captioner(captioner, int8)
            return self._models

    @property
    def caption_key(self) -> str:
        """:attr:`Models.caption_key` without building anything (the weights' fingerprint comes
        from their files: :mod:`cdir.models.fingerprint`); weights not on this machine yet are
        loaded first (downloaded), so that the key names the weights that made the captions."""
        if self._models is not None:
            return self._models.caption_key
        from cdir.models import fingerprint
        from cdir.models.weights import model_dir

        int8 = False
        if quantize_mode() == "int8" and captioner_kind(self.preset.captioner.kind).int8:
            from cdir.models.loaded import pick_device  # only int8 BLIP keys depend on it

            int8 = pick_device() == "cpu"
        key = fingerprint.caption_key(self.preset, model_dir(self.model_root), int8)
        return key if key is not None else self.load().caption_key

    @property
    def embed_key(self) -> str:
        """:attr:`Models.embed_key` without building anything (see :attr:`caption_key`)."""
        if self._models is not None:
            return self._models.embed_key
        from cdir.models import fingerprint
        from cdir.models.weights import model_dir

        key = fingerprint.embed_key(self.preset, model_dir(self.model_root))
        return key if key is not None else self.load().embed_key

    @property
    def captioner(self) -> Any:
        """The collection's captioner: the loaded models' when this process has them, else one
        with weights of its own (BLIP, BLIP-2, Florence-2) loaded without the embedder; a CoCa
        loads the models."""
        return self._captioner(self.captions_quantized)

    @property
    def query_captioner(self) -> Any:
        """As :attr:`Models.query_captioner`: a query's caption (an int8 copy of a BLIP on the CPU
        when :attr:`query_captions_int8`), loaded without the embedder when it can be: a
        caption-matching query reads the caption's text embedding, not the image tower."""
        return self._captioner(self.query_captions_int8 or self.captions_quantized)

    @property
    def captions_quantized(self) -> bool:
        from cdir.models.loaded import captions_int8

        if self._models is not None:
            return self._models.captions_quantized
        if quantize_mode() != "int8" or not captioner_kind(self.preset.captioner.kind).int8:
            return False  # decided without looking at the device (which imports torch)
        return captions_int8(self.preset, self._device(), quantize_mode())

    @property
    def query_captions_int8(self) -> bool:
        from cdir.models.loaded import query_captions_int8

        if self._models is not None:
            return self._models.query_captions_int8
        if query_quantize_mode() != "int8" or not captioner_kind(self.preset.captioner.kind).int8:
            return False
        return query_captions_int8(self.preset, self._device(), self.captions_quantized)

    @property
    def query_caption_key(self) -> str:
        """:attr:`Models.query_caption_key` without building anything."""
        if self._models is not None:
            return self._models.query_caption_key
        return self.caption_key + "|int8" if self.query_captions_int8 else self.caption_key

    def _device(self) -> str:
        from cdir.models.loaded import pick_device

        return pick_device()

    def _captioner(self, int8: bool) -> Any:
        """The captioner that is int8 or not as ``int8`` says: loaded alone (and kept, for the
        models to adopt if they load later) while the models are not loaded and the kind has
        weights of its own; else the models'."""
        with self._lock:
            if self._models is None:
                self._models = loaded_models_of(self)
            alone = self._models is None and captioner_kind(self.preset.captioner.kind).own_weights
            if alone and int8 not in self._captioners:
                from cdir.models.loaded import load_own_captioner
                from cdir.models.weights import model_dir

                log.info("loading the %s captioner alone", self.preset.name)
                self._captioners[int8] = load_own_captioner(
                    self.preset, model_dir(self.model_root), self._device(), int8
                )
            if alone:
                return self._captioners[int8]
        models = self.load()
        return models.captioner if int8 == models.captions_quantized else models.query_captioner

    def text_encoder(self) -> Any:
        """The text tower alone (:mod:`cdir.models.text_only`) while the models are not loaded in
        this process, on the CPU, when the embedder is a local folder it can read; else None (the
        whole embedder answers). Models loaded already (the app's) are used instead."""
        from cdir.models.loaded import pick_device

        if self._models is None:
            self._models = loaded_models_of(self)
        if self._models is not None or pick_device() != "cpu":
            return None
        from cdir.models import text_only
        from cdir.models.weights import model_dir

        return text_only.text_encoder(self.preset, model_dir(self.model_root), "cpu")

    def image_encoder(self) -> Any:
        """The image tower alone (:mod:`cdir.models.image_only`) under the same conditions as
        :meth:`text_encoder`; else None (the whole embedder answers)."""
        from cdir.models.loaded import pick_device

        if self._models is None:
            self._models = loaded_models_of(self)
        if self._models is not None or pick_device() != "cpu":
            return None
        from cdir.models import image_only
        from cdir.models.weights import model_dir

        return image_only.image_encoder(self.preset, model_dir(self.model_root), "cpu")

    def __getattr__(self, name: str) -> Any:  # device, quantize, local_root, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)


def loaded_models_of(lazy: LazyModels) -> Models | None:
    """The models of ``lazy``'s preset and model folder if this process has loaded them already
    (the app's), else None: nothing is loaded."""
    from cdir.models.loaded import loaded_models

    return loaded_models(lazy.preset.name, lazy.model_root)


class LazyEmbedder:
    """The embedder of :class:`LazyModels`: ``dim`` without loading when known; the rest of
    :class:`~cdir.models.encoders.ClipEmbedder` loads it."""

    def __init__(self, owner: LazyModels, dim: int | None) -> None:
        self._owner, self._dim = owner, dim

    @property
    def dim(self) -> int:
        if self._dim is not None and not self._owner.loaded:
            return self._dim
        return int(self._owner.load().embedder.dim)

    def encode_texts(self, texts: Any, batch_size: int = 64) -> Any:
        """As :meth:`ClipEmbedder.encode_texts`, from the text tower alone when it can be had
        (:meth:`LazyModels.text_encoder`): a text query loads no image tower and no captioner."""
        encoder = None if self._owner.loaded else self._owner.text_encoder()
        if encoder is not None:
            return encoder.encode_texts(texts, batch_size)
        return self._owner.load().embedder.encode_texts(texts, batch_size)

    def encode_images(self, images: Any) -> Any:
        """As :meth:`ClipEmbedder.encode_images`, from the image tower alone when it can be had
        (:meth:`LazyModels.image_encoder`): an image query loads no text tower, no captioner
        and no open_clip."""
        encoder = None if self._owner.loaded else self._owner.image_encoder()
        if encoder is not None:
            return encoder.encode_images(images)
        return self._owner.load().embedder.encode_images(images)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._owner.load().embedder, name)
