"""2-D maps of embedding matrices: UMAP, t-SNE and PCA behind one projector interface.

``project`` turns an (N, D) matrix into (N, 2) float32 map coordinates; ``cached_projection``
keeps the result in the store, keyed by the config, the caller's key parts and a fingerprint of
the vectors. Every method is a ``Projector`` in ``PROJECTORS``; ``project`` dispatches once.

Geometry. With ``metric="cosine"`` rows are L2-normalised and the projector then runs with the
Euclidean metric: on unit vectors ``|a - b|^2 = 2 - 2 cos(a, b)``, so neighbours are the same as
under cosine, and the optional PCA pre-reduction (which centres the data and so changes angles but
nearly preserves Euclidean distances) stays faithful. All-zero rows (missing embeddings) stay zero;
they never crash a projector, but the caller should mask them out.

Large maps. Above ``config.sample_above`` points (50,000) UMAP is fitted on ``config.sample_size``
rows (20,000) drawn with the seed, and the others are placed with umap-learn's ``transform``
(:mod:`cdir.maps.umap_sample`): 100,000 points in seconds instead of minutes. The cache key of
such a map records the sample (``"sampled"``).

Determinism. PCA and t-SNE are deterministic for a fixed ``seed``. UMAP is deterministic up to
``DETERMINISTIC_MAX_N`` points and on the sampled path above ``sample_above``: umap-learn then
runs single-threaded (``random_state`` forces ``n_jobs=1``). In between (a full fit of 20,000 to
50,000 points) it runs on all cores without a seed, and repeated runs differ slightly.

Speed. UMAP gets exact neighbours from faiss (cosine, Euclidean) or sklearn (other metrics) up to
``EXACT_KNN_MAX_N`` points instead of umap-learn's own search, which below 4,096 points calls a
numba metric once per pair from Python.

Compile time. umap-learn and pynndescent are numba code. Importing umap compiles pynndescent
(~35 s CPU) and the first fit compiles umap's layout code (~12 s CPU). ``configure_numba_cache``
points numba's disk cache at a cdir folder before umap is imported, and ``_import_umap`` also turns
the cache on for umap's own functions (umap-learn does not ask for it), so a later process loads
both in ~4 s. ``warm_up_umap`` pays whatever is left early, e.g. in a background thread at start.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
# a projector maps prepared (N, D) data to (N, 2) under the given metric
Projector = Callable[[np.ndarray, "ProjectionConfig", str], np.ndarray]

METHODS: tuple[str, ...] = ("umap", "tsne", "pca")
DETERMINISTIC_MAX_N = 20_000  # above this UMAP runs multi-threaded and unseeded
EXACT_KNN_MAX_N = 50_000  # up to this, exact neighbours (faiss, sklearn); above it pynndescent
EXACT_KNN_METRICS = frozenset(
    {"euclidean", "l2", "manhattan", "cityblock", "l1", "chebyshev", "minkowski", "correlation"}
    | {"cosine", "braycurtis", "canberra"}
)
FAISS_KNN_METRICS = frozenset({"cosine", "euclidean", "l2"})  # exact neighbours from faiss
MIN_POINTS_FOR_MANIFOLD = 4  # below this UMAP / t-SNE fall back to PCA
SAMPLE_FIELDS = ("sample_above", "sample_size")  # in a cache key only when the map is sampled
CACHE_VERSION = 2  # bump when the projection code changes its output for the same inputs
PROJECTIONS_DIR = "projections"


@dataclass(frozen=True)
class ProjectionConfig:
    """How to draw a 2-D map; every field is part of the cache key."""

    method: str = "umap"
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    perplexity: float = 30.0
    pca_dims: int = 50  # UMAP / t-SNE first reduce to this many dims with PCA when D is larger
    seed: int = 0
    sample_above: int = 50_000  # UMAP of more points: fit on a sample, transform the rest
    sample_size: int = 20_000  # rows UMAP is fitted on above ``sample_above``

    def samples(self, n: int) -> bool:
        """Whether a UMAP map of ``n`` points is fitted on a sample (see ``umap_sample``)."""
        return self.method == "umap" and n > self.sample_above and n > self.sample_size

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"unknown projection method {self.method!r}; choose one of: {', '.join(METHODS)}"
            )


# --------------------------------------------------------------------------- numba compile cache


def default_numba_cache_dir() -> Path:
    """``$CDIR_CACHE_DIR/numba`` when that variable is set, else ``~/.cache/cdir/numba``."""
    root = os.environ.get("CDIR_CACHE_DIR")
    return Path(root) / "numba" if root else Path.home() / ".cache" / "cdir" / "numba"


def configure_numba_cache(cache_dir: Path | None = None) -> Path:
    """Point numba's on-disk compile cache at ``cache_dir`` and return the folder.

    Without ``cache_dir`` an existing ``NUMBA_CACHE_DIR`` is respected, else
    ``default_numba_cache_dir()`` is used. Call it before umap is imported: numba picks a function's
    cache location when the function is defined, i.e. when umap / pynndescent are imported.
    """
    env = os.environ.get("NUMBA_CACHE_DIR")
    path = Path(cache_dir) if cache_dir else Path(env) if env else default_numba_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # numba read its config at import; update the live value too
        sys.modules["numba"].config.CACHE_DIR = str(path)
    if "umap" in sys.modules:
        log.warning("umap was imported before configure_numba_cache(); its cache dir is unchanged")
    return path


def _import_umap() -> Any:
    """Import umap-learn with numba's disk cache configured and enabled for umap's own functions."""
    if "umap" not in sys.modules:
        configure_numba_cache()  # keeps an existing NUMBA_CACHE_DIR
    import umap

    _enable_umap_disk_cache()
    return umap


@functools.cache
def _enable_umap_disk_cache() -> int:
    """Turn on numba's disk cache for umap-learn's jitted functions; return how many.

    pynndescent declares ``cache=True``, umap-learn (0.5.x) does not, so without this every new
    process recompiles umap's layout and graph code (~10-15 s CPU). ``Dispatcher.enable_caching``
    is what ``@njit(cache=True)`` calls; a function numba cannot cache is compiled as before.
    """
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher

        dispatchers = [
            obj
            for module in _umap_modules()
            for obj in vars(module).values()
            if isinstance(obj, Dispatcher) and isinstance(obj._cache, NullCache)
        ]
        for dispatcher in dispatchers:
            dispatcher.enable_caching()
    except (ImportError, AttributeError, RuntimeError) as exc:  # numba internals moved
        log.warning("could not enable numba caching for umap (%s); it compiles on each start", exc)
        return 0
    log.debug("numba disk cache enabled for %d umap functions", len(dispatchers))
    return len(dispatchers)


def _umap_modules() -> list[Any]:
    import importlib

    names = ("umap_", "layouts", "spectral", "utils", "distances", "sparse")
    return [importlib.import_module(f"umap.{name}") for name in names]


def warm_up_umap(config: ProjectionConfig | None = None, approximate: bool = False) -> float:
    """Fit UMAP on a tiny random matrix to compile its numba code; return the seconds it took.

    It runs the same code path as ``project`` (exact neighbours, same metric and dtypes), so a later
    ``project`` call compiles nothing; it fits a sample and transforms the rest, so the path of
    large maps (``sample_above``) is compiled too. ``approximate=True`` instead warms the
    pynndescent path (full fits of more than ``EXACT_KNN_MAX_N`` points).
    """
    config = config or ProjectionConfig()
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    start = time.perf_counter()
    x, metric = _prepare(x, config, use_pca=False)
    if approximate:
        _run_umap(x, config, metric, seed=config.seed, exact_knn=False)
    else:  # the sampled path of large maps: a fit and a transform
        _sampled_umap(x, replace(config, metric=metric, sample_above=32, sample_size=48), None)
    elapsed = time.perf_counter() - start
    log.info("UMAP warm-up took %.1f s", elapsed)
    return elapsed


# --------------------------------------------------------------------------- projectors


def _pca_2d(x: np.ndarray, config: ProjectionConfig, metric: str = "euclidean") -> np.ndarray:
    return _pca(x, 2, config.seed)


def _umap_2d(x: np.ndarray, config: ProjectionConfig, metric: str = "euclidean") -> np.ndarray:
    n = x.shape[0]
    seed = config.seed if n <= DETERMINISTIC_MAX_N else None
    if seed is None:
        log.info("UMAP on %d points runs multi-threaded without a seed: not reproducible", n)
    return _run_umap(x, config, metric, seed=seed, exact_knn=n <= EXACT_KNN_MAX_N)


def _tsne_2d(x: np.ndarray, config: ProjectionConfig, metric: str = "euclidean") -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = config.perplexity
    if perplexity >= x.shape[0]:  # sklearn requires perplexity < n_samples
        perplexity = max(1.0, (x.shape[0] - 1) / 3)
        log.info("t-SNE: %d points, perplexity lowered to %.1f", x.shape[0], perplexity)
    tsne = TSNE(perplexity=perplexity, metric=metric, init="pca", random_state=config.seed)
    return tsne.fit_transform(x)


PROJECTORS: dict[str, Projector] = {"umap": _umap_2d, "tsne": _tsne_2d, "pca": _pca_2d}


def _run_umap(
    x: np.ndarray, config: ProjectionConfig, metric: str, seed: int | None, exact_knn: bool
) -> np.ndarray:
    return _fit_umap(x, config, metric, seed, exact_knn)[1]


def _fit_umap(
    x: np.ndarray,
    config: ProjectionConfig,
    metric: str,
    seed: int | None,
    exact_knn: bool,
    search_index: Any = None,
) -> tuple[Any, np.ndarray]:
    """(fitted ``umap.UMAP``, its (N, 2) embedding); ``search_index`` serves ``transform``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = max(2, min(config.n_neighbors, x.shape[0] - 1))
    if k < config.n_neighbors:
        log.info("UMAP: %d points, n_neighbors lowered to %d", x.shape[0], k)
    knn = _exact_knn(x, k, metric) if exact_knn else None
    reducer = _import_umap().UMAP(
        n_neighbors=k,
        min_dist=config.min_dist,
        metric=metric,
        random_state=seed,
        transform_seed=seed if seed is not None else 42,
        n_jobs=1 if seed is not None else -1,
        precomputed_knn=(*knn, search_index) if knn else (None, None, None),
        force_approximation_algorithm=not exact_knn,
    )
    with warnings.catch_warnings():  # "no NNDescent index: transform unavailable" - not needed
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        return reducer, reducer.fit_transform(x)


