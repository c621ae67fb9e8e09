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
from cdir.ingest.decode import (  # the checks and conversions ingest applies
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


def hash_file(path: Path, limits: DecodeLimits = DEFAULT_LIMITS, draft: bool = True
              ) -> FileHashes | str:
    """The :class:`FileHashes` of the image at ``path``, or the reason it cannot be read (the
    words of :class:`~cdir.ingest.decode.DecodeError`). Never raises for a bad file."""
    try:
        data = read_image_bytes(Path(path), limits)
        thumb, size, drafted, pixels = draft_thumbnail(data, limits, draft)
    except DecodeError as exc:
        return exc.reason
    except Exception as exc:  # a decoder bug on one file fails that file only
        return f"cannot decode: {one_line(exc)}"
    try:
        phash, mirror, sig = thumbnail_hashes(thumb)
        return FileHashes(hashlib.sha256(data).hexdigest(), len(data), size[0], size[1], phash,
                          mirror, sig, drafted, centre_hash(thumb), pixels)
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
    sig = Signature(float(np.median(np.abs(low - np.median(low)))), np.asarray(small, np.float32),
                    np.asarray(ImageOps.mirror(small), np.float32))
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


def draft_thumbnail(data: bytes, limits: DecodeLimits, draft: bool
                    ) -> tuple[Image.Image, tuple[int, int], bool, str]:
    """(RGB thumbnail of at most ``THUMB_SIDE`` pixels a side, full size after EXIF rotation,
    whether draft mode decoded it at reduced size, ``pixel_sha256`` of the decoded pixels);
    the checks and conversions of :func:`cdir.ingest.decode.load_rgb`."""
    decoded = decode_bytes_for_thumbnail(data, limits, THUMB_SIDE if draft else None)
    rgb = decoded.image
    pixels = pixel_sha256(rgb)
    rgb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=1.0)
    return rgb, decoded.size, decoded.reduced, pixels
