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

from cdir.decode import DecodeError, DecodeLimits, load_rgb, make_thumbnail, pixel_sha256
from cdir.metadata import extract_prompt

log = logging.getLogger(__name__)

THUMB_SIDE = 256


@dataclass
class ImageInfo:
    """What is learnt from decoding a file; cached by file hash so it is never decoded twice."""

    pixel_sha256: str
    phash: str
    width: int
    height: int
    prompt: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReadResult:
    row: int
    info: ImageInfo | None = None
    tensor: Any = None  # preprocessed model input, when asked for
    image: Any = None  # the RGB PIL image, when asked for
    error: str | None = None


def perceptual_hash(image: Any) -> str:
    """64-bit DCT perceptual hash (pHash) as 16 hex digits."""
    import imagehash

    return str(imagehash.phash(image))


def read_one(
    row: int,
    path: Path,
    thumb_path: Path | None,
    preprocess: Callable[[Any], Any] | None,
    limits: DecodeLimits,
    keep_image: bool = False,
) -> ReadResult:
    """Decode ``path``; write its thumbnail; hash it; preprocess it. Never raises for bad files."""
    try:
        image = load_rgb(path, limits)
    except DecodeError as exc:
        return ReadResult(row, error=exc.reason)
    except OSError as exc:
        return ReadResult(row, error=f"cannot read the file: {exc.strerror or exc}")
    info = ImageInfo(pixel_sha256(image), perceptual_hash(image), image.width, image.height,
                     extract_prompt(path))
    if thumb_path is not None and not thumb_path.exists():
        save_thumbnail(image, thumb_path)
    tensor = preprocess(image) if preprocess is not None else None
    return ReadResult(row, info, tensor, image if keep_image else None)


def save_thumbnail(image: Any, path: Path) -> None:
    from cdir.decode import save_jpeg_atomic

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
            batch = [pool.submit(job) for _, job in zip(range(batch_size), jobs)]
            if batch:
                pending.append(batch)
            return bool(batch)

        for _ in range(prefetch):
            submit_next()
        while pending:
            batch = pending.pop(0)
            submit_next()
            yield [future.result() for future in batch]
