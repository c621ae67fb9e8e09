"""Train the ``demo`` preset: a small open_clip CoCa (embeds and captions) on drawn domains.

One command, seeded, CPU only; writes the model in the layout ``python -m cdir models save`` and
``--model-dir`` use (``<out>/demo/embedder/``: open_clip_config.json, open_clip_model.safetensors
in float16, the word-level tokenizer in Hugging Face's layout) plus the loss curve
(``<out>/demo/loss.csv``)::

    python scripts/make_training_set.py --out build/demo-train --per-cell 90 --seed 1 \
        --weights sketch=2,silhouette=2 --domains photo,sketch,painting,clipart,render3d,silhouette
    nice -n 10 python scripts/train_demo_model.py --data build/demo-train --out cdir/assets/models \
        --minutes 36 --batch 96 --warmup 60 --threads 1

A second stage continues from weights it wrote (``--init <out>/demo/embedder``; its data must give
the same vocabulary): ``scripts/demo_model.sh`` runs the two stages of the shipped model.

Recipe (docs/reproducing.md): CoCa with a ViT of 64 px / patch 16 / width 128 / 4 layers and text
and decoder towers of width 128 / 3 layers, ``open_clip.loss.CoCaLoss`` (contrastive + 2 x
captioning), AdamW, linear warm-up then cosine decay (over ``--steps``, or over the wall-clock
``--minutes`` so that a busy shared CPU still ends on time); each step draws a random batch, a
random scale-and-crop and flip of each image, and one of its template captions (the main template
half of the time, so greedy decoding says it). On a CPU shared with other jobs one thread is
much faster than two (measured: 2.0 vs 36 s per step of batch 64 at a load average of 15).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_training_set import load_rows  # noqa: E402

from cdir.models.encoders import ClipEmbedder, register_config, save_open_clip  # noqa: E402

log = logging.getLogger("train_demo_model")

SIDE = 64
PATCH = 16
DEMO_ARCH = "cdir-demo-coca"
SPECIALS = ["[PAD]", "[SOT]", "[EOT]", "[UNK]"]  # ids 0-3; 0 is open_clip's pad_id
# words no training caption uses but text queries and the held-out style may: embedded, never said
EXTRA_WORDS = (
    "digital",
    "art",
    "drawing",
    "picture",
    "image",
    "painting",
    "sketch",
    "render",
    "photograph",
    "cartoon",
    "and",
    "with",
    "the",
    "on",
)


def demo_config(vocab_size: int, context_length: int = 16, patch: int = PATCH) -> dict:
    """The open_clip CoCa architecture of the demo model (a small ``coca_ViT-B-32``)."""
    return {
        "embed_dim": 128,
        "vision_cfg": {
            "image_size": SIDE,
            "layers": 4,
            "width": 128,
            "head_width": 32,
            "patch_size": patch,
            "mlp_ratio": 4.0,
            "attentional_pool": True,
            "attn_pooler_heads": 4,
            "attn_pooler_queries": 16,
            "output_tokens": True,
        },
        "text_cfg": {
            "context_length": context_length,
            "vocab_size": vocab_size,
            "width": 128,
            "heads": 4,
            "layers": 3,
            "embed_cls": True,
            "output_tokens": True,
            "pad_id": 0,
            "hf_tokenizer_name": "cdir-demo-words",
        },
        "multimodal_cfg": {
            "context_length": context_length,
            "vocab_size": vocab_size,
            "width": 128,
            "heads": 4,
            "layers": 3,
            "attn_pooler_heads": 4,
        },
        "custom_text": True,
    }


def build_word_tokenizer(words: list[str], out_dir: Path) -> None:
    """A lower-casing word-level tokenizer ([SOT] text [EOT], [PAD] = 0), saved in Hugging
    Face's layout (tokenizer.json + tokenizer_config.json) where open_clip's HFTokenizer and
    ``AutoTokenizer.from_pretrained`` read it."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIALS, *words])}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[SOT] $A [EOT]", special_tokens=[("[SOT]", 1), ("[EOT]", 2)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="[SOT]",
        eos_token="[EOT]",
        pad_token="[PAD]",
        unk_token="[UNK]",
    )
    fast.save_pretrained(out_dir)


