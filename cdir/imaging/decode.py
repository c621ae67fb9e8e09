"""Turn an image file into an RGB ``PIL.Image`` or a :class:`DecodeError` with a readable reason.

Every image in cdir goes through :func:`load_rgb`: EXIF orientation applied, transparency on white,
CMYK and 16-bit converted, the first frame of animations (and the primary picture of a camera's
MPO), and the format detected from the file's signature, never from its name: a PNG named ``.jpg``,
a JPEG named ``.jfif`` or ``.jpe`` are fine; the name only picks which files a scan looks at
(:data:`SUPPORTED_EXTENSIONS`). HEIC/HEIF is read through pillow-heif when it is installed.
Broken, truncated, oversized or unsupported files raise :class:`DecodeError`; no other exception
escapes, so a caller records the failure and moves on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from cdir.imaging.frames import flatten, frames_of
from cdir.imaging.unreadable import unidentified_reason

log = logging.getLogger(__name__)

# Register every plugin now: threads that open images concurrently otherwise race inside
# Image.init() and fail with KeyError('MPO').
Image.init()


def _register_heif() -> bool:
    """Register pillow-heif's HEIF opener (https://github.com/bigcat88/pillow_heif) if installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


HEIF_SUPPORTED = _register_heif()
AVIF_SUPPORTED = bool(features.check("avif"))

# File names a scan picks up; whether a file is an image, and of which format, is then decided
# by its content. JPEG also comes as .jfif (browsers, Windows), .jpe, .jif, .jfi, and as .mpo.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jfif",
        ".jpe",
        ".jif",
        ".jfi",
        ".mpo",
        ".png",
        ".apng",
        ".webp",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".avif",
        ".heic",
        ".heif",
        ".hif",
    }
)

# Formats Pillow may use to open a file (JPEG includes MPO). Anything else (EPS would run
# Ghostscript, PSD, ...) is refused even when Pillow could read it: the allow-list keeps untrusted
# uploads on well-tested decoders.
SAFE_FORMATS: tuple[str, ...] = (
    ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF")
    + (("AVIF",) if AVIF_SUPPORTED else ())
    + (("HEIF",) if HEIF_SUPPORTED else ())
)

EXACT_EXTRA = "cdir_exact"  # info key: the digest of alpha and further frames (frames.py)
_HEAD_BYTES = 512
_HASH_CHUNK = 1 << 20
_SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the image a quarter
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class DecodeLimits:
    """Refuse images above these sizes before their pixels are decoded."""

    max_pixels: int = 100_000_000
    max_file_bytes: int = 200 * 2**20


# A query is one image decoded while a visitor waits, several at once on a shared server: its
# pixel budget (40 MP: an 8000 x 5000 photo, 120 MB decoded) keeps four of them well under a GB.
QUERY_DECODE_LIMITS = DecodeLimits(max_pixels=40_000_000, max_file_bytes=50 * 2**20)


