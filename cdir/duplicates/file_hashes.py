"""Hash one image file for the duplicates-only path (``cdir dupes FOLDER``), without a store.

What is computed, and how it matches ``cdir ingest`` (:func:`cdir.ingest.reader.read_one`):

- ``file_sha256``: the SHA-256 of the file's bytes (read once; the image is decoded from them).
- the pHash of the image's 256-pixel thumbnail, of its mirror image and of its centre 90 %, as
  ingest stores them;
- the low-information :class:`~cdir.duplicates.low_information.Signature` (detail, 8x8 colour
  thumbnails) from the same thumbnail (ingest computes it later from the stored JPEG thumbnail);
- ``width`` and ``height`` of the full image after its EXIF rotation.

JPEG draft mode: a JPEG is decoded by libjpeg's DCT scaling at 1/2, 1/4 or 1/8 of its size,
the smallest that still covers the 256-pixel thumbnail (``PIL.Image.draft``): 3-10x less
decoding for large photos. The thumbnail, and so the pHash, then differs from a full decode by a
few bits at most (the DCT scaling averages like the box filter ingest's thumbnail starts with).
The exact tier compares *decoded pixels* (``pixel_sha256``), which a draft decode does not
give: a file decoded in full gets its ``pixel_sha256`` here (as ingest), and
:mod:`cdir.duplicates.folder` fully decodes only the few drafted files that could have
identical pixels to another file (:func:`pixel_hash`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cdir.duplicates.low_information import LowInfoConfig, Signature
from cdir.imaging.decode import (  # the checks and conversions ingest applies
    DecodeError,
    DecodeLimits,
    decode_bytes_for_thumbnail,
    load_rgb_bytes,
    pixel_sha256,
    read_image_bytes,
)
from cdir.ingest.reader import THUMB_SIDE, centre_hash
from cdir.names import one_line, shown_name

log = logging.getLogger(__name__)

DEFAULT_LIMITS = DecodeLimits()


@dataclass
class FileHashes:
    """What the duplicates tiers need of one file. ``drafted``: decoded at reduced size (JPEG
    draft mode), so its pixels were not all seen."""

    file_sha256: str
    file_size: int
    width: int
    height: int
    phash: str
    phash_mirror: str
    signature: Signature
    drafted: bool
    phash_centre: str | None = None
    # pixel_sha256 of the decoded pixels: the full image's (as ingest's) when not drafted, the
    # reduced image's when drafted (equal for JPEGs with the same DCT coefficients)
    pixels: str = ""
    # a 2x2 grid image's tiles (cdir.ingest.grids.detect_grid), row-major, else None
    tiles: list[TileHashes] | None = None


@dataclass
class TileHashes:
    """One tile of a grid image: its box in full-size pixels and its hashes, as a file's."""

    box: tuple[int, int, int, int]
    phash: str
    phash_mirror: str
    phash_centre: str
    signature: Signature


def hash_file(
    path: Path, limits: DecodeLimits = DEFAULT_LIMITS, draft: bool = True
) -> FileHashes | str:
    """The :class:`FileHashes` of the image at ``path``, or the reason it cannot be read (the
    words of :class:`~cdir.imaging.decode.DecodeError`). Never raises for a bad file."""
    try:
        data = read_image_bytes(Path(path), limits)
        thumb, size, drafted, pixels, strip, tiles = draft_thumbnail(data, limits, draft)
    except DecodeError as exc:
        return exc.reason
    except Exception as exc:  # a decoder bug on one file fails that file only
        return f"cannot decode: {one_line(exc)}"
    try:
        phash, mirror, sig = thumbnail_hashes(thumb)
        if strip is not None:  # an animation: its pHashes over a strip of frames, as ingest's
            phash, mirror, _ = thumbnail_hashes(strip)
        return FileHashes(
            hashlib.sha256(data).hexdigest(),
            len(data),
            size[0],
            size[1],
            phash,
            mirror,
            sig,
            drafted,
            centre_hash(thumb if strip is None else strip),
            pixels,
            tiles,
        )
    except Exception as exc:  # a hashing bug on one file fails that file only
        return f"hashing failed: {one_line(exc)}"


