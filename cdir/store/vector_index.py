"""Vector indexes for inner-product search behind one interface.

Every index stores L2-normalised float32 vectors, so inner product is cosine similarity, and
answers ``search(queries, k, allowed)`` with ``(scores, ids)`` of shape (Q, k), best first, ties
broken by id ascending, padded with ``-inf`` / ``-1`` when fewer than k rows are allowed.

| kind    | class            | notes                                                          |
|---------|------------------|----------------------------------------------------------------|
| exact   | ExactIndex       | pure numpy, the reference the others are tested against       |
| flat    | FaissFlatIndex   | faiss IndexFlatIP: exact, BLAS-fast                           |
| hnsw    | FaissHNSWIndex   | faiss IndexHNSWFlat: approximate, no training                 |
| ivf     | FaissIVFIndex    | faiss IndexIVFFlat: approximate, trained on the first ``add`` |
| ivfpq   | FaissIVFPQIndex  | faiss IndexIVFPQ: ~72 bytes/vector, exact re-ranking from the  |
|         |                  | float vectors (memory-mapped) when at hand; 10M+ items         |

``allowed`` (a bool mask over the rows) is honoured exactly by every kind: a disallowed id is never
returned, and a result is short of k only when fewer than k rows are allowed. The faiss kinds
answer a filter of up to ``filter_exact_below`` rows (40,000 by default, Weaviate's
``flatSearchCutoff``) exactly over the allowed rows: cheap, and approximate search degrades badly
when the allowed rows lie away from the query (a target domain far from the query's domain). A
larger filter is passed to faiss as an ID selector, with the search effort (efSearch, nprobe)
scaled by N / allowed; a query that still comes back short is retried with twice the effort, and
at the limit answered exactly over the allowed rows.

Items whose embedding is missing are stored as all-zero rows so row numbers stay aligned with the
collection; they score 0 against every query, so the caller must leave them out of ``allowed``.
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

log = logging.getLogger(__name__)

# Elements of one (queries x gallery) score block in the exact search: 32 MB of float32 scores;
# top-k selection temporaries take roughly eight times that.
_BLOCK_ELEMENTS = 1 << 23
FORMAT_VERSION = 1
# The index kinds, in the order ``IndexConfig`` lists them; ``cdir.store.index.INDEX_KINDS`` maps
# each to its class.
INDEX_KIND_NAMES: tuple[str, ...] = ("exact", "flat", "hnsw", "ivf", "ivfpq")


# ---------------------------------------------------------------------------------------- top-k


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` columns of each row of ``scores`` (Q, N): ``(scores, columns)``, both (Q, k).

    Best first, ties broken by column ascending. Columns scoring ``-inf`` or NaN are never returned;
    their slots, and slots beyond N, hold ``-inf`` and ``-1``.
    """
    scores = np.atleast_2d(scores)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    kk = min(k, scores.shape[1])
    if kk == 0:
        return _padding(len(scores), k)
    cols = _top_columns(scores, kk)
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.lexsort((cols, -vals), axis=-1)
    vals, cols = np.take_along_axis(vals, order, 1), np.take_along_axis(cols, order, 1)
    cols = np.where(np.isneginf(vals), -1, cols)
    return _pad(vals, cols.astype(np.int64), k)


def _top_columns(scores: np.ndarray, kk: int) -> np.ndarray:
    """Unordered (Q, kk) columns holding each row's kk best scores, lowest columns among ties."""
    q, n = scores.shape
    if kk == n:
        return np.broadcast_to(np.arange(n), (q, n)).copy()
    part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    above = scores > kth
    tied = scores == kth
    need = kk - above.sum(axis=1, keepdims=True)
    if not (tied.sum(axis=1, keepdims=True) == need).all():
        tied &= np.cumsum(tied, axis=1) <= need
    return np.nonzero(above | tied)[1].reshape(q, kk)


