"""Build and load vector indexes: :func:`build_index` picks the kind for a collection's size
(:class:`IndexConfig`), :func:`load_index` reads one back. The interface, the exact reference and
the config live in :mod:`cdir.store.vector_index`, the faiss kinds in
:mod:`cdir.store.faiss_indexes`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from cdir.store.faiss_indexes import (
    FaissFlatIndex,
    FaissHNSWIndex,
    FaissIVFIndex,
    FaissIVFPQIndex,
)
from cdir.store.vector_index import (
    FORMAT_VERSION,
    INDEX_KIND_NAMES,
    ExactIndex,
    IndexConfig,
    VectorIndex,
)

log = logging.getLogger(__name__)

INDEX_KINDS: dict[str, type[VectorIndex]] = {
    "exact": ExactIndex,
    "flat": FaissFlatIndex,
    "hnsw": FaissHNSWIndex,
    "ivf": FaissIVFIndex,
    "ivfpq": FaissIVFPQIndex,
}
assert tuple(INDEX_KINDS) == INDEX_KIND_NAMES


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
