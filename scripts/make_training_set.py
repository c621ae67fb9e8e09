"""Draw a labelled training (or held-out) set with ``make_examples.py``'s renderers.

Writes ``<out>/<domain>/<class>/<domain>_<class>_<i>.jpg`` (the folder tree ``cdir eval`` reads)
and ``<out>/captions.jsonl``: per image its class, domain, colour word and a few template
captions ("a pencil sketch of a car", "a red car in an oil painting", ...). Every image depends
only on (seed, domain, class, index), so a set drawn with another seed shares no image with it.

The set is *fair* by default: the object's colour (one palette for all classes), the backdrop
scene (land, road, sea or underwater for photos, paintings and generated pictures), the pose
(grounded or floating, facing, position, size, tilt) are drawn independently of the class, and
class-specific scenery (waves under boats, bubbles round fish) is left out, so only the outline
tells the class: a matcher reading the border colour scores chance. ``--confounded`` draws the
older set, whose backdrops and colours follow the class (a border-colour matcher got P@1 64-67
there for photo <-> painting). Besides ``make_examples.py``'s five styles and ``generated``, two
styles are drawn here: ``silhouette`` (a dark filled outline on a plain light backdrop; trained)
and ``mosaic`` (a photo as a coarse grid of tiles; never trained: a second unseen style).

    python scripts/make_training_set.py --out build/demo-train --per-cell 90 --seed 1 \
        --weights sketch=2,silhouette=2 --domains photo,sketch,painting,clipart,render3d,silhouette
    python scripts/make_training_set.py --out build/fair-902 --per-cell 8 --seed 902 \
        --domains photo,sketch,painting,clipart,render3d,silhouette,generated,mosaic
"""

from __future__ import annotations

import argparse
import colorsys
import json
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_examples as mx  # noqa: E402  (a sibling script, not a package)

log = logging.getLogger("make_training_set")

TRAIN_DOMAINS = (*mx.DOMAINS, "silhouette")  # photo, sketch, painting, clipart, render3d
HELD_OUT_DOMAINS = ("generated", "mosaic")  # never in training: the test of an unseen style
ALL_DOMAINS = (*TRAIN_DOMAINS, *HELD_OUT_DOMAINS)
SIDE = 128  # px of the saved JPEGs (the demo model sees 64 px)
STYLE = {  # domain -> the phrase its captions use (words the style neutraliser knows)
    "photo": "photo",
    "sketch": "pencil sketch",
    "painting": "oil painting",
    "clipart": "clipart",
    "render3d": "3d render",
    "generated": "digital art",
    "silhouette": "silhouette",
    "mosaic": "mosaic",
}
GREY_DOMAINS = frozenset({"sketch", "silhouette"})  # no colour to name
COLOURS = (
    "red",
    "blue",
    "yellow",
    "green",
    "orange",
    "pink",
    "purple",
    "white",
    "brown",
    "cream",
    "navy",
)
# the fair set's object colours: one palette for every class (name, hue in degrees)
FAIR_HUES = (
    ("red", 0),
    ("orange", 28),
    ("yellow", 52),
    ("green", 115),
    ("blue", 215),
    ("purple", 275),
    ("pink", 325),
)
SCENE_NAMES = ("land", "road", "sea", "underwater")
CLASS_WORD = {
    "house": "house",
    "tree": "tree",
    "car": "car",
    "fish": "fish",
    "flower": "flower",
    "boat": "boat",
}
SYNONYMS = {
    "boat": ("boat", "sailboat"),
    "car": ("car",),
    "house": ("house",),
    "tree": ("tree",),
    "fish": ("fish",),
    "flower": ("flower",),
}


def colour_word(description: str) -> str:
    """The first colour word of a shape's description ("sailboat with a dark red hull" -> red)."""
    for word in description.replace(",", " ").split():
        if word in COLOURS:
            return word
    return ""


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def captions(domain: str, label: str, colour: str) -> list[str]:
    """The main template caption first, then paraphrases (sketches, silhouettes: no colour)."""
    style = STYLE[domain]
    out = []
    for name in SYNONYMS[label]:
        thing = f"{colour} {name}" if colour and domain not in GREY_DOMAINS else name
        out += [
            f"{article(style)} {style} of {article(thing)} {thing}",
            f"{article(thing)} {thing} in {article(style)} {style}",
            f"{article(style)} {style} showing {article(thing)} {thing}",
            f"{article(thing)} {thing}, {style}",
        ]
    return out


def polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def fair_shape(shape: mx.Shape, rng: np.random.Generator) -> tuple[mx.Shape, str]:
    """The shape with everything but its outline drawn independently of its class.

    Colour: every part's hue is turned by one angle so that the object's dominant hue (by area)
    lands on a colour drawn from one palette for all classes (trees are no longer green, fish no
    longer orange), which also names the colour in the captions. Scene (the photo, painting and
    generated backdrop), grounded or floating pose, facing, and the class-specific scenery parts
    (waves under boats, bubbles round fish) no longer follow the class: the scene and pose are
    drawn at random, the scenery parts dropped."""
    name, target = FAIR_HUES[int(rng.integers(len(FAIR_HUES)))]
    parts = [p for p in shape.parts if not p.context]
    weight: dict[int, float] = {}
    hues: dict[int, list[tuple[float, float]]] = {}
    for p in parts:
        h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in p.color))
        if s > 0.25:
            b = int(h * 12) % 12
            a = polygon_area(p.pts)
            weight[b] = weight.get(b, 0.0) + a
            hues.setdefault(b, []).append((h, a))
    if weight:
        best = max(weight, key=lambda k: weight[k])
        body = sum(h * a for h, a in hues[best]) / max(1e-9, sum(a for _, a in hues[best]))
    else:
        body = 0.0
    delta = target / 360 - body
    largest = max(range(len(parts)), key=lambda k: polygon_area(parts[k].pts))
    recoloured = []
    for k, p in enumerate(parts):
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in p.color))
        if weight and s > 0.12:
            h, s = (h + delta) % 1.0, max(s, 0.45) if s > 0.25 else s
        elif not weight and k == largest:  # nothing coloured: the largest part takes the colour
            h, s, v = target / 360, 0.6, max(v, 0.5)
        rgb = tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h, s, v))
        recoloured.append(replace(p, color=rgb))
    scene = SCENE_NAMES[int(rng.integers(len(SCENE_NAMES)))]
    grounded = bool(rng.random() < 0.5)
    fair = replace(shape, parts=tuple(recoloured), scene=scene, grounded=grounded, directional=True)
    return fair, name


