"""UMAP maps of 100,000 and 1,000,000 points: a full fit against a fit on a sample, side by side.

    python bench/bench_maps_large.py [--sizes 100000,1000000] [--reps 1] [--quick]

Every variant runs in a fresh process with the numba cache warm (a warm-up process fills it
first; the first run ever compiles for about a minute), on ``clustered`` 512-d unit vectors
(one cluster per 500 points), and reports the projection's wall time and the process's peak RSS:

- ``full``: PCA to 50 dims, then UMAP fitted on every point (``sample_above`` set past N);
- ``sampled``: cdir's default above 50,000 points: UMAP fitted on 20,000 sampled rows, the rest
  placed with umap-learn's ``transform`` (exact neighbours from faiss);
- ``knn-mean``: the same sample fit, the rest placed at the membership-weighted mean of their
  15 nearest sample points (``transform``'s starting point, without its optimisation).

At the smallest size all three run, in rotating order; at the larger sizes only ``sampled``.
Neighbourhood structure kept (smallest size), on 2,000 random query points: 10-NN recall in 2-D
against the full fit's map (which 2-D neighbours are the same) and against the 512-d cosine
neighbours, the share of the 2-D 10-NN in the query's own cluster and in its group of ten sibling
clusters (``clustered`` makes clusters in groups of ten with centres at cosine ~0.6, and members
spread as far from their centre as the centres are from each other, so a map resolves the groups
far better than single clusters or single neighbours), and sklearn's trustworthiness (k=10,
cosine) on a 5,000-point subsample. Targets: 100k < 30 s,
1M < 5 min (warm numba cache).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import clustered, interleaved, log, machine, median, peak_rss_mb, report

HERE = Path(__file__).resolve()
VARIANTS = ("full", "sampled", "knn-mean")
QUERIES, TRUST_N, K = 2_000, 5_000, 10


def vectors(n: int) -> np.ndarray:
    return clustered(n, seed=0, n_clusters=max(16, n // 500))


def cluster_labels(n: int) -> np.ndarray:
    """The cluster of each row of ``vectors(n)``: ``clustered``'s draws replayed (same order)."""
    from common import DIM

    rng, labels, chunk = np.random.default_rng(0), np.empty(n, np.int64), 100_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        labels[start : start + m] = rng.integers(0, max(16, n // 500), m)
        rng.standard_normal((m, 32), dtype=np.float32)
        rng.standard_normal((m, DIM), dtype=np.float32)
    return labels


# --------------------------------------------------------------------------- child process


def child(n: int, variant: str, out: Path, sample: dict[str, int]) -> None:
    """Runs in a fresh process: projects, saves the map to ``out``, prints one JSON line."""
    start = time.perf_counter()
    from cdir.maps.projection import ProjectionConfig, _import_umap, project, warm_up_umap

    _import_umap()
    if variant == "warm-up":
        warm_up_umap()
        print(json.dumps({"import_s": time.perf_counter() - start}))
        return
    imported = time.perf_counter()
    x = vectors(n)
    made, made_cpu = time.perf_counter(), time.process_time()
    if variant == "full":
        xy = project(x, ProjectionConfig(sample_above=n))
    elif variant == "sampled":
        xy = project(x, ProjectionConfig(**sample))
    else:
        xy = knn_mean(x, ProjectionConfig(**sample))
    done, done_cpu = time.perf_counter(), time.process_time()
    np.save(out, xy)
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "project_s": done - made,
                "project_cpu_s": done_cpu - made_cpu,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def knn_mean(x: np.ndarray, config) -> np.ndarray:
    """The sample fit of cdir's sampled path, the rest at the membership-weighted mean of their
    nearest sample points (umap-learn's ``init_graph_transform`` start, no optimisation)."""
    from umap.umap_ import smooth_knn_dist

    from cdir.maps.projection import _fit_umap
    from cdir.maps.umap_sample import ExactSearchIndex, reduce_in_chunks, sample_rows

    rows = sample_rows(len(x), config.sample_size, config.seed)
    x = reduce_in_chunks(x, rows, config.pca_dims, True, config.seed)
    sample = np.ascontiguousarray(x[rows])
    index = ExactSearchIndex(sample, "euclidean")
    _, sample_xy = _fit_umap(sample, config, "euclidean", config.seed, True, index)
    xy = np.zeros((len(x), 2), np.float32)
    xy[rows] = sample_xy
    rest = np.setdiff1d(np.arange(len(x)), rows)
    for start in range(0, len(rest), 200_000):
        part = rest[start : start + 200_000]
        ind, dist = index.query(x[part], config.n_neighbors)
        sigmas, rhos = smooth_knn_dist(dist, float(config.n_neighbors), local_connectivity=0.0)
        w = np.exp(-np.maximum(dist - rhos[:, None], 0) / sigmas[:, None])
        w /= w.sum(axis=1, keepdims=True)
        xy[part] = np.einsum("qk,qkd->qd", w, sample_xy[ind])
    return xy


def run_child(n: int, variant: str, work: Path, sample: dict[str, int] | None = None) -> dict:
    out = work / f"{variant}-{n}.npy"
    got = subprocess.run(
        [
            sys.executable,
            str(HERE),
            "--child",
            str(n),
            "--variant",
            variant,
            "--out",
            str(out),
            "--sample",
            json.dumps(sample or {}),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if got.returncode:
        raise RuntimeError(f"{variant} {n} failed:\n{got.stderr[-3000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def timed(into: list[dict], n: int, variant: str, work: Path, sample: dict[str, int]) -> float:
    """One child run appended to ``into``; its projection seconds (what ``interleaved`` keeps)."""
    into.append(run_child(n, variant, work, sample))
    return into[-1]["project_s"]


# --------------------------------------------------------------------------- quality


def knn_sets(points: np.ndarray, queries: np.ndarray, k: int, cosine: bool) -> np.ndarray:
    """(Q, k) indices of each query row's k nearest rows of ``points`` (itself left out)."""
    import faiss

    pts = np.ascontiguousarray(points, dtype=np.float32)
    index = faiss.IndexFlatIP(pts.shape[1]) if cosine else faiss.IndexFlatL2(pts.shape[1])
    index.add(pts)
    _, ind = index.search(pts[queries], k + 1)
    return np.array([[j for j in row if j != q][:k] for q, row in zip(queries, ind, strict=True)])


def recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(r) & set(s)) / len(r) for r, s in zip(a, b, strict=True)]))


def quality(n: int, maps: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    from sklearn.manifold import trustworthiness

    x, labels = vectors(n), cluster_labels(n)
    rng = np.random.default_rng(1)
    queries = rng.choice(n, QUERIES, replace=False)
    high = knn_sets(x, queries, K, cosine=True)
    ref = knn_sets(maps["full"], queries, K, cosine=False) if "full" in maps else None
    sub = rng.choice(n, min(TRUST_N, n), replace=False)
    out = {}
    for name, xy in maps.items():
        low = knn_sets(xy, queries, K, cosine=False)
        out[name] = {
            "recall_vs_full_2d": recall(low, ref) if ref is not None else float("nan"),
            "recall_vs_512d": recall(low, high),
            "same_cluster_2d": float((labels[low] == labels[queries][:, None]).mean()),
            "same_group_2d": float((labels[low] // 10 == labels[queries][:, None] // 10).mean()),
            "trustworthiness": float(
                trustworthiness(x[sub], xy[sub], n_neighbors=K, metric="cosine")
            ),
        }
        log(f"  {name}: {out[name]}")
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--reps", type=int, default=1, help="runs per variant at the first size")
    p.add_argument(
        "--quick",
        action="store_true",
        help="20,000 points, sampled above 10,000 on 5,000 rows (a smoke run)",
    )
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--sample", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.variant, args.out, json.loads(args.sample))
    sample: dict[str, int] = {}
    if args.quick:
        args.sizes, args.reps = "20000", 1
        sample = {"sample_above": 10_000, "sample_size": 5_000}
    sizes = [int(s) for s in args.sizes.split(",")]
    log(f"{machine()}, load average {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-maps-large-"))
    rows, results = [], {}
    try:
        log(f"warm-up (fills the numba cache): {run_child(64, 'warm-up', work)}")
        for i, n in enumerate(sizes):
            names = VARIANTS if i == 0 else ("sampled",)
            got: dict[str, list[dict]] = {name: [] for name in names}
            interleaved(
                {
                    name: functools.partial(timed, got[name], n, name, work, sample)
                    for name in names
                },
                args.reps,
            )
            maps = {name: np.load(work / f"{name}-{n}.npy") for name in names}
            finite = {name: bool(np.isfinite(xy).all()) for name, xy in maps.items()}
            kept = quality(n, maps) if i == 0 else {}
            base = median([r["project_s"] for r in got["full"]]) if "full" in got else None
            for name in names:
                s = median([r["project_s"] for r in got[name]])
                cpu = median([r["project_cpu_s"] for r in got[name]])
                rss = max(r["peak_rss_mb"] for r in got[name])
                q = kept.get(name, {})
                results[f"{n} {name}"] = {
                    "project_s": s,
                    "project_cpu_s": cpu,
                    "peak_rss_mb": rss,
                    "finite": finite[name],
                    **q,
                }
                rows.append(
                    [
                        n,
                        name,
                        len(got[name]),
                        f"{s:.1f}",
                        f"{cpu:.1f}",
                        f"{base / s:.1f}x" if base else "-",
                        f"{rss:,.0f}",
                        *(
                            f"{q[m]:.3f}" if q else "-"
                            for m in (
                                "recall_vs_full_2d",
                                "recall_vs_512d",
                                "same_cluster_2d",
                                "same_group_2d",
                                "trustworthiness",
                            )
                        ),
                    ]
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"sample settings: {sample or 'the defaults (above 50,000 points, 20,000 rows)'}")
    report(
        "maps-large",
        [
            "points",
            "variant",
            "runs",
            "project s",
            "CPU s",
            "speed-up vs full",
            "peak RSS MiB",
            "10-NN recall vs full map",
            "10-NN recall vs 512-d",
            "10-NN same cluster",
            "10-NN same group of 10",
            "trustworthiness",
        ],
        rows,
        {"results": results},
    )
    for n, target in ((100_000, 30), (1_000_000, 300)):
        if f"{n} sampled" in results:
            s = results[f"{n} sampled"]["project_s"]
            print(
                f"{n:,} points sampled: {s:.1f} s, target < {target} s: "
                f"{'met' if s < target else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
