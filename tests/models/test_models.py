"""Presets and model loading: the registry, the tiny presets, saving and loading a local model
directory, and the error a missing model gives offline."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cdir.models.encoders
import cdir.models.loaded
from cdir.models.captioners import CocaCaptioner, HFCaptioner
from cdir.models.encoders import WEIGHTS_FILE
from cdir.models.loaded import CAPTIONER_DIR, EMBEDDER_DIR, Models, load_models, save_models
from cdir.models.presets import UnknownPresetError, get_preset, list_presets
from cdir.models.weights import MODEL_DIR_ENV, ModelUnavailableError
from tests.drawn import draw_image
from tests.waits import recorded_sleeps

TEXTS = ["a red circle", "a pencil sketch of a square"]


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [draw_image("photo", "circle", 0), draw_image("sketch", "triangle", 1)]


@pytest.fixture(scope="module")
def tiny_coca() -> Models:
    return load_models("tiny-coca", device="cpu")


@pytest.fixture(scope="module")
def saved_root(tmp_path_factory: pytest.TempPathFactory, tiny: Models, tiny_coca: Models) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_models(tiny, root)
    save_models(tiny_coca, root)
    return root


@pytest.fixture
def open_clip_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """The ``local`` directory of every embedder load."""
    calls: list[Path | None] = []
    real = cdir.models.encoders.load_open_clip

    def spy(spec, preset, local, device, seed=0):  # noqa: ANN001, ANN202
        calls.append(local)
        return real(spec, preset, local, device, seed)

    monkeypatch.setattr(cdir.models.loaded, "load_open_clip", spy)
    return calls


def outputs(models: Models, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return (
        models.embedder.encode_images(images),
        models.embedder.encode_texts(TEXTS),
        models.captioner.caption(images),
    )


# ----------------------------------------------------------------------------------- registry
def test_registry_has_the_documented_presets() -> None:
    assert {"default", "quality", "paper", "coca", "tiny"} <= set(list_presets())
    assert get_preset("tiny").trained is False
    assert get_preset("default").trained is True


def test_unknown_preset_lists_the_valid_names() -> None:
    with pytest.raises(UnknownPresetError) as err:
        load_models("no-such-preset")
    message = str(err.value)
    assert "no-such-preset" in message
    for name in list_presets():
        assert name in message


# ------------------------------------------------------------------------------------- tiny
def test_tiny_is_deterministic(tiny: Models, images: list[Image.Image]) -> None:
    again = load_models("tiny", device="cpu")
    first, second = outputs(tiny, images), outputs(again, images)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]


def test_tiny_embeddings_are_normalised(tiny: Models, images: list[Image.Image]) -> None:
    image_emb, text_emb, _ = outputs(tiny, images)
    assert image_emb.shape == (2, tiny.embedder.dim) and image_emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(image_emb, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_emb, axis=1), 1, atol=1e-5)


def test_tiny_captions_are_made_of_words(tiny: Models, images: list[Image.Image]) -> None:
    captions = tiny.captioner.caption(images)
    assert len(captions) == len(images)
    for caption in captions:
        assert re.fullmatch(r"[a-z]+( [a-z]+)+", caption), caption
        assert len(caption.split()) >= 3


# --------------------------------------------------------------------------- local directory
def test_tiny_loads_back_from_a_saved_directory(
    tiny: Models,
    saved_root: Path,
    images: list[Image.Image],
    open_clip_calls: list[Path | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built_tiny = []
    monkeypatch.setattr(cdir.models.loaded, "build_tiny_blip", lambda *a: built_tiny.append(a))
    loaded = load_models("tiny", saved_root, device="cpu")
    assert open_clip_calls == [saved_root / "tiny" / EMBEDDER_DIR]
    assert isinstance(loaded.captioner, HFCaptioner) and not built_tiny  # read, not rebuilt
    expected, got = outputs(tiny, images), outputs(loaded, images)
    np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], atol=1e-6)
    assert got[2] == expected[2]


def test_tiny_coca_loads_back_from_a_saved_directory(
    tiny_coca: Models,
    saved_root: Path,
    images: list[Image.Image],
    open_clip_calls: list[Path | None],
) -> None:
    assert not (saved_root / "tiny-coca" / CAPTIONER_DIR).exists()  # CoCa captions with itself
    loaded = load_models("tiny-coca", saved_root, device="cpu")
    assert open_clip_calls == [saved_root / "tiny-coca" / EMBEDDER_DIR]
    assert isinstance(loaded.captioner, CocaCaptioner)
    images = images[:1]  # CoCa decodes token by token with full forward passes: keep it short
    expected, got = outputs(tiny_coca, images), outputs(loaded, images)
    np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], atol=1e-6)
    assert got[2] == expected[2]
    assert all(isinstance(c, str) and c for c in got[2])


def test_a_corrupt_saved_model_is_an_error_not_a_fallback(saved_root: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(saved_root / "tiny", copy / "tiny")
    (copy / "tiny" / EMBEDDER_DIR / WEIGHTS_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(ModelUnavailableError, match="'tiny'"):
        load_models("tiny", copy, device="cpu")


def test_model_dir_env_is_honoured(
    saved_root: Path, open_clip_calls: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(saved_root))
    models = load_models("tiny", device="cpu")
    assert open_clip_calls == [saved_root / "tiny" / EMBEDDER_DIR]
    assert models.local_root == saved_root


def test_an_empty_model_dir_falls_back_to_the_build(
    tmp_path: Path, open_clip_calls: list[Path | None]
) -> None:
    load_models("tiny", tmp_path, device="cpu")
    assert open_clip_calls == [None]


# ------------------------------------------------------------------------------------ offline
def test_default_offline_fails_fast_and_says_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    with recorded_sleeps(monkeypatch) as sleeps, pytest.raises(ModelUnavailableError) as err:
        load_models("default", device="cpu")
    assert sum(sleeps) < 0.5  # no hub retries or back-off (they sleep ~47 s in all)
    message = str(err.value)
    assert "'default'" in message
    assert "--model-dir" in message and MODEL_DIR_ENV in message
    assert "HF_HUB_OFFLINE" in message
