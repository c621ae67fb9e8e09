"""A CLIP image tower alone, for a process that embeds one query image (``cdir search --image
--mode image`` or ``fusion``) and nothing else of the embedder.

Loading a preset's embedder through open_clip imports open_clip (with torchvision, torch's
compiler and transformers: about 5 s on 2 cores) and builds both towers at random before reading
the checkpoint (about 2 s). An image query needs the vision transformer only: this module builds
it in plain torch with no random initialisation (:mod:`cdir.models.clip_blocks`), reads only its
tensors (``visual.*``) from the safetensors file, and preprocesses without torchvision
(:func:`prepare`: the steps of :class:`~cdir.models.encoders.ClipEmbedder`'s ``preprocess``,
the same pixels). The vectors are open_clip's ``encode_image(normalize=True)``: cosine >= 0.99999
to it (tests/models/test_image_only.py).

It applies to a local embedder folder holding open_clip's standard ViT (a class token, learnt
position embeddings, LayerNorm before and after the blocks, a projection) with the ``shortest``
bicubic resize and centre crop; anything else (timm or Hugging Face towers, attention pooling,
other resize modes, a hub checkpoint) is ``None`` from :func:`image_encoder`, and the caller loads
the whole model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from cdir.models.encoders import REDUCING_GAP, BoxReduce, crop_to_aspect
from cdir.models.presets import Preset
from cdir.models.text_only import (
    CONFIG_FILE,
    MODEL_KEYS,
    WEIGHTS_FILE,
    embedder_folder,
    once_per_process,
)

log = logging.getLogger(__name__)

VISION_KEYS = {"image_size", "layers", "width", "patch_size", "head_width", "mlp_ratio"}
PIXEL_KEYS = {"size", "mode", "mean", "std", "interpolation", "resize_mode", "fill_color"}


@dataclass(frozen=True)
class PixelSteps:
    """open_clip's eval preprocessing of a square input: shorter side to ``size`` pixels
    (bicubic), centre crop ``size`` x ``size``, RGB, /255, minus ``mean``, over ``std``."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def prepare(image: Any, steps: PixelSteps) -> Any:
    """A PIL image -> float32 tensor (3, size, size): the same values as ``ClipEmbedder``'s
    ``preprocess`` (:func:`~cdir.models.encoders.crop_to_aspect`,
    :class:`~cdir.models.encoders.BoxReduce`, torchvision's ``Resize`` and ``CenterCrop`` of a
    PIL image, ``ToTensor``, ``Normalize``), without importing torchvision."""
    import torch
    from PIL import Image

    image = BoxReduce(int(REDUCING_GAP * steps.size))(crop_to_aspect(image))
    width, height = image.size
    short, long = sorted((width, height))
    new_long = int(steps.size * long / short)  # torchvision's _compute_resized_output_size
    new_size = (steps.size, new_long) if width <= height else (new_long, steps.size)
    if new_size != image.size:
        image = image.resize(new_size, Image.Resampling.BICUBIC)
    width, height = image.size
    top = int(round((height - steps.size) / 2.0))  # torchvision's center_crop
    left = int(round((width - steps.size) / 2.0))
    image = image.crop((left, top, left + steps.size, top + steps.size))
    if image.mode != "RGB":
        image = image.convert("RGB")
    pixels = torch.from_numpy(np.array(image, np.uint8, copy=True)).permute(2, 0, 1)
    pixels = pixels.contiguous().to(torch.float32).div(255)
    mean = torch.as_tensor(steps.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.as_tensor(steps.std, dtype=torch.float32).view(-1, 1, 1)
    return pixels.sub_(mean).div_(std)


class ImageEncoder:
    """CLIP image embeddings from the image tower alone: :meth:`encode_images` as
    :meth:`cdir.models.encoders.ClipEmbedder.encode_images` gives them ((N, D) float32,
    L2-normalised)."""

    def __init__(self, tower: Any, steps: PixelSteps, dim: int, device: str) -> None:
        self.tower, self.steps, self.dim, self.device = tower, steps, dim, device

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import torch

        from cdir.models.device import inference_context

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = torch.stack([prepare(image, self.steps) for image in images])
        with inference_context(self.device):
            return self.tower(batch.to(self.device)).float().cpu().numpy()


def image_encoder(preset: Preset, root: Path | None, device: str) -> ImageEncoder | None:
    """The image tower of ``preset``'s local embedder (``root``: the model directory), loaded once
    per process; None when there is no local folder or its tower or preprocessing is not the
    standard one (then load the whole embedder)."""

    def build(local: Path) -> ImageEncoder | None:
        found = supported(local)
        return None if found is None else load_image_encoder(local, *found, device)

    return once_per_process("image", embedder_folder(preset, root), device, build)


def supported(local: Path) -> tuple[dict[str, Any], PixelSteps] | None:
    """The folder's ``model_cfg`` and pixel steps when this module reproduces them, else None."""
    try:
        saved = json.loads((local / CONFIG_FILE).read_text(encoding="utf-8"))
        config, pixels = saved["model_cfg"], saved["preprocess_cfg"]
        vision = config["vision_cfg"]
        if set(config) - MODEL_KEYS or set(vision) - VISION_KEYS or set(pixels) - PIXEL_KEYS:
            return None
        size = pixels["size"]
        size = [size, size] if isinstance(size, int) else list(size)
        plain = (
            pixels.get("mode", "RGB") == "RGB"
            and pixels.get("interpolation", "bicubic") == "bicubic"
            and pixels.get("resize_mode", "shortest") == "shortest"
            and size[0] == size[1] == int(vision["image_size"])
            and len(pixels["mean"]) == len(pixels["std"]) == 3
        )
        if not plain:
            return None
        mean = tuple(float(m) for m in pixels["mean"])
        std = tuple(float(s) for s in pixels["std"])
        return config, PixelSteps(int(size[0]), mean, std)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_image_encoder(
    local: Path, config: dict[str, Any], steps: PixelSteps, device: str
) -> ImageEncoder:
    """Build the tower of ``config`` and fill it with the ``visual.*`` tensors of ``local``'s
    weights (raises KeyError / RuntimeError when they do not match)."""
    from safetensors import safe_open

    vision = config["vision_cfg"]
    width = int(vision["width"])
    tower = _tower_class()(
        dim=int(config["embed_dim"]),
        image_size=int(vision["image_size"]),
        patch_size=int(vision["patch_size"]),
        width=width,
        heads=width // int(vision.get("head_width", 64)),
        layers=int(vision["layers"]),
        mlp_ratio=float(vision.get("mlp_ratio", 4.0)),
        quick_gelu=bool(config.get("quick_gelu", False)),
    )
    state = {}
    with safe_open(str(local / WEIGHTS_FILE), framework="pt", device="cpu") as weights:
        for name in weights.keys():  # noqa: SIM118 - safe_open has keys(), no iteration
            if name.startswith("visual."):
                state[name.removeprefix("visual.")] = weights.get_tensor(name).float()
    tower.load_state_dict(state, strict=True, assign=True)
    tower.eval().to(device)
    log.info("image tower loaded from %s (%d tensors)", local, len(state))
    return ImageEncoder(tower, steps, tower.dim, device)


@cache
def _tower_class() -> type:
    """The ``ImageTower`` module class, defined on first use (no torch on import)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from cdir.models.clip_blocks import blocks

    parts = blocks()
    empty = parts.empty

    class ImageTower(nn.Module):
        """open_clip's ``VisionTransformer`` (``pool_type='tok'``, no attention pooling):
        patches by a strided convolution without bias, a class token, learnt positions,
        ``ln_pre``, the blocks, ``ln_post`` on the class token, projected and L2-normalised.
        Input (batch, 3, image_size, image_size) float32; output (batch, dim) float32."""

        def __init__(
            self,
            dim: int,
            image_size: int,
            patch_size: int,
            width: int,
            heads: int,
            layers: int,
            mlp_ratio: float,
            quick_gelu: bool,
        ) -> None:
            super().__init__()
            self.dim, self.patch_size = dim, patch_size
            self.conv1 = nn.Module()
            self.conv1.weight = empty(width, 3, patch_size, patch_size)
            self.class_embedding = empty(width)
            self.positional_embedding = empty((image_size // patch_size) ** 2 + 1, width)
            self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
            layer_list = [
                parts.Block(width, heads, mlp_ratio, quick_gelu, causal=False)
                for _ in range(layers)
            ]
            self.transformer = parts.Transformer(layer_list)
            self.proj = empty(width, dim)

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            x = F.conv2d(pixels, self.conv1.weight, stride=self.patch_size)
            x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
            cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1)
            x = torch.cat([cls.to(x.dtype), x], dim=1) + self.positional_embedding
            x = self.ln_post(self.transformer(self.ln_pre(x)))
            return F.normalize(x[:, 0] @ self.proj, dim=-1)

    return ImageTower
