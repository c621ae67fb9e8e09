"""Vector search: build time, single-query latency and recall@10 of flat, IVF and HNSW.

    python bench/bench_search.py [--sizes 10000,100000,1000000] [--queries 200] [--quick]

Synthetic *clustered* 512-d unit vectors (uniform random vectors make recall meaningless): cluster
centres plus a shared low-rank spread plus a little isotropic noise, like CLIP embeddings of a
collection. Queries are fresh draws from the same distribution; recall@10 is against exact search.
Every index goes through ``cdir.store.index.build_index`` and its ``search`` (the wrappers the app
uses). Target at 1M: top-10 in under 20 ms per query with recall >= 0.95. Also the recall cost of
storing embeddings as float16 (at the 100k size, or the largest below it), and one query through
the running app with gradio_client (image and CM mode; ``tiny`` and ``default`` architectures).
HNSW is built up to ``--hnsw-max`` (the size where the store switches to IVF): a 1M HNSW build
takes hours on 2 cores.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import time
from pathlib import Path

import numpy as np
from common import DIM, clustered, log, median, percentile, report

from cdir.store.index import build_index
from cdir.store.vector_index import IndexConfig

K = 10
PER_CLUSTER = 1000  # gallery vectors per cluster
SWEEPS = {"ivf": ("nprobe", (8, 16, 32, 64)), "hnsw": ("ef_search", (32, 64, 128, 256))}


def dataset(n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and queries with ~PER_CLUSTER gallery vectors per cluster."""
    clusters = max(16, n // PER_CLUSTER)
    return clustered(n, 0, clusters), clustered(n_queries, 99, clusters)


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    return flat.search(queries, K)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def latencies(index, queries: np.ndarray) -> tuple[list[float], np.ndarray]:  # noqa: ANN001
    """Milliseconds per single-query search, and the ids found."""
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(index.search(q[None], K)[1][0])
        times.append(1000 * (time.perf_counter() - start))
    return times, np.array(found)


def measure(
    kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, config: IndexConfig
) -> list[dict]:
    """One row per search setting of ``kind`` (the default setting first)."""
    start = time.perf_counter()
    index = build_index(vectors, IndexConfig(**{**config.__dict__, "kind": kind}))
    build_s = time.perf_counter() - start
    name, values = SWEEPS.get(kind, ("", (None,)))
    default = getattr(index, name, None) if name else None
    rows = []
    for value in [default, *[v for v in values if v != default]] if name else [None]:
        if name:
            setattr(index, name, value)
        times, found = latencies(index, queries)
        rows.append(
            {
                "n": len(vectors),
                "kind": kind,
                "setting": f"{name}={value}" if name else "",
                "default": value == default,
                "build_s": build_s,
                "p50_ms": median(times),
                "p95_ms": percentile(times, 95),
                "recall10": recall(found, truth),
            }
        )
        log(
            f"  {kind} {rows[-1]['setting']}: p50 {rows[-1]['p50_ms']:.2f} ms, "
            f"recall {rows[-1]['recall10']:.3f}"
        )
    return rows


def float16_cost(n: int, n_queries: int) -> dict:
    """Recall@10 of exact search over float16-rounded vectors against float32 exact search."""
    vectors, queries = dataset(n, n_queries)
    truth = exact_truth(vectors, queries)
    rounded = vectors.astype(np.float16).astype(np.float32)
    return {
        "n": n,
        "recall10_float16": recall(exact_truth(rounded, queries), truth),
        "bytes_float32": vectors.nbytes,
        "bytes_float16": vectors.nbytes // 2,
    }


def example_workspace(
    work: Path,
    models: list[str],
    n_queries: int,
    seed: int,
    size: tuple[int, int],
    quality: int = 75,
) -> list[Path]:
    """The bundled examples ingested (no captions) into ``work/ws/examples`` with the CLI model
    arguments ``models``; returns ``n_queries`` new photo-like JPEGs (``size`` in pixels) to
    drop on the app as queries."""
    import subprocess
    import sys

    from common import REPO, photo_like
    from PIL import Image

    examples = REPO / "cdir" / "assets" / "examples"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cdir",
            "ingest",
            str(examples),
            "--store",
            str(work / "ws" / "examples"),
            "--captions",
            "none",
            "-q",
            *models,
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    rng = np.random.default_rng(seed)
    queries = []
    for i in range(n_queries):
        queries.append(work / f"q{i}.jpg")
        Image.fromarray(photo_like(rng, *size)).save(queries[-1], quality=quality)
    return queries


def app_latency(n_queries: int, port: int, preset: str) -> dict:
    """End-to-end milliseconds of one query through the running app (gradio_client), image and
    CM mode alternating, each query a new image (nothing cached), on the example collection.

    ``preset`` ``tiny`` measures the app's own overhead; ``default`` runs the real architectures
    (ViT-B-32, BLIP base; random weights saved to a model directory and loaded through
    ``--model-dir``), so a CM query includes captioning the query (30 new tokens: random weights
    never stop early; real captions stop after 10-15).
    """
    import subprocess
    import sys
    import tempfile

    from common import REPO
    from gradio_client import handle_file

    work = Path(tempfile.mkdtemp(prefix="cdir-bench-app-"))
    models = ["--preset", preset]
    if preset == "default":
        from bench_caption import save_random_default_models

        save_random_default_models(work / "models")
        models += ["--model-dir", str(work / "models")]
    queries = example_workspace(work, models, 2 * n_queries + 2, seed=7, size=(320, 240))
    env = {**os.environ, "CDIR_CACHE_DIR": str(work / "cache")}
    app = subprocess.Popen(
        [sys.executable, "app.py", "--store", str(work / "ws"), "--port", str(port), *models],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = connect(f"http://127.0.0.1:{port}/")
        times: dict[str, list[float]] = {"image": [], "caption": []}
        for i, path in enumerate(queries):  # alternate the modes; the first two warm up
            mode = "image" if i % 2 else "caption"
            start = time.perf_counter()
            client.predict(
                collection="examples",
                image=handle_file(str(path)),
                mode=mode,
                api_name="/search_image",
            )
            if i >= 2:
                times[mode].append(1000 * (time.perf_counter() - start))
        return {
            "preset": preset,
            **{
                f"{m}_{stat}_ms": f(t)
                for m, t in times.items()
                for stat, f in (("p50", median), ("p95", lambda v: percentile(v, 95)))
            },
        }
    finally:
        app.terminate()
        app.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def connect(url: str, timeout: float = 300):  # noqa: ANN201
    from gradio_client import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(url, verbose=False)
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--kinds", default="flat,ivf,hnsw")
    p.add_argument(
        "--hnsw-max",
        type=int,
        default=IndexConfig().ivf_from,
        help="build HNSW only up to this size (1M takes hours on 2 cores; the store "
        "uses IVF from this size)",
    )
    p.add_argument("--app-queries", type=int, default=20, help="per mode; 0 skips the app")
    p.add_argument("--port", type=int, default=7899)
    p.add_argument(
        "--app-presets",
        default="tiny,default",
        help="presets of the app measurement (default: tiny,default)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="10k vectors, 50 queries, 3 app queries per mode with tiny models",
    )
    args = p.parse_args()
    if args.quick:
        args.sizes, args.queries, args.app_queries, args.app_presets = "10000", 50, 3, "tiny"
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict] = []
    for n in sizes:
        log(f"{n} vectors ...")
        vectors, queries = dataset(n, args.queries)
        truth = exact_truth(vectors, queries)
        for kind in args.kinds.split(","):
            if kind == "hnsw" and n > args.hnsw_max:
                log(f"  hnsw: not built at {n} (above --hnsw-max {args.hnsw_max})")
                continue
            rows += measure(kind, vectors, queries, truth, IndexConfig())
            gc.collect()
        del vectors
        gc.collect()
    fp16 = float16_cost(min(100_000, max(sizes)), args.queries)
    apps = (
        [app_latency(args.app_queries, args.port, preset) for preset in args.app_presets.split(",")]
        if args.app_queries
        else []
    )
    table = [
        [
            r["n"],
            r["kind"],
            r["setting"] + (" (default)" if r["default"] and r["setting"] else ""),
            f"{r['build_s']:.1f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p95_ms']:.2f}",
            f"{r['recall10']:.3f}",
        ]
        for r in rows
    ]
    report(
        "search",
        ["N", "index", "setting", "build s", "p50 ms", "p95 ms", "recall@10"],
        table,
        {"rows": rows, "float16": fp16, "queries": args.queries, "app": apps},
    )
    print(
        f"\nfloat16 storage at {fp16['n']}: recall@10 {fp16['recall10_float16']:.4f} of exact "
        f"float32, {fp16['bytes_float16'] / 2**20:.0f} MB instead of "
        f"{fp16['bytes_float32'] / 2**20:.0f} MB"
    )
    for app in apps:
        print(
            f"one query through the app ({app['preset']} preset, gradio_client): image mode "
            f"p50 {app['image_p50_ms']:.0f} ms (p95 {app['image_p95_ms']:.0f}), CM mode p50 "
            f"{app['caption_p50_ms']:.0f} ms (p95 {app['caption_p95_ms']:.0f})"
        )


if __name__ == "__main__":
    main()
