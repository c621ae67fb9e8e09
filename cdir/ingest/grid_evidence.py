"""Evidence that a 2x2 layout (:func:`cdir.ingest.grids.detect_grid`) is a generator's grid, not
a collage or a comic page of four pictures: a layout is split into tile items at ingest only with
one of

* ``"midjourney size"``: the tiles have a Midjourney tile size: 512 on the short side and up to
  0.5 megapixels (v1-v4, niji 4: 512x512, 512x768, 896x512, ...), or sides that are multiples
  of 16 and an area of 0.95-1.45 megapixels (v5 and later: 1024x1024, 1456x816, 1344x896,
  1232x928, 896x1120, 1568x896, 1680x720, ...), so the grid is twice that on each side
  (1024x1024, 2048x2048, 2912x1632, ...);
* ``"prompt"``: the file carries a generation prompt (Midjourney's description, A1111's grids,
  ComfyUI, ...);
* ``"upscale"``: another image of the collection is a perceptual near-duplicate of one tile
  (pHash within :data:`UPSCALE_MAX_DISTANCE` bits): the upscale or variation made from it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cdir.imaging.decode import DecodeLimits
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
UPSCALE_MAX_DISTANCE = 8  # bits of 64, the perceptual tier's default (cdir.duplicates.finder)
_MJ_V5_MEGAPIXELS = (0.95, 1.45)


def midjourney_size(width: int, height: int) -> bool:
    """Whether a ``width`` x ``height`` grid (pixels) has Midjourney's tile sizes (see above)."""
    if width % 2 or height % 2:
        return False
    tile_w, tile_h = width // 2, height // 2
    area = tile_w * tile_h / 1e6
    if min(tile_w, tile_h) == 512 and area <= 0.5 and tile_w % 8 == 0 and tile_h % 8 == 0:
        return True
    low, high = _MJ_V5_MEGAPIXELS
    return tile_w % 16 == 0 and tile_h % 16 == 0 and low <= area <= high


def grid_evidence(store: Store, row: int, boxes: list[Box], limits: DecodeLimits) -> str | None:
    """Why the layout of item ``row`` is a generator's grid ("midjourney size", "prompt",
    "upscale"), or None when nothing says so (it stays one item)."""
    items = store.items
    width, height = int(items.at[row, "width"]), int(items.at[row, "height"])
    if midjourney_size(width, height):
        return "midjourney size"
    prompt = items.at[row, "prompt"] if "prompt" in items else None
    if isinstance(prompt, str) and prompt.strip():
        return "prompt"
    if _upscale_in_collection(store, row, boxes, limits):
        return "upscale"
    return None


def _upscale_in_collection(store: Store, row: int, boxes: list[Box], limits: DecodeLimits) -> bool:
    """Whether another (non-tile) item's pHash is within UPSCALE_MAX_DISTANCE of a tile's."""
    items = store.items
    others = np.flatnonzero(
        (items["status"] == "ok").to_numpy()
        & (items["tile"].astype(int) < 0).to_numpy()
        & items["phash"].notna().to_numpy()
    )
    others = others[others != row]
    if not len(others):
        return False
    hashes = np.array([int(str(h), 16) for h in items["phash"].to_numpy()[others]], dtype=np.uint64)
    for tile_hash in _tile_hashes(store, row, boxes, limits):
        if (np.bitwise_count(hashes ^ np.uint64(tile_hash)) <= UPSCALE_MAX_DISTANCE).any():
            return True
    return False


def _tile_hashes(store: Store, row: int, boxes: list[Box], limits: DecodeLimits) -> list[int]:
    """The pHash of each tile, hashed as ingest hashes an item (cdir.ingest.reader: imagehash's
    pHash of the 256-pixel thumbnail)."""
    import imagehash

    from cdir.imaging.decode import DecodeError, load_rgb, make_thumbnail

    try:
        image: Any = load_rgb(store.item_path(row), limits)
    except DecodeError as exc:
        log.debug("cannot read grid candidate row %d: %s", row, exc)
        return []
    return [int(str(imagehash.phash(make_thumbnail(image.crop(box), 256))), 16) for box in boxes]
