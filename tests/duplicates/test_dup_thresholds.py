"""Near-duplicate thresholds at their boundaries, on hand-built collections: pHash exactly ``t``
bits apart pass the perceptual tier at threshold ``t`` and ``t + 1`` bits do not (also when the
distance comes from a mirrored hash); a cosine exactly at the semantic threshold passes and the
next float below it does not; complete linkage keeps a group whose every pair sits at the bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.duplicates.finder import DedupConfig, find_groups
from cdir.store.collection import Store, normalise_items

BASE = 0xF0F0_F0F0_0F0F_0F0F


def memory_store(root: Path, n: int, **columns: object) -> Store:
    """An in-memory collection of ``n`` readable items with the given columns."""
    base = {
        "id": range(n),
        "path": [f"/x/{i}.jpg" for i in range(n)],
        "rel_path": [f"{i}.jpg" for i in range(n)],
        "sha256": [f"s{i}" for i in range(n)],
        "pixel_sha256": [f"p{i}" for i in range(n)],
        "width": 100,
        "height": 100,
        "file_size": 1000,
        "status": "ok",
        "parent_id": -1,
        "tile": -1,
    }
    emb = columns.pop("image_emb", None)
    items = normalise_items(pd.DataFrame({**base, **columns}))
    return Store(root, items=items, image_emb=None if emb is None else np.asarray(emb, np.float32))


def flip(value: int, bits: int, start: int = 0) -> int:
    """``value`` with ``bits`` bits flipped, from bit ``start`` up."""
    return value ^ (((1 << bits) - 1) << start)


def hexes(*values: int) -> list[str]:
    return [f"{v:016x}" for v in values]


def perceptual(store: Store, t: int, mirror: bool = False) -> list[list[int]]:
    config = DedupConfig(tiers=("perceptual",), perceptual_max_distance=t, mirror=mirror)
    return [g.members for g in find_groups(store, config)]


@pytest.mark.parametrize("t", [0, 1, 8, 20])
def test_hashes_exactly_t_bits_apart_are_duplicates_and_t_plus_1_are_not(
    tmp_path: Path, t: int
) -> None:
    at = memory_store(tmp_path, 2, phash=hexes(BASE, flip(BASE, t)))
    beyond = memory_store(tmp_path, 2, phash=hexes(BASE, flip(BASE, t + 1)))
    assert perceptual(at, t) == [[0, 1]]
    assert perceptual(beyond, t) == []
    groups = find_groups(
        at, DedupConfig(tiers=("perceptual",), perceptual_max_distance=t, mirror=False)
    )
    assert groups[0].scores == {0: 0.0, 1: float(t)}


@pytest.mark.parametrize("side", [0, 1])
def test_the_mirrored_hash_counts_at_the_bound_too(tmp_path: Path, side: int) -> None:
    """Item 1 is a flipped copy: its hash is far from item 0's, its mirror's hash is 8 bits
    from it (either side may carry the mirror)."""
    far = flip(BASE, 40, start=10)
    phash, mirrors = [BASE, far], [flip(far, 30), flip(BASE, 30)]
    mirrors[side] = flip(phash[1 - side], 8)
    store = memory_store(tmp_path, 2, phash=hexes(*phash), phash_mirror=hexes(*mirrors))
    assert perceptual(store, 8, mirror=True) == [[0, 1]]
    assert perceptual(store, 7, mirror=True) == []
    assert perceptual(store, 8, mirror=False) == []


def test_a_group_whose_pairs_all_sit_at_the_bound_is_kept_whole(tmp_path: Path) -> None:
    """0-1, 0-2 and 1-2 are each exactly 4 bits apart: one group of three at t = 4, none at 3."""
    store = memory_store(tmp_path, 3, phash=hexes(BASE, flip(BASE, 4), flip(BASE, 2) ^ (0b11 << 4)))
    assert perceptual(store, 4) == [[0, 1, 2]]
    assert perceptual(store, 3) == []


EXACT = 0.75  # cos(e0, 0.75 e0 + sqrt(1 - 0.75²) e1) is exactly 0.75 in float32
BELOW = float(np.nextafter(np.float32(EXACT), np.float32(0)))


def pair(cosine: float) -> np.ndarray:
    v = np.zeros((2, 4), dtype=np.float32)
    v[0, 0] = 1.0
    v[1, 0], v[1, 1] = cosine, np.sqrt(1.0 - np.float64(cosine) ** 2)
    return v


def semantic(store: Store, threshold: float) -> list[list[int]]:
    config = DedupConfig(tiers=("semantic",), semantic_min_similarity=threshold)
    return [g.members for g in find_groups(store, config)]


def test_a_cosine_exactly_at_the_semantic_threshold_passes(tmp_path: Path) -> None:
    at = memory_store(tmp_path, 2, image_emb=pair(EXACT))
    assert float(at.image_emb[0] @ at.image_emb[1]) == EXACT
    assert semantic(at, EXACT) == [[0, 1]]
    assert (
        find_groups(at, DedupConfig(tiers=("semantic",), semantic_min_similarity=EXACT))[0].scores[
            1
        ]
        == EXACT
    )


def test_a_cosine_just_below_the_semantic_threshold_does_not(tmp_path: Path) -> None:
    below = memory_store(tmp_path, 2, image_emb=pair(BELOW))
    assert float(below.image_emb[0] @ below.image_emb[1]) == BELOW < EXACT
    assert semantic(below, EXACT) == []
    assert semantic(below, BELOW) == [[0, 1]]


@pytest.mark.parametrize("side", [0, 1])
def test_the_centre_hash_finds_a_cropped_copy_at_the_bound(tmp_path: Path, side: int) -> None:
    """Item 1 is a cropped copy: its full hash is far from item 0's, but one item's centre
    hash is 8 bits from the other's full hash; without ``phash_centre`` nothing changes."""
    far = flip(BASE, 40, start=10)
    phash, centres = [BASE, far], [flip(far, 30), flip(BASE, 30)]
    centres[side] = flip(phash[1 - side], 8)
    store = memory_store(tmp_path, 2, phash=hexes(*phash), phash_centre=hexes(*centres))
    assert perceptual(store, 8) == [[0, 1]]
    assert perceptual(store, 7) == []
    config = DedupConfig(tiers=("perceptual",), mirror=False, centre=False)
    assert find_groups(store, config) == []
    assert perceptual(memory_store(tmp_path, 2, phash=hexes(*phash)), 8) == []


def test_a_missing_centre_hash_never_matches(tmp_path: Path) -> None:
    """A store written before ``phash_centre``: empty values are unknown, not a zero hash."""
    store = memory_store(
        tmp_path,
        3,
        phash=hexes(BASE, flip(BASE, 40, start=10), 0),
        phash_centre=[f"{flip(BASE, 40, start=10) ^ 1:016x}", None, None],
    )
    assert perceptual(store, 8) == [[0, 1]]
