"""Self-kNN graphs for the near-duplicate tiers: every item's ``k`` nearest other items, kept as
two (N, k) arrays (values, neighbour positions), so memory grows with N·k, never N².

| what                   | below ``EXACT_BELOW``              | from it on                       |
|------------------------|------------------------------------|----------------------------------|
| cosine (CLIP vectors)  | ``store.index`` flat search: exact | partitioned exact search (below) |
| Hamming (64-bit pHash) | faiss ``IndexBinaryFlat``: exact   | faiss ``IndexBinaryHNSW``        |

Partitioned search (from 50,000 vectors): k-means splits the vectors into ~sqrt(N) cells;
each vector is searched exactly (``cdir.store.index`` flat, BLAS) from its nearest and from its
second-nearest cell, among the members of the ``probes`` cells whose centres are nearest to that
cell's centre. Near-duplicates (cosine 0.9 and up) lie in one cell or across the boundary of two,
so they are found (all planted pairs in ``bench/bench_dedup.py``), while the work is about
2·N·(probes/cells)·N instead of N²; unlike graph indexes (HNSW) it is matrix products, which
stay fast on a busy machine (100,000 x 512: 22 CPU-seconds against HNSW's minutes there).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cdir.store.vector_index import IndexConfig

log = logging.getLogger(__name__)

EXACT_BELOW = 50_000  # vectors or hashes searched exhaustively below this many
PROBES = 4  # partitioned search: cells searched around each cell (measured: recall 1.0)


# ---------------------------------------------------------------------------------- cosine
def cosine_knn(
    emb: np.ndarray, k: int, config: IndexConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, neighbours) of each row's ``k`` nearest other rows, (n, k) each, missing
    slots NaN / -1. With ``config``, the index it describes (``cdir.store.index.build_index``); else
    exact flat search below ``EXACT_BELOW`` rows and partitioned search above."""
    from cdir.store.index import build_index
    from cdir.store.vector_index import IndexConfig

    if config is None and len(emb) >= EXACT_BELOW:
        return partitioned_knn(emb, k)
    index = build_index(emb, config or IndexConfig(kind="flat"))
    sims, nbr = index.search(emb, min(k + 1, len(emb)))
    return best_others(sims, nbr, k, closest_low=False)


