"""Turn a preset into models: ``load_models(name)`` and ``save_models(models, dir)``."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.captioners import (
    Captioner,
    CocaCaptioner,
    HFCaptioner,
    build_tiny_blip,
    load_hf_captioner,
    save_hf_captioner,
)
from cdir.models.device import resolve_device
from cdir.models.encoders import ClipEmbedder, load_open_clip, save_open_clip
from cdir.models.presets import EmbedderSpec, Preset, get_preset
from cdir.models.quantize import quantize_linear_int8, quantize_mode, query_quantize_mode
from cdir.models.weights import local_component, model_dir

log = logging.getLogger(__name__)

EMBEDDER_DIR = "embedder"
CAPTIONER_DIR = "captioner"


def pick_device(device: str | None = None) -> str:
    """``cpu`` or ``cuda`` for ``auto``/``cpu``/``cuda`` (None: ``--device`` or ``$CDIR_DEVICE``,
    see :mod:`cdir.models.device`); other torch device strings (``cuda:1``) pass through."""
    if device is not None and device not in ("auto", "cpu", "cuda"):
        return device
    return resolve_device(device)


@dataclass
class Models:
    """A preset's embedder (loaded at once) and captioner (loaded on first use: the slow one)."""

    preset: Preset
    embedder: ClipEmbedder
    local_root: Path | None = None
    device: str = "cpu"
    quantize: str = "none"  # "int8": the captioner's Linear layers in int8 (cdir.models.quantize)
    _captioner: Captioner | None = field(default=None, repr=False)
    _query_captioner: Captioner | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _keys: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def captioner(self) -> Captioner:
        with self._lock:
            if self._captioner is None:
                captioner = load_captioner(self.preset, self.embedder, self.local_root, self.device)
                if self.captions_quantized:
                    captioner.model = quantize_linear_int8(captioner.model)  # an HFCaptioner
                elif self.quantize != "none":
                    log.info(
                        "int8 is for BLIP captioners on the CPU: %s on %s stays as it is",
                        self.preset.captioner.kind,
                        self.device,
                    )
                self._captioner = captioner
            return self._captioner

    @property
    def query_captioner(self) -> Captioner:
        """The captioner of queries: :attr:`captioner`, or an int8 copy of a BLIP one on the CPU
        (:attr:`query_captions_int8`), loaded on its own: a user waits for a query's caption,
        and it is only compared with gallery images, never stored."""
        if not self.query_captions_int8:
            return self.captioner
        with self._lock:
            if self._query_captioner is None:
                captioner = load_captioner(self.preset, self.embedder, self.local_root, self.device)
                captioner.model = quantize_linear_int8(captioner.model)  # an HFCaptioner
                self._query_captioner = captioner
            return self._query_captioner

    def adopt_captioner(self, captioner: Captioner, int8: bool) -> None:
        """Take a captioner of this preset loaded without the embedder
        (:func:`load_own_captioner`, ``int8``: quantised) as :attr:`captioner` or
        :attr:`query_captioner`, whichever it is and is not loaded yet: nothing loads twice."""
        with self._lock:
            if int8 == self.captions_quantized and self._captioner is None:
                self._captioner = captioner
            elif int8 and self.query_captions_int8 and self._query_captioner is None:
                self._query_captioner = captioner

    @property
    def query_captions_int8(self) -> bool:
        """Whether queries get their own int8 captioner: BLIP / BLIP-2 on the CPU, when
        ``$CDIR_QUERY_QUANTIZE`` is ``int8`` (the default) and the collection's captions are not
        int8 already (then they share it)."""
        return query_captions_int8(self.preset, self.device, self.captions_quantized)

    @property
    def query_caption_key(self) -> str:
        """The cache key of queries' captions (:attr:`caption_key`, ``|int8`` for an int8 query
        captioner)."""
        return self.caption_key + "|int8" if self.query_captions_int8 else self.caption_key

    @property
    def caption_key(self) -> str:
        """Identifies preset + caption settings + the captioner weights' fingerprint (the cache
        key of captions: :mod:`cdir.models.fingerprint`)."""
        if "caption" not in self._keys:
            from cdir.models import fingerprint

            key = fingerprint.caption_key(self.preset, self.local_root, self.captions_quantized)
            legacy = f"{self.preset.name}|{self.preset.captioner.settings_key()}"
            self._keys["caption"] = key or (legacy + "|int8" if self.captions_quantized else legacy)
        return self._keys["caption"]

    @property
    def embed_key(self) -> str:
        """Identifies the embedder's weights (the cache key of image and text vectors)."""
        if "embed" not in self._keys:
            from cdir.models import fingerprint

            spec = self.preset.embedder
            self._keys["embed"] = (
                fingerprint.embed_key(self.preset, self.local_root)
                or f"{self.preset.name}|{spec.arch}|{spec.pretrained}"
            )
        return self._keys["embed"]

    @property
    def captions_quantized(self) -> bool:
        """Whether captions come from an int8 model (BLIP / BLIP-2 on the CPU only)."""
        return captions_int8(self.preset, self.device, self.quantize)


