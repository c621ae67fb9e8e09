"""Grid detection from what grids are: four distinct pictures split at the middle lines, no
repeated pattern, no frame; split into tiles at ingest only with evidence (a Midjourney size, a
prompt, an upscale of a tile). Checkerboards, wallpapers, comic pages and collages are not grids.
Built with the generators of scripts/make_grid_set.py (bench/bench_grids.py measures them all)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image

from cdir.ingest.grid_evidence import midjourney_size
from cdir.ingest.grids import detect_grid
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.loaded import Models
from cdir.store.collection import Store

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import make_grid_set as mk  # noqa: E402

PICS = mk.pictures()


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


# --- real grid layouts: the four boxes exactly -----------------------------------------------

GRIDS = {
    "1024 square, PNG": (lambda: mk.grid_of(PICS[0:4], 1024, 1024), (1024, 1024), 0),
    "1024 square, JPEG": (lambda: jpeg(mk.grid_of(PICS[13:17], 1024, 1024)), (1024, 1024), 0),
    "2:3 portrait, JPEG": (lambda: jpeg(mk.grid_of(PICS[30:34], 896, 1344)), (896, 1344), 0),
    "3:2 landscape, PNG": (lambda: mk.grid_of(PICS[40:44], 1344, 896), (1344, 896), 0),
    "subtle variations": (
        lambda: jpeg(mk.grid_of([mk._variation(PICS[11], v) for v in range(4)], 1024, 1024)),
        (1024, 1024),
        0,
    ),
    "white seam 2 px": (lambda: jpeg(mk.grid_of(PICS[0:4], 514, 514, 2)), (514, 514), 2),
    "black seam 4 px": (
        lambda: jpeg(mk.grid_of(PICS[17:21], 1028, 1028, 4, (0, 0, 0))),
        (1028, 1028),
        4,
    ),
}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_real_grid_layouts_give_the_four_tile_boxes(name: str) -> None:
    make, (width, height), seam = GRIDS[name]
    tw, th = (width - seam) // 2, (height - seam) // 2
    assert detect_grid(make()) == [
        (0, 0, tw, th),
        (tw + seam, 0, width, th),
        (0, th + seam, tw, height),
        (tw + seam, th + seam, width, height),
    ]


# --- look-alikes: never a grid ---------------------------------------------------------------

BLACK_WHITE, RED_WHITE = ((0, 0, 0), (255, 255, 255)), ((200, 50, 50), (240, 240, 240))
NOISE = Image.effect_noise((64, 64), 80).convert("RGB").resize((512, 512))
PATCH = PICS[5].resize((256, 256))
NOT_GRIDS = {
    **{
        f"checkerboard {n}x{n}, {c}": (
            lambda n=n, colours=colours: jpeg(mk._checker(1024, n, *colours), 90)
        )
        for n in (2, 4, 6, 8, 10, 16, 32)
        for c, colours in (("black/white", BLACK_WHITE), ("red/white", RED_WHITE))
    },
    "wallpaper tiled 2x2": lambda: jpeg(mk._tiled(NOISE, 2, mirror=False)),
    "wallpaper mirrored 2x2": lambda: jpeg(mk._tiled(NOISE, 2, mirror=True)),
    "wallpaper tiled 4x4": lambda: jpeg(mk._tiled(PATCH, 4, mirror=False)),
    "wallpaper mirrored 4x4": lambda: jpeg(mk._tiled(PATCH, 4, mirror=True)),
    "bathroom tiles 4x4": lambda: jpeg(mk._grouted(1024, 4, 0)),
    "bathroom tiles 8x8": lambda: jpeg(mk._grouted(1024, 8, 1)),
    "comic page 2x2, 1024": lambda: jpeg(mk._comic(PICS, (1024, 1024), 2, 2, 24, 0)),
    "comic page 2x2, A4": lambda: jpeg(mk._comic(PICS, (1200, 1700), 2, 2, 40, 1)),
    "comic page 2x3": lambda: jpeg(mk._comic(PICS, (1700, 1200), 2, 3, 40, 2)),
    "collage with a margin, 1024": lambda: jpeg(mk._collage(PICS[8:12], (1024, 1024), 12, 30)),
    "collage with a margin, 4:3": lambda: jpeg(mk._collage(PICS[12:16], (1600, 1200), 12, 30)),
    "plain white, Midjourney size": lambda: Image.new("RGB", (1024, 1024), "white"),
}


@pytest.mark.parametrize("name", sorted(NOT_GRIDS))
def test_look_alikes_are_not_grids(name: str) -> None:
    assert detect_grid(NOT_GRIDS[name]()) is None


def test_midjourney_sizes() -> None:
    for size in [
        (1024, 1024),
        (2048, 2048),
        (2912, 1632),
        (1792, 2688),
        (2688, 1792),
        (2464, 1856),
        (1024, 1536),
    ]:
        assert midjourney_size(*size), size
    for size in [
        (1600, 1200),
        (1000, 1000),
        (3000, 2000),
        (514, 514),
        (1920, 1080),
        (4032, 3024),
        (1025, 1024),
    ]:
        assert not midjourney_size(*size), size


# --- at ingest: split only with evidence ---------------------------------------------------------


def items_of(folder: Path, store_dir: Path, tiny: Models) -> dict[str, int]:
    """{rel_path: tile} of the collection made from ``folder``."""
    ingest([folder], store_dir, tiny, IngestConfig(captions="none", predict_domains=False))
    items = Store.load(store_dir).items
    return dict(zip(items["rel_path"], items["tile"].astype(int), strict=True))


def test_ingest_splits_grids_with_evidence_only(tmp_path: Path, tiny: Models) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    mk.grid_of(PICS[0:4], 1024, 1024).save(folder / "mj_grid.png")  # Midjourney size
    bare = mk._collage(PICS[20:24], (1000, 1000), 0, 0)  # a grid layout, nothing else
    assert detect_grid(bare) is not None and not midjourney_size(1000, 1000)
    bare.save(folder / "holiday_collage.jpg", quality=90)
    mk._checker(1024, 8, *BLACK_WHITE).save(folder / "checkerboard.png")
    found = items_of(folder, tmp_path / "store", tiny)
    assert sorted(found) == sorted(
        ["mj_grid.png", "holiday_collage.jpg", "checkerboard.png"]
        + [f"mj_grid.png#tile{n}" for n in range(1, 5)]
    )
    assert {found[f"mj_grid.png#tile{n}"] for n in range(1, 5)} == {1, 2, 3, 4}


def test_an_upscale_of_a_tile_is_evidence(tmp_path: Path, tiny: Models) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    grid = mk.grid_of(PICS[20:24], 1000, 1000)  # not a Midjourney size, no prompt
    grid.save(folder / "grid.png")
    store_dir = tmp_path / "store"
    assert sorted(items_of(folder, store_dir, tiny)) == ["grid.png"]
    grid.crop((500, 0, 1000, 500)).resize((1000, 1000), Image.Resampling.LANCZOS).save(
        folder / "grid_U2.png"
    )  # the upscale of tile 2 comes later
    found = items_of(folder, store_dir, tiny)
    assert sorted(found) == sorted(
        ["grid.png", "grid_U2.png"] + [f"grid.png#tile{n}" for n in range(1, 5)]
    )
