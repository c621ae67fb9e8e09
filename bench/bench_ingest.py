"""Ingest throughput: the real pipeline against the model's raw speed and a naive loop.

    python bench/bench_ingest.py [--n 256] [--reps 3] [--quick] [--sweep]

ViT-B-32 (preset ``default`` architecture) with random weights: speed does not depend on weights.
(a) raw: batched ``encode_image`` on tensors decoded and preprocessed beforehand (batch 32);
(b) pipeline: ``cdir.pipeline.ingest(..., captions="none")`` from JPEG files on disk to a written
    store (hashing, decoding, thumbnails, perceptual hashes, preprocessing, embedding, cache);
(c) naive: decode, preprocess and embed one image at a time.
Targets: pipeline/raw >= 0.9, pipeline/naive >= 3.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
from common import interleaved, log, make_jpegs, median, report

from cdir.decode import load_rgb
from cdir.encoders import ClipEmbedder
from cdir.models import Models
from cdir.pipeline import IngestConfig, ingest
from cdir.presets import EmbedderSpec, get_preset
from cdir.reader import read_one
from cdir.store import Store


def build_models(arch: str) -> Models:
    """The preset ``default`` embedder architecture, built through cdir's own loader (random)."""
    import open_clip

    from cdir.encoders import load_open_clip

    spec = EmbedderSpec(arch, config=open_clip.get_model_config(arch))
    return Models(get_preset("default"), load_open_clip(spec, "default", None, "cpu"))


def raw_run(models: Models, tensors, batch: int) -> float:  # noqa: ANN001
    import time

    start = time.perf_counter()
    for i in range(0, len(tensors), batch):
        models.embedder.encode_image_tensors(tensors[i : i + batch])
    return time.perf_counter() - start


def naive_run(models: Models, paths: list[Path]) -> None:
    embedder = models.embedder
    for path in paths:
        embedder.encode_image_tensors(embedder.preprocess(load_rgb(path))[None])


def pipeline_run(models: Models, src: Path, work: Path, config: IngestConfig) -> None:
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)  # a fresh store and cache every run: nothing cached
    ingest([src], store, models, config)


def agreement(models: Models, src: Path, work: Path, config: IngestConfig,
              reference: np.ndarray, paths: list[Path]) -> float:
    """Lowest cosine between the pipeline's embeddings and the reference preprocessing's."""
    pipeline_run(models, src, work, config)
    store = Store.load(work / "store")
    by_name = {Path(p).name: i for i, p in enumerate(store.items["path"])}
    got = store.image_emb[[by_name[p.name] for p in paths]]
    return float((got * reference).sum(axis=1).min())


class TensorsInReaders(ClipEmbedder):
    """The embedder as ingest used it before: torch preprocessing in the reader threads."""

    def prepare(self, image):  # noqa: ANN001, ANN201
        return self.preprocess(image)

    def encode_prepared(self, items):  # noqa: ANN001, ANN201
        import torch

        return self.encode_image_tensors(torch.stack(list(items)))


def legacy_read_one(row, path, thumb_path, preprocess, limits,  # noqa: ANN001, ANN201
                    keep_image=False, tile=-1):  # noqa: ANN001
    """``cdir.reader.read_one`` before this benchmark's changes: pHashes and the thumbnail
    computed from the full-size image (LANCZOS), torch preprocessing in the reader thread."""
    from PIL import Image, ImageOps

    from cdir import reader
    from cdir.decode import DecodeError

    try:
        image = reader.load_item_image(path, limits, tile)
    except DecodeError as exc:
        return reader.ReadResult(row, error=exc.reason)
    grid = reader.detect_grid(image) if tile < 1 else None
    info = reader.ImageInfo(reader.pixel_sha256(image), reader.perceptual_hash(image),
                            image.width, image.height, reader.extract_prompt(path),
                            reader.perceptual_hash(ImageOps.mirror(image)),
                            [list(box) for box in grid] if grid else None)
    if thumb_path is not None and not thumb_path.exists():
        thumb = image.convert("RGB")
        thumb.thumbnail((reader.THUMB_SIDE, reader.THUMB_SIDE), Image.Resampling.LANCZOS)
        reader.save_jpeg_atomic(thumb, thumb_path)
    return reader.ReadResult(row, info, preprocess(image))


