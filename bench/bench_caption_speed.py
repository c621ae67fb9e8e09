"""BLIP base captions against the CPU's own limit: FLOPs and time per stage, achieved GFLOP/s
next to the fp32 matmul peak measured in the same run, and the speed-ups tried, each with its
agreement to float32.

    python bench/bench_caption_speed.py [--batch 8] [--tokens 15] [--reps 3] [--quick]

BLIP base (``BlipConfig()`` defaults: ViT-B/16 at 384 pixels, BERT-base decoder with
cross-attention) with random weights, re-drawn at a realistic scale (normal, std 0.02) so that
activations are neither degenerate nor denormal. Random weights never emit the end token, so every
caption is exactly ``--tokens`` long (min = max new tokens): 15 is a real caption's length.

Stages of one ``generate`` call, timed with hooks (the vision encoder's forward, and a logits
processor that stamps every decoder step) and counted with ``torch.utils.flop_counter``:
vision encoder; the decoder's first step, which also projects the image tokens into every layer's
cross-attention keys and values (timed apart as "cross-attention K/V"); each later step.

The peak is the best of a few 4096x4096 float32 matmuls (``torch.mm``), measured at the start
and the end of the run. "% of peak" is the work of a caption (GFLOP) over its time, against that
peak. Variants are timed interleaved in rotating order; the best of ``--reps`` is kept (other jobs
on a shared machine only ever slow a run down). Agreement with float32 eager: the lowest cosine of
the first-step logits over the batch, and the share of caption tokens that are the same.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import interleaved, log, machine, report

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


def matmul_peak(n: int = 4096, reps: int = 4) -> float:
    """Best fp32 GFLOP/s of ``torch.mm`` on two n x n matrices (one warm-up)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def build_blip(seed: int = 0) -> Any:
    """BLIP base, random weights at a realistic scale (eager attention, as transformers has it)."""
    from transformers import BlipConfig, BlipForConditionalGeneration

    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(BlipConfig()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.02)
            elif "LayerNorm" in name or "layer_norm" in name or "layernorm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.zero_()
    return model


def fused(model: Any) -> Any:
    from cdir.models.blip_attention import use_fused_attention

    model = copy.deepcopy(model)
    use_fused_attention(model)
    return model


def int8_ao(model: Any) -> Any:
    from cdir.models.quantize import quantize_linear_int8

    return quantize_linear_int8(copy.deepcopy(model))


class StepClock:
    """A logits processor that stamps the time (and FLOPs so far) of every decoder step."""

    def __init__(self, flops: Any = None) -> None:
        self.flops, self.times, self.counts = flops, [], []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.times.append(time.perf_counter())
        self.counts.append(self.flops.get_total_flops() if self.flops is not None else 0)
        return scores


