"""A diverse subset: k items that cover a collection's embedding space (for a dataset or a mood
board).

k-means (scikit-learn's ``KMeans``, k-means++ seeding, a fixed ``random_state``) splits the
vectors into k clusters; the subset is the item nearest each centre (by cosine), so every
well-separated cluster of the space gives one item, and a large cluster does not crowd out a
small one as random sampling would. Deterministic for a given seed.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def diverse_rows(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Rows of ``vectors`` ((N, D) float, one per item) that cover the space: the row nearest each
    of k k-means centres, largest cluster first; (min(k, N),) int64, no row twice. ValueError
    for k < 1 or an empty matrix."""
    from sklearn.cluster import KMeans

    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) == 0:
        raise ValueError("no embedded item to choose from: build the collection first")
    if k < 1:
        raise ValueError(f"choose at least 1 item, not {k}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0, 1.0, norms)
    k = min(int(k), len(unit))
    distinct = len(np.unique(unit.round(6), axis=0))
    kmeans = KMeans(n_clusters=min(k, distinct), n_init=4, random_state=int(seed)).fit(unit)
    sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
    chosen: list[int] = []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(kmeans.labels_ == cluster)
        centre = kmeans.cluster_centers_[cluster]
        best = members[np.argmax(unit[members] @ centre)]
        chosen.append(int(best))
    if len(chosen) < k:  # fewer distinct vectors than k: fill with the first rows left
        rest = np.setdiff1d(np.arange(len(unit)), chosen)
        chosen += rest[: k - len(chosen)].tolist()
    log.info("chose %d diverse items of %d", len(chosen), len(unit))
    return np.asarray(chosen, dtype=np.int64)
