"""Ingest: sources -> records -> image embeddings -> (store written: searchable) -> captions ->
caption embeddings -> store written again.

Every unit of work is keyed by content hash in the cache before it counts as done, so an ingest
that is interrupted at any moment resumes where it stopped, and adding files to a collection only
computes what is new.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdir.imaging.decode import DecodeLimits, file_sha256
from cdir.ingest.archives import ArchiveLimits
from cdir.ingest.captioning import caption_all, forget_other_captions, predict_domains, tile_of
from cdir.ingest.exact_keys import resolve_pixel_hashes
from cdir.ingest.grids import add_tile_items
from cdir.ingest.ingest_summary import failures, metadata_summary
from cdir.ingest.item_info import apply_infos, apply_metadata
from cdir.ingest.layout import Layout
from cdir.ingest.metadata.extract import extract_fields
from cdir.ingest.reader import METADATA_VERSION, read_batches, read_one, reduced_decode_side
from cdir.ingest.source_files import SourceFile
from cdir.ingest.sources import check_sources, scan_sources
from cdir.models.loaded import Models
from cdir.models.streams import Run, batch_streams
from cdir.models.text_embeddings import embed_captions, embed_key
from cdir.names import one_line
from cdir.store.cache import Cache
from cdir.store.collection import FILES_DIR, Store, StoreError, normalise_items

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
CAPTION_MODES = ("all", "lazy", "none")


@dataclass(frozen=True)
class IngestConfig:
    captions: str = "all"  # all | lazy (on demand) | none
    batch_size: int = 32
    caption_batch_size: int = 8
    workers: int = 2
    decode_limits: DecodeLimits = field(default_factory=DecodeLimits)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    manifest: Path | None = None
    shared_cache: bool = True
    predict_domains: bool = True
    split_grids: bool = True  # the tiles of 2x2 grid images become items of their own
    checkpoint_seconds: float = 30.0  # write the store at least this often while captioning
    only: frozenset[str] | None = None  # keep only the files with these rel_paths (None: all)
    columns: tuple[tuple[str, str], ...] = ()  # 🤗 dataset role=column overrides (--columns)
    reduced_decode: bool = True  # large JPEGs decoded at 1/2-1/8 size (see reader.read_one)
    layout: Layout = field(default_factory=Layout)  # folder levels of domain, class (AUTO: guess)
    embed_streams: int | None = None  # batch parts embedded at once (cdir.models.streams)


@dataclass
class IngestReport:
    store: str
    preset: str
    added: int = 0
    already_present: int = 0
    embedded: int = 0  # computed now (the rest came from the cache)
    captioned: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how sources were read, e.g. zip encodings
    layout: str = ""  # the folder layout that labelled the files (LayoutGuess.describe)
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # see metadata_summary

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _noop(done: int, total: int, stage: str) -> None:
    return None


# Test-only hook: seconds to pause after each embedding or captioning batch (see _slowed).
STEP_DELAY_ENV = "CDIR_TEST_STEP_DELAY"
_SLOWED_STAGES = ("embedding images", "captioning")


def _slowed(progress: Progress) -> Progress:
    """``progress``, followed by a pause of ``$CDIR_TEST_STEP_DELAY`` seconds after each embedding
    or captioning batch. Only the tests that kill an ingest set it
    (tests/ingest/test_interruptions.py, tests/ingest/test_pipeline.py), so that the kill always
    lands in the middle of the ingest instead of racing its end; unset, ``progress`` is returned as
    it is."""
    value = os.environ.get(STEP_DELAY_ENV, "")
    try:
        delay = float(value) if value else 0.0
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", STEP_DELAY_ENV, value)
        return progress
    if delay <= 0:
        return progress

    def slowed(done: int, total: int, stage: str) -> None:
        progress(done, total, stage)
        if stage in _SLOWED_STAGES:
            time.sleep(delay)

    return slowed


def open_or_create(store_dir: Path, models: Models) -> Store:
    if not Store.exists(store_dir):
        extra = {"preset_file": models.preset.source_file} if models.preset.source_file else {}
        return Store.create(
            store_dir, models.preset.name, models.caption_key, models.embedder.dim, extra
        )
    store = Store.load(store_dir)
    if store.preset != models.preset.name:
        raise StoreError(
            f"{store_dir} was built with preset {store.preset!r}, not "
            f"{models.preset.name!r}: use --preset {store.preset} or a new --store"
        )
    forget_other_captions(store, models.caption_key)
    return store


def _relative_to_store(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def new_rows(existing: pd.DataFrame, files: Sequence[SourceFile], root: Path) -> pd.DataFrame:
    """Rows for files not already in the collection, with ids after the existing ones."""
    known = set(existing["path"].dropna())
    next_id = int(existing["id"].max()) + 1 if len(existing) else 0
    rows = []
    for f in files:
        path = _relative_to_store(f.path, root)
        if path in known:
            continue
        known.add(path)
        rows.append(
            {
                "id": next_id + len(rows),
                "path": path,
                "rel_path": f.rel_path,
                "domain": f.domain,
                "class": f.label,
                "label_source": f.label_source or "none",
                "caption": f.caption,
                "caption_source": "manifest" if f.caption else None,
                "prompt": f.prompt,
                "negative_prompt": f.negative_prompt,
                "prompt_source": "dataset" if f.prompt or f.negative_prompt else None,
                "status": "pending",
                "parent_id": -1,
                "file_size": _size(f.path),
            }
        )
    return pd.DataFrame(rows)


def _size(path: Path) -> int:
    """File size, or -1 for a file that vanished (hashing then records the failure)."""
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _hash_rows(store: Store, rows: np.ndarray, progress: Progress) -> None:
    shas: dict[int, str] = {}
    unreadable: dict[int, str] = {}
    for n, row in enumerate(rows):
        path = store.item_path(row)
        try:
            shas[row] = file_sha256(path)
        except OSError as exc:
            unreadable[row] = f"cannot read: {exc}"
        except Exception as exc:  # one file's failure never fails the collection
            unreadable[row] = f"hashing failed: {one_line(exc)}"
        progress(n + 1, len(rows), "hashing")
    if shas:
        store.items.loc[list(shas), "sha256"] = list(shas.values())
    mark_failed(store.items, unreadable)


def mark_failed(items: pd.DataFrame, reasons: dict[int, str]) -> None:
    """Record failures in one assignment: one ``.loc`` per row takes ~10 ms on a large table,
    so an archive of 50,000 broken files would otherwise take many minutes."""
    if reasons:
        items.loc[list(reasons), "status"] = "failed"
        items.loc[list(reasons), "error"] = list(reasons.values())


# ----------------------------------------------------------------------------------- embedding
def _cached_image_work(
    store: Store, cache: Cache, key: str, rows: np.ndarray, workers: int = 2
) -> dict[int, Any]:
    """Embeddings and decode info already known for ``rows``; returns {row: vector}.

    The generation metadata of these rows comes from the cache under :data:`METADATA_VERSION`;
    rows cached by an older parser are parsed again from their files (metadata only, no pixels,
    no model), so a re-ingest updates prompts without recomputing embeddings."""
    shas = [store.items.at[r, "sha256"] for r in rows]
    shas_of = dict(zip(rows, shas, strict=True))
    vectors = cache.get_vectors("image_emb", key, shas)
    infos = cache.get_texts("image_info", "v1", shas)
    found = {
        row: vectors[sha]
        for row, sha in zip(rows, shas, strict=True)
        if sha in vectors and sha in infos
    }
    apply_infos(store.items, list(found), [json.loads(infos[shas_of[r]]) for r in found])
    _cached_metadata(store, cache, list(found), workers)
    return found


def _cached_metadata(store: Store, cache: Cache, rows: list[int], workers: int) -> None:
    """Apply the parsed generation metadata of ``rows``: from the cache, else parsed from the
    files again (and cached). A row whose file is gone keeps the fields it has."""
    from concurrent.futures import ThreadPoolExecutor

    items = store.items
    shas = [str(items.at[r, "sha256"]) for r in rows]
    known = {
        sha: json.loads(text)
        for sha, text in cache.get_texts("image_info", METADATA_VERSION, shas).items()
    }
    missing = [
        r
        for r, sha in zip(rows, shas, strict=True)
        if sha not in known and store.item_path(r).is_file()
    ]
    if missing:
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="cdir-meta") as pool:
            parsed = pool.map(lambda r: extract_fields(store.item_path(r)), missing)
            fresh = {
                str(items.at[r, "sha256"]): meta for r, meta in zip(missing, parsed, strict=True)
            }
        cache.put_texts(
            "image_info", METADATA_VERSION, {sha: json.dumps(meta) for sha, meta in fresh.items()}
        )
        known.update(fresh)
        log.info("read the generation metadata of %d cached item(s) again", len(missing))
    applied = [(row, known[sha]) for row, sha in zip(rows, shas, strict=True) if sha in known]
    apply_metadata(items, [row for row, _ in applied], [meta for _, meta in applied])


def _restore_thumbnails(store: Store, vectors: dict[int, Any], config: IngestConfig) -> None:
    """Thumbnails for cached items that lack one here (the same file ingested into another
    collection): decoding only, no model; an item that no longer decodes becomes a failure."""
    items = store.items
    rows = [r for r in vectors if not store.thumb_path(items.at[r, "sha256"]).exists()]
    jobs = [
        partial(
            read_one,
            r,
            store.item_path(r),
            store.thumb_path(items.at[r, "sha256"]),
            None,
            config.decode_limits,
            tile=tile_of(items, r),
        )
        for r in rows
    ]
    for batch in read_batches(jobs, config.batch_size, config.workers):
        failed = {result.row: result.error for result in batch if result.error is not None}
        mark_failed(items, failed)
        for row in failed:
            del vectors[row]


def embed_images(
    store: Store, models: Models, cache: Cache, config: IngestConfig, progress: Progress
) -> int:
    """Fill ``store.image_emb`` for every readable item; returns how many were computed now."""
    items, key = store.items, embed_key(models)
    todo = np.flatnonzero(items["status"].to_numpy() != "failed")
    vectors = _cached_image_work(store, cache, key, todo, config.workers)
    _restore_thumbnails(store, vectors, config)
    missing = [r for r in todo if r not in vectors and items.at[r, "status"] != "failed"]
    reduce_to = (
        reduced_decode_side(models.embedder.preprocess)  # only with work: lazy models
        if config.reduced_decode and missing
        else None
    )
    jobs = [
        partial(
            read_one,
            r,
            store.item_path(r),
            store.thumb_path(items.at[r, "sha256"]),
            models.embedder.prepare,
            config.decode_limits,
            tile=tile_of(items, r),
            reduce_to=reduce_to,
        )
        for r in missing
    ]
    done = len(todo) - len(missing)
    # nothing to embed: no model is built (lazy models) and torch is not imported
    device, streams = (models.embedder.device, config.embed_streams) if missing else ("cpu", 1)
    with batch_streams(device, streams) as run:
        for batch in read_batches(jobs, config.batch_size, config.workers):
            _embed_batch(store, models, cache, key, batch, vectors, run)
            done += len(batch)
            progress(done, len(todo), "embedding images")
    store.image_emb = _matrix(vectors, len(items), models.embedder.dim)
    return len(missing)


def _embed_batch(
    store: Store,
    models: Models,
    cache: Cache,
    key: str,
    batch: list[Any],
    vectors: dict[int, Any],
    run: Run,
) -> None:
    """Embed the readable items of ``batch`` (``run``: :func:`cdir.models.streams.batch_streams`),
    cache their vectors and decode info, and record them in ``store.items``."""
    good = [r for r in batch if r.error is None]
    mark_failed(store.items, {r.row: r.error for r in batch if r.error is not None})
    if not good:
        return
    emb = run(models.embedder.encode_prepared, [r.tensor for r in good])
    shas = [store.items.at[r.row, "sha256"] for r in good]
    cache.put_vectors("image_emb", key, shas, emb)
    cache.put_texts(
        "image_info",
        "v1",
        {s: json.dumps(r.info.to_dict()) for s, r in zip(shas, good, strict=True)},
    )
    cache.put_texts(
        "image_info",
        METADATA_VERSION,
        {s: json.dumps(r.info.metadata()) for s, r in zip(shas, good, strict=True)},
    )
    rows = [r.row for r in good]
    apply_infos(store.items, rows, [r.info.to_dict() for r in good])
    apply_metadata(store.items, rows, [r.info.metadata() for r in good])
    vectors.update(zip(rows, emb, strict=True))


def _matrix(vectors: dict[int, Any], n: int, dim: int) -> np.ndarray:
    matrix = np.zeros((n, dim), dtype=np.float32)
    for row, vec in vectors.items():
        matrix[row] = vec
    return matrix


# ---------------------------------------------------------------------------------- the runner
def prepare_rows(
    sources: Sequence[str | Path],
    store_dir: str | Path,
    models: Models,
    config: IngestConfig,
    progress: Progress,
) -> tuple[Store, IngestReport]:
    """Scan the sources, number the new files after the existing items and hash them: the
    step every engine (local, Ray) shares, so they give the same ids."""
    check_sources(sources)  # before the store is created: a mistyped path leaves nothing behind
    store = open_or_create(Path(store_dir), models)
    report = IngestReport(str(store.root), models.preset.name)
    scan = scan_sources(
        list(sources),
        store.root / FILES_DIR,
        config.archive_limits,
        config.manifest,
        dict(config.columns),
        zips_in_folders=True,
        layout=config.layout,
    )
    report.layout = scan.layout.describe() if scan.layout is not None else ""
    report.rejected = [{"file": n, "reason": r} for n, r in scan.rejected]
    report.notes = list(scan.notes)
    files = (
        scan.files if config.only is None else [f for f in scan.files if f.rel_path in config.only]
    )
    added = new_rows(store.items, files, store.root)
    report.added, report.already_present = len(added), len(files) - len(added)
    if len(added):
        store.items = normalise_items(pd.concat([store.items, added], ignore_index=True))
    _hash_rows(store, np.flatnonzero(store.items["sha256"].isna().to_numpy()), progress)
    return store, report


def ingest(
    sources: Sequence[str | Path],
    store_dir: str | Path,
    models: Models,
    config: IngestConfig = IngestConfig(),
    progress: Progress | None = None,
) -> IngestReport:
    """Add ``sources`` to the collection at ``store_dir`` (created if needed)."""
    if config.captions not in CAPTION_MODES:
        raise ValueError(f"captions must be one of {', '.join(CAPTION_MODES)}")
    progress = _slowed(progress or _noop)
    clock = time.monotonic()
    store, report = prepare_rows(sources, store_dir, models, config, progress)
    cache = Cache.for_store(store.root, config.shared_cache)
    try:
        report.embedded = embed_images(store, models, cache, config, progress)
        if config.split_grids and add_tile_items(store, cache, config.decode_limits):
            report.embedded += embed_images(store, models, cache, config, progress)
        resolve_pixel_hashes(store, cache, config.decode_limits, config.workers)
        if config.predict_domains:
            predict_domains(store, models, cache)
        report.seconds["embedding"] = round(time.monotonic() - clock, 2)
        embed_captions(store, models, cache, progress)
        store.write()  # searchable by image from here on
        if config.captions == "all":
            report.captioned = caption_all(store, models, cache, config, progress)
        report.seconds["total"] = round(time.monotonic() - clock, 2)
    finally:
        cache.close()
    report.failed = failures(store)
    report.counts = store.counts()
    report.metadata = metadata_summary(store)
    return report