def generate(
    model: Any,
    pixels: torch.Tensor,
    tokens: int,
    clock: StepClock | None = None,
    threads: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Captions for ``pixels`` (float32, (batch, 3, 384, 384)); returns token ids (batch, 1+tokens)
    and the stage boundaries (seconds since the start)."""
    from transformers import LogitsProcessorList

    marks: dict[str, float] = {}
    start = time.perf_counter()
    old_threads = torch.get_num_threads()

    def vision_done(*_: Any) -> None:
        marks["vision"] = time.perf_counter() - start
        if threads:
            torch.set_num_threads(threads)

    hook = model.vision_model.register_forward_hook(vision_done)
    clock = clock or StepClock()
    try:
        with torch.inference_mode():
            out = model.generate(
                pixel_values=pixels,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                logits_processor=LogitsProcessorList([clock]),
            )
    finally:
        hook.remove()
        torch.set_num_threads(old_threads)
    marks["first_step"] = clock.times[0] - start
    marks["total"] = time.perf_counter() - start
    return out, marks


def cross_kv_seconds(model: Any, embeds: torch.Tensor) -> tuple[float, float]:
    """(seconds, FLOPs) of projecting the image tokens into every decoder layer's cross-attention
    keys and values, the first step's fixed cost."""
    from torch.utils.flop_counter import FlopCounterMode

    layers = [layer.crossattention.self for layer in model.text_decoder.bert.encoder.layer]

    def run() -> None:
        for attention in layers:
            attention.key(embeds)
            attention.value(embeds)

    with torch.inference_mode():
        run()
        with FlopCounterMode(display=False) as counter:
            run()
        start = time.perf_counter()
        run()
    return time.perf_counter() - start, float(counter.get_total_flops())


def stage_flops(model: Any, pixels: torch.Tensor, tokens: int) -> dict[str, float]:
    """FLOPs of one ``generate`` call per stage (whole batch)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        seen: dict[str, float] = {}

        def vision_done(*_: Any) -> None:  # a hook that returns a value replaces the output
            seen.setdefault("vision", counter.get_total_flops())

        hook = model.vision_model.register_forward_hook(vision_done)
        clock = StepClock(counter)
        try:
            generate(model, pixels, tokens, clock)
        finally:
            hook.remove()
    steps = np.diff([seen["vision"], *clock.counts])
    return {
        "vision": seen["vision"],
        "first_step": float(steps[0]),
        "later_steps": float(steps[1:].sum()),
        "total": float(clock.counts[-1]),
    }


def first_logits(model: Any, pixels: torch.Tensor) -> np.ndarray:
    bos = torch.full((len(pixels), 1), model.config.text_config.bos_token_id)
    with torch.inference_mode():
        return model(pixel_values=pixels, input_ids=bos).logits[:, -1].float().numpy()


def cosine_min(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


def stage_rows(
    model: Any, eager: Any, pixels: torch.Tensor, tokens: int, peak: float, reps: int
) -> list[list]:
    """Per-stage time, FLOPs and GFLOP/s of cdir's fp32 path (fused attention; the decoder steps
    on the threads ``cdir.models.torch_threads.decoder_threads`` picks at this load)."""
    from cdir.models.torch_threads import decoder_threads

    flops = stage_flops(eager, pixels, tokens)  # the fused CPU kernel is invisible to the counter
    best: dict[str, float] = {}
    for _ in range(reps):
        _, marks = generate(model, pixels, tokens, threads=decoder_threads())
        if not best or marks["total"] < best["total"]:
            best = marks
    with torch.inference_mode():
        embeds = model.vision_model(pixel_values=pixels)[0]
    kv_s, kv_flops = cross_kv_seconds(model, embeds)  # plain Linear layers: counted the same
    n = len(pixels)
    stages = [
        ("vision encoder", best["vision"], flops["vision"]),
        ("cross-attention K/V (in step 1)", kv_s, kv_flops),
        (
            "decoder step 1, without K/V",
            best["first_step"] - best["vision"] - kv_s,
            flops["first_step"] - kv_flops,
        ),
        (f"decoder steps 2-{tokens}", best["total"] - best["first_step"], flops["later_steps"]),
        ("whole caption", best["total"], flops["total"]),
    ]
    rows = []
    for name, seconds, work in stages:
        rate = work / seconds / 1e9 if seconds > 0 else float("nan")
        rows.append(
            [
                name,
                f"{work / n / 1e9:.2f}",
                f"{seconds / n * 1000:.0f}",
                f"{rate:.1f}",
                f"{100 * rate / peak:.0f} %",
            ]
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=15)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="batch 2, 1 rep, no batch-16 variant")
    p.add_argument("--stages-only", action="store_true", help="only the per-stage table (~2 min)")
    args = p.parse_args()
    if args.quick:
        args.batch, args.reps = 2, 1
    torch.manual_seed(1)
    pixels = torch.randn(args.batch * 2, 3, 384, 384)
    base = build_blip()
    peak_start = matmul_peak()
    log(
        f"{machine()}: fp32 matmul peak {peak_start:.0f} GFLOP/s, torch threads "
        f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}"
    )

    if args.stages_only:
        stages_report(fused(base), base, pixels[: args.batch], args, peak_start)
        return
    models = {
        "transformers eager attention (cdir before)": base,
        "fused attention (SDPA)": fused(base),
    }
    models["fused attention + int8 dynamic (Linear)"] = int8_ao(models["fused attention (SDPA)"])
    kept = models["fused attention (SDPA)"]
    batch = pixels[: args.batch]
    variants: dict[str, tuple[Callable[[], float], Any, int]] = {}
    for name, model in models.items():
        variants[name] = (
            lambda m=model: generate(m, batch, args.tokens)[1]["total"],
            model,
            args.batch,
        )
    variants["fused attention, decoder steps on 1 thread"] = (
        lambda: generate(kept, batch, args.tokens, threads=1)[1]["total"],
        kept,
        args.batch,
    )
    if not args.quick:
        variants[f"fused attention, batch {2 * args.batch}"] = (
            lambda: generate(kept, pixels, args.tokens)[1]["total"],
            kept,
            2 * args.batch,
        )
    with contextlib.suppress(ImportError):
        variants.update(torchao_variant(kept, batch, args.tokens, args.batch))
    with contextlib.suppress(ImportError):
        variants.update(onnx_vision_variant(kept, batch, args.tokens, args.batch))

    log("warm-up ...")
    for run, _, _ in variants.values():
        run()
    wall, _ = interleaved({k: v[0] for k, v in variants.items()}, args.reps)
    reference_logits = first_logits(base, batch)
    reference_tokens = generate(base, batch, args.tokens)[0]
    baseline = min(wall["transformers eager attention (cdir before)"]) / args.batch
    fp32_kept = min(wall["fused attention (SDPA)"]) / args.batch
    rows = []
    for name, (_, model, n) in variants.items():
        per_caption = min(wall[name]) / n
        logits = first_logits(model, batch)
        tokens = generate(model, batch, args.tokens)[0]
        same = float((tokens == reference_tokens).float().mean())
        rows.append(
            [
                name,
                f"{per_caption:.2f}",
                f"{1 / per_caption:.2f}",
                f"{baseline / per_caption:.2f}",
                f"{fp32_kept / per_caption:.2f}",
                f"{cosine_min(reference_logits, logits):.4f}",
                f"{same:.2f}",
            ]
        )
    report(
        "caption-speed",
        [
            "variant",
            "s per caption",
            "captions/s",
            "x eager",
            "x fused fp32",
            "first-step logits cosine",
            "same tokens",
        ],
        rows,
        {
            "rows": rows,
            "peak_gflops_start": peak_start,
            "batch": args.batch,
            "tokens": args.tokens,
            "torch_threads": torch.get_num_threads(),
        },
    )
    stages_report(kept, base, batch, args, peak_start)


def stages_report(
    kept: Any, eager: Any, batch: torch.Tensor, args: argparse.Namespace, peak_start: float
) -> None:
    """The per-stage table of cdir's fp32 path against the best matmul peak of the run."""
    log("stages ...")
    peak = max(peak_start, matmul_peak())
    stages = stage_rows(kept, eager, batch, args.tokens, peak, args.reps)
    report(
        f"caption-stages (cdir's fp32 path, batch {args.batch}, matmul peak {peak:.0f} GFLOP/s)",
        ["stage", "GFLOP per caption", "ms per caption", "GFLOP/s", "of peak"],
        stages,
        {"stages": stages, "peak_gflops": peak},
    )


