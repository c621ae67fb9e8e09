"""Synthetic layouts for measuring 2x2 grid detection (``cdir.ingest.grids``): real grid layouts,
with the four tile boxes they must give, and look-alikes that are not grids.

| family       | what                                                                    | grid? |
|--------------|-------------------------------------------------------------------------|-------|
| `grid`       | four distinct example pictures abutting, Midjourney sizes (1024x1024,   | yes   |
|              | 2048x2048, 2912x1632, 1792x2688, 2464x1856), PNG / JPEG q85 / WebP q80  |       |
| `variations` | four close variations of one picture (shifted crops, small colour      | yes   |
|              | changes), as Midjourney's "vary (subtle)" grids                        |       |
| `seam_grid`  | four pictures with a 2-6 pixel seam, white or black (older grids)       | yes   |
| `white_grid` | four clipart pictures on white abutting: no visible line at the middle  | yes   |
| `checker`    | checkerboards of 2..32 squares a side, two colour pairs                 | no    |
| `wallpaper`  | a texture patch tiled 2x2 or 4x4, plainly or mirrored; tiles with grout | no    |
| `comic`      | comic pages of 2x2, 2x3 and 3x2 panels: gutters, margin, panel borders  | no    |
| `collage`    | 2x2 photo collages with white borders and a margin                      | no    |
| `collage_bare` | 2x2 photo collages with no margin at non-Midjourney sizes: a grid by  | no    |
|              | layout, kept whole because nothing says a generator made it             |       |

``layouts()`` returns {name: Layout}; the bench (``bench/bench_grids.py``) and the tests use it.

    python scripts/make_grid_set.py OUT   # writes the images and truth.json
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "cdir" / "assets" / "examples"
Box = tuple[int, int, int, int]
MJ_SIZES = ((1024, 1024), (2048, 2048), (2912, 1632), (1792, 2688), (2464, 1856))


@dataclass
class Layout:
    """One test image: its family, the tile boxes it must give (None: not a grid) and whether
    it should be split at ingest without a prompt or an upscale (its size alone)."""

    image: Image.Image
    family: str
    boxes: list[Box] | None
    split_by_size: bool


def pictures(domains: tuple[str, ...] = ("photo", "painting", "render3d")) -> list[Image.Image]:
    """The example originals of ``domains`` (full-bleed pictures by default; clipart and sketches
    have white backgrounds), RGB, in a fixed mixed order."""
    manifest = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    rels = sorted(
        f["path"]
        for f in manifest["files"]
        if f["kind"] == "original" and f["path"].split("/")[0] in domains
    )
    rels = [rels[(n * 7) % len(rels)] for n in range(len(rels))] if len(rels) % 7 else rels
    return [Image.open(EXAMPLES / rel).convert("RGB") for rel in rels]


def quad_boxes(width: int, height: int, seam: int = 0) -> list[Box]:
    tw, th = (width - seam) // 2, (height - seam) // 2
    return [
        (0, 0, tw, th),
        (tw + seam, 0, width, th),
        (0, th + seam, tw, height),
        (tw + seam, th + seam, width, height),
    ]


def grid_of(
    tiles: list[Image.Image],
    width: int,
    height: int,
    seam: int = 0,
    seam_colour: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    grid = Image.new("RGB", (width, height), seam_colour)
    for tile, box in zip(tiles, quad_boxes(width, height, seam), strict=True):
        grid.paste(ImageOps.fit(tile, (box[2] - box[0], box[3] - box[1])), box[:2])
    return grid


def encoded(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "PNG":
        return image
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=85 if fmt == "JPEG" else 80)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def positives(pics: list[Image.Image]) -> Iterator[tuple[str, Layout]]:
    fmts = ("PNG", "JPEG", "WEBP")
    for n, (width, height) in enumerate(MJ_SIZES):
        for k, fmt in enumerate(fmts):
            start = (n * 7 + k * 13) % (len(pics) - 4)
            image = grid_of(pics[start : start + 4], width, height)
            yield (
                f"grid/{width}x{height}_{fmt.lower()}",
                Layout(encoded(image, fmt), "grid", quad_boxes(width, height), True),
            )
    for n, (width, height) in enumerate(MJ_SIZES[:3]):
        base = pics[(n * 11) % len(pics)]
        tiles = [_variation(base, v) for v in range(4)]
        yield (
            f"variations/{width}x{height}",
            Layout(
                encoded(grid_of(tiles, width, height), "JPEG"),
                "variations",
                quad_boxes(width, height),
                True,
            ),
        )
    for n, (side, seam, colour) in enumerate(
        [
            (514, 2, (255, 255, 255)),
            (1028, 4, (0, 0, 0)),
            (1030, 6, (255, 255, 255)),
            (772, 4, (255, 255, 255)),
        ]
    ):
        start = (n * 17) % (len(pics) - 4)
        image = grid_of(pics[start : start + 4], side, side, seam, colour)
        yield (
            f"seam_grid/{side}_{seam}px",
            Layout(encoded(image, "JPEG"), "seam_grid", quad_boxes(side, side, seam), False),
        )
    clipart = pictures(("clipart",))
    for n, (width, height) in enumerate(MJ_SIZES[:3]):
        image = grid_of(clipart[n * 4 : n * 4 + 4], width, height)
        yield (
            f"white_grid/{width}x{height}",
            Layout(encoded(image, "JPEG"), "white_grid", quad_boxes(width, height), True),
        )


def _variation(image: Image.Image, v: int) -> Image.Image:
    """A close variation: a shifted crop, slightly zoomed, with a small colour change."""
    w, h = image.size
    dx, dy = (v % 2) * w // 12, (v // 2) * h // 12
    crop = image.crop((dx, dy, dx + w * 10 // 12, dy + h * 10 // 12))
    arr = np.asarray(crop, np.float32) * (1 + 0.06 * (v - 1.5) * np.array([1, -0.5, 0.5]))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def negatives(pics: list[Image.Image]) -> Iterator[tuple[str, Layout]]:
    for side in (1024, 2048):
        for squares in (2, 4, 6, 8, 10, 16, 32):
            for a, b in (((0, 0, 0), (255, 255, 255)), ((200, 50, 50), (240, 240, 240))):
                yield (
                    f"checker/{side}_{squares}_{a[0]}",
                    Layout(encoded(_checker(side, squares, a, b), "JPEG"), "checker", None, False),
                )
    rng = np.random.default_rng(5)
    for side in (1024, 2048):
        for n, pic in enumerate(pics[:3]):
            patch = pic.resize((side // 4, side // 4))
            noise = Image.fromarray(
                rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
            ).resize((side // 2, side // 2))
            for name, image in (
                ("plain2", _tiled(noise, 2, mirror=False)),
                ("mirror2", _tiled(noise, 2, mirror=True)),
                ("plain4", _tiled(patch, 4, mirror=False)),
                ("mirror4", _tiled(patch, 4, mirror=True)),
                ("grout4", _grouted(side, 4, n)),
                ("grout8", _grouted(side, 8, n)),
            ):
                yield (
                    f"wallpaper/{side}_{n}_{name}",
                    Layout(encoded(image, "JPEG"), "wallpaper", None, False),
                )
    pages = [
        ((1200, 1700), 2, 2, 40),
        ((2048, 2048), 2, 2, 48),
        ((1700, 1200), 2, 3, 40),
        ((1200, 1700), 3, 2, 40),
        ((1024, 1024), 2, 2, 24),
        ((2048, 2048), 3, 2, 48),
    ]
    for n, (size, rows, cols, margin) in enumerate(pages):
        image = _comic(pics, size, rows, cols, margin, n)
        yield (
            f"comic/{size[0]}x{size[1]}_{rows}x{cols}",
            Layout(encoded(image, "JPEG"), "comic", None, False),
        )
    for n, size in enumerate([(1600, 1200), (2048, 2048), (1200, 1600), (1024, 1024)]):
        image = _collage(pics[n * 4 : n * 4 + 4], size, border=12, margin=30)
        yield f"collage/{size[0]}x{size[1]}", Layout(encoded(image, "JPEG"), "collage", None, False)
    for n, size in enumerate([(1600, 1200), (1200, 1600), (1000, 1000), (3000, 2000)]):
        image = _collage(pics[n * 4 + 20 : n * 4 + 24], size, border=0, margin=0)
        yield (
            f"collage_bare/{size[0]}x{size[1]}",
            Layout(encoded(image, "JPEG"), "collage_bare", quad_boxes(*size), False),
        )


def _checker(side: int, squares: int, a: tuple[int, ...], b: tuple[int, ...]) -> Image.Image:
    cell = np.indices((side, side)) * squares // side
    mask = (cell[0] + cell[1]) % 2 == 0
    return Image.fromarray(np.where(mask[..., None], np.array(a), np.array(b)).astype(np.uint8))


def _tiled(patch: Image.Image, times: int, mirror: bool) -> Image.Image:
    w, h = patch.size
    out = Image.new("RGB", (w * times, h * times))
    for i in range(times):
        for j in range(times):
            tile = patch
            if mirror and i % 2:
                tile = ImageOps.mirror(tile)
            if mirror and j % 2:
                tile = ImageOps.flip(tile)
            out.paste(tile, (i * w, j * h))
    return out


def _grouted(side: int, tiles: int, n: int) -> Image.Image:
    """Bathroom tiles: ``tiles`` x ``tiles`` squares of slightly varying colour, grey grout."""
    rng = np.random.default_rng(n)
    image = Image.new("RGB", (side, side), (170, 170, 165))
    draw = ImageDraw.Draw(image)
    step, grout = side // tiles, max(4, side // 170)
    base = np.array([(230, 235, 240), (90, 140, 170), (200, 180, 150)][n % 3])
    for i in range(tiles):
        for j in range(tiles):
            colour = tuple(int(c) for c in np.clip(base + rng.integers(-12, 12, 3), 0, 255))
            draw.rectangle(
                [
                    i * step + grout // 2,
                    j * step + grout // 2,
                    (i + 1) * step - grout // 2 - 1,
                    (j + 1) * step - grout // 2 - 1,
                ],
                fill=colour,
            )
    return image


def _comic(
    pics: list[Image.Image], size: tuple[int, int], rows: int, cols: int, margin: int, n: int
) -> Image.Image:
    width, height = size
    gutter = margin // 2
    page = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(page)
    pw = (width - 2 * margin - (cols - 1) * gutter) // cols
    ph = (height - 2 * margin - (rows - 1) * gutter) // rows
    for r in range(rows):
        for c in range(cols):
            x, y = margin + c * (pw + gutter), margin + r * (ph + gutter)
            page.paste(ImageOps.fit(pics[(n * 5 + r * cols + c) % len(pics)], (pw, ph)), (x, y))
            draw.rectangle([x, y, x + pw - 1, y + ph - 1], outline=(0, 0, 0), width=4)
    return page


def _collage(
    tiles: list[Image.Image], size: tuple[int, int], border: int, margin: int
) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, (255, 255, 255))
    tw, th = (width - 2 * margin - border) // 2, (height - 2 * margin - border) // 2
    for k, tile in enumerate(tiles):
        x = margin + (k % 2) * (tw + border)
        y = margin + (k // 2) * (th + border)
        image.paste(ImageOps.fit(tile, (tw, th)), (x, y))
    return image


def layouts() -> dict[str, Layout]:
    pics = pictures()
    return dict([*positives(pics), *negatives(pics)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    truth = {}
    for name, layout in layouts().items():
        path = args.out / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        layout.image.save(path)
        truth[f"{name}.png"] = {"family": layout.family, "boxes": layout.boxes}
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    print(f"wrote {len(truth)} images to {args.out}")


if __name__ == "__main__":
    main()
