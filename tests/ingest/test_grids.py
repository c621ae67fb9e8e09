"""Midjourney-style 2x2 grids: detection (the bundled grid, JPEG, resizing, abutting tiles, no false
positives on any example image) and tiles as items of their own, found as near-duplicates."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
from PIL import Image

from cdir.duplicates.finder import DedupConfig, find_groups
from cdir.duplicates.keep import choose_keep
from cdir.imaging.decode import load_rgb
from cdir.ingest.grids import crop_tile, detect_grid, tile_sha
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.loaded import load_models
from cdir.store.collection import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
MANIFEST = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
GRID = "generated/fish/grid_fish.png"
UPSCALE = "generated/fish/upscale_fish.png"
EXAMPLE_FILES = sorted(f["path"] for f in MANIFEST["files"])


def grid_entry() -> dict:
    return next(f for f in MANIFEST["files"] if f["path"] == GRID)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def abutting(tiles: list[Image.Image], side: int) -> Image.Image:
    """Four tiles side by side with no seam, like recent Midjourney grids."""
    grid = Image.new("RGB", (2 * side, 2 * side))
    for n, tile in enumerate(tiles):
        grid.paste(tile.resize((side, side)), ((n % 2) * side, (n // 2) * side))
    return grid


# ------------------------------------------------------------------------------------ detection
def test_the_bundled_grid_and_its_tile_boxes() -> None:
    boxes = detect_grid(load_rgb(EXAMPLES / GRID))
    assert boxes == [tuple(b) for b in grid_entry()["tiles"]]


@pytest.mark.parametrize("rel", [f for f in EXAMPLE_FILES if f != GRID])
def test_no_other_example_is_a_grid(rel: str) -> None:
    assert detect_grid(load_rgb(EXAMPLES / rel)) is None


@pytest.mark.parametrize("quality", [90, 50, 25])
@pytest.mark.parametrize("side", [514, 1028, 2056])
def test_grid_survives_jpeg_and_resizing(side: int, quality: int) -> None:
    grid = load_rgb(EXAMPLES / GRID).resize((side, side), Image.Resampling.LANCZOS)
    boxes = detect_grid(jpeg(grid, quality))
    assert boxes is not None and len(boxes) == 4
    (x0, y0, x1, y1), (x2, _, x3, _) = boxes[0], boxes[1]
    assert (x0, y0) == (0, 0) and x3 == side and x1 < x2 and x1 <= side / 2 <= x2
    assert abs(x1 - (side - x2)) <= 2 and abs(y1 - (side - boxes[2][1])) <= 2


@pytest.mark.parametrize("quality", [95, 75])
def test_abutting_tiles_are_found_by_the_jump_at_the_middle(quality: int) -> None:
    fish = load_rgb(EXAMPLES / GRID)
    tiles = [fish.crop(b) for b in detect_grid(fish)]
    boxes = detect_grid(jpeg(abutting(tiles, 256), quality))
    assert boxes == [(0, 0, 256, 256), (256, 0, 512, 256), (0, 256, 256, 512), (256, 256, 512, 512)]


def test_abutting_photos_are_a_grid() -> None:
    photos = [
        load_rgb(EXAMPLES / f"photo/{c}/photo_{c}_01.jpg") for c in ("boat", "car", "fish", "house")
    ]
    assert detect_grid(jpeg(abutting(photos, 300), 85)) == [
        (0, 0, 300, 300),
        (300, 0, 600, 300),
        (0, 300, 300, 600),
        (300, 300, 600, 600),
    ]


def test_small_plain_and_one_line_images_are_not_grids() -> None:
    assert detect_grid(Image.new("RGB", (40, 40), "white")) is None
    assert detect_grid(Image.new("RGB", (600, 600), "white")) is None
    photo = load_rgb(EXAMPLES / "photo/car/photo_car_01.jpg").resize((512, 512))
    half = photo.copy()
    half.paste((236, 236, 236), (255, 0, 257, 512))  # a vertical seam only
    assert detect_grid(half) is None


@pytest.mark.parametrize("size", [96, 384, 768])
def test_centred_drawings_are_not_grids(size: int) -> None:
    """Geometric drawings can put an object's edge exactly on both middle lines (the cross)."""
    from tests.drawn import CLASSES, DOMAINS, draw_image

    for domain, cls, variant in itertools.product(DOMAINS, CLASSES, range(3)):
        image = draw_image(domain, cls, variant).resize((size, size), Image.Resampling.NEAREST)
        assert detect_grid(image) is None, (domain, cls, variant)


