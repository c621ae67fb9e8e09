"""Turn a preset into models: ``load_models(name)`` and ``save_models(models, dir)``."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cdir.captioners import (
    Captioner,
    CocaCaptioner,
    HFCaptioner,
    build_tiny_blip,
    load_hf_captioner,
    save_hf_captioner,
)
from cdir.encoders import ClipEmbedder, load_open_clip, save_open_clip
from cdir.presets import Preset, get_preset
from cdir.weights import component_dir, model_dir

log = logging.getLogger(__name__)

EMBEDDER_DIR = "embedder"
CAPTIONER_DIR = "captioner"


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class Models:
    """A preset's embedder (loaded at once) and captioner (loaded on first use: it is the slow one)."""

    preset: Preset
    embedder: ClipEmbedder
    local_root: Path | None = None
    device: str = "cpu"
    _captioner: Captioner | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def captioner(self) -> Captioner:
        with self._lock:
            if self._captioner is None:
                self._captioner = load_captioner(self.preset, self.embedder, self.local_root,
                                                 self.device)
            return self._captioner

    @property
    def caption_key(self) -> str:
        """Identifies preset + caption settings (the cache key of captions)."""
        return f"{self.preset.name}|{self.preset.captioner.settings_key()}"


def load_captioner(
    preset: Preset, embedder: ClipEmbedder, root: Path | None, device: str
) -> Captioner:
    spec = preset.captioner
    if spec.kind == "coca":
        return CocaCaptioner(embedder, spec)
    if spec.kind not in ("blip", "blip2"):
        raise ValueError(f"preset {preset.name!r} has no captioner (kind {spec.kind!r})")
    local = component_dir(root, preset.name, CAPTIONER_DIR)
    if local is None and spec.config is not None:
        return build_tiny_blip(spec, preset.seed)
    return load_hf_captioner(spec, preset.name, local, device)


def load_models(
    preset: str | Preset, model_root: str | Path | None = None, device: str = "auto"
) -> Models:
    """Build a preset's models, from ``model_root`` (or ``$CDIR_MODEL_DIR``) when it holds them."""
    preset = get_preset(preset)
    root = model_dir(model_root)
    device = pick_device(device)
    local = component_dir(root, preset.name, EMBEDDER_DIR)
    embedder = load_open_clip(preset.embedder, preset.name, local, device, preset.seed)
    return Models(preset, embedder, root, device)


def save_models(models: Models, root: str | Path) -> Path:
    """Write a preset's models under ``root/<preset>/`` so that ``load_models`` reads them offline."""
    base = Path(root) / models.preset.name
    save_open_clip(models.embedder, base / EMBEDDER_DIR)
    captioner = models.captioner
    if isinstance(captioner, HFCaptioner):
        save_hf_captioner(captioner, base / CAPTIONER_DIR)
    log.info("saved preset %s to %s", models.preset.name, base)
    return base
