"""The reader's shortcuts give the very bits of the plain computations: the three pHashes from
one grey image and one 32x32 shrink, and the grid detector's column medians from a sort."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cdir.ingest.grids import _column_medians
from cdir.ingest.reader import (
    MIRROR_EXACT_WIDTH,
    PHASH_SIDE,
    centre_hash,
    perceptual_hash,
    perceptual_hashes,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
PRECISION_BITS = 22  # Pillow's Resample.c, 8 bits per channel


def _plain(image: Image.Image) -> tuple[str, str, str]:
    return perceptual_hash(image), perceptual_hash(ImageOps.mirror(image)), centre_hash(image)


def _photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth colour waves, a few blocks and noise: pHash bits that depend on the details."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = [127 + 90 * np.sin(x / rng.uniform(5, 40) + y / rng.uniform(5, 40)) for _ in range(3)]
    pixels = np.stack(waves, -1) + rng.normal(0, 12, (height, width, 3))
    pixels[: height // 3, : width // 4] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_the_three_phashes_match_on_drawn_images_of_every_thumbnail_width() -> None:
    rng = np.random.default_rng(0)
    for width in [*range(1, 300, 7), 256, 255, 171, 160, 144, 96]:
        for height in (1, 33, 171, 192, 256):
            image = _photo(rng, width, height)
            assert perceptual_hashes(image) == _plain(image), (width, height)


def test_the_three_phashes_match_on_the_examples() -> None:
    files = sorted(p for p in EXAMPLES.rglob("*") if p.suffix.lower() in {".jpg", ".png"})
    assert len(files) > 50
    for path in files:
        with Image.open(path) as image:
            thumb = image.convert("RGB")
        thumb.thumbnail((256, 256), Image.Resampling.LANCZOS, reducing_gap=1.0)
        for seen in (thumb, thumb.convert("RGBA"), thumb.resize((1500, 40))):
            assert perceptual_hashes(seen) == _plain(seen), path.name


def _lanczos(x: float) -> float:
    def sinc(v: float) -> float:
        return 1.0 if v == 0.0 else math.sin(v * math.pi) / (v * math.pi)

    return sinc(x) * sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


def _fixed_coefficients(in_size: int, out_size: int) -> list[dict[int, int]]:
    """Pillow's LANCZOS coefficients for one axis, as Resample.c computes them in double
    precision (``precompute_coeffs``) and rounds them (``normalize_coeffs_8bpc``): for each
    output pixel, {input pixel: fixed-point weight}, zero weights left out."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    out = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        weights = [_lanczos((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        total = 0.0
        for w in weights:
            total += w
        fixed = {}
        for x, w in enumerate(weights):
            w = w / total if total != 0.0 else w
            v = int((-0.5 if w < 0 else 0.5) + w * (1 << PRECISION_BITS))
            if v:
                fixed[x + xmin] = v
        out.append(fixed)
    return out


@pytest.mark.parametrize("block", range(4))
def test_the_shrink_to_32_columns_is_mirror_symmetric_up_to_the_exact_width(block: int) -> None:
    """What lets the mirror image's pHash come from the mirrored shrink: output column xx and
    31 - xx weigh mirrored input columns alike, for every width the shortcut is used at."""
    step = MIRROR_EXACT_WIDTH // 4
    for width in range(1 + block * step, (block + 1) * step + 1):
        weights = _fixed_coefficients(width, PHASH_SIDE)
        for xx in range(PHASH_SIDE):
            mirrored = {width - 1 - x: v for x, v in weights[PHASH_SIDE - 1 - xx].items()}
            assert mirrored == weights[xx], (width, xx)


def test_the_coefficients_replicate_pillows_shrink() -> None:
    """The replica above is Pillow's arithmetic: it predicts ``Image.resize`` pixel for pixel."""
    rng = np.random.default_rng(1)
    for width in (5, 33, 171, 256, 1000):
        row = rng.integers(0, 256, width).astype(np.int64)
        got = np.asarray(
            Image.fromarray(row[None, :].astype(np.uint8)).resize(
                (PHASH_SIDE, 1), Image.Resampling.LANCZOS
            )
        )[0]
        weights = _fixed_coefficients(width, PHASH_SIDE)
        half = 1 << (PRECISION_BITS - 1)
        want = [
            min(255, max(0, (half + sum(row[x] * v for x, v in w.items())) >> PRECISION_BITS))
            for w in weights
        ]
        assert list(got) == want, width


def test_column_medians_are_numpys() -> None:
    rng = np.random.default_rng(2)
    for rows in (1, 2, 3, 80, 81, 480, 641):
        pixels = rng.integers(0, 256, (rows, 83)).astype(np.float32)
        pixels[:, 5] = 7.0  # a uniform column
        got = _column_medians(pixels)
        assert got.dtype == np.float32
        assert np.array_equal(got, np.median(pixels, axis=0))
    strip = np.asarray(Image.open(next(EXAMPLES.rglob("*.jpg"))).convert("L"), np.float32).T
    assert np.array_equal(_column_medians(strip), np.median(strip, axis=0))
