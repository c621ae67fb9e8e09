"""The grid detector over random line patterns at every size from 1 px: it never raises, and a
grid it reports is four non-empty boxes inside the image, one per quadrant."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cdir.ingest.grids import GridConfig, detect_grid

LOOSE = GridConfig(min_side=1)  # every size reaches the detector's steps


def _pattern(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Noise tiles with seams, 1-px lines (edges included) and plain bands at random places."""
    grey = rng.integers(0, 256, (height, width)).astype(np.uint8)
    if rng.random() < 0.5:  # smooth content: seams stand out
        grey = np.cumsum(rng.integers(-3, 4, (height, width)), axis=1).astype(np.uint8)
    for _ in range(rng.integers(0, 6)):
        axis = int(rng.integers(0, 2))
        where = int(rng.integers(0, max(1, (width, height)[axis])))
        thick = int(rng.integers(1, 4))
        value = int(rng.integers(0, 256))
        if axis == 0:
            grey[:, where : where + thick] = value
        else:
            grey[where : where + thick, :] = value
    if rng.random() < 0.5:  # a centre seam, as a grid's
        grey[:, width // 2 : width // 2 + 1] = 255
        grey[height // 2 : height // 2 + 1, :] = 255
    if rng.random() < 0.3:  # a 1-px line at the right and bottom edges
        grey[:, -1:] = int(rng.integers(0, 256))
        grey[-1:, :] = int(rng.integers(0, 256))
    return Image.fromarray(grey, "L").convert("RGB")


def _check(boxes: list[tuple[int, int, int, int]] | None, width: int, height: int) -> None:
    if boxes is None:
        return
    assert len(boxes) == 4
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
    (l1, t1, r1, b1), (l2, _, r2, _), (_, t3, _, b3), _ = boxes
    assert l1 == 0 and t1 == 0 and r2 == width and b3 == height and r1 <= l2 and b1 <= t3


def test_the_reported_case_a_centre_seam_and_a_line_at_the_right_edge() -> None:
    """128 px, a white centre seam and a 1-px line in the last column: IndexError before."""
    rng = np.random.default_rng(3)
    grey = np.clip(np.cumsum(rng.integers(-2, 3, (128, 128)), axis=1) + 120, 0, 255)
    grey = grey.astype(np.uint8)
    grey[:, 64] = grey[64, :] = 255
    grey[:, 127] = 255
    for config in (GridConfig(), LOOSE):
        _check(detect_grid(Image.fromarray(grey, "L").convert("RGB"), config), 128, 128)


@pytest.mark.parametrize("config", [GridConfig(), LOOSE], ids=["default", "min_side=1"])
def test_every_square_size_from_one_pixel(config: GridConfig) -> None:
    rng = np.random.default_rng(0)
    for side in range(1, 161):
        for _ in range(2):
            _check(detect_grid(_pattern(rng, side, side), config), side, side)


def test_random_rectangles() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        width, height = (int(v) for v in rng.integers(1, 300, 2))
        for config in (GridConfig(), LOOSE):
            _check(detect_grid(_pattern(rng, width, height), config), width, height)
