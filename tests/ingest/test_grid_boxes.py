"""Grid detection returns the four tile boxes themselves: a clear synthetic 2x2 grid of four
distinct pictures (content up to their edges) with a uniform seam of 2, 4 or 8 pixels in white,
light grey or black, and four photos abutting with no seam. Boxes are (left, top, right, bottom)
in tile order U1..U4 (row-major), the seam excluded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cdir.imaging.decode import load_rgb
from cdir.ingest.grids import crop_tile, detect_grid

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
SIDE = 256


def picture(n: int, side: int = SIDE) -> Image.Image:
    """A textured picture, different for each ``n``, with detail up to its borders."""
    rng = np.random.default_rng(n)
    y, x = np.mgrid[0:side, 0:side]
    base = np.stack(
        [(x * (n + 1)) % 256, (y * (3 - n % 3) + 40 * n) % 256, ((x + y) * 2 + 60 * n) % 256], -1
    ).astype(np.float64)
    base += rng.normal(0, 20, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    ImageDraw.Draw(image).ellipse(
        (40 + 10 * n, 50, 200 - 5 * n, 210), fill=(255 * (n % 2), 80 * n % 256, 200 - 40 * n)
    )
    return image


def seamed_grid(tiles: list[Image.Image], seam: int, colour: tuple[int, int, int]) -> Image.Image:
    side = tiles[0].width
    grid = Image.new("RGB", (2 * side + seam, 2 * side + seam), colour)
    for n, tile in enumerate(tiles):
        grid.paste(tile, ((n % 2) * (side + seam), (n // 2) * (side + seam)))
    return grid


@pytest.mark.parametrize("colour", [(255, 255, 255), (236, 236, 236), (0, 0, 0)])
@pytest.mark.parametrize("seam", [2, 4, 8])
def test_the_four_tile_boxes_of_a_seamed_grid(seam: int, colour: tuple[int, int, int]) -> None:
    tiles = [picture(n) for n in range(4)]
    grid = seamed_grid(tiles, seam, colour)
    far = SIDE + seam
    assert detect_grid(grid) == [
        (0, 0, SIDE, SIDE),
        (far, 0, far + SIDE, SIDE),
        (0, far, SIDE, far + SIDE),
        (far, far, far + SIDE, far + SIDE),
    ]
    for n, tile in enumerate(tiles, start=1):  # each box holds exactly its picture
        assert np.array_equal(np.asarray(crop_tile(grid, n)), np.asarray(tile))


def test_the_four_tile_boxes_of_abutting_photos() -> None:
    photos = [
        load_rgb(EXAMPLES / f"photo/{c}/photo_{c}_01.jpg").resize((300, 300))
        for c in ("boat", "car", "fish", "house")
    ]
    grid = seamed_grid(photos, 0, (0, 0, 0))
    assert detect_grid(grid) == [
        (0, 0, 300, 300),
        (300, 0, 600, 300),
        (0, 300, 300, 600),
        (300, 300, 600, 600),
    ]


def test_one_picture_alone_is_not_a_grid() -> None:
    assert detect_grid(picture(0, 2 * SIDE + 4)) is None
