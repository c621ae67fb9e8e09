"""Peak memory of ingesting a 🤗 dataset against a folder of the same images.

    nice -n 10 python bench/bench_hf_memory.py [--n 100000] [--side 32] [--captions none]

The same N distinct small PNGs (``--side`` pixels square) are written once as a folder and once
as a ``save_to_disk`` dataset (image, style, label, caption, prompt columns; built from a
generator, so the builder never holds them all). Each ingest (``tiny`` preset) runs in its own
process so its peak RSS (VmHWM) is its own; the dataset ingest streams rows in batches and writes
each image into the store's files area. Tiny images keep the run short: the memory compared is the
pipeline's, not the pixels'.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_memory import rss_mb
from common import log, report

HERE = Path(__file__).resolve()


def png(i: int, side: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(i)
    pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def make_sources(work: Path, n: int, side: int) -> None:
    import datasets

    folder = work / "folder"
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{i:06d}.png").write_bytes(png(i, side))

    def rows():  # noqa: ANN202
        for i in range(n):
            yield {
                "image": {"bytes": (folder / f"{i:06d}.png").read_bytes(), "path": None},
                "file_name": f"{i:06d}.png",
                "style": ("photo", "sketch")[i % 2],
                "label": f"c{i % 100}",
                "caption": f"image number {i}",
                "prompt": f"prompt {i}",
            }

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "file_name": datasets.Value("string"),
            "style": datasets.Value("string"),
            "label": datasets.Value("string"),
            "caption": datasets.Value("string"),
            "prompt": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_generator(rows, features=features, cache_dir=str(work / "hf-cache"))
    ds.save_to_disk(str(work / "dataset"))
    del ds
    shutil.rmtree(work / "hf-cache", ignore_errors=True)


def ingest_child(source: Path, store: Path, captions: str) -> dict:
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models

    models = load_models("tiny", device="cpu")
    before = rss_mb()
    start = time.perf_counter()
    result = ingest([source], store, models, IngestConfig(captions=captions, shared_cache=False))
    return {
        "rss_before_mb": round(before, 1),
        "peak_mb": round(rss_mb("VmHWM"), 1),
        "seconds": round(time.perf_counter() - start, 1),
        "n_ok": result.counts["n_ok"],
    }


def run_child(source: Path, store: Path, captions: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            str(HERE),
            "--child",
            str(source),
            "--store",
            str(store),
            "--captions",
            captions,
        ],
        capture_output=True,
        text=True,
        timeout=4 * 3600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--side", type=int, default=32)
    p.add_argument("--captions", choices=("all", "none"), default="none")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(ingest_child(args.child, args.store, args.captions)))
        return
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-hf-"))
    try:
        log(f"writing {args.n} images as a folder and as a saved dataset ...")
        start = time.perf_counter()
        make_sources(work, args.n, args.side)
        log(f"  {time.perf_counter() - start:.0f} s")
        results = {}
        for name in ("folder", "dataset"):
            log(f"ingesting the {name} ...")
            results[name] = run_child(work / name, work / f"store-{name}", args.captions)
            log(f"  {results[name]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        [name, r["n_ok"], r["rss_before_mb"], r["peak_mb"], r["seconds"]]
        for name, r in results.items()
    ]
    report(
        "bench_hf_memory",
        ["source", "items", "RSS before (MiB)", "peak RSS (MiB)", "seconds"],
        rows,
        {"n": args.n, "side": args.side, "captions": args.captions, **results},
    )


if __name__ == "__main__":
    main()
