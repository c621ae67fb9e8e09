"""Threshold calibration: a histogram of each item's nearest-neighbour score, with example pairs
in every bin, so the user sets a tier's threshold by looking at real pairs of the collection.

``semantic``: cosine similarity of each item with its nearest other item (higher = closer);
``perceptual``: pHash Hamming distance to its nearest other item, mirror-aware (lower = closer).
Both come from the same kNN search as the groups (k = 1 here), so memory stays O(N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cdir.duplicates.finder import DedupConfig, perceptual_hashes, semantic_rows
from cdir.store.knn import cosine_knn, hamming_knn

if TYPE_CHECKING:
    from cdir.store.collection import Store

CALIBRATED_TIERS = ("perceptual", "semantic")


@dataclass
class Histogram:
    """``counts[i]`` items have their nearest-neighbour value in ``[edges[i], edges[i+1])`` (the
    last bin includes its right edge); ``examples[i]`` holds up to a few (id_a, id_b, value)
    pairs from that bin, spread across it. ``threshold`` is the tier's current default."""

    tier: str
    edges: list[float]
    counts: list[int]
    examples: dict[int, list[tuple[int, int, float]]] = field(default_factory=dict)
    threshold: float | None = None
    higher_is_closer: bool = True


def nearest_pairs(
    store: Store, tier: str, mirror: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, their nearest other item's ids, the values) for every item the tier covers."""
    if tier == "semantic":
        rows = semantic_rows(store)
        values, nbr = (
            cosine_knn(np.ascontiguousarray(store.image_emb[rows]), 1)
            if len(rows) > 1
            else _empty()
        )
    elif tier == "perceptual":
        rows = np.flatnonzero(store.ok_mask() & store.items["phash"].notna().to_numpy())
        values, nbr = (
            hamming_knn(*perceptual_hashes(store, rows, mirror), 1) if len(rows) > 1 else _empty()
        )
    else:
        raise ValueError(
            f"no threshold to calibrate for tier {tier!r}: choose one of "
            f"{', '.join(CALIBRATED_TIERS)}"
        )
    ids = store.items["id"].to_numpy()[rows]
    found = nbr[:, 0] >= 0
    values = values[found, 0].astype(np.float64)
    if tier == "semantic":
        values = np.clip(values, -1.0, 1.0)  # float32 rounding puts copies a hair above 1
    return ids[found], ids[nbr[found, 0]], values


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 1), np.float32), np.zeros((0, 1), np.int64)


def histogram_edges(tier: str, values: np.ndarray, bins: int) -> np.ndarray:
    """Semantic: ``bins`` equal bins from the lowest value (rounded down to 0.05) to 1.
    Perceptual: integer bins from 0 to the largest distance, at least one bit wide."""
    if tier == "perceptual":
        top = int(values.max()) + 1 if len(values) else 1
        width = max(1, math.ceil(top / bins))
        return np.arange(0, top + width, width, dtype=np.float64)
    low = math.floor((values.min() if len(values) else 0.0) * 20) / 20
    return np.linspace(min(low, 0.95), 1.0, bins + 1)


def similarity_histogram(
    store: Store, tier: str, bins: int = 20, per_bin: int = 3, config: DedupConfig | None = None
) -> Histogram:
    """The nearest-neighbour histogram of ``tier`` over the collection, with example pairs."""
    config = config or DedupConfig()
    ids, nn, values = nearest_pairs(store, tier, config.mirror)
    edges = histogram_edges(tier, values, bins)
    counts, _ = np.histogram(values, bins=edges)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(counts) - 1)
    return Histogram(
        tier,
        edges.tolist(),
        counts.astype(int).tolist(),
        _examples(ids, nn, values, which, per_bin),
        config.threshold(tier),
        tier == "semantic",
    )


def _examples(
    ids: np.ndarray, nn: np.ndarray, values: np.ndarray, which: np.ndarray, per_bin: int
) -> dict[int, list[tuple[int, int, float]]]:
    """Up to ``per_bin`` distinct pairs per bin, evenly spread over the bin's sorted values."""
    found: dict[int, list[tuple[int, int, float]]] = {}
    seen: set[tuple[int, int]] = set()
    for b in np.unique(which):
        members = np.flatnonzero(which == b)
        members = members[np.lexsort((ids[members], values[members]))]
        pairs = []
        for m in members:
            key = (int(min(ids[m], nn[m])), int(max(ids[m], nn[m])))
            if key not in seen:
                seen.add(key)
                pairs.append((*key, float(values[m])))
        if pairs:
            picks = np.unique(np.linspace(0, len(pairs) - 1, min(per_bin, len(pairs))).round())
            found[int(b)] = [pairs[int(i)] for i in picks]
    return found
