"""Shared fixtures of the model tests: the tiny preset saved in the ``--model-dir`` layout, and a
small collection ingested with it (both once per test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.ingest.pipeline import IngestConfig
from cdir.models.loaded import load_models, save_models


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset's models saved as ``cdir models save`` writes them."""
    root = tmp_path_factory.mktemp("models")
    save_models(load_models("tiny", device="cpu"), root)
    return root


@pytest.fixture(scope="module")
def collection(saved: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 64x48 noise PNGs ingested with :func:`saved`'s models, captions on."""
    src = tmp_path_factory.mktemp("src")
    for seed in range(6):
        pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(src / f"img_{seed}.png")
    store = tmp_path_factory.mktemp("c") / "store"
    models = load_models("tiny", saved, device="cpu")
    api.run_ingest([src], store, models, IngestConfig(captions="all", batch_size=4))
    return store
