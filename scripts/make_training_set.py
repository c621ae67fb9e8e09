"""Draw a labelled training (or held-out) set with ``make_examples.py``'s renderers.

Writes ``<out>/<domain>/<class>/<domain>_<class>_<i>.jpg`` (the folder tree ``cdir eval`` reads)
and ``<out>/captions.jsonl``: per image its class, domain, colour word and a few template
captions ("a pencil sketch of a car", "a red car in an oil painting", ...). Every image depends
only on (seed, domain, class, index), so a set drawn with another seed shares no image with it.
Compared with the bundled examples each image varies more: the colour variant is drawn at random
(not tied to the index), the pose (position, size, tilt, flip) comes from the renderer's own
random pose, and the backdrop, strokes and lighting from its noise.

    python scripts/make_training_set.py --out build/demo-train --per-cell 100 --seed 1
    python scripts/make_training_set.py --out build/demo-heldout --per-cell 10 --seed 777 \\
        --domains photo,sketch,painting,clipart,render3d,generated
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_examples as mx  # noqa: E402  (a sibling script, not a package)

log = logging.getLogger("make_training_set")

TRAIN_DOMAINS = mx.DOMAINS  # photo, sketch, painting, clipart, render3d
ALL_DOMAINS = (*mx.DOMAINS, "generated")
SIDE = 128  # px of the saved JPEGs (the demo model sees 64 px)
STYLE = {  # domain -> the phrase its captions use (words the style neutraliser knows)
    "photo": "photo", "sketch": "pencil sketch", "painting": "oil painting",
    "clipart": "clipart", "render3d": "3d render", "generated": "digital art",
}
COLOURS = ("red", "blue", "yellow", "green", "orange", "pink", "purple", "white", "brown",
           "cream", "navy")
CLASS_WORD = {"house": "house", "tree": "tree", "car": "car", "fish": "fish",
              "flower": "flower", "boat": "boat"}
SYNONYMS = {"boat": ("boat", "sailboat"), "car": ("car",), "house": ("house",),
            "tree": ("tree",), "fish": ("fish",), "flower": ("flower",)}


def colour_word(description: str) -> str:
    """The first colour word of a shape's description ("sailboat with a dark red hull" -> red)."""
    for word in description.replace(",", " ").split():
        if word in COLOURS:
            return word
    return ""


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def captions(domain: str, label: str, colour: str) -> list[str]:
    """The main template caption first, then paraphrases (sketches are grey: no colour)."""
    style = STYLE[domain]
    out = []
    for name in SYNONYMS[label]:
        thing = f"{colour} {name}" if colour and domain != "sketch" else name
        out += [f"{article(style)} {style} of {article(thing)} {thing}",
                f"{article(thing)} {thing} in {article(style)} {style}",
                f"{article(style)} {style} showing {article(thing)} {thing}",
                f"{article(thing)} {thing}, {style}"]
    return out


def draw(task: tuple[Path, int, str, str, int]) -> dict[str, object]:
    """Draw and save one image; returns its captions.jsonl row."""
    out, seed, domain, label, i = task
    rng = mx.seeded(seed, "train", domain, label, i)
    shape = mx.BUILDERS[label](rng, int(rng.integers(12)))
    rel = f"{domain}/{label}/{domain}_{label}_{i:04d}.jpg"
    if not (out / rel).is_file():  # a file from an interrupted run is the same image: kept
        if domain == "generated":
            img, _ = mx.render_generated(shape, rng, 2 * mx.SIZE)
        else:
            img, _ = mx.RENDERERS[domain](shape, rng)
        img = img.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(out / (rel + ".part"), "JPEG", quality=92)
        (out / (rel + ".part")).replace(out / rel)
    colour = colour_word(shape.description)
    return {"path": rel, "domain": domain, "class": label, "colour": colour,
            "captions": captions(domain, label, colour)}


def build(out: Path, seed: int, per_cell: int, domains: tuple[str, ...], jobs: int) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(out, seed, d, c, i) for d in domains for c in mx.CLASSES for i in range(per_cell)]
    if jobs <= 1:
        rows = [draw(t) for t in tasks]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            rows = list(pool.map(draw, tasks, chunksize=8))
    with (out / "captions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return rows


def load_rows(root: Path) -> list[dict]:
    with (root / "captions.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-cell", type=int, default=100, help="images per (domain, class)")
    parser.add_argument("--domains", default=",".join(TRAIN_DOMAINS),
                        help=f"comma-separated, from {','.join(ALL_DOMAINS)}")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    unknown = set(domains) - set(ALL_DOMAINS)
    if unknown:
        parser.error(f"unknown domains {sorted(unknown)}; choose from {', '.join(ALL_DOMAINS)}")
    rows = build(args.out, args.seed, args.per_cell, domains, args.jobs)
    log.info("drew %d images (%d domains x %d classes x %d) into %s", len(rows), len(domains),
             len(mx.CLASSES), args.per_cell, args.out)


if __name__ == "__main__":
    main()
