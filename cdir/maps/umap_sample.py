"""UMAP of large collections: fit on a random sample, place every other point with ``transform``.

A full UMAP fit grows faster than linearly with N (100,000 points: ~140 s on 2 cores). Above a
size threshold (``ProjectionConfig.sample_above``) ``cdir.maps.projection`` instead

1. L2-normalises (for cosine) and PCA-reduces the matrix with a PCA fitted on the sample and
   applied in chunks (no full-size copy of the (N, D) input is made);
2. fits UMAP on ``sample_size`` rows drawn with the config's seed (exact neighbours from faiss);
3. places the other rows with umap-learn's own ``UMAP.transform`` (McInnes et al., "UMAP:
   Uniform Manifold Approximation and Projection", 2018, section on embedding new points): each
   new point starts at the membership-weighted mean of its ``n_neighbors`` nearest sample points
   and is then optimised against the fixed sample layout. Its neighbour search is the faiss index
   below (``ExactSearchIndex``) instead of umap-learn's pynndescent index.

Everything is seeded (sample, fit, transform), so the same input gives the same map.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FAISS_METRICS = frozenset({"euclidean", "l2"})  # callers turn cosine into euclidean first


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """``min(size, n)`` distinct row numbers of ``n``, sorted, (S,) int64; same seed, same rows."""
    size = min(size, n)
    rows = np.random.default_rng(seed).choice(n, size=size, replace=False)
    return np.sort(rows).astype(np.int64)


class ExactSearchIndex:
    """Exact k-nearest-neighbour search over the sample, shaped like pynndescent's ``NNDescent``
    as far as ``umap.UMAP.transform`` uses it (``query`` and ``_angular_trees``).

    ``data``: (S, d) float32 sample. Euclidean through a faiss flat index; any other metric
    sklearn's brute-force ``NearestNeighbors`` runs (names as in scipy / sklearn).
    """

    _angular_trees = False  # transform reads it to pick pynndescent's search epsilon; unused here

    def __init__(self, data: np.ndarray, metric: str) -> None:
        self.metric = metric
        self._data = np.ascontiguousarray(data, dtype=np.float32)
        if metric in FAISS_METRICS:
            import faiss

            self._faiss = faiss.IndexFlatL2(self._data.shape[1])
            self._faiss.add(self._data)
        else:
            from sklearn.neighbors import NearestNeighbors

            self._sklearn = NearestNeighbors(algorithm="brute", metric=metric).fit(self._data)

    def query(
        self, queries: np.ndarray, k: int, epsilon: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(indices (Q, k) int32, distances (Q, k) float32) of each query's ``k`` nearest sample
        rows, nearest first. ``epsilon`` (pynndescent's search slack) is unused: search is exact."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.metric in FAISS_METRICS:
            squared, indices = self._faiss.search(queries, k)
            dists = np.sqrt(np.maximum(squared, 0.0))
        else:
            dists, indices = self._sklearn.kneighbors(queries, n_neighbors=k)
        return indices.astype(np.int32), dists.astype(np.float32)


def place_rest(
    reducer: object,
    x: np.ndarray,
    rows: np.ndarray,
    sample_xy: np.ndarray,
    chunk: int = 200_000,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """All N points' coordinates, (N, 2) float32: ``sample_xy`` (S, 2) at ``rows``, and every
    other row of ``x`` (N, d) placed by ``reducer.transform`` (a fitted ``umap.UMAP``), ``chunk``
    rows at a time to bound memory."""
    n = x.shape[0]
    xy = np.zeros((n, 2), dtype=np.float32)
    xy[rows] = sample_xy
    rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
    for start in range(0, len(rest), chunk):
        part = rest[start : start + chunk]
        if progress is not None:
            progress(f"Placing points {start + 1:,}-{start + len(part):,} of {len(rest):,}")
        began = time.perf_counter()
        with _vectorised_init():
            xy[part] = reducer.transform(np.ascontiguousarray(x[part]))  # type: ignore[attr-defined]
        log.info(
            "placed %d points with transform in %.1f s", len(part), time.perf_counter() - began
        )
    return xy


def init_graph_transform(graph: Any, embedding: np.ndarray) -> np.ndarray:
    """umap-learn's ``init_graph_transform`` without its Python loop over rows (which takes
    ~0.3 ms a row: 5 minutes for a million points); the same result up to float rounding.

    ``graph``: (Q, S) scipy CSR membership strengths of new points to sample points;
    ``embedding``: (S, 2) sample layout. Returns (Q, 2) float32: a row with a strength of exactly
    1 (its first such entry) takes that sample point's position, a row without entries NaN, any
    other the strength-weighted mean of its sample points' positions.
    """
    graph = graph.tocsr()
    embedding = np.asarray(embedding, dtype=np.float32)
    sums = np.asarray(graph.sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        result = (graph @ embedding.astype(np.float64)) / sums[:, None]
    result = result.astype(np.float32)
    result[np.diff(graph.indptr) == 0] = np.nan
    ones = np.flatnonzero(graph.data == 1)
    if len(ones):
        rows = np.searchsorted(graph.indptr, ones, side="right") - 1
        first = np.unique(rows, return_index=True)[1]  # ones are in row order: first per row
        result[rows[first]] = embedding[graph.indices[ones[first]]]
    return result


@contextlib.contextmanager
def _vectorised_init() -> Iterator[None]:
    """``UMAP.transform`` with :func:`init_graph_transform` in place of umap-learn's own."""
    import umap.umap_

    original = umap.umap_.init_graph_transform
    umap.umap_.init_graph_transform = init_graph_transform
    try:
        yield
    finally:
        umap.umap_.init_graph_transform = original


def reduce_in_chunks(
    x: np.ndarray, rows: np.ndarray, dims: int, normalise: bool, seed: int, chunk: int = 100_000
) -> np.ndarray:
    """(N, min(dims, D)) float32: rows of ``x`` (N, D), L2-normalised when ``normalise``, then
    projected on the first ``dims`` principal components of the sample ``rows`` (sklearn PCA,
    ``random_state=seed``), ``chunk`` rows at a time. All-zero rows stay all-zero before PCA.
    No PCA when D <= dims (the rows are only normalised)."""

    def prepared(block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        if not normalise:
            return block
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)

    n, d = x.shape
    pca = None
    width = d
    if d > dims:
        from sklearn.decomposition import PCA

        k = min(dims, len(rows))
        pca = PCA(n_components=k, random_state=seed).fit(prepared(x[rows]))
        width = dims
    out = np.zeros((n, width), dtype=np.float32)
    for start in range(0, n, chunk):
        block = prepared(x[start : start + chunk])
        if pca is not None:
            out[start : start + len(block), : pca.n_components_] = pca.transform(block)
        else:
            out[start : start + len(block)] = block
    return out
