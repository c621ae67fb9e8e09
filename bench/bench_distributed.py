"""Ingest throughput: the local engine against the Ray engine on the same files and preset.

    python bench/bench_distributed.py [--n 128] [--reps 2] [--workers 2] [--quick]

Photo-like 640x480 JPEGs (``common.make_jpegs``), ingested into a fresh store each run (no cache)
by ``cdir.ingest.pipeline.ingest`` and by ``cdir.ingest.ray_engine.ingest_ray`` on a local Ray with
``--workers`` single-CPU actors. Presets: ``tiny`` (captions on) and ViT-B-32 with random weights
(the ``default`` preset's embedder architecture, captions off: BLIP base captions at ~0.5/s would
swamp everything). Reported per engine: end-to-end images/s (for Ray, actor start and model load
included), and the per-worker rate: images over the workers' busy time (each shard records how
long its worker spent on it; 16-image shards), the rate that the docs' N-worker estimate starts
from, times the workers. Runs alternate engines; medians of ``--reps``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import interleaved, log, make_jpegs, median, report

from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.ray_cluster import RayPlan, start_ray
from cdir.ingest.ray_engine import ingest_ray
from cdir.models.loaded import load_models
from cdir.models.presets import CaptionerSpec, EmbedderSpec, Preset

SHARD = 16


def vit_b32() -> Preset:
    """The ``default`` preset's embedder architecture with random weights, no captioner."""
    import open_clip

    return Preset(
        "bench-vit-b-32",
        "ViT-B-32, random weights",
        EmbedderSpec("ViT-B-32", config=open_clip.get_model_config("ViT-B-32")),
        CaptionerSpec("none"),
        trained=False,
    )


def run_pair(
    preset: Preset | str, captions: str, src: Path, work: Path, args: argparse.Namespace
) -> dict[str, float | None]:
    config = IngestConfig(captions=captions, shared_cache=False)
    models = load_models(preset, device="cpu")
    busy: list[float] = []

    def local() -> float:
        shutil.rmtree(work / "local", ignore_errors=True)
        return ingest([src], work / "local", models, config).seconds["total"]

    def ray() -> float:
        shutil.rmtree(work / "ray", ignore_errors=True)
        start = time.perf_counter()
        done = ingest_ray(
            [src], work / "ray", preset, config, num_workers=args.workers, shard_size=SHARD
        )
        busy.append(done.seconds["workers_busy"])
        return time.perf_counter() - start

    wall, _ = interleaved({"local": local, "ray": ray}, args.reps)
    per_worker = args.n / median(busy)  # images per second of one worker's busy time
    return {
        "local_img_s": args.n / median(wall["local"]),
        "ray_img_s": args.n / median(wall["ray"]),
        "per_worker_img_s": per_worker,
        "ray_steady_img_s": per_worker * args.workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny preset only, 64 images")
    args = parser.parse_args()
    if args.quick:
        args.n = 64
    os.environ["CDIR_CACHE_DIR"] = "off"
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        run(Path(tmp), args)


def run(tmp: Path, args: argparse.Namespace) -> None:
    src = tmp / "src"
    make_jpegs(src, args.n)
    start = time.perf_counter()
    start_ray(RayPlan(num_workers=args.workers))
    ray_start = time.perf_counter() - start
    log(f"local Ray started in {ray_start:.1f} s")
    cases = [("tiny", "tiny", "all")] + (
        [] if args.quick else [("ViT-B-32 (random)", vit_b32(), "none")]
    )
    results = {}
    for name, preset, captions in cases:
        log(f"{name}, captions {captions}:")
        results[name] = run_pair(preset, captions, src, tmp, args)
    import ray

    ray.shutdown()
    rows = [
        [
            name,
            captions,
            r["local_img_s"],
            r["ray_img_s"],
            r["per_worker_img_s"],
            r["ray_steady_img_s"],
        ]
        for (name, _, captions), r in zip(cases, results.values(), strict=True)
    ]
    report(
        f"ingest throughput, {args.n} JPEGs 640x480, local vs Ray ({args.workers} workers)",
        [
            "preset",
            "captions",
            "local img/s",
            "ray img/s (end to end)",
            "per worker img/s",
            f"x {args.workers} workers img/s",
        ],
        rows,
        {"n": args.n, "workers": args.workers, "ray_start_s": ray_start, "results": results},
    )
    print(f"\nRay start (once per process, not in the rates): {ray_start:.1f} s")


if __name__ == "__main__":
    main()