def thumbnail_hashes(thumb: Image.Image) -> tuple[str, str, Signature]:
    """(pHash, pHash of the mirror image, low-information signature) of an RGB thumbnail, from
    one 32x32 greyscale LANCZOS resize: the same bits as ``imagehash.phash(thumb)`` and
    ``imagehash.phash(ImageOps.mirror(thumb))`` (the resize of a mirror image is the mirror of
    the resize: Pillow's filter weights are symmetric) and the same signature as
    :func:`cdir.duplicates.low_information.signature`, at a third of the resizing."""
    import imagehash
    from scipy.fft import dctn
    from scipy.fftpack import dct

    grey = np.asarray(thumb.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
    hashes = []
    for pixels in (grey, grey[:, ::-1]):
        low = dct(dct(pixels, axis=0), axis=1)[:8, :8]  # imagehash.phash, step by step
        hashes.append(str(imagehash.ImageHash(low > np.median(low))))
    low = dctn(grey.astype(np.float64), norm="ortho")[:8, :8]
    small = thumb.resize((LowInfoConfig.side, LowInfoConfig.side), Image.Resampling.BOX)
    sig = Signature(
        float(np.median(np.abs(low - np.median(low)))),
        np.asarray(small, np.float32),
        np.asarray(ImageOps.mirror(small), np.float32),
    )
    return hashes[0], hashes[1], sig


def pixel_hash(path: Path, limits: DecodeLimits = DEFAULT_LIMITS) -> str | None:
    """``pixel_sha256`` of the fully decoded image (as ingest stores it), or None when the file
    cannot be read."""
    try:
        return pixel_sha256(load_rgb_bytes(read_image_bytes(Path(path), limits), limits))
    except DecodeError:
        return None
    except Exception as exc:  # one file's failure keeps it out of the exact tier, nothing else
        log.warning("cannot hash %s in full: %s", shown_name(Path(path).name), one_line(exc))
        return None


def draft_thumbnail(
    data: bytes, limits: DecodeLimits, draft: bool
) -> tuple[Image.Image, tuple[int, int], bool, str, Image.Image | None, list[TileHashes] | None]:
    """(RGB thumbnail of at most ``THUMB_SIDE`` pixels a side, full size after EXIF rotation,
    whether draft mode decoded it at reduced size, ``pixel_sha256`` of the decoded pixels, an
    animation's strip of frames or None, a grid's tiles or None); the checks and conversions
    of :func:`cdir.imaging.decode.load_rgb`."""
    decoded = decode_bytes_for_thumbnail(data, limits, THUMB_SIDE if draft else None)
    rgb = decoded.image
    pixels = pixel_sha256(rgb)
    tiles = grid_tiles(rgb, decoded.size) if decoded.strip is None else None
    rgb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=1.0)
    return rgb, decoded.size, decoded.reduced, pixels, decoded.strip, tiles


def grid_tiles(rgb: Image.Image, full: tuple[int, int]) -> list[TileHashes] | None:
    """The tiles of ``rgb`` when it looks like a 2x2 grid (boxes scaled to the ``full`` size),
    hashed as files are; None otherwise. Whether a layout *is* a generator's grid is decided
    with the other files (:func:`cdir.duplicates.folder.split_grids`)."""
    from cdir.ingest.grids import detect_grid

    try:
        boxes = detect_grid(rgb)
    except (ValueError, IndexError) as exc:  # never fail a file over its layout
        log.debug("no grid check: %s", exc)
        return None
    if boxes is None:
        return None
    return _hashed_tiles(rgb, boxes, full)


def _hashed_tiles(
    rgb: Image.Image, boxes: list[tuple[int, int, int, int]], full: tuple[int, int]
) -> list[TileHashes]:
    sx, sy = full[0] / rgb.width, full[1] / rgb.height
    tiles = []
    for box in boxes:
        tile = rgb.crop(box)
        tile.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=1.0)
        phash, mirror, sig = thumbnail_hashes(tile)
        scaled = (round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy))
        tiles.append(TileHashes(scaled, phash, mirror, centre_hash(tile), sig))
    return tiles


def halves_tiles(path: Path, limits: DecodeLimits = DEFAULT_LIMITS) -> list[TileHashes] | None:
    """The four quarters of the image at ``path`` as tiles (a grid whose layout is known from
    elsewhere), hashed as :func:`grid_tiles` hashes tiles; None when it cannot be read."""
    try:
        decoded = decode_bytes_for_thumbnail(read_image_bytes(Path(path), limits), limits, None)
    except DecodeError:
        return None
    rgb = decoded.image
    w, h = rgb.width // 2, rgb.height // 2
    boxes = [(0, 0, w, h), (w, 0, 2 * w, h), (0, h, w, 2 * h), (w, h, 2 * w, 2 * h)]
    return _hashed_tiles(rgb, boxes, decoded.size)
