"""The faiss index kinds behind :class:`cdir.store.vector_index.VectorIndex`: flat (IndexFlatIP),
HNSW (IndexHNSWFlat), IVF (IndexIVFFlat) and IVF-PQ (IndexIVFPQ with exact re-ranking), sharing
ID-selector filtering, retries with more effort and the exact fallback over the allowed rows
(see the table in :mod:`cdir.store.vector_index`). faiss is imported inside the methods."""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from typing import Any

import numpy as np

from cdir.store.vector_index import (
    IndexConfig,
    VectorIndex,
    as_matrix,
    exact_search,
    top_k,
)

log = logging.getLogger(__name__)


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
        vectors = as_matrix(vectors, self.dim)
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
        return {
            "m": config.hnsw_m,
            "ef_search": config.ef_search,
            "ef_construction": config.ef_construction,
        }

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
        self,
        dim: int,
        nlist: int | None = None,
        nprobe: int = 32,
        m: int = 64,
        nbits: int = 8,
        rerank: int = 100,
        train_size: int = 100_000,
        keep_vectors: bool = True,
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
        matrix = as_matrix(vectors, self.dim)
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
        log.info(
            "trained IVF-PQ (nlist=%d, m=%d, nbits=%d) on %d vectors in %.1fs",
            nlist,
            m,
            nbits,
            len(sample),
            time.perf_counter() - start,
        )
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
        return {
            **super()._settings(),
            "m": self.m,
            "nbits": self.nbits,
            "rerank": self.rerank,
            "train_size": self.train_size,
            "keep_vectors": self.keep_vectors,
            "vectors_file": self.vectors_file,
        }

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
            log.warning(
                "ivfpq: cannot map %s (%s): searching without re-ranking", self.vectors_file, exc
            )
            return None
        if vectors.shape != (len(self), self.dim) or vectors.dtype != np.float32:
            log.warning(
                "ivfpq: %s holds %s %s, not (%d, %d) float32: searching without re-ranking",
                self.vectors_file,
                vectors.dtype,
                vectors.shape,
                len(self),
                self.dim,
            )
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
