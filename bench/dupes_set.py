"""The near-duplicate set of bench_dupes_folder.py: scripts/make_dupes_set.py at ~5,000 files.

Originals (each a family of its own, with the 8 copies of ``make_dupes_set.TRANSFORMS``):

- the 95 example originals (photos, paintings, sketches, renders, clipart: drawings of one class
  on white that hash alike), and the 40 low-information originals of ``--flat``;
- clipart look-alikes: 2-4 flat-coloured shapes with black outlines on white, 400x400 PNG;
- mosaics: 2x2 tiles of four different examples (a different four each time), 960x960 JPEG q90,
  photo-sized so that JPEG draft decoding has something to save.

``originals=555`` gives 555 x 9 = 4,995 files; fewer keep the same mix (``--quick``).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from make_dupes_set import (  # noqa: E402
    EXAMPLES,
    MANIFEST,
    TRANSFORMS,
    flat_originals,
    originals,
    write_variant,
)

Truth = dict[str, dict[str, str]]
MOSAIC_TILE = 480


def clipart(rng: np.random.Generator, side: int = 400) -> Image.Image:
    """A few flat-coloured shapes with black outlines on white."""
    img = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = (int(v) for v in rng.integers(20, side // 2, 2))
        x1, y1 = x0 + int(rng.integers(60, side // 2)), y0 + int(rng.integers(60, side // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=fill, outline=(0, 0, 0), width=4)
    return img


def mosaic(tiles: list[Path]) -> Image.Image:
    img = Image.new("RGB", (2 * MOSAIC_TILE, 2 * MOSAIC_TILE))
    for n, path in enumerate(tiles):
        with Image.open(path) as tile:
            img.paste(
                tile.convert("RGB").resize((MOSAIC_TILE, MOSAIC_TILE)),
                ((n % 2) * MOSAIC_TILE, (n // 2) * MOSAIC_TILE),
            )
    return img


def plan(n_originals: int) -> dict[str, int]:
    """How many originals of each kind: the 555 of the full set, scaled down."""
    full = {"examples": 95, "flat": 40, "clipart": 30, "mosaic": 390}
    if n_originals >= 555:
        return {**full, "mosaic": n_originals - 165}
    scale = n_originals / 555
    counts = {k: max(2, round(v * scale)) for k, v in full.items()}
    counts["mosaic"] = max(2, n_originals - counts["examples"] - counts["flat"] - counts["clipart"])
    return counts


def make_bench_set(out: Path, n_originals: int = 555, seed: int = 0) -> Truth:
    """Write the set under ``out``; returns {file: {"family", "transform"}} (also written to
    ``out/dupes_manifest.json``)."""
    rng = np.random.default_rng(seed)
    counts = plan(n_originals)
    made: dict[str, Image.Image | Path] = {}
    examples = originals()
    for rel in examples[:: max(1, len(examples) // counts["examples"])][: counts["examples"]]:
        made[rel] = EXAMPLES / rel
    made.update(itertools.islice(flat_originals().items(), counts["flat"]))
    for n in range(counts["clipart"]):
        made[f"lookalike/clipart_{n:03d}.png"] = clipart(rng)
    for n in range(counts["mosaic"]):
        picks = rng.choice(len(examples), 4, replace=False)
        made[f"mosaic/mosaic_{n:04d}.jpg"] = mosaic([EXAMPLES / examples[i] for i in picks])
    truth: Truth = {}
    for rel, source in made.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            (out / rel).write_bytes(source.read_bytes())
        elif rel.endswith(".jpg"):
            source.save(out / rel, "JPEG", quality=90)
        else:
            source.save(out / rel)
        truth[rel] = {"family": rel, "transform": "original"}
        for transform in TRANSFORMS:
            truth[write_variant(out, out, rel, transform)] = {"family": rel, "transform": transform}
    (out / MANIFEST).write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth


def load_or_make(out: Path, n_originals: int) -> Truth:
    """The set in ``out`` when it was made with as many originals, else a new one."""
    manifest = out / MANIFEST
    if manifest.is_file():
        truth = json.loads(manifest.read_text(encoding="utf-8"))
        if sum(t["transform"] == "original" for t in truth.values()) == n_originals:
            return truth
    return make_bench_set(out, n_originals)
