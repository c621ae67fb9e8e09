"""Ingest throughput: the real pipeline against the model's raw speed and a naive loop.

    python bench/bench_ingest.py [--n 256] [--reps 4] [--sweep] [--quick]

ViT-B-32 (preset ``default`` architecture) with random weights: speed does not depend on weights.
(a) raw: batched ``encode_image`` on tensors decoded and preprocessed beforehand (batch 32);
(b) pipeline: ``cdir.ingest.pipeline.ingest(..., captions="none")`` from JPEG files on disk to a
    written store (hashing, decoding, thumbnails, pHashes, preprocessing, embedding, cache);
(c) naive: decode, preprocess and embed one image at a time;
(o) pipeline, one model call: the pipeline with each batch embedded as one call on all torch
    threads (``IngestConfig(embed_streams=1)``), as before ``cdir.models.streams``;
(l) loader: a plain PyTorch loop (``bench/plain_loader.py``): a ``DataLoader`` with 2 worker
    processes that decode and preprocess (open_clip's transform), batch 32, open_clip's own
    ViT-B-32 under ``inference_mode``; the pipeline must be at least as fast (issue 17, part 5);
(d) with ``--sweep``: the pipeline with the reader as it was before (full-size pHashes and
    thumbnail, torch preprocessing in the reader threads), workers=1 and batch=16.
A last table gives the reader's CPU cost per image, as now and as before, at three image sizes.
The variants run in rotating order, ``--reps`` rounds; "paired" ratios are the median over rounds
of runs made next to each other (the steadiest figure on a shared machine), "best" compares each
variant's fastest run. Targets: pipeline/raw >= 0.9, pipeline/naive >= 3, pipeline/loader >= 1.
Then (``bench/ingest_reduced.py``, skipped with ``--no-large``) 4000x3000 JPEGs decoded in full
and reduced: reader CPU, pipeline images/s, embedding cosine, pHash bits, exact groups, and the
duplicate tiers' precision/recall on an enlarged calibration set (``scripts/make_dupes_set.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import interleaved, log, make_jpegs, median, pipeline_run, report, table
from legacy_reader import legacy_read_one, legacy_run, unreduced
from plain_loader import loader_run, open_clip_pair

from cdir.imaging.decode import load_rgb
from cdir.ingest.pipeline import IngestConfig
from cdir.ingest.reader import read_one
from cdir.models.encoders import ClipEmbedder
from cdir.models.loaded import Models
from cdir.models.presets import EmbedderSpec, get_preset
from cdir.store.collection import Store


def build_models(arch: str) -> Models:
    """The preset ``default`` embedder architecture, built through cdir's own loader (random)."""
    import open_clip

    from cdir.models.encoders import load_open_clip

    spec = EmbedderSpec(arch, config=open_clip.get_model_config(arch))
    return Models(get_preset("default"), load_open_clip(spec, "default", None, "cpu"))


def raw_run(models: Models, tensors: torch.Tensor, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(tensors), batch):
        models.embedder.encode_image_tensors(tensors[i : i + batch])
    return time.perf_counter() - start


def naive_run(models: Models, paths: list[Path]) -> None:
    embedder = models.embedder
    for path in paths:
        embedder.encode_image_tensors(embedder.preprocess(load_rgb(path))[None])


WORKER_CPU: list[float] = []  # CPU seconds of the loader's worker processes, per run


def plain_run(
    model,
    preprocess,
    paths: list[Path],
    args: argparse.Namespace,  # noqa: ANN001
) -> None:
    """The plain loop; the CPU seconds its workers used (reaped children) go to WORKER_CPU."""
    import resource

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = children()
    loader_run(model, preprocess, paths, args.batch, args.workers)
    WORKER_CPU.append(children() - before)