def render_silhouette(shape: mx.Shape, rng: np.random.Generator) -> Image.Image:
    """A dark filled outline of the object on a plain light backdrop of a random colour: shape
    and nothing else."""
    pose = mx.make_pose(shape, rng, None)
    placed = mx.place(mx.visible_parts(shape, False), pose, shape.grounded)
    hue, sat = float(rng.uniform()), float(rng.uniform(0, 0.35))
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, sat, float(rng.uniform(0.8, 1))))
    bottom = tuple(int(c * 0.85) for c in top)
    img = mx.to_image(mx.vgradient(top, bottom, 0, mx.PX, mx.PX), mx.PX)
    ink = tuple(int(v) for v in rng.integers(0, 50, 3))
    draw = ImageDraw.Draw(img)
    for p in placed:
        draw.polygon([tuple(q) for q in p.pts.tolist()], fill=ink)
    return img.resize((mx.SIZE, mx.SIZE), Image.Resampling.LANCZOS)


def render_mosaic(shape: mx.Shape, rng: np.random.Generator) -> Image.Image:
    """A photo of the object reduced to a coarse grid of flat tiles with grout lines (a style
    no training image has)."""
    img, _ = mx.render_photo(shape, rng)
    tiles = int(rng.integers(12, 18))
    small = img.resize((tiles, tiles), Image.Resampling.BOX)
    big = small.resize((mx.SIZE, mx.SIZE), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(big)
    step = mx.SIZE / tiles
    for k in range(1, tiles):
        draw.line([(k * step, 0), (k * step, mx.SIZE)], fill=(235, 230, 220), width=2)
        draw.line([(0, k * step), (mx.SIZE, k * step)], fill=(235, 230, 220), width=2)
    return big


def render(domain: str, shape: mx.Shape, rng: np.random.Generator) -> Image.Image:
    if domain == "generated":
        return mx.render_generated(shape, rng, 2 * mx.SIZE)[0]
    if domain == "silhouette":
        return render_silhouette(shape, rng)
    if domain == "mosaic":
        return render_mosaic(shape, rng)
    return mx.RENDERERS[domain](shape, rng)[0]


def draw(task: tuple[Path, int, str, str, int, bool]) -> dict[str, object]:
    """Draw and save one image; returns its captions.jsonl row."""
    out, seed, domain, label, i, fair = task
    rng = mx.seeded(seed, "fair" if fair else "train", domain, label, i)
    shape = mx.BUILDERS[label](rng, int(rng.integers(12)))
    if fair:
        shape, colour = fair_shape(shape, rng)
    else:
        colour = colour_word(shape.description)
    rel = f"{domain}/{label}/{domain}_{label}_{i:04d}.jpg"
    if not (out / rel).is_file():  # a file from an interrupted run is the same image: kept
        img = render(domain, shape, rng).convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(out / (rel + ".part"), "JPEG", quality=92)
        (out / (rel + ".part")).replace(out / rel)
    return {
        "path": rel,
        "domain": domain,
        "class": label,
        "colour": colour,
        "captions": captions(domain, label, colour),
    }


def build(
    out: Path,
    seed: int,
    per_cell: int,
    domains: tuple[str, ...],
    jobs: int,
    fair: bool = True,
    weights: dict[str, float] | None = None,
) -> list[dict]:
    """Draw ``per_cell`` images per (domain, class) (times ``weights[domain]``, default 1).

    ``fair`` (the default) draws colour, backdrop and pose independently of the class
    (:func:`fair_shape`); ``fair=False`` is the older set whose backdrops follow the class."""
    out.mkdir(parents=True, exist_ok=True)
    weights = weights or {}
    tasks = [
        (out, seed, d, c, i, fair)
        for d in domains
        for c in mx.CLASSES
        for i in range(max(1, round(per_cell * weights.get(d, 1.0))))
    ]
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
    parser.add_argument(
        "--domains",
        default=",".join(TRAIN_DOMAINS),
        help=f"comma-separated, from {','.join(ALL_DOMAINS)}",
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--weights",
        default="",
        help="per-domain multipliers of --per-cell, e.g. sketch=2,silhouette=2",
    )
    parser.add_argument(
        "--confounded",
        action="store_true",
        help="the older set: backdrop, colour and pose follow the class",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    unknown = set(domains) - set(ALL_DOMAINS)
    if unknown:
        parser.error(f"unknown domains {sorted(unknown)}; choose from {', '.join(ALL_DOMAINS)}")
    weights = {k: float(v) for k, v in (w.split("=") for w in args.weights.split(",") if w)}
    rows = build(
        args.out,
        args.seed,
        args.per_cell,
        domains,
        args.jobs,
        fair=not args.confounded,
        weights=weights,
    )
    log.info(
        "drew %d images (%d domains x %d classes x %d, weights %s) into %s",
        len(rows),
        len(domains),
        len(mx.CLASSES),
        args.per_cell,
        weights or "none",
        args.out,
    )


if __name__ == "__main__":
    main()
