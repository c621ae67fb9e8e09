"""Projections whose points are known: tiny inputs and zero rows land where geometry says (PCA
of points spanning at most 2 dimensions keeps every pairwise distance), the UMAP and t-SNE
fallbacks give exactly PCA's points, and after ``warm_up_umap`` a UMAP map compiles nothing
(numba's compile events are recorded; the warm-up itself, on an empty cache, must show some)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cdir.maps.projection import ProjectionConfig, project

PCA = ProjectionConfig(method="pca")
REPO = Path(__file__).resolve().parents[2]


def distances(xy: np.ndarray) -> np.ndarray:
    return np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)


def test_two_points_sit_on_the_first_axis_symmetric_about_the_origin() -> None:
    x = np.zeros((2, 16), np.float32)
    x[0, 0], x[1, 1] = 3.0, 0.5  # lengths do not count under cosine: e0 and e1
    xy = project(x, PCA)
    np.testing.assert_allclose(np.abs(xy), [[0.5**0.5, 0.0], [0.5**0.5, 0.0]], atol=1e-6)
    np.testing.assert_allclose(xy[0], -xy[1], atol=1e-6)


def test_three_orthogonal_vectors_make_an_equilateral_triangle_around_the_origin() -> None:
    xy = project(np.eye(3, 8, dtype=np.float32) * [[1.0], [2.0], [5.0]], PCA)
    d = distances(xy)
    np.testing.assert_allclose(d[~np.eye(3, dtype=bool)], 2**0.5, atol=1e-6)
    np.testing.assert_allclose(xy.mean(axis=0), 0.0, atol=1e-6)


def test_zero_rows_share_one_point_at_their_true_distances() -> None:
    """e0, e1 and two missing (all-zero) embeddings: the zero rows coincide, 1 from e0 and e1,
    which are √2 apart; and the map is centred on the mean."""
    x = np.zeros((4, 8), np.float32)
    x[0, 0] = x[1, 1] = 1.0
    xy = project(x, PCA)
    want = np.array([[0, 2**0.5, 1, 1], [2**0.5, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_allclose(distances(xy), want, atol=1e-6)
    np.testing.assert_allclose(xy.mean(axis=0), 0.0, atol=1e-6)


@pytest.mark.parametrize("method", ["umap", "tsne"])
@pytest.mark.parametrize("n", [2, 3])
def test_the_manifold_fallback_is_exactly_pca(method: str, n: int) -> None:
    x = np.random.default_rng(n).normal(size=(n, 16)).astype(np.float32)
    np.testing.assert_array_equal(project(x, ProjectionConfig(method=method)), project(x, PCA))


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_one_zero_row_alone_or_repeated_is_the_origin(method: str) -> None:
    config = ProjectionConfig(method=method)
    for x in (np.zeros((1, 8)), np.zeros((5, 8)), np.full((5, 8), -2.0)):
        xy = project(x, config)
        assert xy.dtype == np.float32
        np.testing.assert_array_equal(xy, np.zeros((len(x), 2), np.float32))


WARM_THEN_MAP = """
import json, sys
import numpy as np
from numba.core import event
from cdir.maps import projection

with event.install_recorder("numba:compile") as warm:  # a fresh cache: this compiles
    projection.warm_up_umap()
x = np.random.default_rng(0).normal(size=(150, 64)).astype(np.float32)
x[0] = 0  # a missing embedding, as maps of real stores have
big = np.random.default_rng(1).normal(size=(300, 64)).astype(np.float32)
sampled = projection.ProjectionConfig(method="umap", sample_above=100, sample_size=100)
with event.install_recorder("numba:compile") as recorder:
    xy = projection.project(x, projection.ProjectionConfig(method="umap"))
    big_xy = projection.project(big, sampled)  # a large map's path: sample fit + transform
after = [e.data["dispatcher"].py_func.__qualname__ for _, e in recorder.buffer if e.is_start]
json.dump({"warm": len(warm.buffer) > 0, "after": after, "shape": list(xy.shape),
           "finite": bool(np.isfinite(xy).all() and np.isfinite(big_xy).all())}, sys.stdout)
"""


@pytest.mark.slow
def test_after_the_warm_up_a_umap_map_compiles_nothing(tmp_path: Path) -> None:
    """In a fresh process with an empty numba cache (so nothing compiled earlier, in memory or
    on disk, can hide a compilation), ``warm_up_umap`` then a map of other data and a sampled
    map (fit on a sample, the rest placed with transform): numba's compile events during the
    maps must be none."""
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(
        [sys.executable, "-c", WARM_THEN_MAP],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=1200,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result == {"warm": True, "after": [], "shape": [150, 2], "finite": True}
