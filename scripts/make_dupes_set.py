"""Derive a near-duplicate test set from the originals of the bundled example collection.

Every original of ``cdir/assets/examples`` (``kind == "original"`` in its manifest) is copied, and
near-duplicates of it are written beside it, one per transform:

| transform   | what                                                    | tier that should find it |
|-------------|---------------------------------------------------------|--------------------------|
| `copy`      | the same bytes under another name                       | exact                    |
| `png`       | the decoded pixels re-encoded losslessly as PNG         | exact                    |
| `resize`    | half the size (Lanczos), JPEG q90                       | perceptual, semantic     |
| `crop`      | 5 % cut from every side, JPEG q90                       | perceptual, semantic     |
| `jpeg`      | JPEG quality 25                                         | perceptual, semantic     |
| `colour`    | hue turned by 25 degrees and saturation x1.3, JPEG q90  | perceptual, semantic     |
| `watermark` | a small semi-transparent text box in a corner, JPEG q90 | perceptual, semantic     |
| `flip`      | mirrored left to right, JPEG q90                        | perceptual (mirror hash) |

The originals are the known non-duplicates of each other (some are deliberately close: the same
drawing in another colour, the same class in the same style). ``dupes_manifest.json`` records
each file's family (its original) and transform, the ground truth for precision and recall.

With ``--flat``, 40 low-information originals are added under ``flat/`` (with the same
transforms): 12 solid colours, 8 near-flat gradients (at most 24 grey levels across), 4 blank
page scans (paper tone, noise, vignette), 4 black video frames, and 12 fade frames (an example
picture at 4-6 % contrast, dark or light). Their pHash is all zeros or set by noise, so a
pHash-only tier groups them with each other; each is a family of its own (their 8x8 colour
thumbnails differ by 10 levels or more).

    python scripts/make_dupes_set.py OUT [--src cdir/assets/examples] [--flat]
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "cdir" / "assets" / "examples"
MANIFEST = "dupes_manifest.json"

Transform = Callable[[Image.Image], Image.Image]


def resize(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)


def crop(img: Image.Image, fraction: float = 0.05) -> Image.Image:
    dx, dy = round(img.width * fraction), round(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def colour(img: Image.Image, degrees: float = 25.0, saturation: float = 1.3) -> Image.Image:
    hsv = np.asarray(img.convert("HSV"), dtype=np.float32)
    hsv[..., 0] = (hsv[..., 0] + degrees * 256 / 360) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def watermark(img: Image.Image) -> Image.Image:
    """A white box with dark text, 60 % opaque, about a quarter of the width, bottom right."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = img.width // 4, max(12, img.height // 14)
    box = (img.width - w - 6, img.height - h - 6, img.width - 6, img.height - 6)
    draw.rectangle(box, fill=(255, 255, 255, 153))
    draw.text((box[0] + 4, box[1] + 2), "(c) cdir", fill=(40, 40, 40, 230))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


# name -> (transform, file suffix, JPEG quality or None for PNG); None transform = byte copy
TRANSFORMS: dict[str, tuple[Transform | None, str, int | None]] = {
    "copy": (None, "", None),
    "png": (lambda img: img, ".png", None),
    "resize": (resize, ".jpg", 90),
    "crop": (crop, ".jpg", 90),
    "jpeg": (lambda img: img, ".jpg", 25),
    "colour": (colour, ".jpg", 90),
    "watermark": (watermark, ".jpg", 90),
    "flip": (ImageOps.mirror, ".jpg", 90),
}
EXACT_KINDS = frozenset({"copy", "png"})


def originals(src: Path = EXAMPLES) -> list[str]:
    """Relative paths of the example originals (no near-duplicates, grids or upscales)."""
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    return sorted(f["path"] for f in manifest["files"] if f["kind"] == "original")


def variant_name(rel: str, transform: str) -> str:
    stem, suffix = rel.rsplit(".", 1)
    ext = TRANSFORMS[transform][1] or f".{suffix}"
    return f"{stem}__{transform}{ext}"


def write_variant(src: Path, out: Path, rel: str, transform: str) -> str:
    func, _, quality = TRANSFORMS[transform]
    name = variant_name(rel, transform)
    target = out / name
    if func is None:
        shutil.copyfile(src / rel, target)
        return name
    with Image.open(src / rel) as img:
        result = func(img.convert("RGB"))
    if quality is None:
        result.save(target, "PNG")
    else:
        result.save(target, "JPEG", quality=quality)
    return name


