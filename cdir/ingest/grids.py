"""Midjourney-style 2x2 grids: find the four tiles of a grid image, and turn them into items.

A grid is recognised at its centre lines only, in two ways:

* **seams**: a thin band of uniform pixels (a gap or a line) crosses the whole image at the
  vertical *and* the horizontal middle, with image content right beside it on both sides (so a
  plain background is not a seam), or, when no jump is found either, on one side (the two tiles
  below a seam may both start with a plain sky);
* **abutting tiles** (images of 256 pixels and more): no gap, but the pixel jump across the
  exact middle column and row is many times the jumps just beside them (compared with columns of
  the same 8-pixel phase too, so JPEG block edges do not count), in at least one half of each
  line (two tiles may match colours along theirs) and in at least 35 % of the rows.

Both lines must be found, and split the image into four tiles of (nearly) equal size. Only the
middle is searched, so the check costs a few milliseconds whatever the image size. A split found
there is then checked against what a grid is, so patterns are not taken for grids:

* **four distinct pictures**: no two tiles are the same picture, or one the negative of the other
  (a checkerboard, a wallpaper tiled 2x2 or 4x4);
* **the middle lines are the only ones**: no other straight line crosses the whole image as
  strongly (a checkerboard of 6x6 squares, bricks, window panes, a comic page of 3 columns);
* **no frame**: the layout does not sit inside a uniform margin (comic pages and collages have
  one; Midjourney grids run to the image's edges).

That decides the layout (:func:`detect_grid`, also used to crop a tile). Whether a layout is
split into tile items at ingest also needs evidence that it is a generator's grid
(:mod:`cdir.ingest.grid_evidence`: a Midjourney size, a prompt, or an upscale in the collection
that matches a tile), so a 2x2 collage of holiday photos stays one item.

Tiles are numbered 1..4 row-major (Midjourney's U1..U4: top left, top right, bottom left, bottom
right). At ingest each tile of a grid becomes an item of its own (``tile`` = N, ``parent_id`` = the
grid's id, ``path`` = the grid's file, ``rel_path`` = ``<grid rel_path>#tile<N>``), decoded by
cropping the grid, so an upscale of one tile is found as a near-duplicate of that tile.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.ingest.grid_evidence import grid_evidence

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

    from cdir.imaging.decode import DecodeLimits
    from cdir.store.cache import Cache
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # (left, top, right, bottom), PIL crop order
TILE_SEPARATOR = "#tile"


@dataclass(frozen=True)
class GridConfig:
    """Thresholds of :func:`detect_grid` (checked on every image of ``cdir/assets/examples``, on
    JPEG-compressed grids in ``tests/ingest/test_grids.py``, and measured on the layouts of
    ``scripts/make_grid_set.py`` by ``bench/bench_grids.py``)."""

    min_side: int = 64  # smaller images are never grids
    centre_tolerance: float = 0.02  # a seam's middle may be this fraction of the side off-centre
    max_seam: float = 0.03  # widest seam, as a fraction of the side
    seam_tolerance: float = 14.0  # grey levels a seam pixel may differ from its line's median
    seam_fraction: float = 0.96  # share of a seam line's pixels within that tolerance
    content_fraction: float = 0.85  # beside a seam, lines must be below this share (content)
    edge_ratio: float = 4.0  # abutting tiles: the step across the middle vs the usual step
    half_ratio: float = 1.5  # ... and in each half of the line at least this
    min_edge: float = 6.0  # ... and at least this many grey levels on average
    jump_coverage: float = 0.35  # ... standing out in at least this share of the rows
    halves_needed: int = 1  # ... and in this many halves of the line (tiles may match in one)
    seam_one_side: bool = True  # then a seam with content on one side only (a shared sky)
    min_jump_side: int = 256  # abutting tiles are only looked for from this size on
    band: int = 40  # least half-width (pixels) of the strip examined around each middle line
    same_tiles: float = 4.0  # tiles closer than this (mean grey levels, 16x16) are one picture
    same_detail: float = 2.0  # ... when also this close at 64x64 (Vary siblings differ there)
    other_line: float = 0.5  # another full line this strong (vs the middle one) means a pattern
    sibling_tiles: float = 16.0  # four tiles all this close (16x16) are siblings of one job
    validate: bool = True  # check the split against what grids are (False: the split alone)


def detect_grid(image: Image.Image, config: GridConfig = GridConfig()) -> list[Box] | None:
    """The four tile boxes of a 2x2 grid image, row-major, or None when it is not a grid."""
    width, height = image.size
    if min(width, height) < config.min_side:
        return None
    xs = _split(_vertical_strip(image, config), width, config)
    if xs is None:
        return None
    ys = _split(_horizontal_strip(image, config), height, config)
    if ys is None:
        return None
    (x_end, x_start), (y_end, y_start) = xs, ys
    boxes = [
        (0, 0, x_end, y_end),
        (x_start, 0, width, y_end),
        (0, y_start, x_end, height),
        (x_start, y_start, width, height),
    ]
    if not config.validate:
        return boxes
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    if _repeated_tiles(image, boxes, config) or _framed(grey, config):
        return None
    if not _siblings(image, boxes, config) and (
        _other_lines(grey, xs, config) or _other_lines(grey.T, ys, config)
    ):
        return None
    return boxes


def crop_tile(image: Image.Image, tile: int, config: GridConfig = GridConfig()) -> Image.Image:
    """Tile ``tile`` (1..4) of a grid image; ValueError when the image is (no longer) a grid."""
    boxes = detect_grid(image, config)
    if boxes is None or not 1 <= tile <= len(boxes):
        raise ValueError(f"tile {tile} not found: the image is not a 2x2 grid")
    return image.crop(boxes[tile - 1])


# ------------------------------------------------------------------------------------- strips
def _vertical_strip(image: Image.Image, config: GridConfig) -> tuple[np.ndarray, int]:
    """Grey pixels of the columns around the vertical middle as (rows, columns), and the first
    column's x."""
    width, height = image.size
    band = _band(width, config)
    left, right = max(0, width // 2 - band), min(width, width // 2 + band + 1)
    strip = image.crop((left, 0, right, height)).convert("L")
    return np.asarray(strip, dtype=np.float32), left


def _horizontal_strip(image: Image.Image, config: GridConfig) -> tuple[np.ndarray, int]:
    """Like :func:`_vertical_strip` for the rows around the horizontal middle (transposed)."""
    width, height = image.size
    band = _band(height, config)
    top, bottom = max(0, height // 2 - band), min(height, height // 2 + band + 1)
    strip = image.crop((0, top, width, bottom)).convert("L")
    return np.asarray(strip, dtype=np.float32).T, top


def _band(side: int, config: GridConfig) -> int:
    """Half-width of the strip: room for the widest off-centre seam, and at least ``band``."""
    return max(config.band, int((config.centre_tolerance + config.max_seam) * side) + 4)


def _split(strip: tuple[np.ndarray, int], side: int, config: GridConfig) -> tuple[int, int] | None:
    """(end of the first tile, start of the second) along ``side``, from a seam or a jump."""
    pixels, offset = strip
    middle = side / 2 - offset  # the middle line in strip coordinates
    share = _uniform_share(pixels, config.seam_tolerance)  # both seam looks read it
    found = (
        _seam(share, middle, side, config, both_sides=True)
        or _jump(pixels, middle, side, config)
        or (_seam(share, middle, side, config, both_sides=False) if config.seam_one_side else None)
    )
    if found is None:
        return None
    end, start = found[0] + offset, found[1] + offset
    return (end, start) if abs(end - (side - start)) <= 2 + side // 100 else None


# ------------------------------------------------------------------------------ what grids are
def _repeated_tiles(image: Image.Image, boxes: list[Box], config: GridConfig) -> bool:
    """Whether two tiles are one picture, its mirror image, or its negative: alike at 16x16
    grey and still at 64x64 (the quadrants of checkerboards and of wallpapers tiled plainly or
    mirrored repeat every pixel; the four close siblings of a Vary (Subtle) grid are alike at
    16x16 but differ in their details)."""
    coarse, fine = _tile_views(image, boxes, 16), _tile_views(image, boxes, 64)
    for a in range(4):
        for b in range(a + 1, 4):
            for flip in _FLIPS:
                if (
                    float(np.abs(coarse[a] - flip(coarse[b])).mean()) < config.same_tiles
                    and float(np.abs(fine[a] - flip(fine[b])).mean()) < config.same_detail
                ):
                    return True
    return False


def _siblings(image: Image.Image, boxes: list[Box], config: GridConfig) -> bool:
    """Whether the four tiles are close siblings (a Vary (Subtle) grid: every pair alike at
    16x16, none the same picture, which :func:`_repeated_tiles` has ruled out): their shapes
    sit where their siblings' do, so their lines repeat a tile further as a pattern's would."""
    coarse = _tile_views(image, boxes, 16)
    return all(
        float(np.abs(coarse[a] - coarse[b]).mean()) < config.sibling_tiles
        for a in range(4)
        for b in range(a + 1, 4)
    )


_FLIPS = (
    lambda t: t,
    lambda t: 255.0 - t,
    lambda t: t[:, ::-1],
    lambda t: t[::-1, :],
    lambda t: t[::-1, ::-1],
)


def _tile_views(image: Image.Image, boxes: list[Box], side: int) -> list[np.ndarray]:
    from PIL import Image as PILImage

    return [
        np.asarray(
            image.crop(box).convert("L").resize((side, side), PILImage.Resampling.BOX),
            dtype=np.float32,
        )
        for box in boxes
    ]


def _framed(grey: np.ndarray, config: GridConfig) -> bool:
    """Whether all four outer edges are uniform lines (a comic page's or a collage's margin)."""
    edges = (grey[:2, :], grey[-2:, :], grey[:, :2].T, grey[:, -2:].T)
    for edge in edges:
        uniform = np.abs(edge - np.median(edge)) <= config.seam_tolerance
        if uniform.mean() < config.seam_fraction:
            return False
    return True


def _other_lines(grey: np.ndarray, split: tuple[int, int], config: GridConfig) -> bool:
    """Whether the image repeats a line pattern across the middle split: away from it, a column
    that is a line across the whole image (a jump standing out over the whole height, at least
    ``other_line`` as strong as the split's, or a thin uniform run between content) has a
    partner one tile further on, as the squares of a checkerboard, bricks, grout and panels
    have. A line in one picture only (two seascapes' horizons at one height) has none. (The
    close siblings of a Vary (Subtle) grid repeat theirs too: :func:`detect_grid` does not ask
    this of them, see :func:`_siblings`.)"""
    height, width = grey.shape
    end, start = split
    margin = max(4, width // 50)
    steps = np.abs(np.diff(grey, axis=1))  # (rows, width - 1)
    strength = steps.mean(axis=0)
    middle = float(strength[max(0, end - 1) : start + 1].max())
    cover = (np.abs(steps - np.median(steps, axis=1, keepdims=True)) > 6).mean(axis=0)
    away = np.ones(len(strength), bool)
    away[max(0, end - margin) : start + margin] = False
    away[:margin] = away[-margin:] = False
    lines = (
        away
        & (
            strength
            >= max(
                config.other_line * middle,
                config.edge_ratio * float(np.median(strength)),
                config.min_edge,
            )
        )
        & (cover >= config.jump_coverage)
    )
    share = _uniform_share(grey, config.seam_tolerance)
    for run_start, run_end in _runs(share >= config.seam_fraction):
        # bounds first: ``away`` has one entry per step (width - 1), ``share`` one per column
        if (
            margin <= run_start < len(away)
            and run_end <= width - margin
            and run_end - run_start <= max(2, config.max_seam * width)
            and away[run_start]
        ):
            beside = (
                share[max(0, run_start - 3) : run_start].min(),
                share[run_end : run_end + 3].min(),
            )
            if max(beside) < config.content_fraction:
                lines[run_start : min(run_end, len(lines))] = True
    found = np.flatnonzero(lines)
    return bool(len(found)) and bool(np.isin(found + start, _widen(found, 2)).any())


def _widen(positions: np.ndarray, by: int) -> np.ndarray:
    return np.unique((positions[:, None] + np.arange(-by, by + 1)[None, :]).ravel())


# -------------------------------------------------------------------------------------- seams
def _uniform_share(pixels: np.ndarray, tolerance: float) -> np.ndarray:
    """For each column, the share of its pixels within ``tolerance`` of the column's median."""
    median = _column_medians(pixels)
    return (np.abs(pixels - median) <= tolerance).mean(axis=0)


def _column_medians(pixels: np.ndarray) -> np.ndarray:
    """``np.median(pixels, axis=0)`` of a float32 grey strip without NaN, from a sort of its
    columns: the same values (the mean of two grey levels is exact in float32), at a third of
    the cost of ``np.median``'s partition on the strips of a 640x480 photo."""
    ordered = np.sort(pixels, axis=0)
    rows = len(ordered)
    return (ordered[(rows - 1) // 2] + ordered[rows // 2]) / np.float32(2)


def _seam(
    share: np.ndarray, middle: float, side: int, config: GridConfig, both_sides: bool = True
) -> tuple[int, int] | None:
    """A thin run of uniform columns near the middle with content columns on both sides;
    ``share``: :func:`_uniform_share` of the strip's pixels."""
    uniform = share >= config.seam_fraction
    for start, end in _runs(uniform):
        if start == 0 or end == len(uniform):
            continue  # touches the strip's edge: a wide plain area, not a seam
        if end - start > max(2, config.max_seam * side):
            continue
        if abs((start + end) / 2 - middle) > config.centre_tolerance * side + 1:
            continue
        beside = (share[max(0, start - 3) : start].min(), share[end : end + 3].min())
        # 3 pixels: resampling blurs a seam's edges; with one side, the tiles of a row may
        # share a plain edge (a sky)
        content = max(beside) if both_sides else min(beside)
        if content < config.content_fraction:
            return start, end
    return None


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in ``mask``, end exclusive."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


# ---------------------------------------------------------------------------------- abutting
def _jump(
    pixels: np.ndarray, middle: float, side: int, config: GridConfig
) -> tuple[int, int] | None:
    """Abutting tiles: a jump between the columns at the exact middle, strong over the whole line,
    present in each half of it (tiles of one prompt can match colours along part of a line), and
    standing out from its neighbours in at least ``jump_coverage`` of the rows (an object's edge
    that happens to lie on the middle covers only part of the line)."""
    if min(pixels.shape[0], side) < config.min_jump_side or pixels.shape[1] < 50:
        return None
    whole = _steps(pixels)
    halves = [_steps(half) for half in np.array_split(pixels, 2, axis=0)]
    for boundary in sorted({int(np.floor(middle)), int(np.ceil(middle))}):
        j = boundary - 1  # step j goes from column j to column j + 1
        if (
            _jump_ratio(whole, j) >= config.edge_ratio
            and whole[j] >= config.min_edge
            and sum(_jump_ratio(h, j) >= config.half_ratio for h in halves) >= config.halves_needed
            and _coverage(pixels, j) >= config.jump_coverage
        ):
            return boundary, boundary
    return None


def _coverage(pixels: np.ndarray, j: int) -> float:
    """Share of rows whose step ``j`` exceeds both neighbouring steps by over 6 grey levels."""
    steps = np.abs(np.diff(pixels[:, j - 1 : j + 3], axis=1))  # steps j-1, j, j+1
    return float(np.mean(steps[:, 1] - np.maximum(steps[:, 0], steps[:, 2]) > 6))


def _steps(pixels: np.ndarray) -> np.ndarray:
    """Mean absolute grey-level step from each column to the next."""
    return np.abs(np.diff(pixels, axis=1)).mean(axis=0)


def _jump_ratio(steps: np.ndarray, j: int) -> float:
    """Step ``j`` over the usual step around it, taken as the larger of the median of the other
    steps and the median of those of the same 8-pixel phase (JPEG block edges)."""
    if not 2 <= j < len(steps) - 2:
        return 0.0
    others = np.delete(np.arange(len(steps)), range(j - 2, j + 3))
    same_phase = others[(others - j) % 8 == 0]
    baseline = max(float(np.median(steps[others])), float(np.median(steps[same_phase])), 0.5)
    return float(steps[j]) / baseline


# -------------------------------------------------------------------------------- tile items
def tile_sha(parent_sha: str, tile: int) -> str:
    """The content key of a tile (the cache and thumbnail key of a tile item)."""
    return hashlib.sha256(f"{parent_sha}{TILE_SEPARATOR}{tile}".encode()).hexdigest()


def tile_rows(items: pd.DataFrame, grids: dict[int, list[Box]]) -> pd.DataFrame:
    """New item rows for the tiles of ``grids`` ({row of the grid item: its boxes})."""
    import pandas as pd

    next_id = int(items["id"].max()) + 1 if len(items) else 0
    rows = []
    for row, boxes in sorted(grids.items()):
        parent = items.iloc[row]
        for n in range(1, len(boxes) + 1):
            rows.append(
                {
                    **_inherited(parent),
                    "id": next_id + len(rows),
                    "tile": n,
                    "rel_path": f"{parent['rel_path']}{TILE_SEPARATOR}{n}",
                    "sha256": tile_sha(str(parent["sha256"]), n),
                    "parent_id": int(parent["id"]),
                    "file_size": -1,
                    "status": "pending",
                }
            )
    return pd.DataFrame(rows)


def _inherited(parent: pd.Series) -> dict[str, Any]:
    """What a tile takes from its grid: the file, the labels and the prompt."""
    keys = ("path", "domain", "class", "label_source", "prompt")
    return {k: (None if _missing(parent[k]) else parent[k]) for k in keys}


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def grids_to_split(store: Store, cache: Cache, limits: DecodeLimits) -> dict[int, list[Box]]:
    """{row: tile boxes} of the grid items whose tiles are not items yet.

    The boxes come from the decode info cached at ingest (``ImageInfo.grid``); an item decoded by
    an older cdir, whose info has no ``grid`` entry, is decoded once more and its info updated.
    A layout is a grid only with evidence (:func:`cdir.ingest.grid_evidence.grid_evidence`);
    one without stays a single item and is looked at again at the next ingest (an upscale of one
    of its tiles may come later).
    """
    items = store.items
    has_tiles = set(items.loc[items["parent_id"] >= 0, "parent_id"].astype(int))
    rows = [
        r
        for r in range(len(items))
        if items.at[r, "status"] == "ok"
        and int(items.at[r, "tile"]) < 0
        and int(items.at[r, "id"]) not in has_tiles
    ]
    shas = [str(items.at[r, "sha256"]) for r in rows]
    infos = cache.get_texts("image_info", "v1", shas)
    found: dict[int, list[Box]] = {}
    for row, sha in zip(rows, shas, strict=True):
        info = json.loads(infos[sha]) if sha in infos else {}
        if "grid" not in info:
            info["grid"] = _detect_file(store, row, limits)
            if sha in infos:
                cache.put_texts("image_info", "v1", {sha: json.dumps(info)})
        if info["grid"]:
            boxes = [tuple(box) for box in info["grid"]]
            try:
                why = grid_evidence(store, row, boxes, limits)
            except Exception as exc:  # one file's failure keeps that file whole, nothing else
                log.warning(
                    "%s: grid evidence failed (kept whole): %s", items.at[row, "rel_path"], exc
                )
                continue
            if why is None:
                log.info(
                    "%s has a 2x2 layout but nothing says it is a generator's grid: kept whole",
                    items.at[row, "rel_path"],
                )
                continue
            log.debug("%s is a grid (%s)", items.at[row, "rel_path"], why)
            found[row] = boxes
    return found


def _detect_file(store: Store, row: int, limits: DecodeLimits) -> list[Box] | None:
    from cdir.imaging.decode import DecodeError, load_rgb

    path = store.image_path(store.items.iloc[row])
    try:
        return detect_grid(load_rgb(path, limits))
    except DecodeError:
        return None
    except Exception as exc:  # a detector bug on one file: that file stays whole
        log.warning("%s: grid detection failed (kept whole): %s", path.name, exc)
        return None


def add_tile_items(store: Store, cache: Cache, limits: DecodeLimits) -> int:
    """Append an item for each tile of each grid image not split yet; returns how many."""
    import pandas as pd

    from cdir.store.collection import normalise_items

    grids = grids_to_split(store, cache, limits)
    if not grids:
        return 0
    new = tile_rows(store.items, grids)
    store.items = normalise_items(pd.concat([store.items, new], ignore_index=True))
    log.info("split %d grid image(s) into %d tile items", len(grids), len(new))
    return len(new)
