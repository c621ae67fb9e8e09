"""Peak memory (RSS) of ingesting many images and of serving a 100k-item collection.

    python bench/bench_memory.py [--ingest-n 10000] [--serve-n 100000] [--quick]

Each part runs in its own process, so its peak RSS (VmHWM) is its own.
- ingest: N distinct 640x480 JPEG files through ``cdir.ingest.pipeline.ingest`` with the ``tiny``
  preset (captions included). The tiny models are a few MB, so this is the memory of the pipeline
  itself (decode threads, bounded prefetch, the table, the matrices); a real preset adds its models'
  weights (ViT-B-32 ~0.6 GB, BLIP base ~1 GB in float32), measured in the serve part.
- serve: a synthetic store of N items with 512-d image and caption matrices (preset ``default``
  with a randomly initialised ViT-B-32), opened as the app does, indexes built, 200 searches in
  image and caption (CM) mode; then BLIP base is built to show what captioning queries add.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DIM, clustered, log, photo_like, report

HERE = Path(__file__).resolve()


def rss_mb(field: str = "VmRSS") -> float:
    """Current (VmRSS) or peak (VmHWM) resident memory of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_images(folder: Path, n: int) -> None:
    """``n`` distinct JPEGs: 50 photo-like bases, each file stamped with its own number."""
    from PIL import Image

    rng = np.random.default_rng(0)
    bases = [photo_like(rng) for _ in range(min(n, 50))]
    folder.mkdir(parents=True)
    for i in range(n):
        pixels = bases[i % len(bases)].copy()
        pixels[:8, :64] = np.unpackbits(np.array([i], ">u8").view(np.uint8))[None, :, None] * 255
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpg", quality=90)


def ingest_child(n: int, work: Path) -> dict:
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models

    write_images(work / "src", n)
    models = load_models("tiny", device="cpu")
    before = rss_mb()
    start = time.perf_counter()
    report_ = ingest([work / "src"], work / "store", models, IngestConfig(shared_cache=False))
    return {
        "n": n,
        "rss_before_mb": before,
        "peak_mb": rss_mb("VmHWM"),
        "seconds": time.perf_counter() - start,
        "embedded": report_.embedded,
        "captioned": report_.captioned,
    }


def synthetic_store(root: Path, n: int, models) -> None:  # noqa: ANN001
    import pandas as pd

    from cdir.store.collection import Store

    store = Store.create(root, "default", models.caption_key, DIM)
    domains = np.array(["photo", "sketch", "painting", "clipart", "render3d"])
    store.items = pd.DataFrame(
        {
            "id": np.arange(n),
            "path": [f"/nonexistent/{i}.jpg" for i in range(n)],
            "rel_path": [f"{i}.jpg" for i in range(n)],
            "sha256": [f"{i:064x}" for i in range(n)],
            "pixel_sha256": [f"{i:064x}" for i in range(n)],
            "width": 640,
            "height": 480,
            "domain": domains[np.arange(n) % 5],
            "class": [f"c{i % 300}" for i in range(n)],
            "caption": [f"caption {i}" for i in range(n)],
            "caption_source": "model",
            "status": "ok",
        }
    )
    store.image_emb = clustered(n, 0, max(16, n // 1000))
    store.caption_emb = clustered(n, 1, max(16, n // 1000))
    store.write()


def serve_child(n: int, work: Path) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from bench_ingest import build_models

    from cdir.retrieval.search import Searcher, SearchOptions
    from cdir.store.collection import Store

    out = {"n": n, "rss_start_mb": rss_mb()}
    models = build_models("ViT-B-32")
    out["rss_models_mb"] = rss_mb()
    synthetic_store(work / "store", n, models)
    store = Store.load(work / "store")
    out["rss_store_mb"] = rss_mb()
    searcher = Searcher(store, models)
    start = time.perf_counter()
    for i, mode in enumerate(["image", "caption-caption"] * 100):
        searcher.by_id(int(i * 997 % n), SearchOptions(mode=mode))
    out["search_s"] = time.perf_counter() - start
    out["rss_serving_mb"] = rss_mb()
    from transformers import BlipConfig, BlipForConditionalGeneration

    blip = BlipForConditionalGeneration(BlipConfig()).eval()  # noqa: F841 - held for the reading
    out["rss_with_blip_mb"] = rss_mb()
    out["peak_mb"] = rss_mb("VmHWM")
    return out


def run_child(part: str, n: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"cdir-bench-mem-{part}-"))
    try:
        done = subprocess.run(
            [sys.executable, str(HERE), "--child", part, "--n", str(n), "--work", str(work)],
            capture_output=True,
            text=True,
            timeout=7200,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ingest-n", type=int, default=10_000)
    p.add_argument("--serve-n", type=int, default=100_000)
    p.add_argument("--quick", action="store_true", help="500 images, 20k items")
    p.add_argument("--child", choices=["ingest", "serve"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child = ingest_child if args.child == "ingest" else serve_child
        print(json.dumps(child(args.n, args.work)))
        return
    if args.quick:
        args.ingest_n, args.serve_n = 500, 20_000
    log(f"ingesting {args.ingest_n} images (tiny preset) ...")
    ing = run_child("ingest", args.ingest_n)
    log(f"serving {args.serve_n} items ...")
    srv = run_child("serve", args.serve_n)
    rows = [
        [f"ingest {ing['n']} images (tiny)", ing["rss_before_mb"], ing["peak_mb"]],
        [f"serve {srv['n']} items (ViT-B-32)", srv["rss_models_mb"], srv["rss_serving_mb"]],
        [f"serve {srv['n']} items + BLIP base", srv["rss_models_mb"], srv["rss_with_blip_mb"]],
    ]
    rows = [
        [what, f"{before:.0f}", f"{after:.0f}", f"{after - before:.0f}"]
        for what, before, after in rows
    ]
    report(
        "memory",
        ["what", "RSS before (models loaded) MB", "RSS peak / after MB", "added MB"],
        rows,
        {"ingest": ing, "serve": srv},
    )


if __name__ == "__main__":
    main()