def flat_originals(src: Path = EXAMPLES) -> dict[str, Image.Image]:
    """The 40 low-information originals of ``--flat``: {relative path: image}."""
    rng = np.random.default_rng(7)
    size = (160, 120)
    images: dict[str, Image.Image] = {}
    solids = {
        "white": (255, 255, 255),
        "black": (0, 0, 0),
        "grey": (128, 128, 128),
        "light_grey": (200, 200, 200),
        "dark_grey": (60, 60, 60),
        "red": (220, 0, 0),
        "blue": (0, 0, 220),
        "green": (0, 160, 60),
        "yellow": (240, 220, 40),
        "beige": (225, 205, 160),
        "navy": (20, 30, 90),
        "pink": (250, 170, 200),
    }
    for name, rgb in solids.items():
        images[f"flat/solid/{name}.png"] = Image.new("RGB", size, rgb)
    ramps = {
        "sky": ((150, 190, 240), (170, 205, 250)),
        "paper": ((236, 232, 216), (216, 212, 196)),
        "dusk": ((90, 60, 110), (110, 75, 125)),
        "mint": ((170, 230, 200), (185, 240, 210)),
        "ink": ((20, 20, 35), (40, 40, 55)),
        "sand": ((200, 170, 120), (215, 185, 135)),
        "steel": ((100, 115, 130), (120, 135, 150)),
        "rose": ((200, 110, 120), (215, 125, 135)),
    }
    for n, (name, (a, b)) in enumerate(ramps.items()):
        t = np.linspace(0, 1, size[0] if n % 2 else size[1], dtype=np.float32)
        ramp = np.array(a, np.float32) + t[:, None] * (np.array(b) - np.array(a))
        arr = (
            np.broadcast_to(ramp[None], (size[1], size[0], 3))
            if n % 2
            else np.broadcast_to(ramp[:, None], (size[1], size[0], 3))
        )
        images[f"flat/gradient/{name}.png"] = _image(arr)
    yy, xx = np.mgrid[-1 : 1 : complex(0, size[1]), -1 : 1 : complex(0, size[0])]
    vignette = (xx**2 + yy**2)[..., None].astype(np.float32)
    for name, rgb in {
        "white": (246, 246, 244),
        "cream": (240, 228, 196),
        "recycled": (190, 188, 180),
        "blueprint": (205, 220, 240),
    }.items():
        arr = np.array(rgb, np.float32) - 8 * vignette + rng.normal(0, 3, (*size[::-1], 3))
        images[f"flat/page/{name}.png"] = _image(arr)
    for name, level in {"black": 22, "grey40": 40, "grey90": 92, "grey160": 162}.items():
        arr = level + rng.normal(0, 1.5, (*size[::-1], 1)) + 3 * vignette
        images[f"flat/frame/{name}.png"] = _image(np.repeat(arr, 3, axis=2))
    pictures = [rel for rel in originals(src) if rel.startswith(("photo/", "painting/"))][:6]
    dark = [(70, 40, 20), (20, 75, 45), (45, 20, 80), (10, 50, 95), (85, 85, 20), (95, 15, 40)]
    light = [
        (250, 240, 150),
        (215, 250, 235),
        (235, 215, 250),
        (180, 225, 255),
        (255, 215, 170),
        (200, 255, 170),
    ]
    for n, rel in enumerate(pictures):
        with Image.open(src / rel) as img:
            picture = np.asarray(img.convert("RGB").resize(size), np.float32)
        for mood, base, contrast in (("dark", dark[n], 0.04), ("light", light[n], 0.06)):
            arr = np.array(base, np.float32) + (picture - picture.mean()) * contrast
            images[f"flat/fade/{mood}_{n}.png"] = _image(arr)
    return images


def _image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def make_set(
    out: Path,
    src: Path = EXAMPLES,
    transforms: tuple[str, ...] = tuple(TRANSFORMS),
    classes: tuple[str, ...] | None = None,
    flat: bool = False,
) -> dict[str, dict[str, str]]:
    """Write the set under ``out`` (only the originals of ``classes`` when given; with ``flat``
    also the low-information originals of :func:`flat_originals`); returns
    {file: {"family": original, "transform": name}}."""
    truth: dict[str, dict[str, str]] = {}
    if flat:
        for rel, image in flat_originals(src).items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            image.save(out / rel)
            truth[rel] = {"family": rel, "transform": "original"}
            for transform in transforms:
                truth[write_variant(out, out, rel, transform)] = {
                    "family": rel,
                    "transform": transform,
                }
    for rel in originals(src):
        if classes is not None and rel.split("/")[1] not in classes:
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, out / rel)
        truth[rel] = {"family": rel, "transform": "original"}
        for transform in transforms:
            truth[write_variant(src, out, rel, transform)] = {"family": rel, "transform": transform}
    (out / MANIFEST).write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--src", type=Path, default=EXAMPLES)
    parser.add_argument("--flat", action="store_true", help="add 40 low-information originals")
    args = parser.parse_args()
    truth = make_set(args.out, args.src, flat=args.flat)
    print(f"wrote {len(truth)} images to {args.out} ({args.out / MANIFEST})")


if __name__ == "__main__":
    main()