def partitioned_knn(
    emb: np.ndarray, k: int, probes: int = PROBES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`cosine_knn`: each row is searched from its nearest and its second-nearest
    k-means cell, among the members of the ``probes`` cells nearest to that cell's centre."""
    cells, centroids = kmeans_cells(emb, max(1, int(np.sqrt(len(emb)))), seed)
    members = _members(cells[:, 0], len(centroids))
    near = _nearest_cells(centroids, probes)
    log.info(
        "partitioned kNN: %d vectors in %d cells, %d probed per cell",
        len(emb),
        len(centroids),
        near.shape[1],
    )
    sims = np.full((len(emb), cells.shape[1], k + 1), -np.inf, dtype=np.float32)
    nbr = np.full((len(emb), cells.shape[1], k + 1), -1, dtype=np.int64)
    for rank in range(cells.shape[1]):  # 0: searched from the nearest cell, 1: the second
        for cell, rows in enumerate(_members(cells[:, rank], len(centroids))):
            if len(rows):
                candidates = np.concatenate([members[c] for c in near[cell] if c >= 0])
                sims[rows, rank], nbr[rows, rank] = _search_block(emb, rows, candidates, k + 1)
    return best_others(sims.reshape(len(emb), -1), nbr.reshape(len(emb), -1), k, closest_low=False)


def kmeans_cells(emb: np.ndarray, n_cells: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(the two nearest cells of each row, (n, 2), cell centres) from spherical k-means
    (10 iterations on a sample of 64 rows per cell)."""
    import faiss

    kmeans = faiss.Kmeans(
        emb.shape[1],
        n_cells,
        niter=10,
        seed=seed,
        spherical=True,
        max_points_per_centroid=64,
        verbose=False,
    )
    kmeans.train(emb)
    _, cells = kmeans.index.search(emb, min(2, n_cells))
    return cells.astype(np.int64), kmeans.centroids


def _nearest_cells(centroids: np.ndarray, probes: int) -> np.ndarray:
    from cdir.store.vector_index import exact_search

    return exact_search(centroids, centroids, min(probes, len(centroids)))[1]


def _members(cells: np.ndarray, n_cells: int) -> list[np.ndarray]:
    order = np.argsort(cells, kind="stable")
    return np.split(order, np.searchsorted(cells[order], np.arange(1, n_cells)))


def _search_block(
    emb: np.ndarray, rows: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of ``rows`` among ``candidates`` (padded with -inf / -1 to ``k``)."""
    from cdir.store.faiss_indexes import FaissFlatIndex

    index = FaissFlatIndex(emb.shape[1])
    index.add(emb[candidates])
    sims, local = index.search(emb[rows], k)
    return sims, np.where(local >= 0, candidates[local.clip(0)], -1)


# --------------------------------------------------------------------------------- Hamming
def hamming_knn(
    hashes: np.ndarray, mirrors: np.ndarray | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, neighbours) of each hash's ``k`` nearest other hashes, (n, k) each, with
    mirrored queries folded in (a neighbour keeps its smaller distance); missing slots NaN / -1.
    Exhaustive popcount search below ``EXACT_BELOW`` hashes, an HNSW graph above."""
    import faiss

    index = _binary_index(hashes)
    kk = min(k + 1, len(hashes))
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # popcounts are memory-bound: 4x faster than OpenMP threads
    try:  # that wait for busy cores (measured on 2 cores at load 5: 0.26 s vs 1.04 s)
        dist, nbr = index.search(codes(hashes), kk)
        if mirrors is not None:
            mdist, mnbr = index.search(codes(mirrors), kk)
            dist, nbr = np.hstack([dist, mdist]), np.hstack([nbr, mnbr])
    finally:
        faiss.omp_set_num_threads(threads)
    return best_others(dist.astype(np.float32), nbr, k, closest_low=True)


def codes(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes as the (n, 8) uint8 codes faiss binary indexes take."""
    return np.ascontiguousarray(hashes.astype(">u8").view(np.uint8).reshape(-1, 8))


def _binary_index(hashes: np.ndarray) -> Any:
    import faiss

    if len(hashes) >= EXACT_BELOW:
        index = faiss.IndexBinaryHNSW(64, 16)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexBinaryFlat(64)
        index.use_heap = False  # counting selection: ~4x faster than the heap for 64-bit codes
    index.add(codes(hashes))
    return index


# ----------------------------------------------------------------------------------- shared
def best_others(
    values: np.ndarray, nbr: np.ndarray, k: int, closest_low: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: drop itself, missing slots and repeated neighbours (a neighbour keeps its
    closest value), then keep the ``k`` closest, ties by id; missing slots NaN / -1."""
    rows = np.arange(len(nbr))[:, None]
    key = (values if closest_low else -values).astype(np.float64)
    bad = (nbr < 0) | (nbr == rows) | np.isnan(key)
    key = np.where(bad, np.inf, key)
    order = np.lexsort((key, nbr), axis=-1)  # by neighbour, closest first
    key, nbr = np.take_along_axis(key, order, 1), np.take_along_axis(nbr, order, 1)
    key[:, 1:][nbr[:, 1:] == nbr[:, :-1]] = np.inf
    order = np.lexsort((nbr, key), axis=-1)[:, :k]  # closest first, ties by id
    key, nbr = np.take_along_axis(key, order, 1), np.take_along_axis(nbr, order, 1)
    missing = np.isinf(key)
    values = np.where(missing, np.nan, key if closest_low else -key).astype(np.float32)
    return _pad_k(values, np.where(missing, -1, nbr).astype(np.int64), k)


def _pad_k(values: np.ndarray, nbr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if nbr.shape[1] >= k:
        return values, nbr
    pad = k - nbr.shape[1]
    return (
        np.hstack([values, np.full((len(values), pad), np.nan, values.dtype)]),
        np.hstack([nbr, np.full((len(nbr), pad), -1, nbr.dtype)]),
    )
