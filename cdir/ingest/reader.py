"""The reading worker: one file in, everything ingest needs from its pixels out (or a failure).

Runs in worker threads (PIL decoding and torchvision preprocessing release the GIL for most of
their time), so that decoding overlaps with model compute on the main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ImageOps

from cdir.imaging.decode import (
    Decoded,
    DecodeError,
    DecodeLimits,
    load_rgb,
    load_rgb_reduced,
    make_thumbnail,
    pixel_sha256,
    save_jpeg_atomic,
)
from cdir.ingest.grids import crop_tile, detect_grid
from cdir.ingest.metadata.extract import extract_fields
from cdir.ingest.metadata.result import FIELDS as METADATA_FIELDS
from cdir.names import one_line, shown_name
from cdir.store.collection import DISK_FULL_ERRNOS

log = logging.getLogger(__name__)

THUMB_SIDE = 256
# Cache version of the parsed generation metadata (``image_info`` table): bumped whenever the
# parsers change, so a re-ingest parses the files again while pixels and embeddings stay cached.
METADATA_VERSION = "meta-v3"


@dataclass
class ImageInfo:
    """What is learnt from decoding a file; cached by file hash so it is never decoded twice."""

    pixel_sha256: str | None  # None: not computed, the image was decoded reduced (see read_one)
    phash: str
    width: int
    height: int
    prompt: str | None
    phash_mirror: str | None = None  # pHash of the mirrored image (flipped copies)
    phash_centre: str | None = None  # pHash of the centre 90 % (cropped copies)
    grid: list[list[int]] | None = None  # tile boxes when the image is a 2x2 grid
    negative_prompt: str | None = None
    generator: str | None = None  # the tool that made the image (A1111, ComfyUI, ...)
    generation_settings: str | None = None  # the tool's other parameters, JSON text
    metadata_issue: str | None = None  # why some metadata text was not stored

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def metadata(self) -> dict[str, str | None]:
        """The parsed generation metadata fields (``cdir.ingest.metadata.result.FIELDS``)."""
        return {key: getattr(self, key) for key in METADATA_FIELDS}


@dataclass
class ReadResult:
    row: int
    info: ImageInfo | None = None
    tensor: Any = None  # the model input from ``preprocess`` (e.g. ClipEmbedder.prepare)
    image: Any = None  # the RGB PIL image, when asked for
    error: str | None = None


def perceptual_hash(image: Any) -> str:
    """64-bit DCT perceptual hash (pHash) as 16 hex digits."""
    import imagehash

    return str(imagehash.phash(image))


CENTRE_KEEP = 0.9
PHASH_SIDE = 32  # imagehash.phash shrinks the grey image to 32x32 (LANCZOS) before its DCT
# Widths up to which Pillow's LANCZOS shrink to PHASH_SIDE columns has mirror-symmetric
# fixed-point coefficients, so that it commutes with a mirror flip bit for bit (checked against
# Resample.c's arithmetic; tests/ingest/test_reader_hashes.py compares the hashes)
MIRROR_EXACT_WIDTH = 1024


def centre_hash(thumb: Any) -> str:
    """The pHash of the centre ``CENTRE_KEEP`` of an image (its thumbnail): a copy with a few
    per cent cut from every side has a pHash close to it (bench/bench_dupes_signals.py)."""
    dx = round(thumb.width * (1 - CENTRE_KEEP) / 2)
    dy = round(thumb.height * (1 - CENTRE_KEEP) / 2)
    return perceptual_hash(thumb.crop((dx, dy, thumb.width - dx, thumb.height - dy)))


def perceptual_hashes(image: Any) -> tuple[str, str, str]:
    """(pHash, pHash of the mirror image, :func:`centre_hash`) of ``image``, bit for bit those
    of :func:`perceptual_hash` on each, at about half their cost: the grey image is made once,
    and the mirror image's hash is that of the mirrored 32x32 shrink imagehash makes first
    (imagehash's own shrink of a 32x32 grey image is a copy)."""
    from PIL import Image

    grey = image.convert("L")
    small = grey.resize((PHASH_SIDE, PHASH_SIDE), Image.Resampling.LANCZOS)
    mirrored = small if image.width <= MIRROR_EXACT_WIDTH else grey
    return perceptual_hash(small), perceptual_hash(ImageOps.mirror(mirrored)), centre_hash(grey)


def read_one(
    row: int,
    path: Path,
    thumb_path: Path | None,
    preprocess: Callable[[Any], Any] | None,
    limits: DecodeLimits,
    keep_image: bool = False,
    tile: int = -1,
    reduce_to: int | None = None,
) -> ReadResult:
    """Decode ``path`` (tile ``tile`` of it, for a tile of a grid image); write its thumbnail;
    hash it; look for a 2x2 grid; preprocess it. Never raises for bad files.

    With ``reduce_to`` (pixels), a large JPEG of a whole file is decoded reduced
    (:func:`cdir.imaging.decode.load_rgb_reduced`, shorter side >= ``reduce_to``): thumbnail,
    pHashes and ``preprocess`` see the reduced image, ``width``/``height`` stay the full size,
    and ``pixel_sha256`` is left None, since it is defined on the full-size pixels
    (:mod:`cdir.ingest.exact_keys` computes it where the exact tier needs it). An image that
    looks like a 2x2 grid at reduced size is decoded again in full, so its tile boxes are exact.
    """
    try:
        decoded = _decode_item(path, limits, tile, None if keep_image else reduce_to)
    except DecodeError as exc:
        return ReadResult(row, error=exc.reason)
    except OSError as exc:
        return ReadResult(row, error=f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug on one file fails that file only
        return ReadResult(row, error=f"cannot decode: {one_line(exc)}")
    image = decoded.image
    grid, grid_issue = _grid(image, path) if tile < 1 else (None, None)
    if grid and decoded.reduced:
        return read_one(row, path, thumb_path, preprocess, limits, keep_image, tile)
    try:
        # pHash shrinks to 32x32 anyway: hashing the thumbnail gives the same bits (0-2 of 64
        # differ on JPEG photos) at a tenth of the cost of hashing the full image
        # (bench/bench_ingest.py)
        step = "thumbnail"
        thumb = make_thumbnail(image, THUMB_SIDE)
        step = "hashing"
        # an animation hashes a strip of its frames (cdir.imaging.frames), a still image its
        # thumbnail
        hashed = thumb if decoded.strip is None else decoded.strip
        phash, mirror, centre = perceptual_hashes(hashed)
        hashes = (None if decoded.reduced else pixel_sha256(image), phash)
        meta = extract_fields(path)
        if grid_issue:
            meta["metadata_issue"] = "; ".join(filter(None, (meta["metadata_issue"], grid_issue)))
        info = ImageInfo(
            *hashes,
            *decoded.size,
            meta.pop("prompt"),
            phash_mirror=mirror,
            phash_centre=centre,
            grid=[list(box) for box in grid] if grid else None,
            **meta,
        )
        step = "thumbnail"
        if thumb_path is not None and not thumb_path.exists():
            save_jpeg_atomic(thumb, thumb_path)
        step = "preprocessing"
        tensor = preprocess(image) if preprocess is not None else None
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:  # the disk, not the file: the whole ingest stops
            raise
        return ReadResult(row, error=f"{step} failed: {exc.strerror or one_line(exc)}")
    except Exception as exc:  # a bug on one file fails that file only, with its reason
        log.warning("%s: %s failed: %s", shown_name(path.name), step, one_line(exc))
        return ReadResult(row, error=f"{step} failed: {one_line(exc)}")
    return ReadResult(row, info, tensor, image if keep_image else None)


def _grid(image: Any, path: Path) -> tuple[list[Any] | None, str | None]:
    """The tile boxes of a 2x2 grid image (None when it is none), and the reason when the
    detector failed on this image: it is then kept whole, never failed."""
    try:
        return detect_grid(image), None
    except Exception as exc:  # a detector bug must not cost the image, nor the collection
        log.warning(
            "%s: grid detection failed (kept whole): %s", shown_name(path.name), one_line(exc)
        )
        return None, f"grid split failed (kept whole): {one_line(exc)}"


def _decode_item(path: Path, limits: DecodeLimits, tile: int, reduce_to: int | None) -> Decoded:
    if tile >= 1:
        image = load_item_image(path, limits, tile)
        return Decoded(image, image.size)
    return load_rgb_reduced(path, limits, reduce_to)


def load_item_image(path: Path, limits: DecodeLimits, tile: int = -1) -> Any:
    """The RGB image of an item: the file's, or for a tile (``tile`` >= 1) that tile of the
    grid image in the file."""
    image = load_rgb(path, limits)
    if tile < 1:
        return image
    try:
        return crop_tile(image, tile)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None


def reduced_decode_side(preprocess: Callable[[Any], Any] | None) -> int | None:
    """The least shorter side (pixels) a reduced decode may give for ``preprocess`` and the
    thumbnail: that of the preprocessing's box reduction
    (:class:`cdir.models.encoders.BoxReduce`, twice the model's input), and at least
    :data:`THUMB_SIDE`; None (decode in full) for a preprocessing without that step."""
    from cdir.models.encoders import BoxReduce

    steps = getattr(preprocess, "transforms", [])
    sides = [step.min_side for step in steps if isinstance(step, BoxReduce)]
    return max(sides[0], THUMB_SIDE) if sides else None


def save_thumbnail(image: Any, path: Path) -> None:
    save_jpeg_atomic(make_thumbnail(image, THUMB_SIDE), path)


def read_batches(
    jobs: Iterable[Callable[[], ReadResult]], batch_size: int, workers: int, prefetch: int = 2
) -> Iterator[list[ReadResult]]:
    """Run read jobs on a thread pool, yielding batches in order while keeping only
    ``prefetch`` batches in flight (memory stays bounded however large the collection)."""
    jobs = iter(jobs)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cdir-read") as pool:
        pending: list[list[Future[ReadResult]]] = []

        def submit_next() -> bool:
            batch = [pool.submit(job) for _, job in zip(range(batch_size), jobs, strict=False)]
            if batch:
                pending.append(batch)
            return bool(batch)

        for _ in range(prefetch):
            submit_next()
        while pending:
            batch = pending.pop(0)
            submit_next()
            yield [future.result() for future in batch]
