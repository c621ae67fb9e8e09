"""Review at scale: a 20,000-item collection (hand-built hashes) with 3,000 planted duplicate
families; the time from a click on "Find" to the first page of groups: the one duplicates path
(tiers, saved decisions, keep of every group; the first time, and again from the groups the
collection keeps), the decision rows and progress, and the HTML of the first page of 50.
Target (issue 25): the first page under 1 s.

    python bench/bench_review.py [--items 20000] [--groups 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cdir import api  # noqa: E402
from cdir.store.collection import Store, normalise_items  # noqa: E402

PAGE = 50


def collection(root: Path, n: int, groups: int, seed: int = 0) -> Store:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    pixels = [f"p{i}" for i in range(n)]
    for g in range(groups):  # pairs and triples: exact copies and 2-bit perceptual copies
        a = g * 3
        pixels[a + 1] = pixels[a]
        hashes[a + 2] = hashes[a] ^ np.uint64(3)
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(n),
                "path": [str(root / f"{i}.jpg") for i in range(n)],
                "rel_path": [f"img_{i}.jpg" for i in range(n)],
                "sha256": [f"s{i}" for i in range(n)],
                "pixel_sha256": pixels,
                "phash": [f"{int(h):016x}" for h in hashes],
                "phash_mirror": [f"{int(h):016x}" for h in hashes],
                "width": 640,
                "height": 480,
                "file_size": 50_000,
                "status": "ok",
                "parent_id": -1,
                "tile": -1,
            }
        )
    )
    return Store(root, items=items)


OPEN = """
import sys, time, json
start = time.perf_counter()
from cdir import api
from cdir.app.views import review_html
from cdir.store.collection import Store
imported = time.perf_counter()
store = Store.load(sys.argv[1])
groups = api.find_duplicates(store, api.duplicate_config(["exact", "perceptual"]))
rows = api.duplicate_rows(store, groups[:50])
api.duplicates_progress(store, groups)
review_html(store, groups[:50])
print(json.dumps({"imports": imported - start, "open": time.perf_counter() - imported}))
"""


def cold_open(root: Path) -> dict[str, float]:
    """A fresh process opens the review: imports, then the first page (groups kept in the
    collection at ingest)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", OPEN, str(root)],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=3_000)
    args = parser.parse_args()
    from cdir.app.views import review_html
    from cdir.duplicates.groups import warm_cache

    with tempfile.TemporaryDirectory() as tmp:
        store = collection(Path(tmp), args.items, args.groups)
        (Path(tmp) / "meta.json").write_text('{"revision": 1}')  # a saved collection
        store.write()
        config = api.duplicate_config(["exact", "perceptual"])
        times = {}
        start = time.perf_counter()
        warm_cache(store)
        times["groups and keeps, first time (at the end of ingest)"] = time.perf_counter() - start
        cold = cold_open(Path(tmp))
        times["cold: a fresh process, imports"] = cold["imports"]
        times["cold: a fresh process, first page"] = cold["open"]
        start = time.perf_counter()
        groups = api.find_duplicates(store, config)
        times["groups and keeps, kept in the collection"] = time.perf_counter() - start
        mark = time.perf_counter()
        done, total = api.duplicates_progress(store, groups)
        html = review_html(store, groups[:PAGE])
        times["first page (rows, progress, HTML)"] = time.perf_counter() - mark
        times["open again to first page"] = time.perf_counter() - start
        api.decide(store, groups[0], groups[0].members[1], "keep")
        start = time.perf_counter()
        groups = api.find_duplicates(store, config)
        review_html(store, groups[:PAGE])
        times["after a decision, first page"] = time.perf_counter() - start
    print(
        f"{args.items} items, {len(groups)} groups, {done} of {total} decided; "
        f"page of {PAGE}: {len(html) // 1024} KiB of HTML"
    )
    for k, v in times.items():
        print(f"| {k} | {v:.2f} s |")
    print(
        "BENCH "
        + json.dumps(
            {k: round(v, 3) for k, v in times.items()}
            | {"groups": len(groups), "load_avg_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
        )
    )


if __name__ == "__main__":
    main()
