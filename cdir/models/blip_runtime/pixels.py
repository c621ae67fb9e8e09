"""BLIP's image preprocessing without transformers or torchvision: the same float32 pixels as
transformers 5.24's ``BlipImageProcessor`` (its torchvision backend) gives.

That processor (``image_processing_backends.TorchvisionBackend``) composites transparency onto
white and converts to RGB with PIL, resizes the uint8 image to ``size`` with torchvision's
``resize`` (bicubic, antialiased; on the CPU torch's own uint8 kernel, ``interpolate`` with
``antialias=True``), then rescales and normalises in one step: ``(x - mean / r) / (std / r)`` with
``r`` the rescale factor 1/255. Importing torchvision's functional module costs about a second on
a 2-core machine, which is why this is written out; the test compares every value with the
processor's on images of several sizes and modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PixelSettings:
    """A ``BlipImageProcessor`` configuration: output ``height`` x ``width`` in pixels, the
    per-channel ``mean`` / ``std`` on the 0-1 scale, and ``rescale_factor`` (1/255)."""

    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale_factor: float


def rgb_array(image: Any) -> Any:
    """A PIL image as an (height, width, 3) uint8 array, transparency composited onto white (as
    transformers' ``convert_to_rgb``)."""
    import numpy as np
    from PIL import Image

    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.array(image.convert("RGB"))


def pixel_values(images: Sequence[Any], settings: PixelSettings) -> Any:
    """PIL images -> float32 tensor (n, 3, height, width), the captioner's input.

    Images of one size are resized together, as the processor groups them; the uint8 bicubic
    antialiased resize keeps an image already at the output size untouched."""
    import torch
    from torch.nn.functional import interpolate

    arrays = [torch.from_numpy(rgb_array(image)).permute(2, 0, 1).contiguous() for image in images]
    out: list[Any] = [None] * len(arrays)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, array in enumerate(arrays):
        groups.setdefault(tuple(array.shape), []).append(i)
    size = [settings.height, settings.width]
    scale = 1.0 / settings.rescale_factor
    mean = (torch.tensor(settings.mean) * scale).view(-1, 1, 1)
    std = (torch.tensor(settings.std) * scale).view(-1, 1, 1)
    for shape, members in groups.items():
        batch = torch.stack([arrays[i] for i in members])
        if list(shape[1:]) != size:
            batch = interpolate(
                batch, size=size, mode="bicubic", align_corners=False, antialias=True
            )
        batch = batch.to(torch.float32).sub_(mean).div_(std)
        for i, pixels in zip(members, batch, strict=True):
            out[i] = pixels
    return torch.stack(out)
