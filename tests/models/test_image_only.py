"""An image query loads the CLIP image tower alone (cdir.models.image_only): the same pixels and
vectors as the whole open_clip model, and a fresh ``cdir search --image --mode image`` or
``--mode fusion`` process imports neither open_clip, torchvision nor transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cdir import api
from cdir.models import image_only
from cdir.models.lazy import LazyModels
from cdir.models.loaded import load_models
from cdir.models.presets import get_preset
from cdir.models.text_only import CONFIG_FILE, WEIGHTS_FILE
from tests.models.test_text_only import run_cli


def pictures() -> list[Image.Image]:
    """Landscape, portrait, exactly the input size, smaller than it, an extreme aspect (cropped
    to 4:1 first), large enough to be box-reduced, odd sizes, and grey."""
    rng = np.random.default_rng(3)
    sizes = [(480, 640), (640, 480), (64, 64), (20, 30), (2000, 300), (700, 900), (63, 64)]
    images = [Image.fromarray(rng.integers(0, 256, (*s, 3), dtype=np.uint8)) for s in sizes]
    return [*images, Image.fromarray(rng.integers(0, 256, (60, 80), dtype=np.uint8), "L")]


def test_pixels_are_the_embedders_preprocessing(saved: Path) -> None:
    encoder = image_only.image_encoder(get_preset("tiny"), saved, "cpu")
    assert encoder is not None
    preprocess = load_models("tiny", saved, device="cpu").embedder.preprocess
    for image in pictures():
        ours = image_only.prepare(image, encoder.steps)
        assert ours.dtype == torch.float32 and torch.equal(ours, preprocess(image)), image.size


def test_image_tower_alone_gives_the_whole_models_vectors(saved: Path) -> None:
    encoder = image_only.image_encoder(get_preset("tiny"), saved, "cpu")
    assert encoder is not None
    whole = load_models("tiny", saved, device="cpu").embedder.encode_images(pictures())
    alone = encoder.encode_images(pictures())
    assert alone.shape == whole.shape and alone.dtype == np.float32
    assert float(np.min(np.sum(alone * whole, axis=1))) > 0.99999
    assert encoder.encode_images([]).shape == (0, whole.shape[1])


@pytest.mark.parametrize(
    "change",
    [
        ("vision_cfg", "attentional_pool", True),
        ("vision_cfg", "timm_model_name", "vit_base_patch16_224"),
        ("preprocess_cfg", "resize_mode", "squash"),
        ("preprocess_cfg", "interpolation", "bilinear"),
    ],
)
def test_other_towers_or_preprocessing_load_the_whole_model(
    saved: Path, tmp_path: Path, change: tuple[str, str, object]
) -> None:
    assert image_only.image_encoder(get_preset("tiny"), None, "cpu") is None  # from a config
    folder = tmp_path / "tiny" / "embedder"
    folder.mkdir(parents=True)
    config = json.loads((saved / "tiny" / "embedder" / CONFIG_FILE).read_text())
    part, key, value = change
    (config["model_cfg"]["vision_cfg"] if part == "vision_cfg" else config[part])[key] = value
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    (folder / WEIGHTS_FILE).write_bytes((saved / "tiny" / "embedder" / WEIGHTS_FILE).read_bytes())
    assert image_only.image_encoder(get_preset("tiny"), tmp_path, "cpu") is None


def test_lazy_models_use_the_tower_alone_then_the_loaded_models(saved: Path) -> None:
    from cdir.models.loaded import get_models

    lazy = LazyModels("tiny", saved, dim=64)
    alone = lazy.embedder.encode_images(pictures()[:2])
    assert not lazy.loaded  # the image tower answered
    get_models("tiny", saved)
    again = LazyModels("tiny", saved, dim=64)
    whole = again.embedder.encode_images(pictures()[:2])
    assert again.loaded and float(np.min(np.sum(alone * whole, axis=1))) > 0.99999


@pytest.mark.parametrize("mode", ["image", "fusion"])
def test_an_image_query_imports_no_image_model_library(
    collection: Path, saved: Path, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = tmp_path / "query.png"
    pixels = np.random.default_rng(42).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(query)
    args = ["search", str(collection), "--image", str(query), "--mode", mode]
    rc, heavy, out = run_cli([*args, "--model-dir", str(saved), "--show-duplicates", "--json"])
    assert rc == 0 and heavy == ["torch"]
    # the same ranking as the whole models (open_clip, transformers' BLIP in float32 as the CLI)
    from cdir.models.loaded import get_models

    monkeypatch.setenv("CDIR_QUERY_QUANTIZE", "none")
    get_models("tiny", saved)
    whole = api.search(
        api.open_collection(collection, saved),
        image=str(query),
        options=api.SearchOptions(mode=mode, collapse_duplicates=False, neutralise=True),
    )
    assert [h["id"] for h in json.loads(out)["hits"]] == [h.id for h in whole.hits]
