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
import time
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
        queries = _as_matrix(queries, self.dim, "queries")
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


def load_index(path: str | Path) -> VectorIndex:
    """Read an index written by ``VectorIndex.save``."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable cdir index file: {exc}") from exc
    kind = str(arrays.pop("kind", ""))
    meta = json.loads(str(arrays.pop("meta", "{}")))
    if kind not in INDEX_KINDS:
        raise ValueError(f"{path}: unknown index kind {kind!r}; known: {', '.join(INDEX_KINDS)}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer cdir; upgrade cdir to read it")
    return INDEX_KINDS[kind]._from_state(meta, arrays)


def _as_matrix(vectors: np.ndarray, dim: int, what: str = "vectors") -> np.ndarray:
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
        self._vectors = np.vstack([self._vectors, _as_matrix(vectors, self.dim)])

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


# ---------------------------------------------------------------------------------------- faiss


class _FaissIndex(VectorIndex):
    """Shared machinery of the faiss kinds: ID-selector filtering, retries, exact fallback."""

    # filters allowing up to this many rows are searched exactly over the reconstructed rows
    filter_exact_below: int = 40_000

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index: Any = None

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        vectors = _as_matrix(vectors, self.dim)
        if len(vectors):
            self._prepare(vectors)
            self._index.add(vectors)

    def _prepare(self, vectors: np.ndarray) -> None:
        """Create or train the faiss index before the first ``add``."""

    @abstractmethod
    def _params(self, selector: Any, effort: int) -> Any:
        """faiss SearchParameters for a search at ``effort`` times the configured effort."""

    def _max_effort(self) -> int:
        """The effort at which the search is exhaustive (no retry can find more)."""
        return 1

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n_allowed = len(self) if allowed is None else int(allowed.sum())
        if allowed is not None and n_allowed <= self.filter_exact_below:
            return self._subset_search(queries, k, allowed)
        selector, _bitmap = _selector(allowed)  # the bitmap must outlive the search
        effort = min(max(1, round(len(self) / n_allowed)), self._max_effort())
        scores, ids = self._index.search(queries, k, params=self._params(selector, effort))
        while (short := (ids >= 0).sum(axis=1) < k).any() and effort < self._max_effort():
            effort *= 2
            log.debug("%s: %d queries short of k=%d, effort x%d", self.kind, short.sum(), k, effort)
            params = self._params(selector, effort)
            scores[short], ids[short] = self._index.search(queries[short], k, params=params)
        if short.any():
            scores[short], ids[short] = self._subset_search(queries[short], k, allowed)
        return scores, ids

    def _subset_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the allowed rows, reconstructed from the index."""
        rows = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
        scores, local = exact_search(self._reconstruct(rows), queries, k)
        return scores, np.where(local >= 0, rows[local.clip(0)], -1)

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return self._index.reconstruct_batch(rows.astype(np.int64))

    @classmethod
    def from_config(cls, dim: int, config: IndexConfig) -> _FaissIndex:
        index = cls(dim, **cls._config_kwargs(config))
        index.filter_exact_below = config.filter_exact_below
        return index

    @classmethod
    def _config_kwargs(cls, config: IndexConfig) -> dict[str, Any]:
        """Constructor arguments taken from an IndexConfig."""
        return {}

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        import faiss

        arrays = {} if self._index is None else {"faiss": faiss.serialize_index(self._index)}
        return {"filter_exact_below": self.filter_exact_below, **self._settings()}, arrays

    def _settings(self) -> dict[str, Any]:
        """Constructor arguments to save."""
        return {}

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> _FaissIndex:
        import faiss

        settings = {k: v for k, v in meta.items() if k not in ("format_version", "dim")}
        cutoff = settings.pop("filter_exact_below", cls.filter_exact_below)
        index = cls(int(meta["dim"]), **settings)
        index.filter_exact_below = cutoff
        if "faiss" in arrays:
            index._index = faiss.deserialize_index(arrays["faiss"])
        return index


