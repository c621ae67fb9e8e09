"""A diverse subset: k items that cover a collection's embedding space (for a dataset or a mood
board).

Two steps on the L2-normalised vectors:

1. k-center greedy (farthest-first traversal, Gonzalez 1985): start from a seeded random item,
   then repeatedly take the item farthest from every one taken. Its k centres are within twice
   the best possible covering radius, so every cluster farther from the rest than its own width
   gets a centre, however few items it holds (random sampling and a k-means++ start miss small
   clusters).
2. k-means (scikit-learn's ``KMeans``, Lloyd) started from those centres: each centre moves to
   the middle of the items it holds, so the chosen item, the one nearest each centre by cosine,
   is typical of its region rather than an outlier. A cluster that holds a centre keeps it (its
   items stay nearest to it), so the covering survives.

Deterministic for a given seed. N x D vectors, k centres: O(N·k·D) for the traversal, plus the
k-means iterations.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def farthest_first(unit: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Rows of ``unit`` ((N, D), unit rows) chosen by farthest-first traversal from a seeded
    random start: (m,) int64 with m <= k (fewer when fewer distinct vectors remain)."""
    rng = np.random.default_rng(int(seed))
    chosen = [int(rng.integers(len(unit)))]
    distance = 1.0 - unit @ unit[chosen[0]]
    while len(chosen) < k:
        far = int(np.argmax(distance))
        if distance[far] <= 1e-9:  # every item sits on a chosen one
            break
        chosen.append(far)
        distance = np.minimum(distance, 1.0 - unit @ unit[far])
    return np.asarray(chosen, dtype=np.int64)


def diverse_rows(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Rows of ``vectors`` ((N, D) float, one per item) that cover the space: the row nearest each
    of k centres (see the module), largest cluster first; (min(k, N),) int64, no row twice.
    ValueError for k < 1 or an empty matrix."""
    from sklearn.cluster import KMeans

    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) == 0:
        raise ValueError("no embedded item to choose from: build the collection first")
    if k < 1:
        raise ValueError(f"choose at least 1 item, not {k}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0, 1.0, norms)
    k = min(int(k), len(unit))
    start = farthest_first(unit, k, seed)
    kmeans = KMeans(n_clusters=len(start), init=unit[start], n_init=1).fit(unit)
    sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
    chosen: list[int] = []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(kmeans.labels_ == cluster)
        if len(members) == 0:
            continue
        centre = kmeans.cluster_centers_[cluster]
        chosen.append(int(members[np.argmax(unit[members] @ centre)]))
    chosen = list(dict.fromkeys(chosen))
    if len(chosen) < k:  # fewer distinct vectors than k: fill with the first rows left
        rest = np.setdiff1d(np.arange(len(unit)), chosen)
        chosen += rest[: k - len(chosen)].tolist()
    log.info("chose %d diverse items of %d", len(chosen), len(unit))
    return np.asarray(chosen, dtype=np.int64)
