"""Time to first map: PCA to 50 dims then UMAP, in fresh processes, with and without numba's cache.

    python bench/bench_maps.py [--sizes 20000,100000] [--reps 2] [--quick]

Each measurement runs in a new Python process (as the app after a restart): ``cold`` starts with
an empty numba cache (everything compiles), ``warm`` reuses the cache the cold run filled. The
child imports umap, projects with ``cdir.maps.projection.cached_projection`` (into a fresh store
folder) and calls it again (the cached projection). Target: 20k points under 15 s once compiled.
"first map" is the import of umap plus the projection, as in a fresh process; the app imports
umap in a background thread at start, so there a first map costs the projection alone.
Above 50,000 points the projection is UMAP fitted on a 20,000-row sample with the rest placed by
``transform`` (``ProjectionConfig.sample_above``); ``bench_maps_large.py`` compares it with a
full fit and measures 1,000,000 points.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import clustered, log, median, report

HERE = Path(__file__).resolve()


def child(n: int, store: Path) -> None:
    """Runs in the fresh process: prints one JSON line of timings."""
    start = time.perf_counter()
    from cdir.maps.projection import ProjectionConfig, _import_umap, cached_projection

    _import_umap()
    imported = time.perf_counter()
    vectors = clustered(n, seed=0, n_clusters=max(16, n // 500))
    made = time.perf_counter()
    config = ProjectionConfig(method="umap", pca_dims=50)
    cached_projection(store, {"kind": "bench"}, vectors, config)
    projected = time.perf_counter()
    cached_projection(store, {"kind": "bench"}, vectors, config)
    cached = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "project_s": projected - made,
                "cached_s": cached - projected,
                "first_map_s": (imported - start) + (projected - made),
            }
        )
    )


def run_child(n: int, numba_dir: Path, work: Path) -> dict:
    store = Path(tempfile.mkdtemp(dir=work))  # no cached projection from an earlier run
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_dir)}
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", str(n), "--store", str(store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="20000,100000")
    p.add_argument("--reps", type=int, default=2, help="warm runs per size")
    p.add_argument("--quick", action="store_true", help="2,000 points, one warm run")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.store)
    if args.quick:
        args.sizes, args.reps = "2000", 1
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-maps-"))
    numba_dir = work / "numba"
    rows, results = [], {}
    try:
        for n in sizes:
            runs = {"cold": [run_child(n, numba_dir, work)]} if n == sizes[0] else {}
            log(f"{n} points: cold {runs['cold'][0] if runs else '-'}")
            if n != sizes[0]:  # the first run at a new size may compile a path the first did not
                runs["first at this size"] = [run_child(n, numba_dir, work)]
            runs["warm"] = [run_child(n, numba_dir, work) for _ in range(args.reps)]
            log(f"{n} points: warm {runs['warm']}")
            for label, got in runs.items():
                summary = {k: median([r[k] for r in got]) for k in got[0]}
                results[f"{n} {label}"] = summary
                rows.append(
                    [
                        n,
                        label,
                        len(got),
                        f"{summary['import_s']:.1f}",
                        f"{summary['project_s']:.1f}",
                        f"{summary['first_map_s']:.1f}",
                        f"{summary['cached_s']:.2f}",
                    ]
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(
        "maps",
        [
            "points",
            "numba cache",
            "runs",
            "import umap s",
            "PCA+UMAP s",
            "first map s",
            "cached map s",
        ],
        rows,
        {"results": results},
    )
    warm = results.get(f"{sizes[0]} warm", {})
    print(
        f"\nfirst map of {sizes[0]} points after the first compile: "
        f"{warm.get('first_map_s', float('nan')):.1f} s in a fresh process, "
        f"{warm.get('project_s', float('nan')):.1f} s in the app (which imports umap at start, "
        f"in the background); target < 15 s for 20k"
    )


if __name__ == "__main__":
    main()
