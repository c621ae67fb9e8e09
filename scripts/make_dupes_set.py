"""Derive a near-duplicate test set from the originals of the bundled example collection.

Every original of ``assets/examples`` (``kind == "original"`` in its manifest) is copied, and
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

    python scripts/make_dupes_set.py OUT [--src assets/examples]
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
EXAMPLES = ROOT / "assets" / "examples"
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


def make_set(out: Path, src: Path = EXAMPLES, transforms: tuple[str, ...] = tuple(TRANSFORMS),
             classes: tuple[str, ...] | None = None) -> dict[str, dict[str, str]]:
    """Write the set under ``out`` (only the originals of ``classes`` when given); returns
    {file: {"family": original, "transform": name}}."""
    truth: dict[str, dict[str, str]] = {}
    for rel in originals(src):
        if classes is not None and rel.split("/")[1] not in classes:
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, out / rel)
        truth[rel] = {"family": rel, "transform": "original"}
        for transform in transforms:
            truth[write_variant(src, out, rel, transform)] = {"family": rel,
                                                              "transform": transform}
    (out / MANIFEST).write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--src", type=Path, default=EXAMPLES)
    args = parser.parse_args()
    truth = make_set(args.out, args.src)
    print(f"wrote {len(truth)} images to {args.out} ({args.out / MANIFEST})")


if __name__ == "__main__":
    main()
