"""Browsing a big collection: the grid's first page and filter changes, the map at 100,000 points.

    python bench/bench_browse.py [--n 10000] [--map-n 100000] [--reps 5] [--browser]

Targets (issue 15): a grid of 10,000 items shows its first page in < 1 s and a filter change in
< 0.5 s; a 100,000-point map stays interactive. The grid is timed on a synthetic collection
(6 domains, 50 classes, captions from a 300-word vocabulary, a prompt on 30 %, 2 % failed, tags on
10 %) held in memory as the app holds it: "first page" builds the :class:`~cdir.browse.grid.Browser`
(lower-cased text, sort orders) and answers the first query; "filter change" is one more query.
The map is timed on the server side: building the plotly ``Scattergl`` figure with hover data
(``customdata`` with caption and thumbnail URL), serialising it to JSON (what the browser
receives), mapping a 200-vertex lasso and a box to ids, and naming clusters (k-means + c-TF-IDF).
With ``--browser`` the figure is also drawn in headless Chromium (``/usr/bin/chromium``, software
WebGL: no GPU) with the plotly.js that the plotly package ships: time for ``Plotly.newPlot``, and
from releasing the mouse at the end of a lasso over about half the points to the
``plotly_selected`` event.
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
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(n),
                "path": [str(root / "src" / f"img_{i:06d}.jpg") for i in range(n)],
                "rel_path": [f"{DOMAINS[i % 6]}/c{i % 50}/img_{i:06d}.jpg" for i in range(n)],
                "sha256": [f"{i:064x}" for i in range(n)],
                "domain": [DOMAINS[i % 6] for i in range(n)],
                "class": [f"c{i % 50}" for i in range(n)],
                "label_source": "folder",
                "caption": captions,
                "prompt": prompts,
                "status": np.where(rng.random(n) < 0.02, "failed", "ok"),
                "file_size": rng.integers(10_000, 5_000_000, n),
                "width": 640,
                "height": 480,
            }
        )
    )
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
        "domain + class + has prompt": GridQuery(
            domains=("photo", "sketch"), classes=("c3",), has_prompt=True
        ),
        "tag filter": GridQuery(tags=("reviewed",)),
        "sort by size, page 50": GridQuery(sort="size", descending=True, page=50),
        "map selection (2,000 ids)": GridQuery(ids=tuple(range(0, 10_000, 5))),
    }
    vector = store.image_emb[0]
    wall, _ = interleaved(
        {name: (lambda q=q: browser.query(q) and None) for name, q in queries.items()}
        | {
            "sort by similarity": lambda: (
                browser.query(GridQuery(sort="similarity"), query_vector=vector) and None
            )
        },
        reps,
    )
    return {"first page (build + query)": median(first)} | {k: median(v) for k, v in wall.items()}


def map_timings(n: int, reps: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=10, size=(40, 2))
    xy = centres[rng.integers(0, 40, n)] + rng.normal(size=(n, 2))
    words = [f"w{i}" for i in range(300)]
    hover = [
        {
            "caption": " ".join(rng.choice(words, 10)),
            "domain": DOMAINS[i % 6],
            "class": "c",
            "file": f"img_{i}.jpg",
            "thumb": f"/gradio_api/file=thumbs/{i:064x}.jpg",
        }
        for i in range(n)
    ]
    ids = list(range(n))
    colours = [h["domain"] for h in hover]
    out: dict[str, list[float]] = {
        "figure build": [],
        "figure to JSON": [],
        "lasso -> ids": [],
        "box -> ids": [],
        "event points -> ids (20,000)": [],
    }
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    lasso = {
        "lassoPoints": {"x": (12 * np.cos(angles)).tolist(), "y": (8 * np.sin(angles)).tolist()}
    }
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
        log(
            f"  map rep {rep + 1}: build {t1 - t0:.2f} s, json {t2 - t1:.2f} s, lasso "
            f"{t3 - t2:.3f} s ({len(chosen)} points)"
        )
    assert {t.type for t in fig.data} == {"scattergl"}
    texts = [h["caption"] for h in hover]
    start = time.perf_counter()
    clusters = name_clusters(xy, texts, ids, ClusterConfig(n_clusters=20))
    named = time.perf_counter() - start
    log(f"  {len(clusters)} clusters named in {named:.2f} s")
    return {k: median(v) for k, v in out.items()} | {
        "name 20 clusters (k-means + c-TF-IDF)": named,
        "figure JSON MB": size / 2**20,
    }


def browser_timings(n: int, work: Path) -> dict[str, float]:
    """Draw the n-point figure in headless Chromium and lasso about half of it."""
    import plotly
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(2)
    xy = rng.normal(size=(n, 2))
    hover = [
        {"caption": f"point {i}", "domain": DOMAINS[i % 6], "file": f"{i}.jpg"} for i in range(n)
    ]
    fig = map_figure(xy, [h["domain"] for h in hover], hover, list(range(n)), "bench")
    fig.update_layout(dragmode="lasso", width=1000, height=800)
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    (work / "figure.json").write_text(fig.to_json())
    (work / "map.html").write_text(
        f'<html><body><div id="map"></div><script src="{js.as_uri()}"></script></body></html>'
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless",
                "--no-sandbox",
                "--allow-file-access-from-files",
                "--enable-unsafe-swiftshader",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(300_000)
        page.goto((work / "map.html").as_uri())
        figure = (work / "figure.json").read_text()
        drawn = page.evaluate(
            """async (text) => { const f = JSON.parse(text);
            const t0 = performance.now();
            await Plotly.newPlot('map', f.data, f.layout);
            const gd = document.getElementById('map');
            gd.on('plotly_selected', e => { window._selected = performance.now();
                window._count = e ? e.points.length : 0; });
            return performance.now() - t0; }""",
            figure,
        )
        box = page.locator("#map .nsewdrag").first.bounding_box()
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        corners = [
            (x + 0.1 * w, y + 0.1 * h),
            (x + 0.5 * w, y + 0.1 * h),
            (x + 0.5 * w, y + 0.9 * h),
            (x + 0.1 * w, y + 0.9 * h),
        ]
        page.mouse.move(*corners[0])
        page.mouse.down()
        for cx, cy in [*corners[1:], corners[0]]:
            page.mouse.move(cx, cy, steps=5)
        released = page.evaluate("performance.now()")
        page.mouse.up()
        page.wait_for_function("window._selected !== undefined")
        selected_ms = page.evaluate("window._selected") - released
        count = page.evaluate("window._count")
        browser.close()
    log(
        f"  browser: drawn in {drawn / 1000:.2f} s, lasso of {count} points in "
        f"{selected_ms / 1000:.2f} s"
    )
    return {
        "browser draw (Plotly.newPlot)": drawn / 1000,
        "browser lasso -> plotly_selected": selected_ms / 1000,
        "lassoed points": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="grid items")
    parser.add_argument("--map-n", type=int, default=100_000, help="map points")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--browser", action="store_true", help="also draw and lasso the map in headless Chromium"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log(f"building a {args.n}-item collection")
        grid = grid_timings(synthetic_store(Path(tmp) / "store", args.n), args.reps)
    log(f"building {args.map_n}-point maps")
    maps = map_timings(args.map_n, max(1, args.reps // 2))
    if args.browser:
        with tempfile.TemporaryDirectory() as tmp:
            maps |= browser_timings(args.map_n, Path(tmp))
    targets = {"first page (build + query)": 1.0}
    rows = [[f"grid {args.n}: {k}", v, targets.get(k, 0.5)] for k, v in grid.items()]
    rows += [[f"map {args.map_n}: {k}", v, ""] for k, v in maps.items()]
    report(
        "browse",
        ["what", "seconds (median)", "target s"],
        rows,
        {"n": args.n, "map_n": args.map_n, "grid_s": grid, "map_s": maps},
    )


if __name__ == "__main__":
    main()
