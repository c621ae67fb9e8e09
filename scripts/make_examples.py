"""Draw the bundled example collection ``cdir/assets/examples/`` entirely with code (CC0).

Every object is described ONCE as a :class:`Shape` (coloured polygons in a unit box) and then
rendered through one renderer per visual domain, so object code and style code stay separate:

=========  ==================================================================================
photo      gradient sky/ground scene, lighting gradient on the object, soft shadow, blur, noise
sketch     grey jittered multi-stroke pencil outlines and hatching on off-white paper, no fill
painting   canvas weave, many short brush strokes sampled from a saturated colour study
clipart    flat saturated colours with thick black outlines on white
render3d   inflated volumes lit with diffuse + specular light, ground shadow, studio backdrop
generated  "AI art": vivid dreamy scenes, glossy volumes, bloom; PNG with an A1111 prompt chunk
=========  ==================================================================================

On top of the originals it writes near-duplicates (resized / cropped / re-compressed / flipped),
a Midjourney-style 2x2 grid with an upscale of one tile, ``manifest.json`` (ground truth for the
tests) and ``SOURCES.md``. Output is deterministic for a given seed and Pillow/numpy version.

    python scripts/make_examples.py                 # rewrite cdir/assets/examples/
    python scripts/make_examples.py --contact /tmp/contact.png   # plus a contact sheet to look at
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, PngImagePlugin

log = logging.getLogger("make_examples")

RGB = tuple[int, int, int]
SIZE = 288  # final side of the single images, px
SS = 2  # supersampling factor: everything is drawn at SIZE * SS and downsampled
PX = SIZE * SS
TILE = 256  # side of one tile of the generated 2x2 grid
SEAM = 2  # seam between grid tiles
GEN_SIZE = 320  # side of the other generated images
PER_CELL = 3  # images per (domain, class)
DEFAULT_SEED = 20240601
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "cdir" / "assets" / "examples"

DOMAINS: tuple[str, ...] = ("photo", "sketch", "painting", "clipart", "render3d")
CLASSES: tuple[str, ...] = ("house", "tree", "car", "fish", "flower", "boat")
SCENE_DOMAINS = frozenset({"photo", "painting", "generated"})


# --------------------------------------------------------------------------------------------
# geometry: polygons in a unit box (x right, y down)
# --------------------------------------------------------------------------------------------


def ellipse(
    cx: float, cy: float, rx: float, ry: float, rot: float = 0.0, n: int = 40
) -> np.ndarray:
    """An ellipse as an (n, 2) polygon, rotated by ``rot`` degrees about its centre."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    a = math.radians(rot)
    cos, sin = math.cos(a), math.sin(a)
    return np.stack([cx + x * cos - y * sin, cy + x * sin + y * cos], 1)


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=float)


def poly(*xy: tuple[float, float]) -> np.ndarray:
    return np.array(xy, dtype=float)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 6) -> np.ndarray:
    """A rectangle with quarter-circle corners of radius ``r``."""
    pts: list[tuple[float, float]] = []
    corners = (
        (x1 - r, y0 + r, -90),
        (x1 - r, y1 - r, 0),
        (x0 + r, y1 - r, 90),
        (x0 + r, y0 + r, 180),
    )
    for cx, cy, start in corners:
        for k in range(n + 1):
            a = math.radians(start + 90 * k / n)
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return np.array(pts)


def stroke(path: np.ndarray, width: float) -> np.ndarray:
    """Outline polygon of a polyline of the given width (for stems, masts, bars)."""
    path = np.asarray(path, dtype=float)
    d = np.gradient(path, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1])[:, None], 1e-9)
    normal = np.stack([-d[:, 1], d[:, 0]], 1) * width / 2
    return np.vstack([path + normal, (path - normal)[::-1]])


def curve(p0: tuple[float, float], p1: tuple[float, float], bend: float, n: int = 12) -> np.ndarray:
    """A gentle arc from p0 to p1, bulging sideways by ``bend``."""
    t = np.linspace(0, 1, n)[:, None]
    a, b = np.array(p0), np.array(p1)
    d = b - a
    normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
    return a + t * d + normal * bend * np.sin(math.pi * t)


def polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def polygon_perimeter(pts: np.ndarray) -> float:
    return float(np.hypot(*(np.roll(pts, -1, 0) - pts).T).sum())


