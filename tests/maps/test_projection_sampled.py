"""UMAP of large collections, fitted on a sample with the rest placed by ``transform``, tested at
small N with the threshold lowered through ``ProjectionConfig``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cdir.maps.projection import ProjectionConfig, _key_record, cached_projection, project
from cdir.maps.umap_sample import (
    ExactSearchIndex,
    init_graph_transform,
    reduce_in_chunks,
    sample_rows,
)

SAMPLED = ProjectionConfig(method="umap", sample_above=150, sample_size=150)


def blobs(n: int, k: int = 4, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated Gaussian blobs; returns (vectors (n, dim) float32, labels (n,))."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 3.0
    labels = np.arange(n) % k
    return (centers[labels] + rng.normal(size=(n, dim)) * 0.3).astype(np.float32), labels


@pytest.fixture
def numba_cache(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """numba's compiled UMAP code in .pytest_cache (as in test_projection.py)."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("cdir-numba") if cache is not None else tmp_path_factory.mktemp("numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(folder))


# --------------------------------------------------------------------------- pieces


def test_sample_rows_are_distinct_sorted_and_seeded() -> None:
    rows = sample_rows(1000, 100, seed=3)
    assert rows.shape == (100,) and rows.dtype == np.int64
    assert len(set(rows.tolist())) == 100 and (np.diff(rows) > 0).all()
    assert rows.min() >= 0 and rows.max() < 1000
    np.testing.assert_array_equal(rows, sample_rows(1000, 100, seed=3))
    assert not np.array_equal(rows, sample_rows(1000, 100, seed=4))
    np.testing.assert_array_equal(sample_rows(5, 100, seed=0), np.arange(5))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_search_index_finds_the_exact_neighbours(metric: str) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(300, 16)).astype(np.float32)
    queries = np.vstack([data[:5], rng.normal(size=(20, 16)).astype(np.float32)])
    ind, dist = ExactSearchIndex(data, metric).query(queries, 7)
    assert ind.shape == dist.shape == (25, 7) and ind.dtype == np.int32
    p = 2 if metric == "euclidean" else 1
    brute = np.linalg.norm(queries[:, None] - data[None], ord=p, axis=2)
    np.testing.assert_array_equal(ind[:5, 0], np.arange(5))  # a copy finds itself, at 0
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :7], atol=1e-3)


def test_chunked_pca_matches_one_block_and_keeps_zero_rows() -> None:
    x, _ = blobs(500, dim=80)
    x[7] = 0
    rows = sample_rows(500, 200, seed=0)
    whole = reduce_in_chunks(x, rows, dims=10, normalise=True, seed=0, chunk=10_000)
    chunked = reduce_in_chunks(x, rows, dims=10, normalise=True, seed=0, chunk=64)
    assert whole.shape == (500, 10) and whole.dtype == np.float32
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    narrow = reduce_in_chunks(x[:, :8], rows, dims=10, normalise=True, seed=0)
    np.testing.assert_allclose(np.linalg.norm(narrow[8:], axis=1), 1.0, atol=1e-5)
    assert not narrow[7].any()  # a missing embedding stays zero


def test_vectorised_init_matches_umap_learns_loop() -> None:
    import scipy.sparse
    from umap.umap_ import init_graph_transform as umaps

    rng = np.random.default_rng(0)
    dense = rng.uniform(0.05, 0.9, size=(40, 30)) * (rng.uniform(size=(40, 30)) < 0.3)
    dense[3] = 0  # no neighbours: NaN
    dense[5, [4, 9]] = 1.0  # two exact matches: the first wins
    dense[6, 20] = 1.0
    graph = scipy.sparse.csr_matrix(dense.astype(np.float32))
    embedding = rng.normal(size=(30, 2)).astype(np.float32)
    ours = init_graph_transform(graph, embedding)
    assert ours.dtype == np.float32 and ours.shape == (40, 2)
    np.testing.assert_allclose(ours, umaps(graph, embedding), rtol=1e-5, atol=1e-6)
    assert np.isnan(ours[3]).all()
    np.testing.assert_array_equal(ours[5], embedding[4])


