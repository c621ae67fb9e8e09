"""Embedding images as ingest does (``prepare`` in the reader threads, ``encode_prepared`` on
the model's thread) gives the bits of ``preprocess`` and ``encode_image_tensors``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cdir.models.loaded import Models, load_models


@pytest.fixture(scope="module")
def demo() -> Models:
    return load_models("demo", device="cpu")


@pytest.mark.parametrize("preset", ["tiny", "demo"])
def test_prepared_batches_embed_like_preprocessed_ones(
    preset: str, tiny: Models, demo: Models
) -> None:
    embedder = {"tiny": tiny, "demo": demo}[preset].embedder
    rng = np.random.default_rng(0)
    sizes = [(640, 480), (333, 500), (224, 224), (97, 61), (1200, 900)]
    images = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes * 2
    ]
    want = embedder.encode_image_tensors(torch.stack([embedder.preprocess(i) for i in images]))
    got = embedder.encode_prepared([embedder.prepare(i) for i in images])
    assert got.dtype == np.float32 and np.array_equal(got, want)