def _sampled_umap(x: np.ndarray, config: ProjectionConfig, progress: Progress | None) -> np.ndarray:
    """UMAP fitted on ``config.sample_size`` rows of ``x`` (N, D), the rest placed with
    ``transform`` (see :mod:`cdir.maps.umap_sample`); (N, 2) float32, deterministic."""
    from cdir.maps.umap_sample import ExactSearchIndex, place_rest, reduce_in_chunks, sample_rows

    n = x.shape[0]
    rows = sample_rows(n, config.sample_size, config.seed)
    cosine = config.metric == "cosine"
    if x.shape[1] > config.pca_dims:
        _report(progress, f"Reducing {x.shape[1]} dims to {config.pca_dims} with PCA")
    x = reduce_in_chunks(x, rows, config.pca_dims, cosine, config.seed)
    metric = "euclidean" if cosine else config.metric
    _report(progress, f"Fitting UMAP on {len(rows):,} of {n:,} points")
    sample = np.ascontiguousarray(x[rows])
    index = ExactSearchIndex(sample, metric) if metric in EXACT_KNN_METRICS else None
    start = time.perf_counter()
    reducer, sample_xy = _fit_umap(
        sample, config, metric, seed=config.seed, exact_knn=index is not None, search_index=index
    )
    log.info("UMAP fit on %d sampled points took %.1f s", len(rows), time.perf_counter() - start)
    return place_rest(reducer, x, rows, sample_xy, progress=progress)


