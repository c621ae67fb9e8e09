"""Captioning and CPU speed-ups: batching, beam search, first searchable collection, int8/bf16/
torch.compile/threads, each with its cost in agreement with float32.

    python bench/bench_caption.py [--images 16] [--reps 2] [--ingest-n 64] [--quick] [--text-only]

BLIP base (``BlipConfig()`` defaults) and ViT-B-32 with random weights: speed does not depend on
weights. Captions are exactly ``TOKENS`` (20) long (min = max new tokens): random weights cannot
stop early. Agreement is the cosine between float32 and the variant: BLIP's pooled vision output and
its first-step logits; CLIP's image embeddings. Also: CLIP text embeddings of captions through
open_clip's ``encode_text`` (77 padded tokens) against ``cdir.models.text_tower`` (padding cut).
Times are the best of ``--reps`` runs (other jobs on a shared machine only ever slow a run down).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import interleaved, log, make_jpegs, report
from cpu_variants import compare, variants

TOKENS = 20


def build_blip():  # noqa: ANN201
    from transformers import BlipConfig, BlipForConditionalGeneration

    torch.manual_seed(0)
    return BlipForConditionalGeneration(BlipConfig()).eval()


def blip_pixels(paths: list[Path]) -> torch.Tensor:
    from transformers import BlipImageProcessor

    from cdir.imaging.decode import load_rgb

    images = [load_rgb(p) for p in paths]
    return BlipImageProcessor()(images=images, return_tensors="pt")["pixel_values"]


def generate(
    model,
    pixels: torch.Tensor,
    batch: int,
    beams: int = 1,  # noqa: ANN001
    ctx=contextlib.nullcontext,
    tokens: int = TOKENS,
) -> None:  # noqa: ANN001
    with torch.inference_mode(), ctx():
        for i in range(0, len(pixels), batch):
            model.generate(
                pixel_values=pixels[i : i + batch],
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                num_beams=beams,
                do_sample=False,
            )


def blip_outputs(
    model,
    pixels: torch.Tensor,  # noqa: ANN001
    ctx=contextlib.nullcontext,
) -> list[np.ndarray]:  # noqa: ANN001
    """Pooled vision output and first-step logits, as float32 numpy."""
    bos = torch.full((len(pixels), 1), model.config.text_config.bos_token_id)
    with torch.inference_mode(), ctx():
        pooled = model.vision_model(pixel_values=pixels).pooler_output
        logits = model(pixel_values=pixels, input_ids=bos).logits[:, -1]
    return [pooled.float().numpy(), logits.float().numpy()]


def blip_processor(blip, work: Path):  # noqa: ANN001, ANN201
    """A BLIP processor with a made-up vocabulary of BLIP's size (token ids are all that matter
    for speed; BLIP's own vocabulary would be a download)."""
    from transformers import BertTokenizer, BlipImageProcessor, BlipProcessor

    from cdir.models.captioners import SPECIAL_TOKENS

    size = blip.config.text_config.vocab_size
    (work / "vocab").mkdir(parents=True, exist_ok=True)
    words = (SPECIAL_TOKENS + [f"w{i}" for i in range(size)])[:size]
    (work / "vocab" / "vocab.txt").write_text("\n".join(words))
    return BlipProcessor(BlipImageProcessor(), BertTokenizer.from_pretrained(work / "vocab"))


def save_random_default_models(root: Path) -> Path:
    """Preset ``default``'s architectures (ViT-B-32, BLIP base) with random weights, saved where
    ``--model-dir root`` loads them (the same code path as real saved weights)."""
    from bench_ingest import build_models

    from cdir.models.captioners import HFCaptioner
    from cdir.models.loaded import save_models

    models = build_models("ViT-B-32")
    blip = build_blip()
    models._captioner = HFCaptioner(blip, blip_processor(blip, root), models.preset.captioner)
    return save_models(models, root)