# --------------------------------------------------------------------------------------------
# objects: each class is drawn once as a Shape
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One coloured polygon of an object, drawn in list order (later parts in front)."""

    pts: np.ndarray
    color: RGB
    context: bool = False  # scenery that only backdrop-less domains draw (waves, bubbles)


@dataclass(frozen=True)
class Shape:
    label: str
    parts: tuple[Part, ...]
    description: str  # with colours, e.g. "red car"
    plain: str  # without colours, for the grey sketches, e.g. "car"
    scene: str  # land | road | sea | underwater
    grounded: bool = True
    directional: bool = False  # has a front, so a flip changes "facing"


def pick(palette: list[tuple[str, RGB]], variant: int) -> tuple[str, RGB]:
    return palette[variant % len(palette)]


def make_house(rng: np.random.Generator, variant: int) -> Shape:
    wall_name, wall = pick(
        [
            ("cream", (232, 216, 178)),
            ("red brick", (184, 84, 62)),
            ("pale blue", (164, 196, 222)),
            ("yellow", (236, 204, 96)),
        ],
        variant,
    )
    roof_name, roof = pick(
        [("dark red", (150, 44, 36)), ("brown", (104, 66, 48)), ("slate grey", (82, 88, 104))],
        variant + int(rng.integers(3)),
    )
    apex = float(rng.uniform(0.06, 0.16))
    door_x = float(rng.choice([0.30, 0.44, 0.58]))
    frame = (250, 250, 245)
    glass = (150, 196, 228)
    parts = [
        Part(rect(0.66, apex + 0.06, 0.76, 0.36), (120, 70, 56)),  # chimney, behind the roof
        Part(rect(0.14, 0.44, 0.86, 1.0), wall),
        Part(poly((0.04, 0.47), (0.5, apex), (0.96, 0.47)), roof),
        Part(rect(door_x, 0.68, door_x + 0.13, 1.0), (110, 70, 40)),
        Part(ellipse(door_x + 0.105, 0.85, 0.012, 0.012, n=12), (230, 190, 60)),
    ]
    for wx in (0.2, 0.62) if door_x != 0.30 else (0.47, 0.67):
        parts.append(Part(rect(wx, 0.55, wx + 0.16, 0.71), frame))
        parts.append(Part(rect(wx + 0.015, 0.565, wx + 0.145, 0.695), glass))
        parts.append(Part(stroke(poly((wx + 0.08, 0.565), (wx + 0.08, 0.695)), 0.014), frame))
        parts.append(Part(stroke(poly((wx + 0.015, 0.63), (wx + 0.145, 0.63)), 0.014), frame))
    if rng.random() < 0.6:  # round attic window
        parts.append(Part(ellipse(0.5, (apex + 0.47) / 2 + 0.04, 0.05, 0.05), frame))
        parts.append(Part(ellipse(0.5, (apex + 0.47) / 2 + 0.04, 0.036, 0.036), glass))
    desc = f"{wall_name} house with a {roof_name} roof"
    return Shape("house", tuple(parts), desc, "house with a chimney", "land")


def make_tree(rng: np.random.Generator, variant: int) -> Shape:
    trunk = (112, 76, 46)
    if variant % 3 == 2:  # a conifer
        green = (34 + int(rng.integers(20)), 100 + int(rng.integers(30)), 56)
        parts = [Part(poly((0.45, 1.0), (0.47, 0.7), (0.53, 0.7), (0.55, 1.0)), trunk)]
        tiers = ((0.38, 0.82, 0.36), (0.2, 0.6, 0.29), (0.02, 0.4, 0.21))
        for k, (top, bottom, half) in enumerate(tiers):
            shade = tuple(min(255, c + 12 * k) for c in green)
            parts.append(Part(poly((0.5, top), (0.5 + half, bottom), (0.5 - half, bottom)), shade))
        return Shape("tree", tuple(parts), "green pine tree", "pine tree", "land")
    name, leaf = pick([("leafy green", (70, 142, 58)), ("bright green", (96, 160, 52))], variant)
    parts = [
        Part(
            poly(
                (0.41, 1.0),
                (0.46, 0.52),
                (0.36, 0.38),
                (0.40, 0.36),
                (0.5, 0.48),
                (0.6, 0.34),
                (0.64, 0.36),
                (0.54, 0.52),
                (0.59, 1.0),
            ),
            trunk,
        ),
    ]
    lumps = [
        (0.28, 0.42, 0.19),
        (0.72, 0.42, 0.19),
        (0.38, 0.22, 0.2),
        (0.62, 0.22, 0.2),
        (0.5, 0.12, 0.17),
        (0.5, 0.36, 0.22),
    ]
    for k, (x, y, r) in enumerate(lumps):
        jitter = rng.normal(0, 0.015, 3)
        tone = tuple(int(np.clip(c * (0.85 + 0.05 * k) + jitter[2] * 200, 0, 255)) for c in leaf)
        parts.append(Part(ellipse(x + jitter[0], y + jitter[1], r, r * 0.92), tone))
    return Shape("tree", tuple(parts), f"{name} leafy tree", "leafy tree", "land")


def make_car(rng: np.random.Generator, variant: int) -> Shape:
    name, body = pick(
        [
            ("red", (204, 34, 34)),
            ("blue", (36, 86, 186)),
            ("yellow", (240, 188, 30)),
            ("green", (40, 140, 80)),
        ],
        variant,
    )
    roof_y = float(rng.uniform(0.26, 0.34))
    back = float(rng.choice([0.12, 0.22]))  # hatchback vs sedan rear
    glass = (168, 206, 232)
    dark = (32, 32, 36)
    parts = [
        Part(poly((back, 0.52), (0.3, roof_y), (0.66, roof_y), (0.8, 0.52)), body),
        Part(rounded_rect(0.02, 0.5, 0.98, 0.76, 0.07), body),
        Part(
            poly((back + 0.06, 0.5), (0.32, roof_y + 0.04), (0.48, roof_y + 0.04), (0.48, 0.5)),
            glass,
        ),
        Part(poly((0.52, 0.5), (0.52, roof_y + 0.04), (0.64, roof_y + 0.04), (0.75, 0.5)), glass),
        Part(stroke(poly((0.5, 0.53), (0.5, 0.72)), 0.012), tuple(int(c * 0.6) for c in body)),
        Part(rect(0.41, 0.57, 0.46, 0.59), (60, 60, 60)),
        Part(ellipse(0.95, 0.57, 0.028, 0.022), (255, 232, 130)),
        Part(rect(0.02, 0.55, 0.05, 0.6), (220, 40, 30)),
    ]
    for wx in (0.24, 0.77):
        parts.append(Part(ellipse(wx, 0.76, 0.115, 0.115), dark))
        parts.append(Part(ellipse(wx, 0.76, 0.055, 0.055), (190, 192, 196)))
    return Shape("car", tuple(parts), f"{name} car", "car", "road", directional=True)


def make_fish(
    rng: np.random.Generator, variant: int, color: tuple[str, RGB] | None = None
) -> Shape:
    name, body = color or pick(
        [
            ("orange", (244, 124, 30)),
            ("blue", (54, 116, 222)),
            ("yellow", (244, 204, 40)),
            ("red", (220, 44, 44)),
        ],
        variant,
    )
    fin = tuple(int(c * 0.78) for c in body)
    h = float(rng.uniform(0.17, 0.23))
    parts = [
        Part(poly((0.26, 0.5), (0.04, 0.5 - h - 0.06), (0.11, 0.5), (0.04, 0.5 + h + 0.06)), fin),
        Part(poly((0.36, 0.5 - h + 0.04), (0.5, 0.5 - h - 0.13), (0.64, 0.5 - h + 0.03)), fin),
        Part(poly((0.48, 0.5 + h - 0.03), (0.55, 0.5 + h + 0.1), (0.62, 0.5 + h - 0.04)), fin),
        Part(ellipse(0.54, 0.5, 0.32, h, n=48), body),
    ]
    striped = variant % 2 == 0
    if striped:
        for sx in (0.42, 0.6):
            half = h * math.sqrt(max(0.0, 1 - ((sx - 0.54) / 0.32) ** 2)) * 0.96
            parts.append(Part(ellipse(sx, 0.5, 0.035, half), (250, 250, 250)))
    parts += [
        Part(stroke(curve((0.7, 0.5 - h * 0.6), (0.7, 0.5 + h * 0.6), -0.04), 0.012), fin),
        Part(ellipse(0.77, 0.45, 0.045, 0.045), (250, 250, 250)),
        Part(ellipse(0.785, 0.45, 0.024, 0.024), (20, 20, 24)),
        Part(ellipse(0.2, 0.24, 0.03, 0.03), (200, 230, 250), context=True),  # bubbles
        Part(ellipse(0.12, 0.12, 0.02, 0.02), (200, 230, 250), context=True),
    ]
    desc = f"{name} fish" + (" with white stripes" if striped else "")
    plain = "fish with stripes" if striped else "fish"
    return Shape("fish", tuple(parts), desc, plain, "underwater", grounded=False, directional=True)


def make_flower(rng: np.random.Generator, variant: int) -> Shape:
    name, petal = pick(
        [
            ("red", (222, 38, 58)),
            ("pink", (240, 124, 182)),
            ("purple", (150, 84, 204)),
            ("yellow", (248, 204, 40)),
        ],
        variant,
    )
    centre = (110, 70, 30) if name == "yellow" else (248, 204, 40)
    stem = (52, 124, 44)
    cy = 0.3
    n_petals = int(rng.integers(5, 9))
    phase = float(rng.uniform(0, 360))
    path = curve((0.5, 1.0), (0.5, cy), float(rng.uniform(-0.06, 0.06)))
    parts = [Part(stroke(path, 0.035), stem)]
    for leaf_y, side in ((float(rng.uniform(0.66, 0.74)), -1), (float(rng.uniform(0.78, 0.86)), 1)):
        sx = float(np.interp(leaf_y, path[::-1, 1], path[::-1, 0]))  # the stem's x at that height
        axis = np.array([math.cos(math.radians(30)), -side * math.sin(math.radians(30))])
        cx, cy_leaf = np.array([sx, leaf_y]) + side * 0.1 * axis
        parts.append(Part(ellipse(float(cx), float(cy_leaf), 0.115, 0.042, rot=-side * 30), stem))
    for k in range(n_petals):
        a = phase + 360 * k / n_petals
        px, py = 0.5 + 0.14 * math.cos(math.radians(a)), cy + 0.14 * math.sin(math.radians(a))
        parts.append(Part(ellipse(px, py, 0.13, 0.065, rot=a), petal))
    parts.append(Part(ellipse(0.5, cy, 0.08, 0.08), centre))
    return Shape("flower", tuple(parts), f"{name} flower", "flower", "land")


def make_boat(rng: np.random.Generator, variant: int) -> Shape:
    name, hull = pick(
        [
            ("dark red", (150, 40, 40)),
            ("navy", (40, 60, 124)),
            ("brown wooden", (128, 84, 48)),
            ("white", (238, 238, 234)),
        ],
        variant,
    )
    sail = (246, 244, 236) if name != "white" else (230, 80, 60)
    jib = (246, 244, 236) if rng.random() < 0.5 else (236, 214, 120)
    parts = [
        Part(stroke(poly((0.48, 0.72), (0.48, 0.05)), 0.022), (110, 80, 50)),
        Part(poly((0.51, 0.08), (0.51, 0.64), (0.88, 0.64)), sail),
        Part(poly((0.45, 0.16), (0.45, 0.64), (0.16, 0.64)), jib),
        Part(poly((0.47, 0.05), (0.6, 0.08), (0.47, 0.11)), (220, 40, 40)),
        Part(poly((0.0, 0.66), (1.0, 0.64), (0.84, 0.86), (0.14, 0.86)), hull),
        Part(
            poly((0.03, 0.69), (0.97, 0.675), (0.955, 0.7), (0.045, 0.715)),
            (240, 240, 236) if name != "white" else (40, 60, 124),
        ),
    ]
    xs = np.linspace(-0.06, 1.06, 40)
    crest = np.stack([xs, 0.82 + 0.02 * np.sin(xs * 6 * math.pi)], 1)
    wave = np.vstack([crest, [(1.06, 0.95), (-0.06, 0.95)]])
    parts.append(Part(wave, (70, 150, 214), context=True))
    desc = f"sailboat with a {name} hull"
    return Shape("boat", tuple(parts), desc, "sailboat", "sea", directional=True)


BUILDERS: dict[str, Callable[[np.random.Generator, int], Shape]] = {
    "house": make_house,
    "tree": make_tree,
    "car": make_car,
    "fish": make_fish,
    "flower": make_flower,
    "boat": make_boat,
}


# --------------------------------------------------------------------------------------------
# placing a shape on the canvas
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    cx: float  # centre x, fraction of the canvas
    anchor_y: float  # bottom (grounded) or centre (floating), fraction of the canvas
    size: float  # longest side of the object's box, fraction of the canvas
    flip: bool
    angle: float  # degrees


@dataclass(frozen=True)
class Placed:
    pts: np.ndarray  # pixel coordinates on the supersampled canvas
    color: RGB


def visible_parts(shape: Shape, with_context: bool) -> list[Part]:
    return [p for p in shape.parts if with_context or not p.context]


def extent(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a point set."""
    lo, hi = points.min(0), points.max(0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def bbox(parts: list[Part]) -> tuple[float, float, float, float]:
    return extent(np.vstack([p.pts for p in parts]))


def place(parts: list[Part], pose: Pose, grounded: bool, px: int = PX) -> list[Placed]:
    x0, y0, x1, y1 = bbox(parts)
    scale = pose.size * px / max(x1 - x0, y1 - y0)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    a = math.radians(pose.angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    lift = (y1 - y0) * scale / 2 if grounded else 0.0
    origin = np.array([pose.cx * px, pose.anchor_y * px - lift])
    out = []
    for p in parts:
        q = (p.pts - centre) * scale
        if pose.flip:
            q[:, 0] = -q[:, 0]
        out.append(Placed(q @ rot.T + origin, p.color))
    return out


def object_box(placed: list[Placed]) -> tuple[float, float, float, float]:
    return extent(np.vstack([p.pts for p in placed]))


def make_pose(shape: Shape, rng: np.random.Generator, horizon: float | None) -> Pose:
    """A random pose that keeps the object inside the canvas (and on the ground if it has one)."""
    x0, y0, x1, y1 = bbox(visible_parts(shape, horizon is None))
    w, h = x1 - x0, y1 - y0
    longest = max(w, h)
    if shape.grounded:
        if shape.scene == "sea" and horizon is not None:
            anchor = horizon + float(rng.uniform(0.08, 0.16))
        elif horizon is not None:
            anchor = float(rng.uniform(max(horizon + 0.14, 0.78), 0.94))
        else:
            anchor = float(rng.uniform(0.86, 0.93))
        size = float(rng.uniform(0.62, 0.82))
        size = min(size, (anchor - 0.05) * longest / h, 0.9 * longest / w)
    else:
        anchor = float(rng.uniform(0.42, 0.58))
        size = min(float(rng.uniform(0.62, 0.84)), 0.9 * longest / w)
    half_w = size * w / longest / 2
    cx = float(rng.uniform(half_w + 0.04, 1 - half_w - 0.04)) if half_w < 0.46 else 0.5
    if not shape.grounded:
        half_h = size * h / longest / 2
        anchor = float(np.clip(anchor, half_h + 0.04, 1 - half_h - 0.04))
    angle = float(rng.uniform(-12, 12)) if not shape.grounded else float(rng.uniform(-2.5, 2.5))
    flip = bool(rng.random() < 0.5) if shape.directional else False
    return Pose(cx, anchor, size, flip, angle)


def facing(shape: Shape, pose: Pose) -> str:
    if not shape.directional:
        return ""
    return ", facing left" if pose.flip else ", facing right"


# --------------------------------------------------------------------------------------------
# raster helpers
# --------------------------------------------------------------------------------------------


def poly_mask(pts: np.ndarray, px: int = PX) -> np.ndarray:
    img = Image.new("L", (px, px), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in pts.tolist()], fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def masks_for(placed: list[Placed], px: int = PX) -> list[np.ndarray]:
    return [poly_mask(p.pts, px) for p in placed]


def covered_after(masks: list[np.ndarray]) -> list[np.ndarray]:
    """For each part, how much of it later (front) parts cover."""
    out: list[np.ndarray] = [np.zeros_like(masks[0])] * len(masks)
    uncovered = np.ones_like(masks[0])
    for i in range(len(masks) - 1, -1, -1):
        out[i] = 1.0 - uncovered
        uncovered = uncovered * (1.0 - masks[i])
    return out


def blur(a: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a float image in [0, 1] (2-D) or [0, 255] (H, W, 3)."""
    if a.ndim == 2:
        img = Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8), "L")
        return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Value noise in about [-1, 1] with features of ``cell`` px."""
    small = rng.uniform(0, 255, (max(2, shape[0] // cell + 2), max(2, shape[1] // cell + 2)))
    img = Image.fromarray(small.astype(np.uint8), "L").resize(
        (shape[1] + 2 * cell, shape[0] + 2 * cell), Image.BICUBIC
    )
    arr = np.asarray(img, dtype=np.float32)[cell : cell + shape[0], cell : cell + shape[1]]
    return (arr - 127.5) / 127.5


def vgradient(top: RGB, bottom: RGB, y0: int, y1: int, px: int = PX) -> np.ndarray:
    t = np.linspace(0, 1, max(1, y1 - y0))[:, None, None]
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    return np.broadcast_to(col, (max(1, y1 - y0), px, 3)).copy()


def composite(base: np.ndarray, color: np.ndarray | RGB, alpha: np.ndarray) -> np.ndarray:
    c = np.asarray(color, dtype=np.float32)
    return base * (1 - alpha[..., None]) + c * alpha[..., None]


def saturate(color: RGB, factor: float, gain: float = 1.0) -> RGB:
    c = np.array(color, np.float32)
    m = c.mean()
    r, g, b = (int(v) for v in np.clip((m + (c - m) * factor) * gain, 0, 255))
    return r, g, b


def luminance(color: RGB) -> float:
    r, g, b = color
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0


def to_image(arr: np.ndarray, size: int = SIZE) -> Image.Image:
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img.resize((size, size), Image.LANCZOS) if img.width != size else img


# --------------------------------------------------------------------------------------------
# scenes (photo, painting, generated)
# --------------------------------------------------------------------------------------------


def soft_blobs(
    rng: np.random.Generator,
    n: int,
    box: tuple[float, float, float, float],
    rx: tuple[float, float],
    ry: tuple[float, float],
    radius: float,
    px: int = PX,
) -> np.ndarray:
    """A blurred mask of ``n`` random ellipses inside ``box`` (fractions): clouds, hills, bushes."""
    img = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(img)
    for _ in range(n):
        cx, cy = rng.uniform(box[0], box[2]) * px, rng.uniform(box[1], box[3]) * px
        a, b = rng.uniform(*rx) * px, rng.uniform(*ry) * px
        draw.ellipse((cx - a, cy - b, cx + a, cy + b), fill=255)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def sky(rng: np.random.Generator, horizon: int, px: int = PX) -> np.ndarray:
    top = (int(rng.integers(60, 100)), int(rng.integers(120, 150)), int(rng.integers(196, 226)))
    arr = vgradient(top, (196, 218, 238), 0, horizon, px)
    n = int(rng.integers(4, 9))
    clouds = soft_blobs(rng, n, (0, 0.05, 1, 0.3), (0.06, 0.14), (0.025, 0.05), px / 60, px)
    clouds = clouds[:horizon]
    return composite(arr, (248, 248, 250), clouds * 0.85)


def textured(arr: np.ndarray, rng: np.random.Generator, amount: float, cell: int) -> np.ndarray:
    n = smooth_noise(rng, arr.shape[:2], cell)
    return arr * (1 + amount * n[..., None])


def scene_land(rng: np.random.Generator, horizon: int, px: int = PX) -> np.ndarray:
    top = sky(rng, horizon, px)
    line = horizon / px
    hills = soft_blobs(rng, 6, (0, line, 1, line), (0.15, 0.35), (0.03, 0.07), 3, px)
    grass = vgradient((118, 156, 74), (58, 104, 40), horizon, px, px)
    grass = textured(textured(grass, rng, 0.12, px // 12), rng, 0.06, 4)
    arr = np.vstack([top, grass])
    return composite(arr, (84, 120, 78), hills * 0.8 * (np.arange(px)[:, None] < horizon + 2))


def scene_road(rng: np.random.Generator, horizon: int, px: int = PX) -> np.ndarray:
    arr = scene_land(rng, horizon, px)
    road_top = horizon + int(0.06 * px)
    asphalt = textured(vgradient((118, 118, 122), (72, 72, 78), road_top, px, px), rng, 0.05, 3)
    arr[road_top:] = asphalt
    lane = road_top + int(0.35 * (px - road_top))
    for x in range(-int(rng.integers(0, 60)), px, px // 5):
        arr[lane : lane + px // 90, max(0, x) : max(0, x + px // 10)] = (226, 226, 214)
    return arr


def streaks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Noise stretched sideways, in about [-1, 1]: ripples on water."""
    small = smooth_noise(rng, (h, max(2, w // 8)), 3)
    img = Image.fromarray(((small + 1) * 127).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    return np.asarray(img, np.float32) / 127 - 1


def scene_sea(rng: np.random.Generator, horizon: int, px: int = PX) -> np.ndarray:
    top = sky(rng, horizon, px)
    sea = vgradient((70, 130, 176), (22, 62, 104), horizon, px, px)
    sea *= 1 + 0.12 * streaks(rng, px - horizon, px)[..., None]
    return np.vstack([top, sea])


def light_rays(rng: np.random.Generator, px: int = PX) -> np.ndarray:
    img = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x = rng.uniform(0, px)
        w, spread = rng.uniform(0.02, 0.06) * px, rng.uniform(0.1, 0.3) * px
        draw.polygon([(x - w, 0), (x + w, 0), (x + w + spread, px), (x - w + spread, px)], fill=90)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(px / 40)), np.float32) / 255.0


def seabed(rng: np.random.Generator, arr: np.ndarray, color: RGB, px: int = PX) -> np.ndarray:
    xs = np.arange(px)
    top = (0.86 + 0.03 * np.sin(xs / px * rng.uniform(4, 9) + rng.uniform(0, 6))) * px
    sand = (np.arange(px)[:, None] > top[None, :]).astype(np.float32)
    flat = np.broadcast_to(np.array(color, np.float32), arr.shape).copy()
    sand_col = textured(flat, rng, 0.08, 4)
    return arr * (1 - sand[..., None]) + sand_col * sand[..., None]


def weeds(
    rng: np.random.Generator, arr: np.ndarray, color: RGB, n: int, px: int = PX
) -> np.ndarray:
    layer = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(n):
        x = rng.choice([rng.uniform(0, 0.2), rng.uniform(0.8, 1.0)]) * px
        h = rng.uniform(0.12, 0.3) * px
        tip = (x + rng.uniform(-0.05, 0.05) * px, px - h)
        pts = curve((x, px), tip, rng.uniform(-0.04, 0.04) * px)
        draw.line([tuple(p) for p in pts.tolist()], fill=255, width=int(px / 70))
    return composite(arr, color, np.asarray(layer, np.float32) / 255.0)


def scene_underwater(rng: np.random.Generator, horizon: int, px: int = PX) -> np.ndarray:
    arr = vgradient((76, 178, 206), (12, 54, 100), 0, px, px)
    arr += light_rays(rng, px)[..., None] * 120
    arr = weeds(rng, arr, (40, 110, 70), 5, px)
    return seabed(rng, arr, (196, 180, 134), px)


SCENES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "land": scene_land,
    "road": scene_road,
    "sea": scene_sea,
    "underwater": scene_underwater,
}


def ground_shadow(
    box: tuple[float, float, float, float], drop: float, squash: float, radius: float, px: int = PX
) -> np.ndarray:
    x0, _, x1, y1 = box
    w = (x1 - x0) * 0.55
    img = Image.new("L", (px, px), 0)
    cy = y1 + drop
    cx = (x0 + x1) / 2
    ImageDraw.Draw(img).ellipse((cx - w, cy - w * squash, cx + w, cy + w * squash), fill=255)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


# --------------------------------------------------------------------------------------------
# shading shared by photo, render3d and generated
# --------------------------------------------------------------------------------------------

LIGHT = (np.array([-0.5, -0.7, 0.75]) / np.linalg.norm([-0.5, -0.7, 0.75])).astype(np.float32)
HALF = ((LIGHT + [0, 0, 1]) / np.linalg.norm(LIGHT + [0, 0, 1])).astype(np.float32)


@dataclass(frozen=True)
class Lighting:
    bulge: float  # how strongly edges roll off (normal slope at the silhouette)
    ambient: float
    diffuse: float
    specular: float
    shininess: float
    rim: RGB | None = None  # a coloured back light on the silhouette


def fine_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Float Gaussian-like blur (three box passes per axis): no 8-bit steps, so smooth normals."""
    r = max(1, round((math.sqrt(4 * sigma * sigma + 1) - 1) / 2))
    for _ in range(2):  # rows, then (after the transpose) columns
        for _ in range(3):
            c = np.cumsum(np.pad(a, ((r + 1, r), (0, 0)), mode="edge"), axis=0, dtype=np.float64)
            a = (c[2 * r + 1 :] - c[: -2 * r - 1]) / (2 * r + 1)
        a = a.T
    return a.astype(np.float32)


def part_window(pts: np.ndarray, pad: int, px: int) -> tuple[int, int, int, int]:
    x0, y0 = max(0, int(pts[:, 0].min()) - pad), max(0, int(pts[:, 1].min()) - pad)
    x1, y1 = min(px, int(pts[:, 0].max()) + pad + 1), min(px, int(pts[:, 1].max()) + pad + 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def shade_part(pts: np.ndarray, mask: np.ndarray, color: RGB, light: Lighting) -> np.ndarray:
    """RGB of an inflated volume whose silhouette is ``mask`` (a crop with room around the part)."""
    thickness = 2 * polygon_area(pts) / max(polygon_perimeter(pts), 1e-6)
    radius = float(np.clip(0.7 * thickness, 1.5, 28 * SS))
    gy, gx = np.gradient(fine_blur(mask, radius))
    k = np.float32(light.bulge * radius)
    nx, ny = -gx * k, -gy * k
    nz = 1 / np.sqrt(1 + nx * nx + ny * ny)
    nx, ny = nx * nz, ny * nz
    diffuse = np.clip(nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2], 0, 1)
    spec = np.clip(nx * HALF[0] + ny * HALF[1] + nz * HALF[2], 0, 1) ** light.shininess
    base = np.array(color, np.float32)
    rgb = base * (light.ambient + light.diffuse * diffuse[..., None])
    rgb += 255 * light.specular * spec[..., None]
    if light.rim is not None:
        rgb += np.array(light.rim, np.float32) * (0.8 * (1 - nz) ** 2)[..., None]
    return rgb


def shaded_object(
    arr: np.ndarray,
    placed: list[Placed],
    masks: list[np.ndarray],
    light: Lighting,
    color_fn: Callable[[RGB], RGB] = lambda c: c,
) -> np.ndarray:
    """Composite every part as a lit volume, working only in a window around each part."""
    px = arr.shape[0]
    for p, m in zip(placed, masks, strict=True):
        thickness = 2 * polygon_area(p.pts) / max(polygon_perimeter(p.pts), 1e-6)
        x0, y0, x1, y1 = part_window(p.pts, int(2.5 * min(0.7 * thickness, 28 * SS)) + 4, px)
        if x1 <= x0 or y1 <= y0:
            continue
        mc = m[y0:y1, x0:x1, None]
        rgb = shade_part(p.pts, m[y0:y1, x0:x1], color_fn(p.color), light)
        arr[y0:y1, x0:x1] = arr[y0:y1, x0:x1] * (1 - mc) + rgb * mc
    return arr


# --------------------------------------------------------------------------------------------
# the domain renderers: (shape, rng) -> (image, pose)
# --------------------------------------------------------------------------------------------

PHOTO_LIGHT = Lighting(bulge=1.4, ambient=0.55, diffuse=0.55, specular=0.1, shininess=20)
RENDER_LIGHT = Lighting(bulge=3.2, ambient=0.34, diffuse=0.82, specular=0.55, shininess=36)


def render_photo(shape: Shape, rng: np.random.Generator) -> tuple[Image.Image, Pose]:
    horizon = float(rng.uniform(0.4, 0.58))
    pose = make_pose(shape, rng, horizon)
    arr = blur(SCENES[shape.scene](rng, int(horizon * PX), PX), 1.2 * SS)  # shallow depth of field
    placed = place(visible_parts(shape, False), pose, shape.grounded)
    box = object_box(placed)
    if shape.grounded:
        shadow = ground_shadow(box, 0, 0.12, PX / 50)
        arr *= 1 - 0.5 * shadow[..., None]
    masks = masks_for(placed)
    arr = shaded_object(arr, placed, masks, PHOTO_LIGHT, lambda c: saturate(c, 0.85))
    surface = np.clip(sum(masks), 0, 1) * smooth_noise(rng, (PX, PX), 6 * SS)
    arr *= (1 + 0.06 * surface)[..., None]
    # a light falloff across the whole frame (sun from the upper left) and a vignette
    yy, xx = np.mgrid[0:PX, 0:PX] / PX
    arr *= (1.08 - 0.16 * (xx + yy) / 2)[..., None]
    arr *= (1 - 0.35 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2))[..., None]
    img = to_image(arr).filter(ImageFilter.GaussianBlur(0.6))
    # sensor noise: luma plus a little chroma
    noise = rng.normal(0, 3.5, (SIZE, SIZE, 1)) + rng.normal(0, 2.0, (SIZE, SIZE, 3))
    noisy = np.asarray(img, np.float32) + noise
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB"), pose


def wobbly(
    pts: np.ndarray, closed: bool, rng: np.random.Generator, amp: float, step: float
) -> np.ndarray:
    """Resample a path densely and add a smooth hand tremor; a closed path starts somewhere random
    and overshoots or falls short a little, like a pencil stroke."""
    path = np.vstack([pts, pts]) if closed else pts
    seg = np.hypot(*np.diff(path, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1] / 2 if closed else cum[-1]
    start = rng.uniform(0, total) if closed else 0.0
    length = total * rng.uniform(0.94, 1.07) if closed else total
    n = max(int(length / step), 4)
    t = np.linspace(start, start + length, n)
    xy = np.stack([np.interp(t, cum, path[:, 0]), np.interp(t, cum, path[:, 1])], 1)
    noise = rng.normal(0, 1, (n + 8, 2))
    kernel = np.hanning(9) / np.hanning(9).sum()
    tremor = np.stack([np.convolve(noise[:, k], kernel, mode="valid") for k in range(2)], 1)[:n]
    return xy + tremor * amp * 2.2 + rng.normal(0, amp, 2)


def hatch(
    mask: np.ndarray,
    pts: np.ndarray,
    spacing: float,
    angle: float,
    rng: np.random.Generator,
    strength: float,
) -> np.ndarray:
    """Parallel pencil lines at ``angle`` degrees over the part's box, kept inside its mask."""
    px = mask.shape[0]
    layer = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(layer)
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    r = math.hypot(x1 - x0, y1 - y0) / 2 + spacing
    a = math.radians(angle)
    d, n = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    for off in np.arange(-r, r, spacing):
        o = off + rng.normal(0, spacing * 0.12)
        p0 = c + n * o - d * r + rng.normal(0, 1.5, 2)
        p1 = c + n * o + d * r + rng.normal(0, 1.5, 2)
        value = int(255 * strength * rng.uniform(0.6, 1.0))
        draw.line([tuple(p0), tuple(p1)], fill=value, width=SS)
    return np.asarray(layer, np.float32) / 255.0 * mask


def paper(rng: np.random.Generator, px: int = PX) -> np.ndarray:
    tone = np.array([244, 240, 228], np.float32) + rng.normal(0, 3, 3)
    arr = np.broadcast_to(tone, (px, px, 3)).copy()
    arr = textured(arr, rng, 0.025, px // 6)
    return arr + rng.normal(0, 3.0, (px, px, 1))


def render_sketch(shape: Shape, rng: np.random.Generator) -> tuple[Image.Image, Pose]:
    pose = make_pose(shape, rng, None)
    placed = place(visible_parts(shape, True), pose, shape.grounded)
    masks = masks_for(placed)
    covered = covered_after(masks)
    graphite = np.zeros((PX, PX), np.float32)
    hatch_angle = float(rng.uniform(35, 55))
    for p, m, cov in zip(placed, masks, covered, strict=True):
        lines = Image.new("L", (PX, PX), 0)
        draw = ImageDraw.Draw(lines)
        for _ in range(int(rng.integers(2, 4))):
            path = wobbly(p.pts, True, rng, amp=0.9 * SS, step=3 * SS)
            draw.line([tuple(q) for q in path.tolist()], fill=int(rng.uniform(150, 215)), width=SS)
        ink = np.asarray(lines, np.float32) / 255.0
        lum = luminance(p.color)
        area = polygon_area(p.pts)
        if lum < 0.3 and area < 0.003 * PX * PX:
            ink = np.maximum(ink, 0.75 * m)  # pupils, tyres: solid graphite
        elif lum < 0.78:
            spacing = (4 + 9 * lum) * SS
            angle = hatch_angle + rng.normal(0, 5)
            ink = ink + hatch(m, p.pts, spacing, angle, rng, 0.55 - 0.3 * lum)
            if lum < 0.42:
                ink = ink + hatch(m, p.pts, spacing * 1.3, hatch_angle - 90, rng, 0.35)
        graphite += ink * (1 - cov)
    if shape.grounded and shape.scene != "sea":
        graphite += ground_strokes(object_box(placed), rng)
    graphite = np.clip(blur(np.clip(graphite, 0, 1), 0.5 * SS), 0, 1)
    pencil = np.array([64, 64, 70], np.float32)
    arr = paper(rng)
    arr = arr * (1 - 0.9 * graphite[..., None]) + pencil * 0.9 * graphite[..., None]
    return to_image(arr), pose


def ground_strokes(box: tuple[float, float, float, float], rng: np.random.Generator) -> np.ndarray:
    layer = Image.new("L", (PX, PX), 0)
    draw = ImageDraw.Draw(layer)
    x0, _, x1, y1 = box
    for _ in range(3):
        a = x0 - rng.uniform(0.05, 0.2) * (x1 - x0)
        b = x1 + rng.uniform(0.05, 0.2) * (x1 - x0)
        y = y1 + rng.uniform(-2, 5) * SS
        path = wobbly(np.array([(a, y), (b, y)]), False, rng, 0.8 * SS, 3 * SS)
        draw.line([tuple(q) for q in path.tolist()], fill=int(rng.uniform(70, 130)), width=SS)
    return np.asarray(layer, np.float32) / 255.0


def canvas_weave(rng: np.random.Generator, px: int = PX) -> np.ndarray:
    yy, xx = np.mgrid[0:px, 0:px].astype(np.float32)
    period = 3.2 * SS
    weave = np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period)
    grain = 0.03 * rng.normal(0, 1, (px, px)) + 0.03 * smooth_noise(rng, (px, px), px // 8)
    return 1 + 0.05 * weave + grain


def stroke_angles(src: np.ndarray) -> np.ndarray:
    """Brush direction per pixel: along the edges of the colour study, else near-horizontal."""
    lum = blur(src.mean(-1) / 255.0, 3 * SS)
    gy, gx = np.gradient(lum)
    along = np.arctan2(gy, gx) + np.pi / 2
    strong = np.hypot(gx, gy) > 0.004
    return np.where(strong, along, 0.15)


def brush(
    img: Image.Image,
    src: np.ndarray,
    angles: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    rng: np.random.Generator,
    length: tuple[float, float],
    width: tuple[int, int],
) -> None:
    """Paint one short stroke per (y, x), coloured like the colour study at that point."""
    draw = ImageDraw.Draw(img)
    n = len(ys)
    lens = rng.uniform(*length, n)
    widths = rng.integers(width[0], width[1] + 1, n)
    ang = angles[ys, xs] + rng.normal(0, 0.35, n)
    cols = src[ys, xs] * rng.normal(1, 0.07, (n, 1)) + rng.normal(0, 6, (n, 3))
    cols = np.clip(cols, 0, 255).astype(int)
    dx, dy = np.cos(ang) * lens / 2, np.sin(ang) * lens / 2
    for i in range(n):
        draw.line(
            [(xs[i] - dx[i], ys[i] - dy[i]), (xs[i] + dx[i], ys[i] + dy[i])],
            fill=tuple(cols[i]),
            width=int(widths[i]),
        )


def render_painting(shape: Shape, rng: np.random.Generator) -> tuple[Image.Image, Pose]:
    horizon = float(rng.uniform(0.42, 0.6))
    pose = make_pose(shape, rng, horizon)
    src = SCENES[shape.scene](rng, int(horizon * PX), PX)
    src = np.clip(src.mean(-1, keepdims=True) + (src - src.mean(-1, keepdims=True)) * 1.5, 0, 255)
    placed = place(visible_parts(shape, False), pose, shape.grounded)
    masks = masks_for(placed)
    for p, m in zip(placed, masks, strict=True):
        x0, y0, x1, y1 = part_window(p.pts, 2, PX)
        win = (slice(y0, y1), slice(x0, x1))
        src[win] = composite(src[win], saturate(p.color, 1.45, 1.05), m[win])
    obj = np.clip(sum(masks), 0, 1)
    angles = stroke_angles(src)
    img = Image.fromarray(np.clip(blur(src, 4 * SS), 0, 255).astype(np.uint8), "RGB")
    ys, xs = rng.integers(0, PX, 4200), rng.integers(0, PX, 4200)
    brush(img, src, angles, ys, xs, rng, (10 * SS, 20 * SS), (3 * SS, 6 * SS))
    inside = np.argwhere(blur(obj, 2 * SS) > 0.05)
    pick_idx = rng.integers(0, len(inside), 3800)
    ys, xs = inside[pick_idx, 0], inside[pick_idx, 1]
    brush(img, src, angles, ys, xs, rng, (4 * SS, 10 * SS), (2 * SS, 4 * SS))
    arr = np.asarray(img, np.float32) * canvas_weave(rng)[..., None]
    return to_image(arr), pose


def render_clipart(shape: Shape, rng: np.random.Generator) -> tuple[Image.Image, Pose]:
    pose = make_pose(shape, rng, None)
    placed = place(visible_parts(shape, True), pose, shape.grounded)
    img = Image.new("RGB", (PX, PX), "white")
    draw = ImageDraw.Draw(img)
    for p in placed:
        pts = [tuple(q) for q in p.pts.tolist()]
        draw.polygon(pts, fill=saturate(p.color, 1.3, 1.05))
        area = polygon_area(p.pts)
        outline = int(SS * (3.2 if area > 0.004 * PX * PX else 2))
        draw.line(pts + pts[:1], fill=(20, 20, 20), width=outline, joint="curve")
    return img.resize((SIZE, SIZE), Image.LANCZOS), pose


def studio(rng: np.random.Generator, px: int = PX) -> np.ndarray:
    hue = rng.choice([(206, 214, 226), (226, 218, 206), (214, 222, 214), (224, 224, 228)])
    top = np.array(hue, np.float32)
    arr = vgradient(tuple(int(c) for c in top * 1.04), tuple(int(c) for c in top * 0.78), 0, px, px)
    yy, xx = np.mgrid[0:px, 0:px] / px
    spot = np.exp(-(((xx - 0.5) ** 2) + ((yy - 0.45) ** 2)) / 0.12)
    return arr * (0.9 + 0.16 * spot[..., None])


def render_render3d(shape: Shape, rng: np.random.Generator) -> tuple[Image.Image, Pose]:
    pose = make_pose(shape, rng, None)
    placed = place(visible_parts(shape, True), pose, shape.grounded)
    arr = studio(rng)
    box = object_box(placed)
    drop = 0.0 if shape.grounded else 0.08 * PX
    soft = ground_shadow(box, drop, 0.14, PX / 40)
    inset = 0.1 * (box[2] - box[0])
    contact = ground_shadow((box[0] + inset, box[1], box[2] - inset, box[3]), drop, 0.05, PX / 160)
    arr *= 1 - (0.35 * soft + (0.35 if shape.grounded else 0.1) * contact)[..., None]
    masks = masks_for(placed)
    arr = shaded_object(arr, placed, masks, RENDER_LIGHT, lambda c: saturate(c, 1.15))
    return to_image(arr), pose


RENDERERS: dict[str, Callable[[Shape, np.random.Generator], tuple[Image.Image, Pose]]] = {
    "photo": render_photo,
    "sketch": render_sketch,
    "painting": render_painting,
    "clipart": render_clipart,
    "render3d": render_render3d,
}

STYLE_WORDS = {
    "photo": "photo",
    "sketch": "pencil sketch",
    "painting": "oil painting",
    "clipart": "clipart",
    "render3d": "3-D render",
}


# --------------------------------------------------------------------------------------------
# the "generated" domain: vivid dreamy scenes, glossy volumes, bloom
# --------------------------------------------------------------------------------------------

GEN_LIGHT = Lighting(
    bulge=2.6, ambient=0.42, diffuse=0.75, specular=0.45, shininess=30, rim=(255, 170, 110)
)
REEF_LIGHT = replace(GEN_LIGHT, rim=(120, 230, 255))


def sunset_scene(rng: np.random.Generator, horizon: int, sea: bool, px: int) -> np.ndarray:
    top = vgradient((48, 30, 110), (250, 150, 90), 0, horizon, px)
    yy, xx = np.mgrid[0:horizon, 0:px]
    sx = rng.uniform(0.2, 0.8) * px
    d = np.hypot(xx - sx, yy - horizon * 0.92) / px
    top += (np.exp(-d * 9) * 140)[..., None] * np.array([1.0, 0.8, 0.4])
    top = composite(top, (255, 236, 170), (d < 0.07).astype(np.float32))
    if sea:
        bottom = vgradient((214, 120, 110), (30, 36, 96), horizon, px, px)
        bottom *= 1 + 0.18 * streaks(rng, px - horizon, px)[..., None]
        column = np.exp(-(((np.arange(px) - sx) / (0.05 * px)) ** 2))  # the sun's path on water
        glint = column[None, :] * np.linspace(1, 0, px - horizon)[:, None]
        bottom += (glint * 90)[..., None] * np.array([1.0, 0.8, 0.5])
        return np.vstack([top, bottom])
    arr = np.vstack([top, vgradient((70, 150, 96), (20, 80, 60), horizon, px, px)])
    arr = hill_layer(rng, arr, horizon - int(0.09 * px), (130, 80, 150), (90, 60, 120), px)
    arr = hill_layer(rng, arr, horizon - int(0.03 * px), (70, 120, 120), (40, 90, 90), px)
    meadow = vgradient((96, 170, 90), (24, 84, 62), horizon, px, px)
    ground = np.vstack([np.zeros((horizon, px, 3)), meadow])
    mask = (np.arange(px)[:, None] >= horizon).astype(np.float32)
    arr = composite(arr, ground, mask)
    return textured(arr, rng, 0.05, px // 10)


def hill_layer(
    rng: np.random.Generator, arr: np.ndarray, top: int, near: RGB, far: RGB, px: int
) -> np.ndarray:
    """Rolling hills whose crest wanders around ``top`` px, coloured ``near`` (top) to ``far``."""
    xs = np.arange(px) / px
    crest = top + px * 0.035 * (
        np.sin(xs * rng.uniform(5, 9) + rng.uniform(0, 6))
        + 0.6 * np.sin(xs * rng.uniform(11, 17) + rng.uniform(0, 6))
    )
    ys = np.arange(px)[:, None]
    mask = np.clip(ys - crest[None, :] + 0.5, 0, 1).astype(np.float32)
    return composite(arr, vgradient(near, far, 0, px, px), mask)


def reef_scene(rng: np.random.Generator, px: int) -> np.ndarray:
    arr = vgradient((40, 200, 220), (10, 30, 90), 0, px, px)
    arr += light_rays(rng, px)[..., None] * 150
    arr = seabed(rng, arr, (232, 200, 150), px)
    layer = Image.new("RGB", (px, px))
    alpha = Image.new("L", (px, px), 0)
    d, da = ImageDraw.Draw(layer), ImageDraw.Draw(alpha)
    for _ in range(int(rng.integers(9, 14))):  # branching corals along the bottom
        corals = [(250, 90, 120), (255, 150, 60), (190, 90, 230), (250, 110, 180)]
        col = tuple(int(c) for c in corals[int(rng.integers(len(corals)))])
        x, base = rng.uniform(0, 1) * px, rng.uniform(0.88, 1.0) * px
        for _ in range(5):
            tip = (x + rng.uniform(-0.08, 0.08) * px, base - rng.uniform(0.1, 0.26) * px)
            path = curve((x, base), tip, rng.uniform(-0.03, 0.03) * px)
            pts = [tuple(p) for p in path.tolist()]
            w = int(px / rng.uniform(40, 70))
            d.line(pts, fill=col, width=w, joint="curve")
            da.line(pts, fill=255, width=w, joint="curve")
            d.ellipse((tip[0] - w, tip[1] - w, tip[0] + w, tip[1] + w), fill=col)
            da.ellipse((tip[0] - w, tip[1] - w, tip[0] + w, tip[1] + w), fill=255)
    arr = composite(arr, np.asarray(layer, np.float32), np.asarray(alpha, np.float32) / 255.0)
    bubbles = soft_blobs(rng, 14, (0, 0, 1, 0.8), (0.004, 0.012), (0.004, 0.012), 1.0, px)
    return composite(arr, (230, 250, 255), bubbles * 0.7)


def bloom(arr: np.ndarray, px: int) -> np.ndarray:
    bright = np.clip(arr - 170, 0, 255)
    return arr + 0.6 * blur(bright * 3, px / 40) / 3


def render_generated(shape: Shape, rng: np.random.Generator, px: int) -> tuple[Image.Image, Pose]:
    """A vivid 'AI art' picture of ``shape``, drawn at 2x and returned at ``px`` // 2 per side."""
    if shape.scene == "underwater":
        arr, horizon, light = reef_scene(rng, px), None, REEF_LIGHT
    else:
        h = float(rng.uniform(0.55, 0.66))
        arr, horizon, light = sunset_scene(rng, int(h * px), shape.scene == "sea", px), h, GEN_LIGHT
    pose = make_pose(shape, rng, horizon)
    placed = place(visible_parts(shape, False), pose, shape.grounded, px)
    masks = masks_for(placed, px)
    if shape.grounded and shape.scene != "sea":
        arr *= 1 - 0.5 * ground_shadow(object_box(placed), 0, 0.1, px / 50, px)[..., None]
    arr = shaded_object(arr, placed, masks, light, lambda c: saturate(c, 1.35, 1.05))
    arr = bloom(arr, px)
    yy, xx = np.mgrid[0:px, 0:px] / px
    arr *= (1 - 0.45 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2))[..., None]
    return to_image(arr, px // 2), pose


# --------------------------------------------------------------------------------------------
# writing files and the manifest
# --------------------------------------------------------------------------------------------


@dataclass
class Entry:
    path: str  # relative to the collection root, posix
    domain: str
    label: str
    kind: str
    description: str
    prompt: str | None = None
    parameters: str | None = None
    extra: dict[str, object] | None = None

    def as_json(self, root: Path) -> dict[str, object]:
        with Image.open(root / self.path) as im:
            width, height = im.size
        out: dict[str, object] = {
            "path": self.path,
            "domain": self.domain,
            "class": self.label,
            "kind": self.kind,
            "description": self.description,
            "prompt": self.prompt,
            "parameters": self.parameters,
            "width": width,
            "height": height,
        }
        out.update(self.extra or {})
        return out


def seeded(seed: int, *key: object) -> np.random.Generator:
    """A generator that depends only on the seed and the key (never on Python's hash salt)."""
    return np.random.default_rng([seed, zlib.crc32("/".join(map(str, key)).encode())])


def a_or_an(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def save_jpeg(img: Image.Image, path: Path, quality: int = 85) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=quality, optimize=True)


def save_png(img: Image.Image, path: Path, parameters: str) -> None:
    """PNG with an AUTOMATIC1111-style ``parameters`` text chunk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    img.save(path, "PNG", pnginfo=info)


def render_original(task: tuple[Path, int, str, str, int]) -> Entry:
    """Draw and save image ``i`` of (domain, label); its randomness depends only on those keys."""
    out, seed, domain, label, i = task
    rng = seeded(seed, domain, label, i)
    shape = BUILDERS[label](rng, i + DOMAINS.index(domain))
    img, pose = RENDERERS[domain](shape, rng)
    rel = f"{domain}/{label}/{domain}_{label}_{i + 1:02d}.jpg"
    save_jpeg(img, out / rel)
    what = shape.plain if domain == "sketch" else shape.description
    desc = f"{STYLE_WORDS[domain]} of {a_or_an(what)}{facing(shape, pose)}"
    return Entry(rel, domain, label, "original", desc)


def make_originals(out: Path, seed: int, jobs: int) -> list[Entry]:
    tasks = [(out, seed, d, c, i) for d in DOMAINS for c in CLASSES for i in range(PER_CELL)]
    if jobs <= 1:
        return [render_original(t) for t in tasks]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(render_original, tasks, chunksize=4))


# (original, transform): one near-duplicate of each kind, from four different domains
DUPLICATES: tuple[tuple[str, str], ...] = (
    ("photo/car/photo_car_02.jpg", "resized"),
    ("painting/tree/painting_tree_01.jpg", "crop"),
    ("clipart/fish/clipart_fish_03.jpg", "q40"),
    ("render3d/boat/render3d_boat_02.jpg", "flip"),
)
DUP_WORDS = {
    "resized": "downscaled to 60%",
    "crop": "centre crop of 90%",
    "q40": "re-saved as JPEG quality 40",
    "flip": "mirrored left-right",
}


def dup_name(src: str, transform: str) -> str:
    return src.removesuffix(".jpg") + f"_dup_{transform}.jpg"


def near_duplicate(img: Image.Image, transform: str) -> tuple[Image.Image, int]:
    """The transformed copy and the JPEG quality to save it with."""
    if transform == "resized":
        return img.resize((round(img.width * 0.6), round(img.height * 0.6)), Image.LANCZOS), 85
    if transform == "crop":
        w, h = round(img.width * 0.9), round(img.height * 0.9)
        x, y = (img.width - w) // 2, (img.height - h) // 2
        return img.crop((x, y, x + w, y + h)), 85
    if transform == "q40":
        return img.copy(), 40
    if transform == "flip":
        return ImageOps.mirror(img), 85
    raise ValueError(transform)


def mirrored(description: str) -> str:
    swap = {"facing left": "facing right", "facing right": "facing left"}
    for old, new in swap.items():
        if old in description:
            return description.replace(old, new)
    return description


def make_duplicates(out: Path, originals: list[Entry]) -> list[Entry]:
    by_path = {e.path: e for e in originals}
    entries = []
    for src, transform in DUPLICATES:
        with Image.open(out / src) as im:  # from the saved JPEG, as a user's copy would be
            dup, quality = near_duplicate(im.convert("RGB"), transform)
        rel = dup_name(src, transform)
        save_jpeg(dup, out / rel, quality)
        orig = by_path[src]
        desc = mirrored(orig.description) if transform == "flip" else orig.description
        entries.append(
            Entry(
                rel,
                orig.domain,
                orig.label,
                f"near-duplicate of {src}",
                f"{desc} ({DUP_WORDS[transform]})",
                extra={"duplicate_of": src, "transform": transform},
            )
        )
    return entries


GRID_PROMPT = "a cute red fish in a coral reef, digital art"
GRID_PARAMETERS = f"{GRID_PROMPT}\nNegative prompt: blurry\nSteps: 30, Sampler: Euler a, Seed: 42"
UPSCALED_TILE = 2  # 1..4, row-major like Midjourney's U1..U4
TILE_WHERE = {1: "top left", 2: "top right", 3: "bottom left", 4: "bottom right"}

# the other generated images: class -> (seed, sampler) written into their prompt chunk
GENERATED: dict[str, tuple[int, str]] = {
    "house": (1234, "DPM++ 2M Karras"),
    "tree": (77, "Euler a"),
    "car": (90210, "DDIM"),
    "flower": (31337, "DPM++ 2M Karras"),
    "boat": (2024, "Euler a"),
}


def a1111(prompt: str, seed: int, sampler: str, size: int) -> str:
    return (
        f"{prompt}\nNegative prompt: blurry, lowres, watermark\n"
        f"Steps: 28, Sampler: {sampler}, CFG scale: 7, Seed: {seed}, Size: {size}x{size}"
    )


def tile_box(n: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of grid tile ``n`` (1..4)."""
    row, col = divmod(n - 1, 2)
    x, y = col * (TILE + SEAM), row * (TILE + SEAM)
    return x, y, x + TILE, y + TILE


def make_grid(out: Path, seed: int) -> list[Entry]:
    """A Midjourney-style 2x2 grid of red fish, and a 2x upscale of one of its tiles."""
    grid = Image.new("RGB", (2 * TILE + SEAM, 2 * TILE + SEAM), (236, 236, 236))
    for n in range(1, 5):
        rng = seeded(seed, "generated", "grid", n)
        shape = make_fish(rng, n, color=("red", (226, 40, 40)))
        tile, _ = render_generated(shape, rng, 2 * TILE)
        grid.paste(tile, tile_box(n)[:2])
    rel = "generated/fish/grid_fish.png"
    save_png(grid, out / rel, GRID_PARAMETERS)
    box = tile_box(UPSCALED_TILE)
    up = grid.crop(box).resize((2 * TILE, 2 * TILE), Image.LANCZOS)
    up = up.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))
    up_rel = "generated/fish/upscale_fish.png"
    save_png(up, out / up_rel, GRID_PARAMETERS)
    tiles = [list(tile_box(n)) for n in range(1, 5)]
    up_desc = f"2x upscale of tile {UPSCALED_TILE} ({TILE_WHERE[UPSCALED_TILE]}) of the fish grid"
    return [
        Entry(
            rel,
            "generated",
            "fish",
            "grid",
            "Midjourney-style 2x2 grid of four red fish in a coral reef",
            GRID_PROMPT,
            GRID_PARAMETERS,
            {"tiles": tiles},
        ),
        Entry(
            up_rel,
            "generated",
            "fish",
            f"upscale of tile {UPSCALED_TILE} of {rel}",
            up_desc,
            GRID_PROMPT,
            GRID_PARAMETERS,
            {"upscale_of": rel, "tile": UPSCALED_TILE, "tile_box": list(box)},
        ),
    ]


def make_generated(out: Path, seed: int) -> list[Entry]:
    entries = []
    for k, (label, (gen_seed, sampler)) in enumerate(GENERATED.items()):
        rng = seeded(seed, "generated", label)
        shape = BUILDERS[label](rng, k)
        img, _ = render_generated(shape, rng, 2 * GEN_SIZE)
        where = "on the sea at sunset" if shape.scene == "sea" else "at sunset, dreamy landscape"
        prompt = f"{a_or_an(shape.description)} {where}, vibrant colors, digital art"
        params = a1111(prompt, gen_seed, sampler, GEN_SIZE)
        rel = f"generated/{label}/gen_{label}.png"
        save_png(img, out / rel, params)
        desc = f"AI-style picture of {a_or_an(shape.description)}"
        entries.append(Entry(rel, "generated", label, "original", desc, prompt, params))
    return entries


def clear_previous(out: Path) -> None:
    """Delete what a previous run wrote (only the files listed in its manifest)."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        return
    for item in json.loads(manifest.read_text())["files"]:
        (out / item["path"]).unlink(missing_ok=True)
    for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()


def write_manifest(out: Path, entries: list[Entry], seed: int) -> None:
    doc = {
        "generator": "scripts/make_examples.py",
        "seed": seed,
        "license": "CC0-1.0",
        "layout": "<domain>/<class>/<file>",
        "domains": [*DOMAINS, "generated"],
        "classes": list(CLASSES),
        "near_duplicate_pairs": [[src, dup_name(src, t)] for src, t in DUPLICATES],
        "files": [e.as_json(out) for e in sorted(entries, key=lambda e: e.path)],
    }
    (out / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n")


DOMAIN_STYLES = {
    "photo": "gradient sky/ground scene, shaded object, soft shadow, shallow blur, sensor noise",
    "sketch": "grey jittered multi-stroke pencil outlines and hatching on off-white paper",
    "painting": "canvas weave, thousands of short brush strokes over a saturated colour study",
    "clipart": "flat colours, thick black outlines, white background",
    "render3d": "inflated shaded volumes, specular highlight, ground shadow, studio backdrop",
    "generated": "'AI art': vivid dreamy scenes, glossy volumes, bloom; PNG with a prompt chunk",
}


def sources_header() -> list[str]:
    classes = ", ".join(f"`{c}`" for c in CLASSES)
    return [
        "# Example collection",
        "",
        "Every image here was drawn by code, by `scripts/make_examples.py` (pure Pillow + numpy:",
        "no photographs, no models, no third-party art). The images are dedicated to the public",
        "domain under **CC0 1.0**.",
        "",
        "Layout: `<domain>/<class>/<file>` (the Office-Home layout the app reads labels from).",
        "`manifest.json` lists every image with its domain, class, kind (`original`,",
        "`near-duplicate of X`, `grid`, `upscale of tile N of X`), description and prompt; the",
        "tests use it as ground truth.",
        "",
        "## Domains",
        "",
        "| domain | style |",
        "|---|---|",
        *(f"| {d} | {style} |" for d, style in DOMAIN_STYLES.items()),
        "",
        f"Classes: {classes}.",
        f"{PER_CELL} originals per (domain, class) in the first five domains; in `generated`, one",
        "picture per class plus the fish grid and its upscale. Every object is drawn once as a",
        "set of coloured polygons and rendered through each domain's style.",
        "",
    ]


def sources_pairs() -> list[str]:
    box = tile_box(UPSCALED_TILE)
    return [
        "## Near-duplicates",
        "",
        "| original | near-duplicate | transform |",
        "|---|---|---|",
        *(f"| `{src}` | `{dup_name(src, t)}` | {DUP_WORDS[t]} |" for src, t in DUPLICATES),
        "",
        "## Midjourney-style grid",
        "",
        f"`generated/fish/grid_fish.png` is a 2x2 grid of {TILE}px tiles with {SEAM}px seams",
        "(tiles numbered 1-4 row by row, like Midjourney's U1-U4).",
        f"`generated/fish/upscale_fish.png` is tile {UPSCALED_TILE} ({TILE_WHERE[UPSCALED_TILE]},",
        f"box {box}) cropped and upscaled 2x, with the same prompt. Their `parameters` chunk:",
        "",
        "```",
        GRID_PARAMETERS,
        "```",
        "",
    ]


def write_sources(out: Path, entries: list[Entry]) -> None:
    lines = [
        *sources_header(),
        *sources_pairs(),
        "## Every image",
        "",
        "| file | kind | what it shows | prompt |",
        "|---|---|---|---|",
    ]
    for e in sorted(entries, key=lambda e: e.path):
        lines.append(f"| `{e.path}` | {e.kind} | {e.description} | {e.prompt or ''} |")
    lines += [
        "",
        "## Regenerate",
        "",
        "```",
        "python scripts/make_examples.py     # rewrites cdir/assets/examples/ (deterministic)",
        "python scripts/make_examples.py --contact /tmp/contact.png   # plus a contact sheet",
        "```",
        "",
        "The output is the same for a given `--seed` and Pillow/numpy version, whatever `--jobs`.",
        "",
    ]
    (out / "SOURCES.md").write_text("\n".join(lines))


def contact_sheet(out: Path, entries: list[Entry], path: Path, thumb: int = 112) -> None:
    """Every image in a grid, one row per domain (for looking at, not for committing)."""
    rows: dict[str, list[Entry]] = {}
    for e in entries:
        rows.setdefault(e.domain, []).append(e)
    width = max(len(v) for v in rows.values())
    sheet = Image.new("RGB", (width * thumb, len(rows) * thumb), "white")
    for r, domain in enumerate(rows):
        for c, e in enumerate(rows[domain]):
            with Image.open(out / e.path) as im:
                tile = ImageOps.pad(im.convert("RGB"), (thumb, thumb), color=(255, 255, 255))
            sheet.paste(tile, (c * thumb, r * thumb))
    sheet.save(path)


def build(out: Path, seed: int, jobs: int = 1) -> list[Entry]:
    out.mkdir(parents=True, exist_ok=True)
    clear_previous(out)
    originals = make_originals(out, seed, jobs)
    entries = [
        *originals,
        *make_duplicates(out, originals),
        *make_grid(out, seed),
        *make_generated(out, seed),
    ]
    write_manifest(out, entries, seed)
    write_sources(out, entries)
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="collection folder to (re)write (default: cdir/assets/examples)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--contact", type=Path, help="also write a contact sheet of every image to this path"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (the output does not depend on it)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    entries = build(args.out, args.seed, args.jobs)
    if args.contact:
        contact_sheet(args.out, entries, args.contact)
    total = sum((args.out / e.path).stat().st_size for e in entries)
    log.info("wrote %d images (%.2f MB) to %s", len(entries), total / 1e6, args.out)


if __name__ == "__main__":
    main()