def captions_int8(preset: Preset, device: str, quantize: str) -> bool:
    """Whether a collection's captions come from an int8 model: ``quantize`` is ``int8`` and the
    captioner a BLIP / BLIP-2 on the CPU (:mod:`cdir.models.quantize`)."""
    return quantize == "int8" and device == "cpu" and captioner_kind(preset.captioner.kind).int8


def query_captions_int8(preset: Preset, device: str, collection_int8: bool) -> bool:
    """Whether queries get an int8 captioner of their own: ``$CDIR_QUERY_QUANTIZE`` is ``int8``
    (the app's default), the captioner a BLIP / BLIP-2 on the CPU, and the collection's captions
    (``collection_int8``) not int8 already (then queries share that captioner)."""
    return (
        query_quantize_mode() == "int8"
        and not collection_int8
        and device == "cpu"
        and captioner_kind(preset.captioner.kind).int8
    )


def load_own_captioner(preset: Preset, root: Path | None, device: str, int8: bool) -> Captioner:
    """A captioner with weights of its own (BLIP, BLIP-2, Florence-2: not a CoCa, which is the
    embedder's), loaded without the embedder: a caption-matching query from a fresh process
    needs the captioner and the text tower, never the image tower (:mod:`cdir.models.lazy`).
    ``int8``: its Linear layers quantised. Raises ValueError for a kind that captions with the
    embedder's weights."""
    if not captioner_kind(preset.captioner.kind).own_weights:
        kind = preset.captioner.kind
        raise ValueError(f"the {kind} captioner of {preset.name!r} needs its embedder")
    captioner = plain_torch_blip(preset, root, device) or load_captioner(preset, None, root, device)
    if int8:  # an HFCaptioner or a BlipRuntimeCaptioner
        captioner.model = quantize_linear_int8(captioner.model)
    return captioner


def plain_torch_blip(preset: Preset, root: Path | None, device: str) -> Captioner | None:
    """``preset``'s BLIP captioner on plain torch (:mod:`cdir.models.blip_runtime`: the same
    captions without importing transformers) when its saved folder is one that runtime
    reproduces; else None, and transformers loads it. The folder: the model folder's or the
    bundled captioner, a preset file's local folder, else the hub cache's snapshot."""
    from cdir.models.zerogpu import on_zero_gpu

    spec = preset.captioner
    if spec.kind != "blip" or device != "cpu" or on_zero_gpu():  # a GPU: transformers' model
        return None
    folder = local_component(root, preset.name, CAPTIONER_DIR)
    if folder is None and spec.hub_id and Path(spec.hub_id).expanduser().is_dir():
        folder = Path(spec.hub_id).expanduser()
    if folder is None and spec.config is None and spec.hub_id:
        from cdir.models.fingerprint import hub_snapshot

        folder = hub_snapshot(spec.hub_id)
    if folder is None:
        return None
    from cdir.models.blip_runtime import load_blip_runtime

    try:
        return load_blip_runtime(spec, folder, device)
    except Exception as exc:  # anything it does not reproduce: transformers loads, or says why
        log.info("BLIP captioner through transformers: %s", exc)
        return None