class DecodeError(Exception):
    """An image that cannot be used; ``reason`` says why in words a user understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_image_name(name: str | os.PathLike[str]) -> bool:
    """True when the file name has one of the :data:`SUPPORTED_EXTENSIONS` (any case)."""
    return Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def load_rgb(path: Path, limits: DecodeLimits = DecodeLimits()) -> Image.Image:
    """Decode the image at ``path`` into a new RGB image, or raise :class:`DecodeError`."""
    return load_rgb_reduced(path, limits, None).image


@dataclass(frozen=True)
class Decoded:
    """An image decoded by :func:`load_rgb_reduced`: ``image`` (RGB, EXIF orientation applied)
    and ``size``, the (width, height) in pixels of the full-size image after orientation, which
    is ``image.size`` unless ``reduced``."""

    image: Image.Image
    size: tuple[int, int]
    reduced: bool = False
    # an animation's sampled frames side by side, hashed instead of ``image`` (cdir.imaging.frames)
    strip: Image.Image | None = None


def load_rgb_reduced(
    path: Path, limits: DecodeLimits = DecodeLimits(), min_side: int | None = None
) -> Decoded:
    """Like :func:`load_rgb`, but a JPEG (or MPO) at least twice ``min_side`` on its shorter side
    is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling through Pillow's
    ``Image.draft``), the largest reduction that keeps the shorter side >= ``min_side``: a
    4000x3000 photo decodes to 1000x750 for ``min_side=448`` at about a third of the CPU, and
    every later step (conversion, thumbnail, preprocessing) works on 16 times fewer pixels.
    Other formats, smaller JPEGs and ``min_side=None`` decode at full size (``reduced`` False).
    Raises :class:`DecodeError` as :func:`load_rgb` does."""
    path = Path(path)
    with file_errors(path):
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a folder, or a FIFO that would block the read
            raise DecodeError(f"not an image: {path.name} is not a regular file")
        _check_file_size(info.st_size, limits)
        with path.open("rb") as fp:
            return _decode(fp, limits, min_side)


def read_image_bytes(path: Path, limits: DecodeLimits = DecodeLimits()) -> bytes:
    """The bytes of the image file at ``path`` (size-checked), for decoding from memory. Raises
    :class:`DecodeError` for a missing, unreadable, empty or too large file."""
    path = Path(path)
    with file_errors(path):
        _check_file_size(path.stat().st_size, limits)
        return path.read_bytes()


@contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """Errors of reading ``path`` as one-line :class:`DecodeError` reasons naming the file (not
    its folder)."""
    try:
        yield
    except FileNotFoundError:
        raise DecodeError(f"file not found: {path.name}") from None
    except PermissionError:
        raise DecodeError(f"cannot read the file: permission denied ({path.name})") from None
    except OSError as exc:
        raise DecodeError(f"cannot read the file: {exc.strerror or exc}") from None


def load_rgb_bytes(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Image.Image:
    """Like :func:`load_rgb` for an image held in memory (an upload)."""
    _check_file_size(len(data), limits)
    return _decode(io.BytesIO(data), limits).image


def _check_file_size(size: int, limits: DecodeLimits) -> None:
    if size == 0:
        raise DecodeError("empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise DecodeError(
            f"file is {_mib(size)}, above the limit of {_mib(limits.max_file_bytes)} "
            "(set max_file_bytes to raise it)"
        )


def decode_bytes_for_thumbnail(
    data: bytes, limits: DecodeLimits, thumb_side: int | None
) -> Decoded:
    """Decode an image held in memory for a thumbnail of at most ``thumb_side`` pixels a side: a
    JPEG is decoded by libjpeg's DCT scaling (``Image.draft``) at the smallest scale whose
    longer side still covers ``thumb_side`` (None: full size). Checks and conversions as
    :func:`load_rgb`; raises :class:`DecodeError`."""
    _check_file_size(len(data), limits)
    return _decode(io.BytesIO(data), limits, thumb_side=thumb_side)


def _decode(
    fp: BinaryIO, limits: DecodeLimits, min_side: int | None = None, thumb_side: int | None = None
) -> Decoded:
    head = fp.read(_HEAD_BYTES)
    fp.seek(0)
    img = _open(fp, head, limits)
    try:
        _check_pixels(img.size, limits)
        full = img.size
        reduced = (
            _draft_for_thumbnail(img, thumb_side)
            if thumb_side is not None
            else _draft(img, min_side)
        )
        _load_pixels(img, limits)
        orientation = _orientation(img)
        rgb = to_rgb(img)
        frames = frames_of(img, _has_transparency(img), to_rgb)
    finally:
        img.close()
    rgb = _apply_orientation(frames.shown or rgb, orientation)
    rgb.info = {EXACT_EXTRA: frames.extra} if frames.extra else {}
    size = (full[1], full[0]) if orientation in _SWAPS_SIDES else full
    return Decoded(rgb, size, reduced, frames.strip)


def _draft_for_thumbnail(img: Image.Image, thumb_side: int) -> bool:
    """Ask a JPEG's decoder for the smallest DCT scale whose longer side still covers
    ``thumb_side``; True when the image will decode smaller than its full size."""
    if img.format != "JPEG":
        return False
    full, side = img.size, max(img.size)
    try:
        img.draft(
            "RGB", (max(1, full[0] * thumb_side // side), max(1, full[1] * thumb_side // side))
        )
    except Exception as exc:  # a plugin can raise anything on hostile input: decode in full
        log.debug("no reduced decode: %s", exc)
        return False
    return img.size != full


def _draft(img: Image.Image, min_side: int | None) -> bool:
    """Ask a JPEG's decoder for a DCT-scaled decode (see :func:`load_rgb_reduced`); True when
    the image will decode smaller than its full size."""
    if min_side is None or img.format not in ("JPEG", "MPO") or min(img.size) < 2 * min_side:
        return False
    full = img.size
    try:
        img.draft(None, (min_side, min_side))
    except Exception as exc:  # a plugin can raise anything on hostile input: decode in full
        log.debug("no reduced decode: %s", exc)
        return False
    return img.size != full


def _open(fp: BinaryIO, head: bytes, limits: DecodeLimits) -> Image.Image:
    """Identify the format from the content; Pillow's own bomb check becomes a DecodeError."""
    try:
        with pillow_warnings_logged():
            return Image.open(fp, formats=SAFE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise DecodeError(_bomb_reason(exc, limits)) from None
    except UnidentifiedImageError:
        raise DecodeError(unidentified_reason(head, HEIF_SUPPORTED, AVIF_SUPPORTED)) from None
    except Exception as exc:  # a plugin can raise anything on hostile input; never crash
        raise DecodeError(f"corrupt image header: {exc}") from None


@contextmanager
def pillow_warnings_logged() -> Iterator[None]:
    """Pillow warns about corrupt EXIF, or a DecompressionBombWarning below our own max_pixels
    check (the one that decides): log those at debug level instead of printing them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        log.debug("pillow: %s", warning.message)


def _check_pixels(size: tuple[int, int], limits: DecodeLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise DecodeError(f"image has an empty size ({width}x{height})")
    if width * height > limits.max_pixels:
        raise DecodeError(
            f"image is {width}x{height} = {_pixels_words(width * height)}, above the limit of "
            f"{_pixels_words(limits.max_pixels)} (set max_pixels to raise it)"
        )


def _load_pixels(img: Image.Image, limits: DecodeLimits) -> None:
    fmt = img.format or "image"
    try:
        with pillow_warnings_logged():
            img.load()
    except Image.DecompressionBombError as exc:
        raise DecodeError(_bomb_reason(exc, limits)) from None
    except (OSError, EOFError) as exc:
        if "truncated" in str(exc) or isinstance(exc, EOFError):
            raise DecodeError(f"truncated {fmt}") from None
        raise DecodeError(f"corrupt {fmt}: {exc}") from None
    except Exception as exc:  # a plugin can raise anything on hostile input; never crash
        raise DecodeError(f"corrupt {fmt}: {exc}") from None


def _bomb_reason(exc: Image.DecompressionBombError, limits: DecodeLimits) -> str:
    """Pillow refuses images above 2 x ``Image.MAX_IMAGE_PIXELS`` before cdir sees their size;
    its message holds the pixel count only."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = int(match.group(1)) if match else None
    if pixels is not None and pixels > limits.max_pixels:
        return (
            f"image has {_pixels_words(pixels)}, above the limit of "
            f"{_pixels_words(limits.max_pixels)} (set max_pixels to raise it)"
        )
    return f"image is above Pillow's safety limit (raise PIL.Image.MAX_IMAGE_PIXELS): {exc}"


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1..8); corrupt EXIF counts as 1 (no rotation)."""
    try:
        with pillow_warnings_logged():
            value = int(img.getexif().get(_ORIENTATION_TAG, 1))
        return value if value in _TRANSPOSE_FOR_ORIENTATION else 1
    except Exception as exc:  # EXIF parsers raise many types: skip the rotation
        log.debug("ignoring unreadable EXIF: %s", exc)
        return 1


def _apply_orientation(img: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return img.transpose(method) if method is not None else img


def to_rgb(img: Image.Image) -> Image.Image:
    """A new RGB copy of the current frame: alpha on white (on dark grey when what it draws is
    light, :func:`cdir.imaging.frames.flatten`), CMYK converted, 16-bit scaled."""
    try:
        if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
            return _scale_to_8bit(img).convert("RGB")
        if _has_transparency(img):
            return flatten(img.convert("RGBA"))
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise DecodeError(f"unsupported colour mode {img.mode}: {exc}") from None


def _has_transparency(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """Map a 16/32-bit or float grayscale image onto 0..255 without clipping."""
    arr = np.asarray(img, dtype=np.float64)
    low, high = 0.0, _full_scale(img.mode, arr)
    if high is None:
        low, high = float(arr.min()), float(arr.max())
    span = high - low if high > low else 1.0
    scaled = np.clip((arr - low) * (255.0 / span), 0, 255)
    return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")


def _full_scale(mode: str, arr: np.ndarray) -> float | None:
    """The white value of the image's range, or None to stretch min..max."""
    if mode.startswith("I;16"):
        return 65535.0
    if arr.size == 0 or arr.min() < 0:
        return None
    peak = float(arr.max())
    for white in (1.0, 255.0, 65535.0) if mode == "F" else (255.0, 65535.0):
        if peak <= white:
            return white
    return None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fp:
        while chunk := fp.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pixel_sha256(img: Image.Image) -> str:
    """Hex SHA-256 of the RGB pixels and size: equal for lossless re-encodes and renames. For an
    image decoded here, also of its alpha and further frames (:mod:`cdir.imaging.frames`)."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    extra = img.info.get(EXACT_EXTRA)
    if extra:
        digest.update(f"|{extra}".encode())
    return digest.hexdigest()


def make_thumbnail(img: Image.Image, max_side: int = 256) -> Image.Image:
    """An RGB copy whose longer side is at most ``max_side`` (aspect ratio kept).

    A box-filter ``reduce`` by an integer factor first brings the image within 1-2x of the target
    (``reducing_gap=1``), then LANCZOS: less than half the cost of LANCZOS over the full image
    (640x480: 2.7 ms instead of 6 ms of CPU), with no visible difference at thumbnail size.
    """
    thumb = img.convert("RGB")
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=1.0)
    return thumb


def save_jpeg_atomic(img: Image.Image, path: Path, quality: int = 85) -> None:
    """Write ``img`` as JPEG to ``path`` through a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fp:
            img.convert("RGB").save(fp, "JPEG", quality=quality)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"


def _pixels_words(pixels: int) -> str:
    if pixels >= 1_000_000_000:
        return f"{pixels / 1e9:.1f} gigapixels"
    return f"{pixels / 1e6:.3g} megapixels" if pixels >= 1_000_000 else f"{pixels} pixels"