def _exact_knn(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact k nearest neighbours (self included, as umap-learn expects), vectorised.

    umap-learn would otherwise, below 4,096 points, call its numba metric once per pair from Python
    through sklearn (~10 s for 2,000 points), or build a pynndescent index (tens of seconds of
    extra compilation). Returns None for metrics sklearn cannot run, leaving umap to do it.
    """
    if metric not in EXACT_KNN_METRICS:
        return None
    if metric in FAISS_KNN_METRICS:
        return _faiss_knn(x, k, metric)
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(x)
    dists, indices = nn.kneighbors(x)
    return indices.astype(np.int32), dists.astype(np.float32)


def _faiss_knn(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine / Euclidean neighbours with a faiss flat index (cosine through
    ``cdir.store.index``'s): the same answer as sklearn's brute force, which spends most of its time
    sorting N x N distance blocks (20,000 points: seconds instead of a fraction of one)."""
    import faiss

    from cdir.store.index import build_index
    from cdir.store.vector_index import IndexConfig

    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
        sims, indices = build_index(unit, IndexConfig(kind="flat")).search(unit, k)
        dists = np.clip(1.0 - sims, 0.0, 2.0)
    else:
        index = faiss.IndexFlatL2(x.shape[1])
        index.add(x)
        squared, indices = index.search(x, k)
        dists = np.sqrt(np.maximum(squared, 0.0))
    return indices.astype(np.int32), dists.astype(np.float32)


def _pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """PCA to ``dims`` columns; zero-padded when the data has fewer usable components."""
    from sklearn.decomposition import PCA

    k = min(dims, x.shape[0], x.shape[1])
    out = np.zeros((x.shape[0], dims), dtype=np.float32)
    if k > 0 and x.shape[0] > 1:
        out[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x)
    return out


# --------------------------------------------------------------------------- project


def project(
    vectors: np.ndarray,
    config: ProjectionConfig | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Map an (N, D) matrix to (N, 2) float32 coordinates with ``config.method``.

    N = 0 gives an empty (0, 2) array; N = 1, or N identical rows, the origin. UMAP and t-SNE
    need a few points: below ``MIN_POINTS_FOR_MANIFOLD`` they fall back to PCA, and
    ``n_neighbors`` / ``perplexity`` are lowered when N is too small for them (each logged).
    UMAP of more than ``config.sample_above`` points is fitted on a sample (module docstring).
    """
    config = config or ProjectionConfig()
    x = _as_matrix(vectors)
    n = x.shape[0]
    if n <= 1 or not np.ptp(x, axis=0).any():  # nothing to spread out (t-SNE would hang on it)
        if n > 1:
            log.info("all %d vectors are identical: every point goes to the origin", n)
        return np.zeros((n, 2), dtype=np.float32)
    method = _method_for(config.method, n)
    if method == "umap" and config.samples(n):
        _report(progress, f"Projecting {n} points with UMAP fitted on a sample")
        start = time.perf_counter()
        xy = _sampled_umap(x, config, progress)
        log.info("sampled UMAP of %d points took %.1f s", n, time.perf_counter() - start)
        return _finish(xy, n)
    x, metric = _prepare(x, config, use_pca=method != "pca", progress=progress)
    _report(progress, f"Projecting {n} points with {method.upper()}")
    start = time.perf_counter()
    xy = PROJECTORS[method](x, config, metric)
    log.info("%s of %d points took %.1f s", method, n, time.perf_counter() - start)
    return _finish(xy, n)


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected an (N, D) matrix, got shape {x.shape}")
    return x


def _method_for(method: str, n: int) -> str:
    if method != "pca" and n < MIN_POINTS_FOR_MANIFOLD:
        log.info("%s needs >= %d points, got %d: using PCA", method, MIN_POINTS_FOR_MANIFOLD, n)
        return "pca"
    return method


def _prepare(
    x: np.ndarray, config: ProjectionConfig, use_pca: bool, progress: Progress | None = None
) -> tuple[np.ndarray, str]:
    """Normalise for cosine and PCA-reduce wide matrices; return the data and the metric to use."""
    metric = config.metric
    if metric == "cosine":
        x, metric = _l2_normalize(x), "euclidean"
    if use_pca and x.shape[1] > config.pca_dims:
        _report(progress, f"Reducing {x.shape[1]} dims to {config.pca_dims} with PCA")
        x = _pca(x, config.pca_dims, config.seed)
    return x, metric


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _finish(xy: np.ndarray, n: int) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float32).reshape(n, 2)
    if not np.isfinite(xy).all():
        log.warning("projection produced non-finite coordinates; setting them to 0")
        xy = np.nan_to_num(xy, nan=0.0, posinf=0.0, neginf=0.0)
    return xy


def _report(progress: Progress | None, message: str) -> None:
    log.info(message)
    if progress is not None:
        progress(message)


# --------------------------------------------------------------------------- cache in the store


def fingerprint(vectors: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and sha256 of the bytes: changes whenever any vector is added or changed."""
    x = np.ascontiguousarray(vectors)
    digest = hashlib.sha256(x.reshape(-1).view(np.uint8)).hexdigest()  # no copy of the data
    return {"shape": list(x.shape), "dtype": str(x.dtype), "sha256": digest}


def _key_record(
    key_parts: Mapping[str, Any], fp: dict[str, Any], config: ProjectionConfig
) -> dict[str, Any]:
    parts = dict(key_parts)
    fields = asdict(config)
    sample = {name: fields.pop(name) for name in SAMPLE_FIELDS}  # keys of full fits unchanged
    record = {"version": CACHE_VERSION, "parts": parts, "vectors": fp, "config": fields}
    if config.samples(fp["shape"][0] if fp["shape"] else 0):
        record["sampled"] = sample
    return record


def _hash_record(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def cached_projection(
    store_dir: Path,
    key_parts: Mapping[str, Any],
    vectors: np.ndarray,
    config: ProjectionConfig | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """``project`` through ``store_dir/projections/<key>.npy``.

    ``key_parts`` names what is projected, e.g. ``{"kind": "image", "preset": "default"}``. A json
    next to the array records the config, the parts and the fingerprint for inspection; a UMAP
    map fitted on a sample also records ``"sampled"`` (threshold and sample size) in its key.
    """
    config = config or ProjectionConfig()
    fp = fingerprint(vectors)
    record = _key_record(key_parts, fp, config)
    path = Path(store_dir) / PROJECTIONS_DIR / f"{_hash_record(record)}.npy"
    xy = _load_cached(path, n=fp["shape"][0] if fp["shape"] else 0)
    if xy is not None:
        _report(progress, f"Loaded cached {config.method.upper()} map")
        return xy
    xy = project(vectors, config, progress)
    _save_cached(path, xy, record)
    return xy


def _load_cached(path: Path, n: int) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        xy = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cached projection %s: %s", path, exc)
        return None
    if xy.shape != (n, 2):
        log.warning("ignoring cached projection %s with shape %s", path, xy.shape)
        return None
    return xy


def _save_cached(path: Path, xy: np.ndarray, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path.with_suffix(".json"), json.dumps(record, indent=2).encode())
    _atomic_write(path, lambda f: np.save(f, xy, allow_pickle=False))


def _atomic_write(path: Path, content: bytes | Callable[[Any], None]) -> None:
    """Write to a temporary file in the same folder, then ``os.replace`` it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
