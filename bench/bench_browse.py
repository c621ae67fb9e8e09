"""Browsing a big collection: the grid's first page and filter changes, the map at 100,000 points.

    python bench/bench_browse.py [--n 10000] [--map-n 100000] [--reps 5]

Targets (issue 15): a grid of 10,000 items shows its first page in < 1 s and a filter change in
< 0.5 s; a 100,000-point map stays interactive. The grid is timed on a synthetic collection
(6 domains, 50 classes, captions from a 300-word vocabulary, a prompt on 30 %, 2 % failed, tags on
10 %) held in memory as the app holds it: "first page" builds the :class:`~cdir.browse.grid.Browser`
(lower-cased text, sort orders) and answers the first query; "filter change" is one more query.
The map is timed on the server side: building the plotly ``Scattergl`` figure with hover data
(``customdata`` with caption and thumbnail URL), serialising it to JSON (what the browser
receives), mapping a 200-vertex lasso and a box to ids, and naming clusters (k-means + c-TF-IDF).
Drawing in the browser (WebGL) is not timed here.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import clustered, interleaved, log, median, report

from cdir.browse.grid import Browser, GridQuery
from cdir.maps.clusters import ClusterConfig, name_clusters
from cdir.maps.plots import map_figure
from cdir.maps.selection import ids_in_region, selected_ids
from cdir.store.collection import Store, normalise_items
from cdir.store.tags import add_tags

DOMAINS = ("photo", "sketch", "painting", "clipart", "infograph", "quickdraw")


def synthetic_store(root: Path, n: int, seed: int = 0) -> Store:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(300)] + ["cat", "dog", "car", "tree"])
    captions = [" ".join(rng.choice(words, 8)) for _ in range(n)]
    prompts = [" ".join(rng.choice(words, 12)) if rng.random() < 0.3 else None for _ in range(n)]
    items = normalise_items(pd.DataFrame({
        "id": range(n), "path": [str(root / "src" / f"img_{i:06d}.jpg") for i in range(n)],
        "rel_path": [f"{DOMAINS[i % 6]}/c{i % 50}/img_{i:06d}.jpg" for i in range(n)],
        "sha256": [f"{i:064x}" for i in range(n)], "domain": [DOMAINS[i % 6] for i in range(n)],
        "class": [f"c{i % 50}" for i in range(n)], "label_source": "folder",
        "caption": captions, "prompt": prompts,
        "status": np.where(rng.random(n) < 0.02, "failed", "ok"),
        "file_size": rng.integers(10_000, 5_000_000, n), "width": 640, "height": 480}))
    root.mkdir(parents=True, exist_ok=True)
    store = Store(root, items=items, image_emb=clustered(n, seed, max(16, n // 200)))
    add_tags(root, rng.choice(n, n // 10, replace=False).tolist(), ["reviewed"])
    return store


def grid_timings(store: Store, reps: int) -> dict[str, float]:
    first = []
    for _ in range(reps):
        start = time.perf_counter()
        browser = Browser(store)
        browser.query(GridQuery())
        first.append(time.perf_counter() - start)
    queries = {
        "domain filter": GridQuery(domains=("sketch",)),
        "text filter (2 words)": GridQuery(text="cat w1"),
        "domain + class + has prompt": GridQuery(domains=("photo", "sketch"), classes=("c3",),
                                                 has_prompt=True),
        "tag filter": GridQuery(tags=("reviewed",)),
        "sort by size, page 50": GridQuery(sort="size", descending=True, page=50),
        "map selection (2,000 ids)": GridQuery(ids=tuple(range(0, 10_000, 5))),
    }
    vector = store.image_emb[0]
    wall, _ = interleaved({name: (lambda q=q: browser.query(q) and None)
                           for name, q in queries.items()}
                          | {"sort by similarity": lambda: browser.query(
                              GridQuery(sort="similarity"), query_vector=vector) and None}, reps)
    return {"first page (build + query)": median(first)} | {k: median(v) for k, v in wall.items()}


def map_timings(n: int, reps: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=10, size=(40, 2))
    xy = centres[rng.integers(0, 40, n)] + rng.normal(size=(n, 2))
    words = [f"w{i}" for i in range(300)]
    hover = [{"caption": " ".join(rng.choice(words, 10)), "domain": DOMAINS[i % 6], "class": "c",
              "file": f"img_{i}.jpg", "thumb": f"/gradio_api/file=thumbs/{i:064x}.jpg"}
             for i in range(n)]
    ids = list(range(n))
    colours = [h["domain"] for h in hover]
    out: dict[str, list[float]] = {"figure build": [], "figure to JSON": [], "lasso -> ids": [],
                                   "box -> ids": [], "event points -> ids (20,000)": []}
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    lasso = {"lassoPoints": {"x": (12 * np.cos(angles)).tolist(),
                             "y": (8 * np.sin(angles)).tolist()}}
    box = {"range": {"x": [-5, 5], "y": [-5, 5]}}
    event = {"points": [{"customdata": [i, "c"], "curveNumber": 0} for i in range(20_000)]}
    size = 0
    for rep in range(reps):
        t0 = time.perf_counter()
        fig = map_figure(xy, colours, hover, ids, "bench")
        t1 = time.perf_counter()
        size = len(fig.to_json())
        t2 = time.perf_counter()
        chosen = ids_in_region(xy, ids, lasso)
        t3 = time.perf_counter()
        ids_in_region(xy, ids, box)
        t4 = time.perf_counter()
        selected_ids(event)
        t5 = time.perf_counter()
        for key, value in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            out[key].append(value)
        log(f"  map rep {rep + 1}: build {t1 - t0:.2f} s, json {t2 - t1:.2f} s, lasso "
            f"{t3 - t2:.3f} s ({len(chosen)} points)")
    assert {t.type for t in fig.data} == {"scattergl"}
    texts = [h["caption"] for h in hover]
    start = time.perf_counter()
    clusters = name_clusters(xy, texts, ids, ClusterConfig(n_clusters=20))
    named = time.perf_counter() - start
    log(f"  {len(clusters)} clusters named in {named:.2f} s")
    return {k: median(v) for k, v in out.items()} | {
        "name 20 clusters (k-means + c-TF-IDF)": named, "figure JSON MB": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="grid items")
    parser.add_argument("--map-n", type=int, default=100_000, help="map points")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log(f"building a {args.n}-item collection")
        grid = grid_timings(synthetic_store(Path(tmp) / "store", args.n), args.reps)
    log(f"building {args.map_n}-point maps")
    maps = map_timings(args.map_n, max(1, args.reps // 2))
    targets = {"first page (build + query)": 1.0}
    rows = [[f"grid {args.n}: {k}", v, targets.get(k, 0.5)] for k, v in grid.items()]
    rows += [[f"map {args.map_n}: {k}", v, ""] for k, v in maps.items()]
    report("browse", ["what", "seconds (median)", "target s"], rows,
           {"n": args.n, "map_n": args.map_n, "grid_s": grid, "map_s": maps})


if __name__ == "__main__":
    main()
