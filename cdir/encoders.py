"""CLIP-style image and text embedding with open_clip."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cdir.presets import EmbedderSpec
from cdir.weights import unavailable

log = logging.getLogger(__name__)

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"


@dataclass
class ClipEmbedder:
    """An open_clip model with its preprocessing and tokenizer; outputs L2-normalised float32."""

    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[[Sequence[str]], Any]
    arch: str
    model_cfg: dict[str, Any]
    device: str = "cpu"

    @cached_property
    def dim(self) -> int:
        return int(self.encode_texts(["a"]).shape[1])

    def encode_image_tensors(self, batch: Any) -> np.ndarray:
        """Embed a preprocessed (B, 3, H, W) tensor."""
        import torch

        with torch.inference_mode():
            feats = self.model.encode_image(batch.to(self.device), normalize=True)
        return feats.float().cpu().numpy()

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """Embed PIL images (preprocessing them on the calling thread)."""
        import torch

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_image_tensors(torch.stack([self.preprocess(im) for im in images]))

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
                chunks.append(self.model.encode_text(tokens, normalize=True).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def register_config(name: str, config: dict[str, Any]) -> None:
    """Make an architecture config known to open_clip under ``name``."""
    from open_clip import factory

    factory._MODEL_CONFIGS[name] = config  # open_clip has no public API to add a dict config


def load_open_clip(
    spec: EmbedderSpec, preset: str, local: Path | None, device: str, seed: int = 0
) -> ClipEmbedder:
    """Load from a local directory, else by pretrained tag (hub cache), else build from config."""
    import open_clip
    import torch

    if local is not None:
        name, pretrained = f"local-dir:{local}", None
    elif spec.config is not None:
        register_config(spec.arch, spec.config)
        name, pretrained = spec.arch, None
        torch.manual_seed(seed)
    else:
        name, pretrained = spec.arch, spec.pretrained
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device
        )
        tokenizer = open_clip.get_tokenizer(name)
        model_cfg = open_clip.get_model_config(name)
    except Exception as exc:  # download, missing file, corrupt checkpoint: all told the same way
        raise unavailable(preset, f"embedder {spec.arch}/{spec.pretrained}", exc) from exc
    model.eval()
    log.info("embedder %s loaded from %s", spec.arch, local or pretrained or "config (random)")
    return ClipEmbedder(model, preprocess, tokenizer, spec.arch, model_cfg, device)


def save_open_clip(embedder: ClipEmbedder, out_dir: Path) -> Path:
    """Write the model in the layout open_clip's ``local-dir:`` schema reads."""
    from open_clip.model import get_model_preprocess_cfg
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": embedder.model_cfg,
        "preprocess_cfg": get_model_preprocess_cfg(embedder.model),
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    state = {k: v.contiguous() for k, v in embedder.model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE))
    return out_dir