def vary_subtle(photo: Image.Image, seed: int) -> list[Image.Image]:
    """Four close siblings of one picture, as Vary (Subtle) makes them: the scene shifted by up
    to 4 % and its colours changed by up to 4 %."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = photo.size
    out = []
    for _ in range(4):
        dx, dy = rng.integers(0, w // 25, 2)
        crop = photo.crop((dx, dy, dx + int(w * 0.94), dy + int(h * 0.94)))
        arr = np.asarray(crop, np.float32) * (1 + rng.uniform(-0.04, 0.04, 3))
        out.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    return out


@pytest.mark.parametrize(
    ("subject", "side"),
    [*itertools.product(["car", "fish"], [256, 512, 1024]), ("boat", 512), ("boat", 1024)],
)
def test_a_vary_subtle_grid_is_split(subject: str, side: int) -> None:
    """Four close siblings are alike at a glance (16x16) but not one picture repeated: the grid
    is split into its four tiles, at every size. (The boat's siblings at 256 px meet without a
    jump the middle line is found by: no layout to judge.)"""
    photo = load_rgb(EXAMPLES / f"photo/{subject}/photo_{subject}_01.jpg")
    boxes = detect_grid(jpeg(abutting(vary_subtle(photo, 0), side), 85))
    assert boxes == [
        (0, 0, side, side),
        (side, 0, 2 * side, side),
        (0, side, side, 2 * side),
        (side, side, 2 * side, 2 * side),
    ]


@pytest.mark.parametrize("side", [256, 512, 1024])
def test_one_picture_repeated_is_still_no_grid(side: int) -> None:
    """The same picture four times (a wallpaper, mirrored or not) is no grid of siblings."""
    from PIL import ImageOps

    photo = load_rgb(EXAMPLES / "photo/car/photo_car_01.jpg")
    tiles = [photo, ImageOps.mirror(photo), photo, ImageOps.mirror(photo)]
    assert detect_grid(jpeg(abutting(tiles, side), 85)) is None
    assert detect_grid(jpeg(abutting([photo] * 4, side), 85)) is None


def test_crop_tile() -> None:
    grid = load_rgb(EXAMPLES / GRID)
    assert crop_tile(grid, 2).size == (256, 256)
    with pytest.raises(ValueError, match="not a 2x2 grid"):
        crop_tile(load_rgb(EXAMPLES / UPSCALE), 1)


# --------------------------------------------------------------------------------- tiles as items
@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store_dir = tmp_path_factory.mktemp("stores") / "examples"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("module-cache")))
        models = load_models("tiny", device="cpu")
        ingest([EXAMPLES], store_dir, models, IngestConfig(captions="none"))
        ingest([EXAMPLES], store_dir, models, IngestConfig(captions="none"))  # no new tiles
    return Store.load(store_dir)


def by_path(store: Store, rel: str) -> int:
    items = store.items
    return int(items.loc[items["rel_path"] == rel, "id"].iloc[0])


def test_tiles_become_items_linked_to_their_grid(examples: Store) -> None:
    items = examples.items
    grid = items[items["rel_path"] == GRID].iloc[0]
    tiles = items[items["tile"] > 0].sort_values("tile")
    assert len(items) == len(EXAMPLE_FILES) + 4
    assert tiles["tile"].tolist() == [1, 2, 3, 4]
    assert (tiles["parent_id"] == grid["id"]).all() and (tiles["path"] == grid["path"]).all()
    assert tiles["rel_path"].tolist() == [f"{GRID}#tile{n}" for n in range(1, 5)]
    assert (tiles["status"] == "ok").all() and (tiles["width"] == 256).all()
    assert tiles["sha256"].tolist() == [tile_sha(grid["sha256"], n) for n in range(1, 5)]
    assert (tiles["prompt"] == grid["prompt"]).all() and (tiles["domain"] == "generated").all()
    assert all(examples.thumb_path(sha).is_file() for sha in tiles["sha256"])
    assert (abs(examples.image_emb[tiles["id"].to_numpy()]).sum(axis=1) > 0).all()
    assert (items.loc[items["tile"] < 0, "parent_id"] == -1).all()


def test_the_upscale_is_a_perceptual_near_duplicate_of_its_tile(examples: Store) -> None:
    tile2, upscale = by_path(examples, f"{GRID}#tile2"), by_path(examples, UPSCALE)
    groups = find_groups(examples, DedupConfig(tiers=("perceptual",)))
    group = next(g for g in groups if upscale in g.members)
    assert tile2 in group.members
    assert choose_keep(examples, group.tier, group.members).item == upscale  # a file, larger


def test_a_tile_is_never_grouped_with_its_own_grid(examples: Store) -> None:
    grid = by_path(examples, GRID)
    tiles = set(examples.items.loc[examples.items["tile"] > 0, "id"].astype(int))
    assert len(tiles) == 4  # the rule is checked on real tiles, not on none
    loose = DedupConfig(perceptual_max_distance=64, semantic_min_similarity=-1.0)
    groups = find_groups(examples, loose)
    assert tiles <= {m for g in groups for m in g.members}  # so loose every tile is grouped
    for g in groups:
        assert not (grid in g.members and tiles & set(g.members))


def test_the_manifest_near_duplicates_are_found(examples: Store) -> None:
    groups = find_groups(examples, DedupConfig(tiers=("exact", "perceptual")))
    together = [set(g.members) for g in groups]
    for a, b in MANIFEST["near_duplicate_pairs"]:
        pair = {by_path(examples, a), by_path(examples, b)}
        assert any(pair <= g for g in together), (a, b)
