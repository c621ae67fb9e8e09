"""The first run without the chosen preset's weights: detected at start, the offline fallback
runs, a banner names the preset, the cause and the fixes (no network in tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdir.app.first_run import startup_preset
from cdir.models.availability import available_offline, check_weights, offline_fallback


@pytest.fixture()
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("CDIR_MODEL_DIR", raising=False)
    return tmp_path / "hub"


def test_the_shipped_demo_model_is_the_fallback_and_tiny_always_runs(empty_hub: Path) -> None:
    assert available_offline("demo") and offline_fallback() == "demo"
    assert available_offline("tiny") and check_weights("tiny").usable
    assert startup_preset("tiny") == ("tiny", "")


def test_without_the_demo_weights_it_stops_with_a_one_line_fix(
    empty_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdir.models import weights
    from cdir.models.weights import ModelUnavailableError

    monkeypatch.setattr(weights, "BUNDLED_MODEL_DIR", empty_hub / "no-bundled-models")
    assert not available_offline("demo")
    with pytest.raises(ModelUnavailableError) as caught:
        startup_preset("default")
    message = str(caught.value)
    assert "\n" not in message and "--preset demo" in message and "--model-dir" in message


def test_default_without_weights_or_hub_falls_back_with_a_banner(empty_hub: Path) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest: the hub cannot be reached
    check = check_weights("default")
    assert check.missing == ("embedder", "captioner") and check.hub_reachable is False
    preset, banner = startup_preset("default")
    assert preset == "demo"
    for words in (
        "default",
        "not on this machine",
        "drawn pictures of six classes",
        "--model-dir",
        "python -m cdir models save",
    ):
        assert words in banner


def test_cached_weights_count_as_available(empty_hub: Path) -> None:
    for repo in ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "Salesforce/blip-image-captioning-base"):
        snapshot = empty_hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "abc"
        snapshot.mkdir(parents=True)
    assert available_offline("default") and startup_preset("default") == ("default", "")


def test_a_saved_model_dir_counts_as_available(empty_hub: Path, tmp_path: Path) -> None:
    for part in ("embedder", "captioner"):
        (tmp_path / "models" / "default" / part).mkdir(parents=True)
    assert available_offline("default", tmp_path / "models")


def test_the_known_embedder_repositories_are_open_clips() -> None:
    import open_clip

    from cdir.models.availability import EMBEDDER_REPOS

    for (arch, tag), repo in EMBEDDER_REPOS.items():
        assert open_clip.get_pretrained_cfg(arch, tag)["hf_hub"].strip("/") == repo


def test_cached_weights_without_a_hub_switch_the_hub_off(
    empty_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights in the hub cache but no hub: the preset runs, and the hub is switched off first,
    so loading them never waits on retries."""
    from huggingface_hub import constants

    from cdir import api
    from cdir.models import availability

    for repo in ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "Salesforce/blip-image-captioning-base"):
        (empty_hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "abc").mkdir(parents=True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(availability, "hub_reachable", lambda timeout=2.0: False)
    choice = api.choose_preset("default")
    assert choice.run == "default" and not choice.fell_back
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE is True