def _selector(allowed: np.ndarray | None) -> tuple[Any, np.ndarray | None]:
    """A faiss ID selector for ``allowed`` and the bitmap it points into (keep both alive)."""
    if allowed is None:
        return None, None
    import faiss

    bitmap = np.packbits(allowed, bitorder="little")
    return faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap)), bitmap


class FaissFlatIndex(_FaissIndex):
    """faiss IndexFlatIP: exact search, much faster than numpy on many queries."""

    kind = "flat"

    def __init__(self, dim: int) -> None:
        import faiss

        super().__init__(dim)
        self._index = faiss.IndexFlatIP(dim)

    def _params(self, selector: Any, effort: int) -> Any:
        import faiss

        return None if selector is None else faiss.SearchParameters(sel=selector)


class FaissHNSWIndex(_FaissIndex):
    """faiss IndexHNSWFlat with inner product: approximate graph search, no training."""

    kind = "hnsw"

    def __init__(
        self, dim: int, m: int = 32, ef_construction: int = 64, ef_search: int = 128
    ) -> None:
        import faiss

        super().__init__(dim)
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self._index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = ef_construction

    @classmethod
    def _config_kwargs(cls, config: IndexConfig) -> dict[str, Any]:
        return {"m": config.hnsw_m, "ef_search": config.ef_search,
                "ef_construction": config.ef_construction}

    def _params(self, selector: Any, effort: int) -> Any:
        import faiss

        params = faiss.SearchParametersHNSW()
        params.efSearch = min(self.ef_search * effort, max(len(self), 1))
        if selector is not None:
            params.sel = selector
        return params

    def _max_effort(self) -> int:
        return max(1, -(-len(self) // self.ef_search))

    def _settings(self) -> dict[str, Any]:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}


class FaissIVFIndex(_FaissIndex):
    """faiss IndexIVFFlat with inner product, trained on the first batch added.

    ``nlist`` defaults to about 4·sqrt(N) of that first batch, capped so every list gets at least
    39 training points (faiss's minimum); ``nprobe`` lists are scanned per query.
    """

    kind = "ivf"

    def __init__(self, dim: int, nlist: int | None = None, nprobe: int = 32) -> None:
        super().__init__(dim)
        self.nlist, self.nprobe = nlist, nprobe

    @classmethod
    def _config_kwargs(cls, config: IndexConfig) -> dict[str, Any]:
        return {"nprobe": config.nprobe}

    def _prepare(self, vectors: np.ndarray) -> None:
        if self._index is not None:
            return
        import faiss

        nlist = min(self.nlist or default_nlist(len(vectors)), len(vectors))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.referenced_objects = [quantizer]  # keep the quantizer alive with the index
        index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST  # faiss samples (seeded) above it
        index.cp.niter = IVF_TRAIN_ITERATIONS
        start = time.perf_counter()
        index.train(vectors)
        elapsed = time.perf_counter() - start
        log.info("trained IVF (nlist=%d) on %d vectors in %.1fs", nlist, len(vectors), elapsed)
        self._index, self.nlist = index, nlist

    def _params(self, selector: Any, effort: int) -> Any:
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = min(self.nprobe * effort, self._index.nlist)
        if selector is not None:
            params.sel = selector
        return params

    def _max_effort(self) -> int:
        return max(1, -(-self._index.nlist // self.nprobe))

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        import faiss

        if self._index.direct_map.type == faiss.DirectMap.NoMap:
            self._index.make_direct_map()
        return super()._reconstruct(rows)

    def _settings(self) -> dict[str, Any]:
        return {"nlist": self.nlist, "nprobe": self.nprobe}


# k-means of the IVF coarse quantizer: trained on a sample of at most this many vectors per list
# (faiss wants at least 39) for this many iterations. faiss's defaults (256 per list, 25 iterations)
# train ~10x longer - 1M vectors: tens of minutes on 2 cores - for the same recall@10 at the
# default nprobe (bench/bench_search.py).
IVF_TRAIN_PER_LIST = 64
IVF_TRAIN_ITERATIONS = 10


def default_nlist(n: int) -> int:
    """About 4·sqrt(n) inverted lists, at most one per 39 vectors (faiss's training minimum)."""
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


class FaissIVFPQIndex(FaissIVFIndex):
    """faiss IndexIVFPQ: every vector compressed to ``m`` bytes (``m`` sub-quantisers of ``nbits``
    bits), for collections of 10M+ items (bench/bench_ivfpq.py measures it).

    Trained on a random sample of at most ``train_size`` vectors of the first ``add``, with
    ``nlist`` about 4·sqrt(N) lists. When the float vectors are at hand (``keep_vectors``: a
    reference to the array of the first ``add``, not a copy; give it ``np.load(path,
    mmap_mode="r")`` to keep them on disk, and the index saves only their path), the best
    ``rerank`` candidates of the compressed search are re-scored exactly and filtered searches
    below ``filter_exact_below`` rows are exact. Without them, scores are PQ approximations.
    """

    kind = "ivfpq"

    def __init__(
        self, dim: int, nlist: int | None = None, nprobe: int = 32, m: int = 64, nbits: int = 8,
        rerank: int = 100, train_size: int = 100_000, keep_vectors: bool = True,
        vectors_file: str | None = None,
    ) -> None:
        super().__init__(dim, nlist, nprobe)
        self.m, self.nbits, self.rerank, self.train_size = m, nbits, rerank, train_size
        self.keep_vectors, self.vectors_file = keep_vectors, vectors_file
        self._vectors: np.ndarray | None = None

    @classmethod
    def _config_kwargs(cls, config: IndexConfig) -> dict[str, Any]:
        return {"nprobe": config.nprobe, "m": config.pq_m, "rerank": config.rerank}

    def add(self, vectors: np.ndarray) -> None:
        matrix = _as_matrix(vectors, self.dim)
        super().add(matrix)
        if self.keep_vectors and len(matrix):
            self._keep(vectors, matrix)

    def _keep(self, source: Any, matrix: np.ndarray) -> None:
        if self._vectors is None:
            self._vectors = matrix
            whole = isinstance(source, np.memmap) and source.shape == matrix.shape
            self.vectors_file = str(source.filename) if whole and source.filename else None
        else:
            self._vectors, self.vectors_file = np.vstack([self._vectors, matrix]), None

    def _prepare(self, vectors: np.ndarray) -> None:
        if self._index is not None:
            return
        import faiss

        sample = training_sample(vectors, self.train_size)
        nlist = min(self.nlist or default_nlist(len(vectors)), len(sample))
        m, nbits = pq_shape(self.dim, self.m, self.nbits, len(sample))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        index.referenced_objects = [quantizer]
        index.cp.min_points_per_centroid = 5  # a 100k sample gives 25 per list at N = 1M: enough
        index.pq.cp.min_points_per_centroid = 5  # quiet faiss's warning on small collections
        start = time.perf_counter()
        index.train(sample)
        log.info("trained IVF-PQ (nlist=%d, m=%d, nbits=%d) on %d vectors in %.1fs", nlist, m,
                 nbits, len(sample), time.perf_counter() - start)
        self._index, self.nlist, self.m, self.nbits = index, nlist, m, nbits

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._vectors is None or self.rerank <= 0:
            return super()._search(queries, k, allowed)
        n_allowed = len(self) if allowed is None else int(allowed.sum())
        _, candidates = super()._search(queries, min(max(k, self.rerank), n_allowed), allowed)
        return rerank_exact(self._vectors, queries, candidates, k)

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        if self._vectors is not None:
            return np.asarray(self._vectors[rows], dtype=np.float32)
        return super()._reconstruct(rows)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "m": self.m, "nbits": self.nbits, "rerank": self.rerank,
                "train_size": self.train_size, "keep_vectors": self.keep_vectors,
                "vectors_file": self.vectors_file}

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super()._state()
        if self._vectors is not None and self.vectors_file is None:
            arrays["vectors"] = np.asarray(self._vectors)
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> FaissIVFPQIndex:
        vectors = arrays.pop("vectors", None)
        index = super()._from_state(meta, arrays)
        index._vectors = vectors if vectors is not None else index._open_vectors_file()
        return index

    def _open_vectors_file(self) -> np.ndarray | None:
        """The float vectors kept on disk, memory-mapped; None (PQ scores only) when gone."""
        if not self.vectors_file or not len(self):
            return None
        try:
            vectors = np.load(self.vectors_file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("ivfpq: cannot map %s (%s): searching without re-ranking",
                        self.vectors_file, exc)
            return None
        if vectors.shape != (len(self), self.dim) or vectors.dtype != np.float32:
            log.warning("ivfpq: %s holds %s %s, not (%d, %d) float32: searching without "
                        "re-ranking", self.vectors_file, vectors.dtype, vectors.shape, len(self),
                        self.dim)
            return None
        return vectors


def training_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """At most ``size`` rows of ``vectors``, drawn at random (in row order, kind to memmaps)."""
    if len(vectors) <= size:
        return np.ascontiguousarray(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size, replace=False))
    return np.ascontiguousarray(vectors[rows])


def pq_shape(dim: int, m: int, nbits: int, n_train: int) -> tuple[int, int]:
    """Sub-quantisers and bits per code. Sub-quantisers: the largest divisor of ``dim`` up to
    ``m`` and ``dim / 4`` (512-d CLIP: 64 of 8 dims; narrower ones of a single dimension train
    slowly and gain little). Bits: fewer when there are fewer than 2**nbits training vectors,
    which faiss refuses."""
    m = max(d for d in range(1, max(1, min(m, dim // 4)) + 1) if dim % d == 0)
    return m, max(1, min(nbits, int(np.log2(max(n_train, 2)))))


def rerank_exact(
    vectors: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int, block: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of each query's ``candidates`` (row ids, -1: none) by exact inner product
    with ``vectors`` (an array or a memmap: only the candidate rows are read)."""
    scores = np.full(candidates.shape, -np.inf, dtype=np.float32)
    for start in range(0, len(queries), block):
        ids = candidates[start : start + block]
        rows = np.unique(ids[ids >= 0])  # sorted: sequential reads from a memmap
        gathered = np.asarray(vectors[rows], dtype=np.float32)[np.searchsorted(rows, ids.clip(0))]
        exact = np.einsum("qd,qkd->qk", queries[start : start + block], gathered)
        scores[start : start + block] = np.where(ids >= 0, exact, -np.inf)
    best, cols = top_k(scores, k)
    ids = np.take_along_axis(candidates, cols.clip(0), axis=1)
    return best, np.where(cols >= 0, ids, -1)


# ------------------------------------------------------------------------------------- building

INDEX_KINDS: dict[str, type[VectorIndex]] = {
    "exact": ExactIndex,
    "flat": FaissFlatIndex,
    "hnsw": FaissHNSWIndex,
    "ivf": FaissIVFIndex,
    "ivfpq": FaissIVFPQIndex,
}


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
        if self.kind not in INDEX_KINDS:
            kinds = ", ".join(["auto", *INDEX_KINDS])
            raise ValueError(f"unknown index kind {self.kind!r}; choose one of: {kinds}")
        return self.kind


def build_index(vectors: np.ndarray, config: IndexConfig | None = None) -> VectorIndex:
    """Build an index over ``vectors`` (N, D), choosing its kind from ``config``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a (N, D) matrix, got shape {vectors.shape}")
    config = config or IndexConfig()
    kind = config.resolve(len(vectors))
    start = time.perf_counter()
    index = INDEX_KINDS[kind].from_config(vectors.shape[1], config)
    index.add(vectors)
    elapsed = time.perf_counter() - start
    log.info("built %s index over %d x %d in %.2fs", kind, *vectors.shape, elapsed)
    return index
