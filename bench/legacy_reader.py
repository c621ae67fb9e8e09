"""The ingest reader as it was before bench_ingest's changes, to measure what they bought:
pHashes and the thumbnail computed from the full-size image (LANCZOS), CLIP preprocessing
without the box reduction of large images, and its torch steps (float conversion,
normalisation) in the reader threads."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

import cdir.ingest.pipeline
from cdir.ingest.pipeline import IngestConfig
from cdir.ingest.reader import read_one
from cdir.models.encoders import ClipEmbedder
from cdir.models.loaded import Models


def unreduced(preprocess):  # noqa: ANN001, ANN201
    """``preprocess`` without its ``BoxReduce`` step."""
    from torchvision import transforms

    from cdir.models.encoders import BoxReduce

    steps = list(getattr(preprocess, "transforms", []))
    kept = [step for step in steps if not isinstance(step, BoxReduce)]
    return transforms.Compose(kept) if len(kept) < len(steps) else preprocess


class TensorsInReaders(ClipEmbedder):
    """The embedder as ingest used it before: torch preprocessing in the reader threads."""

    def prepare(self, image):  # noqa: ANN001, ANN201
        return self.preprocess(image)

    def encode_prepared(self, items):  # noqa: ANN001, ANN201
        return self.encode_image_tensors(torch.stack(list(items)))


def legacy_read_one(
    row,
    path,
    thumb_path,
    preprocess,
    limits,  # noqa: ANN001, ANN201
    keep_image=False,
    tile=-1,
):  # noqa: ANN001
    """``cdir.ingest.reader.read_one`` as it was (see the module docstring)."""
    from PIL import Image, ImageOps

    from cdir.imaging.decode import DecodeError
    from cdir.ingest import reader

    try:
        image = reader.load_item_image(path, limits, tile)
    except DecodeError as exc:
        return reader.ReadResult(row, error=exc.reason)
    grid = reader.detect_grid(image) if tile < 1 else None
    meta = reader.extract_fields(path)
    info = reader.ImageInfo(
        reader.pixel_sha256(image),
        reader.perceptual_hash(image),
        image.width,
        image.height,
        meta.pop("prompt"),
        reader.perceptual_hash(ImageOps.mirror(image)),
        grid=[list(box) for box in grid] if grid else None,
        **meta,
    )
    if thumb_path is not None and not thumb_path.exists():
        thumb = image.convert("RGB")
        thumb.thumbnail((reader.THUMB_SIDE, reader.THUMB_SIDE), Image.Resampling.LANCZOS)
        reader.save_jpeg_atomic(thumb, thumb_path)
    return reader.ReadResult(row, info, preprocess(image))


def legacy_run(models: Models, src: Path, work: Path, config: IngestConfig) -> float:
    """``cdir.ingest.pipeline.ingest`` through the reader as it was (fresh store and cache)."""
    from common import pipeline_run

    embedder = TensorsInReaders(
        **{f.name: getattr(models.embedder, f.name) for f in fields(ClipEmbedder)}
    )
    embedder.preprocess = unreduced(embedder.preprocess)
    cdir.ingest.pipeline.read_one = legacy_read_one
    try:
        return pipeline_run(Models(models.preset, embedder), src, work, config)
    finally:
        cdir.ingest.pipeline.read_one = read_one