def legacy_run(models: Models, src: Path, work: Path, config: IngestConfig) -> None:
    import cdir.pipeline

    embedder = TensorsInReaders(**{f.name: getattr(models.embedder, f.name)
                                   for f in fields(ClipEmbedder)})
    cdir.pipeline.read_one = legacy_read_one
    try:
        pipeline_run(Models(models.preset, embedder), src, work, config)
    finally:
        cdir.pipeline.read_one = read_one


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=256, help="images on disk")
    p.add_argument("--naive-n", type=int, default=64, help="images in the naive loop")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--batch", type=int, default=32, help="batch of the raw baseline")
    p.add_argument("--arch", default="ViT-B-32")
    p.add_argument("--sweep", action="store_true",
                   help="also: the reader as before, workers=1, batch=16")
    p.add_argument("--quick", action="store_true", help="a small smoke run (32 images, 1 rep)")
    args = p.parse_args()
    if args.quick:
        args.n, args.naive_n, args.reps = 32, 8, 1

    import torch

    work = Path(tempfile.mkdtemp(prefix="cdir-bench-ingest-"))
    try:
        log(f"writing {args.n} JPEG files (640x480) ...")
        paths = make_jpegs(work / "src", args.n)
        models = build_models(args.arch)
        tensors = torch.stack([models.embedder.preprocess(load_rgb(p)) for p in paths])
        reference = models.embedder.encode_image_tensors(tensors)
        base = IngestConfig(captions="none", predict_domains=False, shared_cache=False)
        pipelines = {"pipeline": base}
        if args.sweep:
            pipelines |= {"pipeline workers=1": replace(base, workers=1),
                          "pipeline batch=16": replace(base, batch_size=16)}
        variants = {"raw": lambda: raw_run(models, tensors, args.batch),
                    "naive": lambda: naive_run(models, paths[: args.naive_n])}
        for name, cfg in pipelines.items():
            variants[name] = lambda cfg=cfg: pipeline_run(models, work / "src", work, cfg)
        if args.sweep:
            variants["pipeline, reader as before"] = lambda: legacy_run(models, work / "src",
                                                                        work, base)
        naive_run(models, paths[:2])  # warm-up
        wall, cpu = interleaved(variants, args.reps)
        cosine = agreement(models, work / "src", work, base, reference, paths)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    counts = {name: args.naive_n if name == "naive" else args.n for name in variants}
    speed = {name: counts[name] / median(t) for name, t in wall.items()}
    cpu_ms = {name: 1000 * median(t) / counts[name] for name, t in cpu.items()}
    rows = [[name, f"{speed[name]:.2f}", f"{speed[name] / speed['raw']:.2f}",
             f"{speed[name] / speed['naive']:.2f}", f"{cpu_ms[name]:.0f}",
             f"{cpu_ms['raw'] / cpu_ms[name]:.2f}"] for name in variants]
    ratio, ratio_cpu = speed["pipeline"] / speed["raw"], cpu_ms["raw"] / cpu_ms["pipeline"]
    report("ingest", ["variant", "images/s", "x raw", "x naive", "CPU ms/image", "raw/this CPU"],
           rows, {"arch": args.arch, "n": args.n, "torch_threads": torch.get_num_threads(),
                  "images_per_s": speed, "cpu_ms_per_image": cpu_ms, "pipeline_over_raw": ratio,
                  "pipeline_over_raw_cpu": ratio_cpu,
                  "pipeline_over_naive": speed["pipeline"] / speed["naive"],
                  "min_cosine_pipeline_vs_reference": cosine, "wall_s": wall, "cpu_s": cpu})
    naive = speed["pipeline"] / speed["naive"]
    print(f"\npipeline/raw = {ratio:.2f} by wall clock, {ratio_cpu:.2f} by CPU time (target "
          f">= 0.9); pipeline/naive = {naive:.2f} (target >= 3); min cosine to the reference "
          f"preprocessing = {cosine:.5f}; torch threads = {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
