"""What each preset costs on this CPU: seconds per image to embed and to caption, measured once
with random weights in each checkpoint's real architecture (random weights run at real speed),
written to ``cdir/models/preset_costs.json`` for ``cdir models list`` and the README. Wall
seconds and CPU seconds (all threads) are both kept: on a shared machine the wall time grows
with the load average, which is printed and recorded. By default torch runs one thread: its CPU
seconds per image are then nearly what a quiet machine's one core spends, whatever else runs.

    python bench/bench_preset_costs.py [--presets default,fast,...] [--embed-batch 8]
                                       [--caption-batch 4] [--tokens 20] [--dry-run]

Embedding: a batch of ``--embed-batch`` preprocessed images through ``encode_image`` (after one
warm-up batch), the best of two runs. Captioning: a batch of ``--caption-batch`` images, greedy,
exactly ``--tokens`` new tokens (random weights never stop early; a real caption is 10-20
tokens), the best of two runs: BLIP / BLIP-2 through transformers' ``generate`` with cdir's fused
attention, CoCa through cdir's own greedy decoder. ``paper`` (BLIP-2 OPT-2.7b: 3.9 B parameters,
15 GB in float32) is not measured on a CPU. Prints the CPU model, the load average before and
after, and torch's thread count: numbers from a loaded machine are slower than its real speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from common import machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from cdir.models.presets import Preset, get_preset  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "cdir" / "models" / "preset_costs.json"
SKIP = {"paper": "not measured on a CPU: BLIP-2 OPT-2.7b has 3.9 B parameters (15 GB float32)"}
BLIP_LARGE_VISION = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "intermediate_size": 4096,
    "num_attention_heads": 16,
}  # ViT-L/16 (blip-image-captioning-large)


CPU_SECONDS: dict[str, float] = {}  # the process's CPU time of the last best() run


def best(fn: Any, reps: int = 2) -> float:
    """The best wall time of ``reps`` runs; its CPU time (all threads) goes to CPU_SECONDS
    (less sensitive than wall time to other jobs on a shared machine)."""
    times = []
    for _ in range(reps):
        clock, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - clock, time.process_time() - cpu))
    wall, CPU_SECONDS["last"] = min(times)
    return wall


def open_clip_model(arch: str) -> tuple[Any, int]:
    """(model with random weights, input size) of an open_clip architecture, or of the bundled
    demo's config."""
    import open_clip

    model = open_clip.create_model(arch, pretrained=None).eval()
    size = model.visual.image_size
    return model, int(size[0] if isinstance(size, tuple | list) else size)


def embed_cost(model: Any, size: int, batch: int) -> float:
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        model.encode_image(x)
        return best(lambda: model.encode_image(x)) / batch


def blip_cost(hub_id: str, batch: int, tokens: int) -> float:
    from transformers import BlipConfig, BlipForConditionalGeneration

    from cdir.models.blip_attention import use_fused_attention

    large = hub_id.endswith("-large")
    vision = {"image_size": 384, "patch_size": 16, **(BLIP_LARGE_VISION if large else {})}
    text = {"encoder_hidden_size": vision.get("hidden_size", 768)}
    model = BlipForConditionalGeneration(BlipConfig(vision_config=vision, text_config=text)).eval()
    use_fused_attention(model)
    pixels = torch.randn(batch, 3, 384, 384)
    with torch.inference_mode():

        def run() -> None:
            model.generate(
                pixel_values=pixels,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                num_beams=1,
            )

        run()
        return best(run) / batch


def coca_cost(model: Any, size: int, batch: int, tokens: int) -> float:
    from cdir.models.captioners import CocaCaptioner
    from cdir.models.presets import CaptionerSpec

    class Holder:  # what CocaCaptioner reads of a ClipEmbedder
        def __init__(self) -> None:
            self.model, self.device, self.tokenizer = model, "cpu", None

    captioner = CocaCaptioner(Holder(), CaptionerSpec("coca", max_new_tokens=tokens))
    captioner.sot_id, captioner.eos_id = 1, -1  # any start token; never stop early
    pixels = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        captioner._greedy(model, pixels)
        return best(lambda: captioner._greedy(model, pixels)) / batch