def test_cache_key_says_when_a_map_is_sampled() -> None:
    fp = {"shape": [1000, 64], "dtype": "float32", "sha256": "x"}
    full = _key_record({"kind": "image"}, fp, ProjectionConfig())
    assert "sampled" not in full and "sample_size" not in full["config"]
    config = ProjectionConfig(sample_above=500, sample_size=200)
    assert _key_record({"kind": "image"}, fp, config)["sampled"] == {
        "sample_above": 500,
        "sample_size": 200,
    }
    assert "sampled" not in _key_record({"kind": "image"}, fp, replace(config, method="pca"))
    assert "sampled" not in _key_record({"kind": "image"}, fp, replace(config, sample_size=1000))


# --------------------------------------------------------------------------- the sampled map


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
def test_sampled_map_is_finite_deterministic_and_keeps_clusters_apart() -> None:
    x, labels = blobs(600, dim=512)
    x[11] = 0  # a missing embedding
    a = project(x, SAMPLED)
    b = project(x, SAMPLED)
    assert a.shape == (600, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    rows = sample_rows(600, SAMPLED.sample_size, SAMPLED.seed)
    placed = np.setdiff1d(np.arange(600), rows)
    # each placed point's nearest sampled point on the map is of its own blob
    d = np.linalg.norm(a[placed, None] - a[None, rows], axis=2)
    nearest = rows[np.argmin(d, axis=1)]
    ok = (labels[nearest] == labels[placed]) | (placed == 11) | (nearest == 11)
    assert ok.mean() >= 0.97


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
def test_a_placed_copy_of_a_sampled_point_lands_next_to_it() -> None:
    base, labels = blobs(300, k=6, dim=64, seed=2)
    x = np.vstack([base, base[:200]])  # rows 300.. are exact copies of rows 0..199
    rows = sample_rows(500, SAMPLED.sample_size, SAMPLED.seed)
    pairs = [(i, 300 + i) for i in range(200) if i in set(rows) and 300 + i not in set(rows)]
    assert len(pairs) >= 20
    xy = project(x, SAMPLED)
    extent = np.linalg.norm(np.ptp(xy, axis=0))  # the map's diagonal
    own = labels[np.arange(500) % 300]
    gaps = []
    for original, copy in pairs:
        gaps.append(np.linalg.norm(xy[copy] - xy[original]))
        # a blob's points are i.i.d. noise around its centre, so where a copy lands inside the
        # blob is arbitrary; it must stay in its original's blob, far from every other blob
        other = rows[own[rows] != own[original]]
        apart = np.linalg.norm(xy[other] - xy[original], axis=1).min()
        assert gaps[-1] < 0.25 * apart, (original, gaps[-1], apart)
    assert np.median(gaps) < 0.02 * extent, (np.median(gaps), extent)


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
def test_full_fit_below_the_threshold_is_unchanged() -> None:
    x, _ = blobs(120, dim=64)
    np.testing.assert_array_equal(
        project(x, ProjectionConfig(sample_above=120)),
        project(x, ProjectionConfig(sample_above=10**9)),
    )


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
def test_sampled_map_is_cached_under_a_key_that_says_so(tmp_path: Path) -> None:
    x, _ = blobs(300, dim=64)
    first = cached_projection(tmp_path, {"kind": "image"}, x, SAMPLED)
    (record,) = (tmp_path / "projections").glob("*.json")
    assert json.loads(record.read_text())["sampled"] == {"sample_above": 150, "sample_size": 150}
    np.testing.assert_array_equal(cached_projection(tmp_path, {"kind": "image"}, x, SAMPLED), first)
    cached_projection(tmp_path, {"kind": "image"}, x, ProjectionConfig(sample_above=10**9))
    assert len(list((tmp_path / "projections").glob("*.npy"))) == 2  # the full fit: its own key
