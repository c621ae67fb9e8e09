"""Low-information images in the perceptual tier: flat or nearly flat images (a blank page, a
black frame, a solid colour) have almost no DCT energy, so their pHash is all zeros or set by
compression noise, and every one of them hashes alike. A pair in which either image carries
too little detail to trust its pHash passes the perceptual tier only when the pixels themselves
are close: the mean absolute difference of their 8x8 colour thumbnails (mirror-aware when the
tier is) must stay within :attr:`LowInfoConfig.close_max` levels.

The detail of an image is how far the 64 DCT coefficients that pHash thresholds at their median
(imagehash.phash: the 8x8 lowest frequencies of the DCT of the 32x32 LANCZOS-resized ``L``
image) lie from that median: the median absolute deviation, orthonormal DCT, in grey levels.
When most coefficients sit at the median, their bits are set by noise and rounding: a solid
colour (all zero), a near-flat gradient (one coefficient), a blank page, a faded frame. Drawings
on white, the least detailed of the example originals, measure 10.8 or more; the 40 flat
originals of ``scripts/make_dupes_set.py --flat`` 3.7 or less. The thresholds are measured by
``scripts/calibrate_dupes.py --flat`` (see bench/README.md).

Signatures are computed lazily, only for the images of pairs that pass the pHash threshold,
from the stored thumbnail (or the file, for a store without it) and kept for the run; a store
with a ``signatures`` mapping (row -> :class:`Signature`, ``cdir dupes FOLDER``) gives them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LowInfoConfig:
    """``detail_max``: detail (see the module docstring, grey levels) at or below which an
    image's pHash is not trusted; ``close_max``: mean absolute difference (0..255 per channel)
    of two 8x8 RGB thumbnails at or below which such a pair is close."""

    detail_max: float = 6.0
    close_max: float = 6.0
    side: int = 8


@dataclass
class Signature:
    """``detail``: spread of the pHash DCT coefficients (grey levels, see the module docstring);
    ``thumb`` and ``mirror``: the 8x8 RGB
    thumbnail (float32, shape (8, 8, 3), 0..255) and that of the mirrored image."""

    detail: float
    thumb: np.ndarray
    mirror: np.ndarray


def signature(image: Any, side: int = 8) -> Signature:
    """The :class:`Signature` of a PIL image (any mode)."""
    from PIL import Image, ImageOps
    from scipy.fft import dctn

    rgb = image.convert("RGB")
    grey = np.asarray(rgb.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = dctn(grey, norm="ortho")[:8, :8]
    detail = float(np.median(np.abs(low - np.median(low))))
    small = rgb.resize((side, side), Image.Resampling.BOX)
    return Signature(
        detail, np.asarray(small, np.float32), np.asarray(ImageOps.mirror(small), np.float32)
    )


class PixelCheck:
    """Signatures of the perceptual tier's items (positions ``0..len(rows)-1`` of ``rows``),
    computed on first use; :meth:`close` says whether two items may be grouped."""

    def __init__(
        self, store: Store, rows: np.ndarray, mirror: bool, config: LowInfoConfig = LowInfoConfig()
    ) -> None:
        self.store, self.rows, self.mirror, self.config = store, rows, mirror, config
        self._signatures: dict[int, Signature | None] = {}

    def signature(self, position: int) -> Signature | None:
        """The signature of the item at ``position``, or None when it cannot be read (then its
        pHash is trusted, as before)."""
        if position not in self._signatures:
            self._signatures[position] = self._read(int(self.rows[position]))
        return self._signatures[position]

    def low(self, position: int) -> bool:
        sig = self.signature(position)
        return sig is not None and sig.detail <= self.config.detail_max

    def close(self, a: int, b: int) -> bool:
        """True unless either item is low-information and their thumbnails differ."""
        if not (self.low(a) or self.low(b)):
            return True
        sa, sb = self.signature(a), self.signature(b)
        if sa is None or sb is None:
            return True
        diff = float(np.abs(sa.thumb - sb.thumb).mean())
        if self.mirror:
            diff = min(diff, float(np.abs(sa.thumb - sb.mirror).mean()))
        return diff <= self.config.close_max

    def close_many(self, a: int, others: np.ndarray) -> np.ndarray:
        """:meth:`close` of ``a`` with each of ``others`` (positions), as a bool array."""
        out = np.ones(len(others), dtype=bool)
        sa = self.signature(a)
        if sa is None or not len(others):
            return out
        sigs = [self.signature(int(b)) for b in others]
        known = np.array([sig is not None for sig in sigs])
        if not known.any():
            return out
        thumbs = np.stack([sig.thumb for sig in sigs if sig is not None])
        low = np.array([sig.detail <= self.config.detail_max for sig in sigs if sig is not None])
        low |= sa.detail <= self.config.detail_max
        diff = np.abs(thumbs - sa.thumb).mean(axis=(1, 2, 3))
        if self.mirror:
            mirrors = np.stack([sig.mirror for sig in sigs if sig is not None])
            diff = np.minimum(diff, np.abs(mirrors - sa.thumb).mean(axis=(1, 2, 3)))
        out[known] = ~low | (diff <= self.config.close_max)
        return out

    def _read(self, row: int) -> Signature | None:
        from PIL import Image

        from cdir.imaging.decode import DecodeError, DecodeLimits
        from cdir.ingest.reader import load_item_image

        known = getattr(self.store, "signatures", None)  # cdir.duplicates.folder: computed
        if known is not None:
            return known.get(row)
        items = self.store.items
        thumb = self.store.thumb_path(str(items.at[row, "sha256"]))
        try:
            if thumb.is_file():
                with Image.open(thumb) as img:
                    return signature(img, self.config.side)
            tile = int(items.at[row, "tile"]) if "tile" in items else -1
            image = load_item_image(self.store.item_path(row), DecodeLimits(), tile)
            return signature(image, self.config.side)
        except (DecodeError, OSError, ValueError) as exc:
            log.debug("no pixel signature for row %d: %s", row, exc)
            return None