def load_images(root: Path, rows: list[dict], side: int) -> np.ndarray:
    """(N, 3, side + side // 8, same) uint8: the images a little larger than the model's input,
    so that random crops stay inside them."""
    from PIL import Image

    big = side + side // 8
    out = np.empty((len(rows), 3, big, big), dtype=np.uint8)
    for i, row in enumerate(rows):
        with Image.open(root / row["path"]) as im:
            out[i] = np.asarray(
                im.convert("RGB").resize((big, big), Image.Resampling.BICUBIC)
            ).transpose(2, 0, 1)
    return out


def augment(batch, gen, side: int):  # noqa: ANN001, ANN201
    """Random scale (crop of 80-100 % of the side, resized to ``side``) and horizontal flip."""
    import torch
    import torch.nn.functional as F

    n, _, big, _ = batch.shape
    crop = int(torch.randint(int(0.8 * big), big + 1, (1,), generator=gen))
    y, x = (int(v) for v in torch.randint(0, big - crop + 1, (2,), generator=gen))
    out = batch[:, :, y : y + crop, x : x + crop].float().div_(255)
    out = F.interpolate(
        out, size=(side, side), mode="bilinear", align_corners=False, antialias=True
    )
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def pick_captions(rows: list[dict], idx: np.ndarray, rng: np.random.Generator) -> list[str]:
    out = []
    for i in idx:
        caps = rows[int(i)]["captions"]
        out.append(caps[0] if rng.random() < 0.5 else caps[int(rng.integers(len(caps)))])
    return out


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def lr_at_fraction(step: int, fraction: float, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay over the fraction of the time
    budget spent."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, fraction)))


def train(args: argparse.Namespace) -> None:
    import open_clip
    import torch
    from open_clip.loss import CoCaLoss

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    rows = load_rows(args.data)
    words = sorted(
        {w for r in rows for c in r["captions"] for w in c.replace(",", " , ").split()}
        | set(EXTRA_WORDS)
    )
    out_dir = args.out / "demo" / "embedder"
    out_dir.mkdir(parents=True, exist_ok=True)
    build_word_tokenizer(words, out_dir)
    config = demo_config(vocab_size=len(words) + 4, patch=args.patch)
    register_config(DEMO_ARCH, config)
    model, _, preprocess = open_clip.create_model_and_transforms(DEMO_ARCH, pretrained=None)
    # open_clip's MultimodalTransformer never initialises its output projection (torch.empty,
    # and its init_parameters() fails): left alone, caption losses start at 1e11
    decoder = model.text_decoder
    torch.nn.init.normal_(decoder.text_projection, std=decoder.width**-0.5)
    if args.init is not None:  # a second stage: continue from a model this script wrote
        from safetensors.torch import load_file

        state = load_file(str(args.init / "open_clip_model.safetensors"))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        log.info("continuing from %s", args.init)
    tokenizer = open_clip.tokenizer.HFTokenizer(
        str(out_dir), context_length=config["text_cfg"]["context_length"]
    )
    n_params = sum(p.numel() for p in model.parameters())
    log.info(
        "%d images, vocabulary %d words, %.2f M parameters", len(rows), len(words), n_params / 1e6
    )

    t0 = time.time()
    images = torch.from_numpy(load_images(args.data, rows, SIDE))
    log.info("loaded images in %.0f s", time.time() - t0)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)

    loss_fn = CoCaLoss(caption_loss_weight=2.0, clip_loss_weight=1.0, pad_id=0)
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in named if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    curve = args.out / "demo" / "loss.csv"
    model.train()
    t0 = time.time()
    steps = args.steps
    last_save = t0
    embedder = ClipEmbedder(model, preprocess, tokenizer, DEMO_ARCH, config)
    with curve.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "seconds", "lr", "contrastive_loss", "caption_loss"])
        step = 0
        budget = 60 * args.minutes
        while (time.time() - t0 < budget) if budget else (step < steps):
            if budget:  # a schedule in time, not steps: a busier CPU ends it on time all the same
                steps = step + 1
                lr = lr_at_fraction(step, (time.time() - t0) / budget, args.lr, args.warmup)
            else:
                lr = lr_at(step, steps, args.lr, args.warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = rng.choice(len(rows), size=args.batch, replace=False)
            pixels = (augment(images[torch.from_numpy(idx)], gen, SIDE) - mean) / std
            text = tokenizer(pick_captions(rows, idx, rng))
            out = model(pixels, text)
            clip_loss, cap_loss = loss_fn(
                out["image_features"],
                out["text_features"],
                out["logits"],
                out["labels"],
                out["logit_scale"],
            )
            loss = clip_loss + cap_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            if step % 10 == 0 or step == args.steps - 1:
                elapsed = time.time() - t0
                writer.writerow(
                    [
                        step,
                        f"{elapsed:.1f}",
                        f"{lr:.6f}",
                        f"{clip_loss.item():.4f}",
                        f"{cap_loss.item():.4f}",
                    ]
                )
                fh.flush()
                log.info(
                    "step %d/%d  %.0f s  contrastive %.3f  caption %.3f",
                    step,
                    steps,
                    elapsed,
                    clip_loss.item(),
                    cap_loss.item(),
                )
            if args.checkpoint_minutes and time.time() - last_save > 60 * args.checkpoint_minutes:
                model.eval()
                save_open_clip(embedder, args.out / "demo" / f"checkpoint-{step:05d}", half=True)
                model.train()
                last_save = time.time()
                log.info("checkpoint at step %d", step)
            step += 1
    model.eval()
    seconds = time.time() - t0
    save_open_clip(embedder, out_dir, half=True)
    info = {
        "steps": steps,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "threads": args.threads,
        "train_seconds": round(seconds),
        "patch": args.patch,
        "minutes_budget": args.minutes,
        "images": len(rows),
        "domains": sorted({r["domain"] for r in rows}),
        "parameters": n_params,
        "cpu": cpu_name(),
    }
    if args.init is not None:  # a second stage: record the first one's figures too
        first = args.init.parent / "training.json"
        info["continued_from"] = json.loads(first.read_text()) if first.is_file() else None
    (args.out / "demo" / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    plot_curve(curve, curve.with_suffix(".png"))
    log.info("trained in %.0f s; wrote %s", seconds, out_dir)


def plot_curve(csv_path: Path, png_path: Path, size: tuple[int, int] = (640, 320)) -> None:
    """The two losses of ``loss.csv`` against the step, drawn with Pillow (log scale)."""
    from PIL import Image, ImageDraw

    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    steps = [int(r["step"]) for r in rows]
    series = {"contrastive_loss": (200, 60, 40), "caption_loss": (40, 90, 200)}
    values = [math.log10(max(float(r[k]), 1e-4)) for r in rows for k in series]
    lo, hi = min(values), max(values)
    w, h, pad = size[0], size[1], 40
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((pad, 10, w - 10, h - pad), outline=(120, 120, 120))

    def xy(step: int, value: float) -> tuple[float, float]:
        x = pad + (w - 10 - pad) * step / max(1, steps[-1])
        return x, h - pad - (h - pad - 10) * (math.log10(max(value, 1e-4)) - lo) / (hi - lo or 1)

    for k, (key, colour) in enumerate(series.items()):
        draw.line(
            [xy(s, float(r[key])) for s, r in zip(steps, rows, strict=True)], fill=colour, width=2
        )
        draw.text((pad + 10, 14 + 12 * k), key.replace("_", " "), fill=colour)
    draw.text(
        (pad, h - pad + 6),
        f"step 0 .. {steps[-1]}   loss {10**lo:.2f} .. {10**hi:.2f} (log scale)",
        fill=(60, 60, 60),
    )
    img.save(png_path)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "build" / "demo-train")
    parser.add_argument("--out", type=Path, default=ROOT / "cdir" / "assets" / "models")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--patch", type=int, default=PATCH, help="ViT patch side, px")
    parser.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="if set, train this long (cosine decay over the time, not --steps)",
    )
    parser.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=0.0,
        help="if set, save a checkpoint folder this often",
    )
    parser.add_argument(
        "--init",
        type=Path,
        help="an embedder folder this script wrote, to "
        "continue training from (same data, so the same vocabulary)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)


if __name__ == "__main__":
    main()
