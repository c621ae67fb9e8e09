"""Duplicates straight from a folder or a zip (``cdir dupes FOLDER``): no store, no model.

The files are hashed in parallel (:func:`cdir.duplicates.file_hashes.hash_file`: JPEG draft
decoding, pHash and its mirror, the low-information signature), put in an in-memory
:class:`~cdir.store.collection.Store`, and grouped by :func:`cdir.duplicates.groups.find_duplicates`
with the same tiers, thresholds and grouping rule as ``cdir dupes STORE``; only ``exact`` and
``perceptual`` (the ``semantic`` tier needs CLIP embeddings: ``cdir ingest`` makes them).

The exact tier and draft decoding. Ingest's exact tier compares the SHA-256 of the decoded
pixels; a draft decode does not see every pixel, so here:

1. a file decoded in full (anything but a large JPEG) gets its ``pixel_sha256`` while it is
   hashed, exactly as ingest computes it;
2. a JPEG decoded at reduced size (draft mode) is keyed by its bytes (same bytes, same
   pixels), and decoded again in full only when it could have identical pixels to a file with
   other bytes: another drafted file of the same size with identical reduced pixels (JPEGs with
   the same DCT coefficients: an EXIF edit, a lossless jpegtran), or a fully decoded file (a PNG
   made from its pixels) of the same size whose pHash is within :data:`EXACT_CANDIDATE_BITS`
   and whose 8x8 colour thumbnail is within :data:`EXACT_CANDIDATE_LEVELS` in every cell (or
   both low-information: their pHash is noise).

Two JPEGs with different DCT coefficients that still decode to identical pixels would be
missed; ``exact_all_pixels`` in :class:`FolderConfig` fully decodes every drafted file instead
(the bench uses it to check that both give the same groups).

Nothing is written unless the caller asks: a zip is extracted into a temporary folder that is
removed afterwards, or into ``<store>/files/`` when a store directory is given.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdir.duplicates.file_hashes import FileHashes, TileHashes, hash_file, pixel_hash
from cdir.duplicates.finder import DedupConfig, DupGroup
from cdir.duplicates.groups import find_duplicates
from cdir.duplicates.low_information import LowInfoConfig, Signature
from cdir.duplicates.rows import groups_report
from cdir.imaging.decode import DecodeLimits
from cdir.ingest.source_files import SourceFile
from cdir.store.collection import FILES_DIR, Store, normalise_items

log = logging.getLogger(__name__)

FOLDER_TIERS: tuple[str, ...] = ("exact", "perceptual")
EXACT_CANDIDATE_BITS = 8
# identical pixels decoded at full and at reduced size: 8x8 thumbnails within this many levels
# (0..255) in every cell (JPEG q25 copies and watermarks differ by more)
EXACT_CANDIDATE_LEVELS = 2.0
PAIRWISE_MAX = 1024  # drafted files compared at a time with the full-decoded ones
_INLINE_BELOW = 32  # fewer files than this: hash them in this process (no pool start-up)

Progress = Callable[[int, int, str], None]


@dataclass
class FolderConfig:
    """``workers``: parallel hashing processes (or threads with ``executor="thread"``; 0: one
    per CPU); ``draft``: JPEG draft-mode decoding; ``exact_all_pixels``: fully decode every
    file for the exact tier (see the module docstring)."""

    dedup: DedupConfig = field(default_factory=lambda: DedupConfig(tiers=FOLDER_TIERS))
    workers: int = 0
    executor: str = "process"
    draft: bool = True
    exact_all_pixels: bool = False
    limits: DecodeLimits = field(default_factory=DecodeLimits)


class SignatureStore(Store):
    """An in-memory store whose items' low-information signatures are already known
    (``signatures``: row -> :class:`Signature`; :class:`~cdir.duplicates.low_information.PixelCheck`
    reads them instead of a thumbnail)."""

    signatures: dict[int, Signature]

    def __init__(self, root: Path, items: pd.DataFrame, signatures: dict[int, Signature]) -> None:
        super().__init__(root, items=items)
        self.signatures = signatures


@dataclass
class FolderResult:
    """The grouped store, its groups, and the files left out ``[(name, reason)]``."""

    store: SignatureStore
    groups: list[DupGroup]
    failed: list[tuple[str, str]]
    rejected: list[tuple[str, str]]


def find_folder_groups(
    sources: Sequence[str | Path],
    config: FolderConfig | None = None,
    store_dir: Path | None = None,
    progress: Progress | None = None,
) -> FolderResult:
    """Near-duplicate groups of the images in ``sources`` (folders, zips, image files).

    Raises :class:`cdir.ingest.source_files.SourceError` for a missing source or an unreadable
    zip, ValueError for a tier this path cannot run (``semantic``)."""
    from cdir.ingest.sources import scan_sources

    config = config or FolderConfig()
    if "semantic" in config.dedup.tiers:
        raise ValueError(
            "the semantic tier needs CLIP embeddings: run `cdir ingest FOLDER "
            "--store DIR`, then `cdir dupes DIR`"
        )
    with tempfile.TemporaryDirectory(prefix="cdir-dupes-") as tmp:
        extract_dir = Path(store_dir) / FILES_DIR if store_dir is not None else Path(tmp)
        scan = scan_sources(list(sources), extract_dir)
        hashed = hash_files([f.path for f in scan.files], config, progress)
        store, failed = _memory_store(scan.files, hashed, config)
        groups = find_duplicates(store, config.dedup, decided={})  # the keep reads the files
    return FolderResult(store, groups, failed, list(scan.rejected))


def hash_files(
    paths: Sequence[Path], config: FolderConfig, progress: Progress | None = None
) -> list[FileHashes | str]:
    """:func:`hash_file` of every path, in order, on a pool of ``config.workers``."""
    job = _Job(config.limits, config.draft)
    if len(paths) < _INLINE_BELOW:
        return [job(p) for p in paths]
    workers = config.workers or os.cpu_count() or 1
    out: list[FileHashes | str] = []
    with _pool(config.executor, workers) as pool:
        for n, result in enumerate(pool.map(job, paths, chunksize=16), 1):
            out.append(result)
            if progress is not None and (n % 64 == 0 or n == len(paths)):
                progress(n, len(paths), "hashing")
    return out


@dataclass(frozen=True)
class _Job:
    limits: DecodeLimits
    draft: bool

    def __call__(self, path: Path) -> FileHashes | str:
        return hash_file(path, self.limits, self.draft)


def _pool(kind: str, workers: int) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cdir-hash")
    if kind == "process":
        return ProcessPoolExecutor(max_workers=workers)
    raise ValueError(f"unknown executor {kind!r}: process or thread")


def _memory_store(
    files: Sequence[SourceFile], hashed: Sequence[FileHashes | str], config: FolderConfig
) -> tuple[SignatureStore, list[tuple[str, str]]]:
    ok = [(f, h) for f, h in zip(files, hashed, strict=True) if isinstance(h, FileHashes)]
    failed = [(f.rel_path, h) for f, h in zip(files, hashed, strict=True) if isinstance(h, str)]
    items = pd.DataFrame(
        {
            "id": np.arange(len(ok), dtype=np.int64),
            "path": [str(f.path) for f, _ in ok],
            "rel_path": [f.rel_path for f, _ in ok],
            "sha256": [h.file_sha256 for _, h in ok],
            "phash": [h.phash for _, h in ok],
            "phash_mirror": [h.phash_mirror for _, h in ok],
            "phash_centre": [h.phash_centre for _, h in ok],
            "width": [h.width for _, h in ok],
            "height": [h.height for _, h in ok],
            "file_size": [h.file_size for _, h in ok],
            "status": "ok",
        }
    )
    items["pixel_sha256"] = exact_keys([f.path for f, _ in ok], [h for _, h in ok], config)
    items["parent_id"], items["tile"] = -1, -1
    root = Path(files[0].path).parent if files else Path(".")
    signatures = {n: h.signature for n, (_, h) in enumerate(ok)}
    family_grids(
        [f.path for f, _ in ok], [f.rel_path for f, _ in ok], [h for _, h in ok], config.limits
    )
    tiles = split_grids([f.rel_path for f, _ in ok], [h for _, h in ok])
    if tiles:
        rows = []
        for grid, n, tile in tiles:
            file, hashed = ok[grid]
            signatures[len(items) + len(rows)] = tile.signature
            rows.append(
                {
                    "id": len(items) + len(rows),
                    "path": str(file.path),
                    "rel_path": f"{file.rel_path}#tile{n}",
                    "sha256": f"{hashed.file_sha256}#tile{n}",
                    "phash": tile.phash,
                    "phash_mirror": tile.phash_mirror,
                    "phash_centre": tile.phash_centre,
                    "width": tile.box[2] - tile.box[0],
                    "height": tile.box[3] - tile.box[1],
                    "file_size": -1,
                    "status": "ok",
                    "parent_id": grid,
                    "tile": n,
                    "pixel_sha256": f"tile:{hashed.file_sha256}:{n}",
                }
            )
        items = pd.concat([items, pd.DataFrame(rows)], ignore_index=True)
    return SignatureStore(root, normalise_items(items), signatures), failed


def family_grids(
    paths: Sequence[Path], names: Sequence[str], hashed: Sequence[FileHashes], limits: DecodeLimits
) -> None:
    """Give tiles to the files a Midjourney family shows are grids though their layout was not
    recognised (tiles that abut without a seam, four close Vary siblings): a file named for a
    job without a grid index, exactly twice the size of a tile file of the same job
    (``<user>_<words>_<job>_<index>.png``), is split in halves."""
    from cdir.duplicates.families import name_mark
    from cdir.duplicates.file_hashes import halves_tiles

    tile_sizes: dict[str, set[tuple[int, int]]] = {}
    marks = [name_mark(n) for n in names]
    for mark, h in zip(marks, hashed, strict=True):
        if mark.job is not None and mark.index is not None:
            tile_sizes.setdefault(mark.job, set()).add((h.width, h.height))
    for n, (mark, h) in enumerate(zip(marks, hashed, strict=True)):
        if h.tiles or mark.job is None or mark.index is not None or h.width % 2 or h.height % 2:
            continue
        if (h.width // 2, h.height // 2) in tile_sizes.get(mark.job, set()):
            h.tiles = halves_tiles(paths[n], limits)


def split_grids(
    names: Sequence[str], hashed: Sequence[FileHashes]
) -> list[tuple[int, int, TileHashes]]:
    """(grid position, tile number 1..4, tile) for the files that look like a 2x2 grid and that
    something says are a generator's grid, as ingest splits them
    (:func:`cdir.ingest.grid_evidence.grid_evidence`): Midjourney's tile sizes, a Midjourney
    job in the file name, or another file that is a perceptual near-duplicate of a tile (its
    upscale or variation)."""
    from cdir.duplicates.families import name_mark
    from cdir.ingest.grid_evidence import UPSCALE_MAX_DISTANCE, midjourney_size

    candidates = [n for n, h in enumerate(hashed) if h.tiles]
    if not candidates:
        return []
    files = np.array([int(h.phash, 16) for h in hashed], dtype=np.uint64)
    out = []
    for grid in candidates:
        h = hashed[grid]
        tiles = h.tiles or []
        evidence = midjourney_size(h.width, h.height) or name_mark(names[grid]).job is not None
        if not evidence:
            others = np.delete(files, grid)
            evidence = any(
                (
                    np.bitwise_count(others ^ np.uint64(int(t.phash, 16))) <= UPSCALE_MAX_DISTANCE
                ).any()
                for t in tiles
            )
        if evidence:
            out.extend((grid, n, tile) for n, tile in enumerate(tiles, start=1))
    log.info("%d grid images split into tiles", len({g for g, _, _ in out}))
    return out


def exact_keys(
    paths: Sequence[Path], hashed: Sequence[FileHashes], config: FolderConfig
) -> list[str]:
    """A key per file, equal for two files exactly when their decoded pixels are (see the
    module docstring): ``px:<pixel_sha256>`` for the files decoded in full (here or in the
    worker), else ``file:<file_sha256>``."""
    keys = [f"file:{h.file_sha256}" if h.drafted else f"px:{h.pixels}" for h in hashed]
    if config.exact_all_pixels:
        need = {n for n, h in enumerate(hashed) if h.drafted}
    else:
        detail_max = (config.dedup.low_info or LowInfoConfig()).detail_max
        need = exact_candidates(hashed, detail_max)
    by_bytes: dict[str, list[int]] = {}
    for n in sorted(need):
        by_bytes.setdefault(hashed[n].file_sha256, []).append(n)
    for rows in by_bytes.values():
        pixels = pixel_hash(paths[rows[0]], config.limits)
        for n in rows if pixels is not None else ():
            keys[n] = f"px:{pixels}"
    log.info("exact tier: %d of %d files decoded again in full", len(by_bytes), len(hashed))
    return keys


def exact_candidates(hashed: Sequence[FileHashes], detail_max: float) -> set[int]:
    """Positions of the drafted files that may have identical pixels to a file with other
    bytes: a drafted file of the same size with the same reduced pixels, or a file decoded in
    full of the same size whose pHash is within :data:`EXACT_CANDIDATE_BITS` (or both
    low-information)."""
    by_size: dict[tuple[int, int], list[int]] = {}
    for n, h in enumerate(hashed):
        by_size.setdefault((h.width, h.height), []).append(n)
    need: set[int] = set()
    for rows in by_size.values():
        drafted = [n for n in rows if hashed[n].drafted]
        if not drafted or len({hashed[n].file_sha256 for n in rows}) < 2:
            continue
        by_pixels: dict[str, list[int]] = {}
        for n in drafted:
            by_pixels.setdefault(hashed[n].pixels, []).append(n)
        for same in by_pixels.values():
            if len({hashed[n].file_sha256 for n in same}) > 1:
                need.update(same)
        plain = [n for n in rows if not hashed[n].drafted]
        if plain:
            need |= _close_to(drafted, plain, hashed, detail_max)
    return need


def _close_to(
    drafted: list[int], plain: list[int], hashed: Sequence[FileHashes], detail_max: float
) -> set[int]:
    """Members of ``drafted`` within EXACT_CANDIDATE_BITS of a member of ``plain`` (or, when
    low-information, of a low-information member of ``plain``)."""
    targets = np.array([int(hashed[n].phash, 16) for n in plain], dtype=np.uint64)
    target_thumbs = np.stack([hashed[n].signature.thumb for n in plain])
    plain_low = any(hashed[n].signature.detail <= detail_max for n in plain)
    out: set[int] = set()
    for start in range(0, len(drafted), PAIRWISE_MAX // 4):
        part = drafted[start : start + PAIRWISE_MAX // 4]
        hashes = np.array([int(hashed[n].phash, 16) for n in part], dtype=np.uint64)
        thumbs = np.stack([hashed[n].signature.thumb for n in part])
        near = np.bitwise_count(hashes[:, None] ^ targets[None, :]) <= EXACT_CANDIDATE_BITS
        level = np.abs(thumbs[:, None] - target_thumbs[None, :]).max(axis=(2, 3, 4))
        close = (near & (level <= EXACT_CANDIDATE_LEVELS)).any(axis=1)
        out.update(
            n
            for n, hit in zip(part, close, strict=True)
            if hit or (plain_low and hashed[n].signature.detail <= detail_max)
        )
    return out


def folder_report(
    result: FolderResult, config: FolderConfig, source: str, store_dir: Path | None
) -> dict[str, Any]:
    """The JSON of ``cdir dupes STORE`` (:func:`groups_report`) with ``store`` the directory
    given with ``--store`` (or None), plus ``source``, ``n_files`` and the files ``failed`` and
    ``rejected`` (``{"file", "reason"}``)."""
    report = groups_report(result.store, result.groups, config.dedup, decided={})
    report["store"] = str(store_dir) if store_dir is not None else None
    report["source"] = source
    report["n_files"] = len(result.store.items)
    report["failed"] = [{"file": f, "reason": r} for f, r in result.failed]
    report["rejected"] = [{"file": f, "reason": r} for f, r in result.rejected]
    return report