def first_searchable(paths: list[Path], blip, work: Path) -> dict:  # noqa: ANN001
    """Ingest with captions: seconds until the store is searchable, and until fully captioned."""
    from bench_ingest import build_models

    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.captioners import HFCaptioner

    models = build_models("ViT-B-32")
    spec = replace(models.preset.captioner, max_new_tokens=TOKENS)
    blip.generation_config.min_new_tokens = TOKENS
    models._captioner = HFCaptioner(blip, blip_processor(blip, work), spec)
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def progress(done: int, total: int, stage: str) -> None:
        marks.setdefault(stage, time.perf_counter() - start)

    ingest(
        [paths[0].parent],
        work / "store",
        models,
        IngestConfig(captions="all", predict_domains=False, shared_cache=False),
        progress,
    )
    total = time.perf_counter() - start
    blip.generation_config.min_new_tokens = None
    return {"n": len(paths), "searchable_s": marks["captioning"], "full_s": total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--ingest-n", type=int, default=64)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--quick", action="store_true", help="4 images, 1 rep, 4-image ingest")
    p.add_argument(
        "--text-only",
        action="store_true",
        help="only the caption text embeddings, padded vs unpadded (~1 min)",
    )
    args = p.parse_args()
    if args.quick:
        args.images, args.reps, args.ingest_n = 4, 1, 4
    if args.text_only:
        rows = text_rows(max(3, args.reps))
        report(
            "caption-text",
            ["model", "variant", "CPU seconds", "speed-up", "agreement"],
            rows,
            {"rows": rows},
        )
        return
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-caption-"))
    try:
        paths = make_jpegs(work / "src", max(args.images, args.ingest_n))
        blip, pixels = build_blip(), blip_pixels(paths[: args.images])
        rows = batching_rows(blip, pixels, args.reps)
        log("BLIP: CPU speed-ups ...")
        half = pixels[: max(1, len(pixels) // 2)]
        parts = () if args.no_compile else ("vision_model", "text_decoder")
        run = lambda m, ctx=contextlib.nullcontext: generate(m, half, 8, ctx=ctx)  # noqa: E731
        out = lambda m, ctx=contextlib.nullcontext: blip_outputs(m, half, ctx)  # noqa: E731
        rows += compare("BLIP base caption", variants(blip, run, out, parts), args.reps)
        log("CLIP ViT-B-32: CPU speed-ups ...")
        rows += clip_rows(paths[: args.images], args.reps, not args.no_compile)
        rows += text_rows(args.reps)
        log(f"first searchable collection, {args.ingest_n} images ...")
        first = first_searchable(paths[: args.ingest_n], blip, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows.append(
        [
            f"ingest {first['n']} images",
            "searchable (embeddings) / full (captions)",
            f"{first['searchable_s']:.1f} / {first['full_s']:.1f}",
            f"{first['full_s'] / first['searchable_s']:.1f}x sooner",
            "",
        ]
    )
    report(
        "caption",
        ["model", "variant", "seconds", "speed-up", "agreement (min cosine)"],
        rows,
        {
            "rows": rows,
            "first_searchable": first,
            "tokens": TOKENS,
            "torch_threads": torch.get_num_threads(),
        },
    )


def text_rows(reps: int, n: int = 64) -> list[list]:
    """CLIP ViT-B-32 text embeddings of ``n`` caption-like texts: open_clip's ``encode_text`` over
    77 padded tokens against ``cdir.models.text_tower`` (padding cut); CPU seconds, best of
    ``reps``."""
    from bench_ingest import build_models

    from cdir.models import text_tower

    log(f"CLIP ViT-B-32: {n} caption embeddings, padded vs unpadded ...")
    model = build_models("ViT-B-32").embedder
    rng = np.random.default_rng(0)
    words = "a photo sketch painting of the small red house dog with two people on near".split()
    texts = [" ".join(rng.choice(words, int(rng.integers(6, 14)))) for _ in range(n)]
    tokens = model.tokenizer(texts)
    with torch.inference_mode():

        def full() -> torch.Tensor:
            return model.model.encode_text(tokens, normalize=True)

        def cut() -> torch.Tensor:
            return text_tower.encode_text(model.model, tokens)

        _, cpu = interleaved(
            {"padded": lambda: [full()] and None, "unpadded": lambda: [cut()] and None}, reps
        )
        agree = float((full() * cut()).sum(1).min())
    return [
        [
            "CLIP ViT-B-32 text",
            f"{k}, {n} captions ({text_tower.used_length(tokens)} of "
            f"{tokens.shape[1]} tokens used)",
            f"{min(v):.2f}",
            f"{min(cpu['padded']) / min(v):.2f}",
            f"{agree:.6f}",
        ]
        for k, v in cpu.items()
    ]


def batching_rows(blip, pixels: torch.Tensor, reps: int) -> list[list]:  # noqa: ANN001
    log("BLIP: batching and beam search ...")
    wall, _ = interleaved(
        {
            "greedy, batch 8": lambda: generate(blip, pixels, 8),
            "greedy, one by one": lambda: generate(blip, pixels, 1),
            "beam 3, batch 8": lambda: generate(blip, pixels, 8, beams=3),
        },
        reps,
    )
    per_s = {k: len(pixels) / min(v) for k, v in wall.items()}  # best of: the least disturbed
    return [
        [
            "BLIP base",
            k,
            f"{min(wall[k]):.2f}",
            f"{v / per_s['greedy, batch 8']:.2f}",
            f"{v:.2f} captions/s",
        ]
        for k, v in per_s.items()
    ]


def clip_rows(paths: list[Path], reps: int, use_compile: bool) -> list[list]:
    from bench_ingest import build_models

    from cdir.imaging.decode import load_rgb

    embedder = build_models("ViT-B-32").embedder
    tensors = torch.stack([embedder.preprocess(load_rgb(p)) for p in paths])

    def run(model, ctx=contextlib.nullcontext) -> None:  # noqa: ANN001
        with torch.inference_mode(), ctx():
            model.encode_image(tensors)

    def outputs(model, ctx=contextlib.nullcontext) -> list[np.ndarray]:  # noqa: ANN001
        with torch.inference_mode(), ctx():
            return [model.encode_image(tensors, normalize=True).float().numpy()]

    found = variants(embedder.model, run, outputs, ("visual",) if use_compile else ())
    return compare("CLIP ViT-B-32 image", found, reps)


if __name__ == "__main__":
    main()
