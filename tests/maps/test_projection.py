"""2-D projections: shapes, tiny inputs, determinism, cluster separation and the store cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cdir.maps import projection
from cdir.maps.projection import (
    ProjectionConfig,
    cached_projection,
    configure_numba_cache,
    fingerprint,
    project,
)


def clusters(
    n: int = 200, k: int = 4, dim: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated Gaussian blobs of unit-ish vectors; returns (vectors, labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 3.0
    labels = np.arange(n) % k
    x = centers[labels] + rng.normal(size=(n, dim)) * 0.3
    return x.astype(np.float32), labels


def centroid_purity(xy: np.ndarray, labels: np.ndarray) -> float:
    """Share of points whose nearest 2-D class centroid is their own class's."""
    centroids = np.stack([xy[labels == c].mean(axis=0) for c in np.unique(labels)])
    nearest = np.argmin(((xy[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((nearest == labels).mean())


@pytest.fixture
def numba_cache(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Keep numba's compiled UMAP code in .pytest_cache so reruns skip ~50 s of compilation
    (in a temporary directory when pytest runs without its cache plugin)."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("cdir-numba") if cache is not None else tmp_path_factory.mktemp("numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(folder))


# --------------------------------------------------------------------------- config


def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="umap, tsne, pca"):
        ProjectionConfig(method="isomap")


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ProjectionConfig().method = "pca"  # type: ignore[misc]


# --------------------------------------------------------------------------- PCA and tiny inputs


def test_pca_is_shape_correct_and_deterministic() -> None:
    x, labels = clusters()
    a = project(x, ProjectionConfig(method="pca"))
    b = project(x, ProjectionConfig(method="pca"))
    assert a.shape == (200, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert centroid_purity(a, labels) >= 0.95


def test_cosine_ignores_vector_length() -> None:
    x, _ = clusters(n=50)
    scales = np.random.default_rng(1).uniform(0.1, 10, size=(50, 1)).astype(np.float32)
    config = ProjectionConfig(method="pca")
    np.testing.assert_allclose(project(x, config), project(x * scales, config), atol=1e-4)


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single_point(method: str, n: int) -> None:
    xy = project(np.ones((n, 16), np.float32), ProjectionConfig(method=method))
    np.testing.assert_array_equal(xy, np.zeros((n, 2), np.float32))


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
@pytest.mark.parametrize("n", [2, 3])
def test_too_few_points_fall_back_to_pca(
    method: str, n: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="cdir.maps.projection")
    x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    xy = project(x, ProjectionConfig(method=method))
    assert xy.shape == (n, 2) and np.isfinite(xy).all()
    assert method == "pca" or "using PCA" in caplog.text


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_identical_or_zero_rows_go_to_the_origin(method: str) -> None:
    for x in (np.zeros((30, 16), np.float32), np.ones((30, 16), np.float32)):
        np.testing.assert_array_equal(project(x, ProjectionConfig(method=method)), 0)


def test_zero_rows_among_others_do_not_crash_pca() -> None:
    x, _ = clusters(n=40)
    x[:10] = 0
    xy = project(x, ProjectionConfig(method="pca"))
    assert xy.shape == (40, 2) and np.isfinite(xy).all()


def test_narrow_matrix_and_bad_shape() -> None:
    x = np.random.default_rng(0).normal(size=(10, 1)).astype(np.float32)
    assert project(x, ProjectionConfig(method="pca")).shape == (10, 2)
    with pytest.raises(ValueError, match="matrix"):
        project(np.zeros(5), ProjectionConfig(method="pca"))


def test_progress_reports_steps() -> None:
    x, _ = clusters(n=20)
    messages: list[str] = []
    project(x, ProjectionConfig(method="pca"), progress=messages.append)
    assert any("PCA" in m for m in messages)


# --------------------------------------------------------------------------- UMAP and t-SNE


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
def test_umap_keeps_clusters_apart_and_is_deterministic() -> None:
    x, labels = clusters(n=200, dim=512)
    a = project(x, ProjectionConfig(method="umap"))
    b = project(x, ProjectionConfig(method="umap"))
    assert a.shape == (200, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert centroid_purity(a, labels) >= 0.95


@pytest.mark.slow
@pytest.mark.usefixtures("numba_cache")
@pytest.mark.parametrize("n", [4, 5, 10, 15])
def test_umap_tiny_inputs_lower_n_neighbors(n: int) -> None:
    x, _ = clusters(n=n, k=2)
    x[0] = 0  # a missing embedding among them
    xy = project(x, ProjectionConfig(method="umap"))
    assert xy.shape == (n, 2) and np.isfinite(xy).all()


@pytest.mark.slow
def test_tsne_keeps_clusters_apart_and_handles_tiny_input() -> None:
    x, labels = clusters(n=120)
    xy = project(x, ProjectionConfig(method="tsne"))
    assert xy.shape == (120, 2)
    assert centroid_purity(xy, labels) >= 0.95
    assert project(x[:5], ProjectionConfig(method="tsne")).shape == (5, 2)  # perplexity lowered


# --------------------------------------------------------------------------- cache in the store


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of ``project`` made through ``cached_projection``."""
    calls: list[int] = []
    real = projection.project

    def counting(vectors: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(len(vectors))
        return real(vectors, *args, **kwargs)

    monkeypatch.setattr(projection, "project", counting)
    return calls


PCA = ProjectionConfig(method="pca")


def test_cache_hit_returns_the_same_array_without_recomputing(
    tmp_path: Path, counted: list[int]
) -> None:
    x, _ = clusters(n=30)
    first = cached_projection(tmp_path, {"kind": "image"}, x, PCA)
    second = cached_projection(tmp_path, {"kind": "image"}, x.copy(), PCA)
    np.testing.assert_array_equal(first, second)
    assert counted == [30]
    assert len(list((tmp_path / "projections").glob("*.npy"))) == 1
    assert len(list((tmp_path / "projections").glob("*.json"))) == 1
    assert not list((tmp_path / "projections").glob(".*tmp"))


def test_cache_misses_when_vectors_kind_or_config_change(
    tmp_path: Path, counted: list[int]
) -> None:
    x, _ = clusters(n=30)
    cached_projection(tmp_path, {"kind": "image"}, x, PCA)
    added = np.vstack([x, x[:1] + 1])  # one image added
    cached_projection(tmp_path, {"kind": "image"}, added, PCA)
    changed = x.copy()
    changed[3, 0] += 1e-3
    cached_projection(tmp_path, {"kind": "image"}, changed, PCA)  # one vector changed
    cached_projection(tmp_path, {"kind": "caption"}, x, PCA)
    cached_projection(tmp_path, {"kind": "image"}, x, ProjectionConfig(method="pca", seed=1))
    assert counted == [30, 31, 30, 30, 30]
    assert len(list((tmp_path / "projections").glob("*.npy"))) == 5


def test_unreadable_cache_file_is_recomputed(tmp_path: Path, counted: list[int]) -> None:
    x, _ = clusters(n=30)
    first = cached_projection(tmp_path, {"kind": "image"}, x, PCA)
    (npy,) = (tmp_path / "projections").glob("*.npy")
    npy.write_bytes(b"not an array")
    np.testing.assert_array_equal(cached_projection(tmp_path, {"kind": "image"}, x, PCA), first)
    assert counted == [30, 30]


def test_fingerprint_tracks_shape_dtype_and_bytes() -> None:
    x, _ = clusters(n=10)
    assert fingerprint(x) == fingerprint(x.copy())
    assert fingerprint(x) != fingerprint(x[:9])
    assert fingerprint(x) != fingerprint(x.astype(np.float16))
    assert fingerprint(np.zeros((0, 4), np.float32))["shape"] == [0, 4]


# --------------------------------------------------------------------------- numba cache


@pytest.fixture
def clean_numba_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    if "numba" in sys.modules:  # configure_numba_cache also updates numba's live config
        config = sys.modules["numba"].config
        monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)


@pytest.mark.usefixtures("clean_numba_env")
def test_numba_cache_defaults_under_cdir_cache_dir() -> None:
    path = configure_numba_cache()
    assert path == Path(os.environ["CDIR_CACHE_DIR"]) / "numba"
    assert path.is_dir() and os.environ["NUMBA_CACHE_DIR"] == str(path)


@pytest.mark.usefixtures("clean_numba_env")
def test_numba_cache_home_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CDIR_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert configure_numba_cache() == tmp_path / ".cache" / "cdir" / "numba"


@pytest.mark.usefixtures("clean_numba_env")
def test_numba_cache_explicit_dir_and_existing_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert configure_numba_cache(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "user"))
    assert configure_numba_cache() == tmp_path / "user"