def torchao_variant(model: Any, batch: torch.Tensor, tokens: int, n: int) -> dict:
    """torchao's int8 dynamic activation + int8 weight (the successor of torch.ao's dynamic
    quantisation), when torchao is installed (``bench/requirements-bench.txt``)."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    q = copy.deepcopy(model)
    quantize_(q, Int8DynamicActivationInt8WeightConfig())
    return {
        "fused attention + torchao int8 (no torch.compile)": (
            lambda: generate(q, batch, tokens)[1]["total"],
            q,
            n,
        )
    }


class OnnxVision(torch.nn.Module):
    """BLIP's vision encoder exported to ONNX and run by ONNX Runtime, in the model's place."""

    def __init__(self, vision: Any, sample: torch.Tensor, path: str) -> None:
        import onnxruntime

        super().__init__()

        class Encoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.vision = vision

            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                return self.vision(pixel_values=pixels)[0]

        with torch.inference_mode():
            torch.onnx.export(
                Encoder().eval(),
                (sample,),
                path,
                input_names=["pixels"],
                output_names=["states"],
                dynamic_axes={"pixels": {0: "batch"}},
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(
            path, options, providers=["CPUExecutionProvider"]
        )

    def forward(self, pixel_values: torch.Tensor, **_: Any) -> Any:
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        states = torch.from_numpy(self.session.run(None, {"pixels": pixel_values.numpy()})[0])
        return BaseModelOutputWithPooling(last_hidden_state=states, pooler_output=states[:, 0])


def onnx_vision_variant(model: Any, batch: torch.Tensor, tokens: int, n: int) -> dict:
    """The vision encoder in ONNX Runtime (export once, ~20 s), the decoder in torch, when
    onnxruntime and onnx are installed (``bench/requirements-bench.txt``)."""
    import tempfile

    import onnxruntime  # noqa: F401 - the ImportError that skips this variant

    variant = copy.deepcopy(model)
    path = str(Path(tempfile.mkdtemp(prefix="cdir-bench-onnx-")) / "vision.onnx")
    start = time.perf_counter()
    variant.vision_model = OnnxVision(model.vision_model, batch[:1], path)
    log(f"  ONNX export and session: {time.perf_counter() - start:.0f} s")
    return {
        "fused attention, vision encoder in ONNX Runtime": (
            lambda: generate(variant, batch, tokens)[1]["total"],
            variant,
            n,
        )
    }


if __name__ == "__main__":
    main()
