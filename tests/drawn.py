"""A small cross-domain collection drawn with PIL, laid out as <root>/<domain>/<class>/<file>."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("circle", "square", "triangle", "cross")
DOMAINS = ("photo", "sketch", "clipart")
COLOURS = ((200, 40, 40), (40, 160, 60), (50, 70, 200))


def _shape(draw: ImageDraw.ImageDraw, name: str, box: tuple[int, int, int, int], **style) -> None:
    x0, y0, x1, y1 = box
    if name == "circle":
        draw.ellipse(box, **style)
    elif name == "square":
        draw.rectangle(box, **style)
    elif name == "triangle":
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], **style)
    else:
        w = (x1 - x0) // 4
        draw.rectangle((x0 + w * 3 // 2, y0, x1 - w * 3 // 2, y1), **style)
        draw.rectangle((x0, y0 + w * 3 // 2, x1, y1 - w * 3 // 2), **style)


def draw_image(domain: str, cls: str, variant: int, size: int = 96) -> Image.Image:
    colour = COLOURS[variant % len(COLOURS)]
    offset = 8 + 6 * variant
    box = (offset, offset, size - 20 + variant * 3, size - 20 + variant * 3)
    if domain == "photo":
        img = Image.linear_gradient("L").resize((size, size)).convert("RGB")
        _shape(ImageDraw.Draw(img), cls, box, fill=colour)
        return img.filter(ImageFilter.GaussianBlur(1.2))
    img = Image.new("RGB", (size, size), "white")
    if domain == "sketch":
        _shape(ImageDraw.Draw(img), cls, box, outline=(60, 60, 60), width=2)
    else:
        _shape(ImageDraw.Draw(img), cls, box, fill=colour, outline="black", width=4)
    return img


def draw_collection(root: Path, domains=DOMAINS, classes=CLASSES, per_class: int = 3) -> list[Path]:
    paths = []
    for domain in domains:
        for cls in classes:
            folder = root / domain / cls
            folder.mkdir(parents=True, exist_ok=True)
            for variant in range(per_class):
                path = folder / f"{cls}_{variant}.png"
                draw_image(domain, cls, variant).save(path)
                paths.append(path)
    return paths