def agreement(
    models: Models,
    src: Path,
    work: Path,
    config: IngestConfig,
    reference: np.ndarray,
    paths: list[Path],
) -> float:
    """Lowest cosine between the pipeline's embeddings and the reference preprocessing's."""
    pipeline_run(models, src, work, config)
    store = Store.load(work / "store")
    by_name = {Path(p).name: i for i, p in enumerate(store.items["path"])}
    got = store.image_emb[[by_name[p.name] for p in paths]]
    return float((got * reference).sum(axis=1).min())


def run_all(jobs: list) -> None:
    for job in jobs:
        job()


def reader_cost(embedder: ClipEmbedder, work: Path, reps: int) -> list[list]:
    """CPU ms per image of the reader alone (one thread), as now and as before, by image size."""
    from functools import partial

    from cdir.imaging.decode import DecodeLimits

    rows = []
    for size in ((640, 480), (1024, 1024), (4000, 3000)):
        paths = make_jpegs(work / f"sizes{size[0]}", 8, size, seed=3)
        now = [
            partial(read_one, i, p, None, embedder.prepare, DecodeLimits())
            for i, p in enumerate(paths)
        ]
        before = [
            partial(legacy_read_one, i, p, None, unreduced(embedder.preprocess), DecodeLimits())
            for i, p in enumerate(paths)
        ]
        _, cpu = interleaved(
            {"now": lambda jobs=now: run_all(jobs), "before": lambda jobs=before: run_all(jobs)},
            reps,
        )
        now_ms, before_ms = (1000 * median(cpu[k]) / len(paths) for k in ("now", "before"))
        rows.append(
            [
                f"reader, {size[0]}x{size[1]} JPEG",
                f"{before_ms:.1f}",
                f"{now_ms:.1f}",
                f"{before_ms / now_ms:.2f}x",
            ]
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=256, help="images on disk")
    p.add_argument("--naive-n", type=int, default=16, help="images in the naive loop")
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--batch", type=int, default=32, help="batch of the raw baseline")
    p.add_argument("--arch", default="ViT-B-32")
    p.add_argument(
        "--sweep", action="store_true", help="also the reader as before, workers=1 and batch=16"
    )
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--no-large", action="store_true", help="skip the 4000x3000 JPEG tables")
    p.add_argument("--large-n", type=int, default=12, help="4000x3000 JPEGs")
    p.add_argument("--quick", action="store_true", help="a small smoke run (32 images, 1 rep)")
    args = p.parse_args()
    if args.quick:
        args.n, args.naive_n, args.reps, args.large_n = 32, 4, 1, 4
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-ingest-"))
    try:
        log(f"writing {args.n} JPEG files (640x480) ...")
        paths = make_jpegs(work / "src", args.n)
        models = build_models(args.arch)
        tensors = torch.stack([models.embedder.preprocess(load_rgb(p)) for p in paths])
        reference = models.embedder.encode_image_tensors(tensors)
        base = IngestConfig(captions="none", predict_domains=False, shared_cache=False)
        # the model as one call on all torch threads per batch, as before cdir.models.streams
        pipelines = {"pipeline": base, "pipeline, one model call": replace(base, embed_streams=1)}
        if args.sweep:
            pipelines |= {
                "pipeline workers=1": replace(base, workers=1),
                "pipeline batch=16": replace(base, batch_size=16),
            }
        plain_model, plain_preprocess = open_clip_pair(args.arch)
        variants = {
            "raw": lambda: raw_run(models, tensors, args.batch),
            "naive": lambda: naive_run(models, paths[: args.naive_n]),
            "loader": lambda: plain_run(plain_model, plain_preprocess, paths, args),
        }
        if args.sweep:
            variants["pipeline, reader as before"] = lambda: legacy_run(
                models, work / "src", work, base
            )
        for name, cfg in pipelines.items():
            variants[name] = lambda cfg=cfg: pipeline_run(models, work / "src", work, cfg)
        naive_run(models, paths[:2])  # warm-up
        wall, cpu = interleaved(variants, args.reps)
        cosine = agreement(models, work / "src", work, base, reference, paths)
        log("reader CPU per image by size ...")
        readers = reader_cost(models.embedder, work, max(2, args.reps // 2))
        summarise(args, variants, wall, cpu, cosine)
        print(
            "\n"
            + table(
                ["one image through the reader", "CPU ms before", "CPU ms now", "saved"], readers
            )
        )
        print("BENCH " + json.dumps({"bench": "ingest-reader", "rows": readers}))
        if not args.no_large:
            from ingest_reduced import large_jpegs

            large_jpegs(models, work, args.large_n, max(2, args.reps // 2), args.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summarise(
    args: argparse.Namespace, variants: dict, wall: dict, cpu: dict, cosine: float
) -> None:
    """Ratios of runs made next to each other (median over the rounds), and of the best runs."""
    counts = {name: args.naive_n if name == "naive" else args.n for name in variants}
    per_run = {k: np.array([counts[k] / t for t in v]) for k, v in wall.items()}
    paired = {k: float(np.median(v / per_run["raw"])) for k, v in per_run.items()}
    best = {k: float(v.max()) for k, v in per_run.items()}
    naive = {k: float(np.median(v / per_run["naive"])) for k, v in per_run.items()}
    cpu_ms = {k: 1000 * median(v) / counts[k] for k, v in cpu.items()}
    # all processes: on a saturated 2-core box, images/s follows CPU per image
    total_ms = dict(cpu_ms)
    if WORKER_CPU:
        total_ms["loader"] = (
            1000 * median([c + w for c, w in zip(cpu["loader"], WORKER_CPU, strict=True)]) / args.n
        )
    loader = {k: float(np.median(v / per_run["loader"])) for k, v in per_run.items()}
    rows = [
        [
            k,
            f"{median(list(per_run[k])):.2f}",
            f"{best[k]:.2f}",
            f"{paired[k]:.2f}",
            f"{best[k] / best['raw']:.2f}",
            f"{naive[k]:.2f}",
            f"{loader[k]:.2f}",
            f"{cpu_ms[k]:.0f}",
            f"{total_ms[k]:.0f}",
        ]
        for k in variants
    ]
    report(
        "ingest",
        [
            "variant",
            "images/s (median)",
            "images/s (best)",
            "x raw (paired)",
            "x raw (best)",
            "x naive (paired)",
            "x loader (paired)",
            "CPU ms/image (main process)",
            "CPU ms/image (all processes)",
        ],
        rows,
        {
            "arch": args.arch,
            "n": args.n,
            "reps": args.reps,
            "torch_threads": torch.get_num_threads(),
            "x_raw_paired": paired,
            "x_raw_best": {k: v / best["raw"] for k, v in best.items()},
            "x_naive_paired": naive,
            "x_loader_paired": loader,
            "cpu_ms_per_image": cpu_ms,
            "cpu_ms_per_image_all_processes": total_ms,
            "min_cosine_pipeline_vs_reference": cosine,
            "wall_s": wall,
            "cpu_s": cpu,
        },
    )
    print(
        f"\npipeline/loader = {loader['pipeline']:.2f} paired, "
        f"{best['pipeline'] / best['loader']:.2f} best-of (target >= 1.0; plain DataLoader, "
        f"{args.workers} workers, batch {args.batch}); CPU per image, all processes: "
        f"pipeline {total_ms['pipeline']:.0f} ms, loader {total_ms['loader']:.0f} ms "
        f"(loader/pipeline = {total_ms['loader'] / total_ms['pipeline']:.2f})"
    )
    before = "pipeline, one model call"
    print(
        f"pipeline with one model call per batch (before)/loader = {loader[before]:.2f} paired; "
        f"CPU per image {total_ms[before]:.0f} ms"
    )
    print(
        f"pipeline/raw = {paired['pipeline']:.2f} paired, "
        f"{best['pipeline'] / best['raw']:.2f} best-of (target >= 0.9); pipeline/naive = "
        f"{naive['pipeline']:.2f} (target >= 3); min cosine to the reference preprocessing "
        f"= {cosine:.5f}; torch threads = {torch.get_num_threads()}"
    )


if __name__ == "__main__":
    main()