def load_captioner(
    preset: Preset, embedder: ClipEmbedder | None, root: Path | None, device: str
) -> Captioner:
    """``preset``'s captioner; ``embedder`` is read only by a CoCa (it may be None for a kind
    with weights of its own)."""
    spec = preset.captioner
    kind = captioner_kind(spec.kind)
    local = local_component(root, preset.name, CAPTIONER_DIR)
    if kind.from_embedder and embedder is None:
        raise ValueError(f"the {spec.kind} captioner of {preset.name!r} needs its embedder")
    if kind.from_embedder and spec.pretrained:  # a captioning checkpoint of its own
        coca = load_open_clip(
            EmbedderSpec(spec.arch or embedder.arch, spec.pretrained),
            preset.name,
            local,
            device,
            preset.seed,
        )
        return CocaCaptioner(coca, spec)
    if kind.from_embedder:
        return CocaCaptioner(embedder, spec)
    if not kind.own_weights:
        raise ValueError(f"preset {preset.name!r} has no captioner (kind {spec.kind!r})")
    if local is None and spec.hub_id and Path(spec.hub_id).expanduser().is_dir():
        local = Path(spec.hub_id).expanduser()  # a preset file's local captioner folder
    if local is None and spec.config is not None:
        tiny = build_tiny_blip(spec, preset.seed)
        tiny.model, tiny.device = tiny.model.to(device), device
        return tiny
    return load_hf_captioner(spec, preset.name, local, device)


def load_models(
    preset: str | Preset,
    model_root: str | Path | None = None,
    device: str | None = None,
    quantize: str | None = None,
) -> Models:
    """Build a preset's models, from ``model_root`` (or ``$CDIR_MODEL_DIR``) when it holds them,
    else from the bundled ``cdir/assets/models`` (the ``demo`` preset), else the hub cache or a
    config.

    ``device``: ``auto`` (CUDA when there is a GPU), ``cpu``, ``cuda``; None: ``--device`` /
    ``$CDIR_DEVICE`` (:mod:`cdir.models.device`).

    ``quantize`` ("none" or "int8", default ``$CDIR_QUANTIZE``) applies to the captioner only.
    """
    preset = get_preset(preset)
    mode = quantize_mode(quantize)
    root = model_dir(model_root)
    device = pick_device(device)
    local = local_component(root, preset.name, EMBEDDER_DIR)
    if local is None and preset.embedder.weights:
        local = Path(preset.embedder.weights).expanduser()
    embedder = load_open_clip(preset.embedder, preset.name, local, device, preset.seed)
    return Models(preset, embedder, root, device, mode)


def save_models(models: Models, root: str | Path) -> Path:
    """Write a preset's models under ``root/<preset>/``: ``load_models`` reads them offline."""
    if models.captions_quantized:
        raise ValueError(
            "the captioner is quantised to int8: save the float32 models (leave out "
            "--quantize / $CDIR_QUANTIZE); int8 is applied again when they load"
        )
    base = Path(root) / models.preset.name
    save_open_clip(models.embedder, base / EMBEDDER_DIR)
    captioner = models.captioner
    if isinstance(captioner, HFCaptioner):
        save_hf_captioner(captioner, base / CAPTIONER_DIR)
    elif isinstance(captioner, CocaCaptioner) and captioner.embedder is not models.embedder:
        save_open_clip(captioner.embedder, base / CAPTIONER_DIR)
    elif hasattr(captioner, "checkpoint"):  # BLIP on plain torch: the folder it was read from
        import shutil

        source, target = captioner.checkpoint.folder, base / CAPTIONER_DIR
        if source.resolve() != target.resolve():
            shutil.copytree(source, target, dirs_exist_ok=True)
    log.info("saved preset %s to %s", models.preset.name, base)
    return base


_models_lock = threading.Lock()
_loaded: dict[tuple[str, str | None, str, str, str], Models] = {}


def _key(preset: str, model_root: str | Path | None) -> tuple[str, str | None, str, str, str]:
    root = model_dir(model_root)
    mode = quantize_mode()
    device = pick_device()
    spec = get_preset(preset)
    from cdir.models import fingerprint  # new weights under the same name load anew

    weights = f"{fingerprint.embed_key(spec, root)}|{fingerprint.caption_key(spec, root)}"
    return (spec.name, str(root) if root else None, mode, device, weights)


def loaded_models(preset: str, model_root: str | Path | None = None) -> Models | None:
    """The models :func:`get_models` would return, if this process has loaded them, else None
    (nothing is loaded)."""
    key = _key(preset, model_root)
    with _models_lock:
        return _loaded.get(key)


def get_models(preset: str, model_root: str | Path | None = None) -> Models:
    """Models for a preset, loaded once per process (models are large; sessions share them).
    The captioner is int8 when ``--quantize int8`` / ``$CDIR_QUANTIZE`` asks
    (cdir.models.quantize)."""
    root = model_dir(model_root)
    mode = quantize_mode()
    device = pick_device()
    key = _key(preset, model_root)
    with _models_lock:
        if key not in _loaded:
            _loaded[key] = load_models(preset, root, device, quantize=mode)
        return _loaded[key]