def _padding(q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((q, k), -np.inf, dtype=np.float32), np.full((q, k), -1, dtype=np.int64)


def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad (Q, j) results with ``-inf`` / ``-1`` to (Q, k)."""
    if scores.shape[1] >= k:
        return scores[:, :k], ids[:, :k]
    pad_s, pad_i = _padding(len(scores), k - scores.shape[1])
    return np.hstack([scores, pad_s]), np.hstack([ids, pad_i])


def _clean(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical form of raw results: missing slots ``-inf`` / ``-1``, rows by (-score, id)."""
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
    key_ids = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((key_ids, -scores), axis=-1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def exact_search(
    vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k of ``queries`` (Q, D) over ``vectors`` (N, D).

    Scores are computed in blocks of at most ``_BLOCK_ELEMENTS`` (query, vector) pairs, so memory
    stays bounded whatever Q and N are.
    """
    queries = np.atleast_2d(queries)
    n = len(vectors)
    q_step = max(1, min(len(queries), _BLOCK_ELEMENTS // max(n, 1)))
    g_step = max(k, _BLOCK_ELEMENTS // q_step)
    parts = [
        _exact_chunk(vectors, queries[i : i + q_step], k, allowed, g_step)
        for i in range(0, len(queries), q_step)
    ]
    if not parts:
        return _padding(0, k)
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def _exact_chunk(
    vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None, g_step: int
) -> tuple[np.ndarray, np.ndarray]:
    best_s, best_i = _padding(len(queries), k)
    for start in range(0, len(vectors), g_step):
        block = queries @ vectors[start : start + g_step].T
        if allowed is not None:
            block[:, ~allowed[start : start + g_step]] = -np.inf
        s, i = top_k(block, k)
        # earlier blocks hold lower ids, so column order among equal scores is id order
        merged_s, cols = top_k(np.hstack([best_s, s]), k)
        ids = np.hstack([best_i, np.where(i >= 0, i + start, -1)])
        best_s, best_i = merged_s, np.where(cols >= 0, np.take_along_axis(ids, cols.clip(0), 1), -1)
    return best_s, best_i


# ------------------------------------------------------------------------------------ interface


class VectorIndex(ABC):
    """Inner-product search over a growing set of vectors; rows are numbered in ``add`` order."""

    kind: ClassVar[str]
    dim: int

    @abstractmethod
    def add(self, vectors: np.ndarray) -> None:
        """Append (N, dim) vectors; they get the next N ids."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw (Q, k) results; 1 <= k <= number of allowed rows; -1 marks a missing slot."""

    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Settings (JSON-able) and arrays that ``_from_state`` rebuilds the index from."""

    @classmethod
    @abstractmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> VectorIndex: ...

    @classmethod
    @abstractmethod
    def from_config(cls, dim: int, config: IndexConfig) -> VectorIndex: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores (Q, k) float32, ids (Q, k) int64) of each query, best first.

        ``allowed`` is a bool mask over the rows; rows outside it are never returned. Slots beyond
        the number of allowed rows hold ``-inf`` and ``-1``.
        """
        queries = as_matrix(queries, self.dim, "queries")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        allowed = self._check_allowed(allowed)
        n_allowed = len(self) if allowed is None else int(allowed.sum())
        if n_allowed == 0 or len(queries) == 0:
            return _padding(len(queries), k)
        scores, ids = _clean(*self._search(queries, min(k, n_allowed), allowed))
        return _pad(scores, ids, k)

    def _check_allowed(self, allowed: np.ndarray | None) -> np.ndarray | None:
        if allowed is None:
            return None
        allowed = np.asarray(allowed)
        if allowed.dtype != bool or allowed.shape != (len(self),):
            raise ValueError(
                f"allowed must be a bool mask of shape ({len(self)},), "
                f"got {allowed.dtype} {allowed.shape}"
            )
        return None if allowed.all() else allowed

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically (a temp file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta, arrays = self._state()
        meta = {"format_version": FORMAT_VERSION, "dim": self.dim, **meta}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, kind=np.array(self.kind), meta=np.array(json.dumps(meta)), **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, n={len(self)})"


def as_matrix(vectors: np.ndarray, dim: int, what: str = "vectors") -> np.ndarray:
    """(N, dim) C-contiguous float32 view or copy of ``vectors`` (a single vector becomes N=1)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{what} must have shape (N, {dim}), got {np.shape(vectors)}")
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------------------- exact


class ExactIndex(VectorIndex):
    """Exact inner product in numpy; the reference implementation."""

    kind = "exact"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors = np.zeros((0, dim), dtype=np.float32)

    @classmethod
    def from_config(cls, dim: int, config: IndexConfig) -> ExactIndex:
        return cls(dim)

    def add(self, vectors: np.ndarray) -> None:
        self._vectors = np.vstack([self._vectors, as_matrix(vectors, self.dim)])

    def __len__(self) -> int:
        return len(self._vectors)

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(self._vectors, queries, k, allowed)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"vectors": self._vectors}

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ExactIndex:
        index = cls(int(meta["dim"]))
        index.add(arrays["vectors"])
        return index


# ---------------------------------------------------------------------------------------- config


@dataclass
class IndexConfig:
    """Which index ``build_index`` makes.

    ``kind`` is ``auto`` (``flat`` below ``exact_below`` vectors, ``hnsw`` below ``ivf_from``,
    ``ivf`` below ``compressed_above``, else ``ivfpq``) or one of ``INDEX_KINDS``. ``ef_search``
    and ``nprobe`` trade speed for recall in HNSW and IVF; ``ef_construction`` trades HNSW build
    time for recall; a filter allowing at most ``filter_exact_below`` rows is searched exactly.
    ``pq_m`` and ``rerank`` set the IVF-PQ's bytes per vector and how many of its candidates are
    re-scored exactly.

    Measured on 2 CPU cores (bench/bench_search.py): HNSW builds take minutes from ~100k vectors
    and would take hours at 1M, while IVF (trained on a sample) builds 1M in minutes and answers a
    top-10 query in a few ms at recall@10 >= 0.99, so ``auto`` switches to IVF at ``ivf_from``.
    ``ef_construction`` 64 instead of hnswlib's usual 200 builds ~2x faster for a recall@10 at
    the default ``ef_search`` within 0.005 of it.
    """

    kind: str = "auto"
    exact_below: int = 50_000
    hnsw_m: int = 32
    ef_search: int = 128
    nprobe: int = 32
    filter_exact_below: int = 40_000
    compressed_above: int = 5_000_000  # auto: IVF-PQ from here (HNSW keeps ~2.2 KB per item)
    pq_m: int = 64
    rerank: int = 100
    ef_construction: int = 64
    ivf_from: int = 200_000  # auto: IVF from here (an HNSW build takes too long on a CPU)

    def resolve(self, n: int) -> str:
        """The concrete kind for a collection of ``n`` vectors."""
        if self.kind == "auto":
            if n >= self.compressed_above:
                return "ivfpq"
            if n >= self.ivf_from:
                return "ivf"
            return "flat" if n < self.exact_below else "hnsw"
        if self.kind not in INDEX_KIND_NAMES:
            kinds = ", ".join(["auto", *INDEX_KIND_NAMES])
            raise ValueError(f"unknown index kind {self.kind!r}; choose one of: {kinds}")
        return self.kind