def measure(preset: Preset, args: argparse.Namespace, memo: dict[str, float]) -> dict[str, Any]:
    from cdir.models.encoders import register_config
    from cdir.models.weights import BUNDLED_MODEL_DIR

    spec = preset.embedder
    if spec.config is not None:
        register_config(spec.arch, spec.config)
        model, size = open_clip_model(spec.arch)
    elif spec.pretrained is None:  # the bundled demo: its own config, its real weights
        import open_clip

        model = open_clip.create_model(f"local-dir:{BUNDLED_MODEL_DIR / preset.name / 'embedder'}")
        model.eval()
        size = int(
            model.visual.image_size
            if isinstance(model.visual.image_size, int)
            else model.visual.image_size[0]
        )
    else:
        model, size = open_clip_model(spec.arch)
    embed = embed_cost(model, size, args.embed_batch)
    embed_cpu = CPU_SECONDS["last"] / args.embed_batch
    cap = preset.captioner
    if cap.kind in ("blip", "blip2") and cap.config is None:
        if cap.hub_id not in memo:
            memo[cap.hub_id] = blip_cost(cap.hub_id, args.caption_batch, args.tokens)
            memo[f"{cap.hub_id}:cpu"] = CPU_SECONDS["last"] / args.caption_batch
        caption = memo[cap.hub_id]
        CPU_SECONDS["last"] = memo[f"{cap.hub_id}:cpu"] * args.caption_batch
    elif cap.kind == "coca":  # the demo's decoder holds fewer tokens: its own limit then
        coca, coca_size = (
            (model, size) if not cap.pretrained else open_clip_model(cap.arch or spec.arch)
        )
        caption = coca_cost(
            coca, coca_size, args.caption_batch, min(args.tokens, cap.max_new_tokens)
        )
    elif cap.config is not None:
        from cdir.models.captioners import build_tiny_blip

        tiny = build_tiny_blip(cap, 0)
        pixels = torch.randn(args.caption_batch, 3, 64, 64)
        with torch.inference_mode():
            caption = (
                best(
                    lambda: tiny.model.generate(
                        pixel_values=pixels,
                        max_new_tokens=args.tokens,
                        min_new_tokens=args.tokens,
                        do_sample=False,
                    )
                )
                / args.caption_batch
            )
    else:
        caption, CPU_SECONDS["last"] = 0.0, 0.0
    return {
        "embed_s_per_image": round(embed, 4),
        "caption_s_per_image": round(caption, 3),
        "embed_cpu_s_per_image": round(embed_cpu, 4),
        "caption_cpu_s_per_image": round(CPU_SECONDS["last"] / args.caption_batch, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="default,fast,siglip,coca,demo,tiny,quality,paper")
    p.add_argument("--embed-batch", type=int, default=8)
    p.add_argument("--caption-batch", type=int, default=4)
    p.add_argument("--tokens", type=int, default=20)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: its CPU seconds hardly depend on other jobs)",
    )
    p.add_argument("--dry-run", action="store_true", help="print, do not write the JSON")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    print(
        f"CPU: {machine()}; torch threads {torch.get_num_threads()}; "
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f}",
        flush=True,
    )
    memo: dict[str, float] = {}
    rows: dict[str, Any] = {}
    for name in args.presets.split(","):
        if name in SKIP:
            rows[name] = {"not_measured": SKIP[name]}
            print(f"{name:<8} {SKIP[name]}", flush=True)
            continue
        clock = time.monotonic()
        rows[name] = measure(get_preset(name), args, memo)
        captioner = get_preset(name).captioner
        if captioner.kind == "coca":
            rows[name]["caption_tokens"] = min(args.tokens, captioner.max_new_tokens)
        row = rows[name]
        print(
            f"{name:<8} embed {row['embed_s_per_image']:.4f} s/image "
            f"(CPU {row['embed_cpu_s_per_image']:.4f}), caption "
            f"{row['caption_s_per_image']:.3f} s/image (CPU {row['caption_cpu_s_per_image']:.3f})"
            f"  [{time.monotonic() - clock:.0f} s, load {os.getloadavg()[0]:.1f}]",
            flush=True,
        )
        write(args, rows, load_before)
    write(args, rows, load_before, final=True)


def write(
    args: argparse.Namespace,
    rows: dict[str, Any],
    load_before: tuple[float, ...],
    final: bool = False,
) -> None:
    """The JSON after every preset (a run stopped half-way keeps what it measured)."""
    load_after = os.getloadavg()
    if final:
        print(f"load average after {load_after[0]:.2f} {load_after[1]:.2f}", flush=True)
    result = {
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
        "cpu": machine(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "method": f"random weights in the real architecture; {args.threads} torch "
        f"thread(s); embed batch "
        f"{args.embed_batch}; caption batch {args.caption_batch}, greedy, "
        f"exactly {args.tokens} new tokens (CoCa: at most its own limit); "
        "best of 2 "
        "(bench/bench_preset_costs.py)",
        "presets": rows,
    }
    if not args.dry_run:
        OUT.write_text(json.dumps(result, indent=2) + "\n")
        if final:
            print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
