"""The plain PyTorch loop ingest is measured against: a ``DataLoader`` with worker processes that
open, decode and preprocess JPEG files (open_clip's own transform), batches embedded by an
open_clip model under ``torch.inference_mode`` on the main process. Nothing else: no hashes,
thumbnails, metadata, cache or store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image


class JpegFiles(torch.utils.data.Dataset):
    """The files at ``paths``, each decoded to RGB and run through ``preprocess``."""

    def __init__(self, paths: list[Path], preprocess: Any) -> None:
        self.paths, self.preprocess = paths, preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as image:
            return self.preprocess(image.convert("RGB"))


def open_clip_pair(arch: str) -> tuple[Any, Any]:
    """(model, preprocess) straight from open_clip, random weights, in eval mode."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(arch)
    return model.eval(), preprocess


def loader_run(
    model: Any, preprocess: Any, paths: list[Path], batch: int = 32, workers: int = 2
) -> torch.Tensor:
    """Embed ``paths`` the plain way; returns the (N, D) float32 embeddings, L2-normalised."""
    loader = torch.utils.data.DataLoader(
        JpegFiles(paths, preprocess), batch_size=batch, num_workers=workers
    )
    out = []
    with torch.inference_mode():
        for tensors in loader:
            out.append(model.encode_image(tensors, normalize=True))
    return torch.cat(out)
