"""The one rule that suggests which member of a near-duplicate group to keep, with its reason.

The keep is the member the others were derived from, judged in this order:

1. a file of its own before a tile cut from a grid image (a tile is not a file);
2. a clean rendering before a damaged one: every member is compared with the group's
   *consensus* (the per-pixel median of all members, mirrored copies turned back first); a member
   that departs from it more than the closest one does (an added overlay, text or border, a
   colour shift, a crop, heavy re-encoding) is a derived copy. Groups of two have no consensus:
   both count as clean;
3. the largest rendering (pixels), then the least compressed (bytes per pixel), except for exact
   copies, whose pixels are identical;
4. richer generation metadata (prompt, negative prompt, generator, settings);
5. a name that does not say copy ("Copy of x.png", "x (1).jpg", "x_copy.png");
6. the oldest file (modification time), then the shortest name, then the lowest id.

:func:`choose_keep` says in words why the keep won ("larger, no overlay or colour change").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.duplicates.item_columns import Columns

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

# "x_copy.png", "x copy 2.png", "x-copy.png", "Copy of x.png", "x (1).png", "x - Copy.png"
COPY_NAME = re.compile(r"(?i)(?:[ _-]copy(?:[ _-]?\(?\d+\)?)?$|^copy of |\(\d+\)$)")
METADATA_COLUMNS = ("prompt", "negative_prompt", "generator", "generation_settings")
SIDE = 32  # members are compared with the consensus at SIDE x SIDE


@dataclass(frozen=True)
class KeepConfig:
    """``damage_margin``: a member is damaged when its departure from the consensus exceeds the
    closest member's by more than this (0..255 levels, mean of the mean and 95th-percentile
    absolute difference); ``damage_ratio``: ... and by more than this factor."""

    damage_margin: float = 2.5
    damage_ratio: float = 1.6


@dataclass(frozen=True)
class KeepChoice:
    """The member to keep and why, in words."""

    item: int
    reason: str


def looks_like_copy(name: str) -> bool:
    """Whether a file name says it is a copy ("x_copy.png", "Copy of x", "x (1).jpg")."""
    return bool(COPY_NAME.search(Path(str(name)).stem.strip()))


@dataclass
class _Member:
    item: int
    tile: bool
    damaged: bool
    pixels: int
    bytes_per_pixel: float
    metadata: int
    copy_name: bool
    mtime: float
    name: str

    def key(self, exact: bool) -> tuple[Any, ...]:
        quality = (0, 0.0) if exact else (-self.pixels, -self.bytes_per_pixel)
        return (
            self.tile,
            self.damaged,
            *quality,
            -self.metadata,
            self.copy_name,
            self.mtime,
            len(self.name),
            self.name,
            self.item,
        )


def choose_keep(
    store: Store,
    tier: str,
    members: Sequence[int],
    config: KeepConfig | None = None,
    columns: Columns | None = None,
) -> KeepChoice:
    """The member of a group (of ``tier``) to keep, and the reason (see the module docstring).
    ``members`` are item ids (rows of ``store.items``); ``columns``: the store's, built once
    for many groups."""
    config = config or KeepConfig()
    cols = columns or Columns.of(store)
    members = [int(m) for m in members]
    if len(members) == 1:
        return KeepChoice(members[0], "the only copy")
    exact = tier == "exact"
    damaged = (
        [False] * len(members)
        if exact or len(members) < 3
        else damaged_members(store, members, config)
    )
    facts = [_facts(store, cols, m, d) for m, d in zip(members, damaged, strict=True)]
    _tie_identical_pixels(cols, facts)
    best = min(facts, key=lambda f: f.key(exact))
    return KeepChoice(best.item, _reason(best, [f for f in facts if f is not best], exact))


def _facts(store: Store, cols: Columns, item: int, damaged: bool) -> _Member:
    width, height = int(cols.width[item]), int(cols.height[item])
    size = int(cols.file_size[item])
    pixels = max(width, 0) * max(height, 0)
    metadata = sum(1 for c in METADATA_COLUMNS if cols.get(c, item))
    name = Path(cols.get("rel_path", item) or "").name
    return _Member(
        item,
        int(cols.tile[item]) > 0,
        damaged,
        pixels,
        size / pixels if pixels and size > 0 else 0.0,
        metadata,
        looks_like_copy(name),
        _mtime(cols, item),
        name,
    )


def _tie_identical_pixels(cols: Columns, facts: list[_Member]) -> None:
    """Members with identical pixels (a PNG re-save of a JPEG) share the best bytes per pixel:
    their encodings differ, not their pictures, so the names and dates decide between them."""
    by_pixels: dict[str, list[_Member]] = {}
    for fact in facts:
        key = cols.get("pixel_sha256", fact.item)
        if key:
            by_pixels.setdefault(key, []).append(fact)
    for same in by_pixels.values():
        best = max(f.bytes_per_pixel for f in same)
        for fact in same:
            fact.bytes_per_pixel = best


def _mtime(cols: Columns, item: int) -> float:
    path = cols.file(item)
    try:
        return path.stat().st_mtime if path is not None else float("inf")
    except (OSError, ValueError):
        return float("inf")


def _reason(best: _Member, others: list[_Member], exact: bool) -> str:
    words = []
    if best.tile is False and any(o.tile for o in others):
        words.append("a file, not a grid tile")
    if any(o.damaged for o in others):
        words.append("no overlay, crop or colour change")
    if not exact and any(o.pixels < best.pixels for o in others):
        words.append("larger")
    elif not exact and any(
        o.pixels == best.pixels and o.bytes_per_pixel < best.bytes_per_pixel for o in others
    ):
        words.append("less compressed")
    if any(o.metadata < best.metadata for o in others):
        words.append("richer generation metadata")
    if any(o.copy_name for o in others) and not best.copy_name:
        words.append("name does not say copy")
    if any(o.mtime > best.mtime for o in others) and (exact or not words):
        words.append("oldest file")
    if not words:
        words.append("first of equals" if exact else "same size and quality: first of equals")
    return ", ".join(words)


# ------------------------------------------------------------------------------- consensus
def damaged_members(store: Store, members: Sequence[int], config: KeepConfig) -> list[bool]:
    """For each member, whether it departs from the group's consensus more than the closest
    member does (see :class:`KeepConfig`); all False when pixels cannot be read."""
    small = [small_pixels(store, m) for m in members]
    if any(s is None for s in small):
        return [False] * len(members)
    stack = _aligned(np.stack([s for s in small if s is not None]))
    consensus = np.median(stack, axis=0)
    diff = np.abs(stack - consensus).reshape(len(stack), -1)
    departure = (diff.mean(axis=1) + np.percentile(diff, 95, axis=1)) / 2
    least = float(departure.min())
    limit = max(least + config.damage_margin, least * config.damage_ratio)
    return [bool(d > limit) for d in departure]


def _aligned(stack: np.ndarray) -> np.ndarray:
    """Each member as is or mirrored, whichever is closer to the others' median (a mirrored
    copy is compared the right way round)."""
    median = np.median(stack, axis=0)
    out = stack.copy()
    for n, pixels in enumerate(stack):
        flipped = pixels[:, ::-1]
        if np.abs(flipped - median).mean() < np.abs(pixels - median).mean():
            out[n] = flipped
    return out


def small_pixels(store: Store, item: int) -> np.ndarray | None:
    """The item at SIDE x SIDE RGB (float, 0..255), from its thumbnail or else its file."""
    from PIL import Image

    items = store.items
    tile = int(items.at[item, "tile"]) if "tile" in items else -1
    candidates = []
    if "sha256" in items:
        candidates.append(store.thumb_path(str(items.at[item, "sha256"])))
    try:
        candidates.append(store.item_path(item))
    except (KeyError, ValueError):
        pass
    for n, path in enumerate(candidates):
        try:
            with Image.open(path) as img:
                if n > 0 and tile > 0:  # the grid's file: this tile of it
                    img = _tile_of(img.convert("RGB"), tile)
                else:
                    img.draft("RGB", (SIDE * 4, SIDE * 4))
                rgb = img.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
                return np.asarray(rgb, dtype=np.float32)
        except (OSError, ValueError):
            continue
    return None


def _tile_of(grid: Any, tile: int) -> Any:
    """Tile ``tile`` (1..4) of a grid image: as the grid detector cuts it, else its quarter (a
    grid known from its job family, :func:`cdir.duplicates.folder.family_grids`)."""
    from cdir.ingest.grids import crop_tile

    try:
        return crop_tile(grid, tile)
    except ValueError:
        w, h = grid.width // 2, grid.height // 2
        x, y = (tile - 1) % 2 * w, (tile - 1) // 2 * h
        return grid.crop((x, y, x + w, y + h))
