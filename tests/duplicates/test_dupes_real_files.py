"""Real files in the duplicates tiers: animations compared over their frames (case 18),
transparent line art judged with its alpha and shown on a background that keeps it visible
(case 19), through ingest and through ``cdir dupes FOLDER``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.imaging.decode import load_rgb, pixel_sha256
from cdir.ingest.pipeline import ingest
from cdir.models.loaded import load_models
from tests.shared_cases import case_input

TIERS = ("exact", "perceptual")


def ingested_groups(folder: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    monkeypatch.setenv("CDIR_CACHE_DIR", str(root / "cache"))
    ingest([folder], root / "store", load_models("tiny", device="cpu"))
    store = api.open_store(root / "store")
    names = store.items["rel_path"].astype(str).tolist()
    return [
        {names[m] for m in g.members}
        for g in api.find_duplicates(store, api.duplicate_config(TIERS))
    ]


def folder_groups(folder: Path) -> list[set[str]]:
    result = api.find_folder_duplicates([folder], api.folder_duplicates_config(TIERS))
    names = result.store.items["rel_path"].astype(str).tolist()
    return [{names[m] for m in g.members} for g in result.groups]


def test_case_18_animations_sharing_a_first_frame_are_not_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = case_input("18")
    for groups in (ingested_groups(folder, tmp_path, monkeypatch), folder_groups(folder)):
        assert groups == [], groups
    shown = load_rgb(folder / "fox_fadein.gif")  # the shown frame is not the black first one
    assert np.asarray(shown).std() > 10


def test_case_19_transparent_art_is_judged_with_its_alpha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = case_input("19")
    for groups in (ingested_groups(folder, tmp_path, monkeypatch), folder_groups(folder)):
        assert {"badge_rgb.png", "badge_rgba.png", "badge_palette.png"} in groups, groups
        for group in groups:
            assert not {"star_white.png", "heart_white.png"} <= group, groups
            assert not {"star_black.png", "heart_black.png"} <= group, groups
    white_star = np.asarray(load_rgb(folder / "star_white.png"), np.float32)
    assert white_star.std() > 10  # visible: not white on white


def test_the_same_animation_re_encoded_is_an_exact_duplicate(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((0, 0, 0), (200, 0, 0), (0, 0, 200))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(
        tmp_path / "b.webp", save_all=True, append_images=frames[1:], duration=50, lossless=True
    )
    other = [*frames[:2], Image.new("RGB", (16, 16), (0, 200, 0))]
    other[0].save(tmp_path / "c.gif", save_all=True, append_images=other[1:], duration=50)
    keys = {n: pixel_sha256(load_rgb(tmp_path / n)) for n in ("a.gif", "b.webp", "c.gif")}
    assert keys["a.gif"] == keys["b.webp"] != keys["c.gif"]
