"""Shards and merges: pieces of a collection computed apart, joined without re-embedding.

Two kinds of piece:

* a **worker shard** (``<store>/shards/<name>/``): what one distributed worker computed for one
  batch of files, keyed by content hash, merged by the driver into the store's cache (from which the
  ordinary ingest steps assemble the store). Small and store-like::

      items.parquet    key (sha256), row, error, info (decode info JSON), caption, text
      image_emb.npy    (n, D) float32 image embeddings (zeros where the file failed)
      caption_emb.npy  (n, D) float32 embeddings of ``text`` (zeros where there is none)
      meta.json        preset, embed_key, caption_key, dim, n

  It is written into a hidden temporary directory and renamed into place, so a reader sees a whole
  shard or none.
* a **whole store**: ``merge_stores`` joins collections ingested independently (on different
  machines, or from different sources) with the same preset into one searchable collection.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdir.ingest.metadata.result import FIELDS as METADATA_FIELDS
from cdir.ingest.reader import METADATA_VERSION
from cdir.store.cache import CACHE_FILE, TABLES, Cache, text_key
from cdir.store.collection import (
    IMAGE_EMB_FILE,
    ITEMS_FILE,
    META_FILE,
    THUMBS_DIR,
    Store,
    StoreError,
    atomic_write_json,
    normalise_items,
)

log = logging.getLogger(__name__)

SHARDS_DIR = "shards"
CAPTION_EMB_FILE = "caption_emb.npy"
_SHARD_COLUMNS = ("key", "row", "error", "info", "caption", "text")


# -------------------------------------------------------------------------------- worker shards
@dataclass
class Shard:
    """One worker batch: per-record lists aligned with the rows of the two matrices."""

    meta: dict[str, Any]
    keys: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the store row when known, else -1 (tiles)
    errors: list[str | None] = field(default_factory=list)
    infos: list[str | None] = field(default_factory=list)  # ImageInfo as JSON
    captions: list[str | None] = field(default_factory=list)  # generated now (None: not asked)
    texts: list[str | None] = field(default_factory=list)  # the text embedded in caption_emb
    image_emb: list[np.ndarray] = field(default_factory=list)
    caption_emb: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def add(
        self,
        key: str,
        row: int,
        error: str | None = None,
        info: str | None = None,
        caption: str | None = None,
        text: str | None = None,
        image_vec: np.ndarray | None = None,
        text_vec: np.ndarray | None = None,
    ) -> None:
        """Append one record (a missing vector is stored as zeros)."""
        zeros = np.zeros(int(self.meta["dim"]), np.float32)
        self.keys.append(key)
        self.rows.append(row)
        self.errors.append(error)
        self.infos.append(info)
        self.captions.append(caption)
        self.texts.append(text)
        self.image_emb.append(zeros if image_vec is None else image_vec)
        self.caption_emb.append(zeros if text_vec is None else text_vec)

    def ok(self) -> list[int]:
        return [i for i, error in enumerate(self.errors) if error is None]

    def failures(self) -> dict[str, str]:
        return {k: e for k, e in zip(self.keys, self.errors, strict=True) if e is not None}

    def matrix(self, name: str) -> np.ndarray:
        rows = getattr(self, name)
        dim = int(self.meta["dim"])
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)


def write_shard(root: Path, shard: Shard) -> Path:
    """Write ``shard`` as a new directory under ``root`` (atomically: temp dir, then rename)."""
    name = uuid.uuid4().hex
    tmp, final = root / f".{name}.tmp", root / name
    tmp.mkdir(parents=True)
    try:
        table = pd.DataFrame({c: getattr(shard, _attr(c)) for c in _SHARD_COLUMNS})
        table.to_parquet(tmp / ITEMS_FILE, index=False)
        np.save(tmp / IMAGE_EMB_FILE, shard.matrix("image_emb"), allow_pickle=False)
        np.save(tmp / CAPTION_EMB_FILE, shard.matrix("caption_emb"), allow_pickle=False)
        atomic_write_json(tmp / META_FILE, {**shard.meta, "n": len(shard)})
        _fsync_dir(tmp)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _attr(column: str) -> str:
    return {
        "key": "keys",
        "row": "rows",
        "error": "errors",
        "info": "infos",
        "caption": "captions",
        "text": "texts",
    }[column]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_shard(path: Path) -> Shard:
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    table = pd.read_parquet(path / ITEMS_FILE)
    columns = {c: [None if pd.isna(v) else v for v in table[c]] for c in _SHARD_COLUMNS}
    image = np.load(path / IMAGE_EMB_FILE, allow_pickle=False)
    caption = np.load(path / CAPTION_EMB_FILE, allow_pickle=False)
    return Shard(
        meta,
        **{_attr(c): columns[c] for c in _SHARD_COLUMNS},
        image_emb=list(image),
        caption_emb=list(caption),
    )


def list_shards(root: Path) -> list[Path]:
    """Complete shards under ``root`` (temp directories of unfinished writes are not listed)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def remove_unfinished(root: Path) -> None:
    """Delete the temp directories that interrupted workers left (call when no worker runs)."""
    for path in root.glob(".*.tmp") if root.is_dir() else ():
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class MergeStats:
    embedded: int = 0  # records decoded and embedded (or found broken), as the local engine counts
    captioned: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # {content key: reason}
    worker_seconds: float = 0.0  # time the workers spent on these shards, added up

    def update(self, other: MergeStats) -> None:
        self.embedded += other.embedded
        self.captioned += other.captioned
        self.failed.update(other.failed)
        self.worker_seconds += other.worker_seconds


def merge_shard_into_cache(
    path: Path, cache: Cache, embed_key: str, caption_key: str
) -> MergeStats:
    """Put a worker shard's work into ``cache`` (then the shard is deleted): image embeddings
    and decode info by content key, captions, and text embeddings by text hash."""
    shard = read_shard(path)
    if (shard.meta.get("embed_key"), shard.meta.get("caption_key")) != (embed_key, caption_key):
        raise StoreError(
            f"shard {path} was made with other models ({shard.meta.get('embed_key')})"
            f"; delete it and run the ingest again"
        )
    ok = shard.ok()
    keys = [shard.keys[i] for i in ok]
    cache.put_vectors("image_emb", embed_key, keys, shard.matrix("image_emb")[ok])
    cache.put_texts("image_info", "v1", {shard.keys[i]: str(shard.infos[i]) for i in ok})
    cache.put_texts("image_info", METADATA_VERSION, _metadata(shard, ok))
    captions = {k: c for k, c in zip(shard.keys, shard.captions, strict=True) if c is not None}
    cache.put_texts("caption", caption_key, captions)
    texts = [i for i, t in enumerate(shard.texts) if t]
    cache.put_vectors(
        "text_emb",
        embed_key,
        [text_key(str(shard.texts[i])) for i in texts],
        shard.matrix("caption_emb")[texts],
    )
    shutil.rmtree(path, ignore_errors=True)
    return MergeStats(
        len(shard), len(captions), shard.failures(), float(shard.meta.get("seconds", 0.0))
    )


def _metadata(shard: Any, ok: Sequence[int]) -> dict[str, str]:
    """{key: parsed generation metadata JSON} from the shard's decode infos (infos written by an
    older worker, without the metadata fields, are left for the main process to parse)."""
    found = {}
    for i in ok:
        info = json.loads(str(shard.infos[i]))
        if isinstance(info, dict) and all(k in info for k in METADATA_FIELDS):
            found[shard.keys[i]] = json.dumps({k: info[k] for k in METADATA_FIELDS})
    return found


# --------------------------------------------------------------------------------- whole stores
def merge_stores(store_dirs: Sequence[str | Path], out_dir: str | Path) -> Store:
    """Join independently ingested collections (same preset) into a new collection at ``out_dir``.

    Nothing is re-embedded: tables, embedding matrices, thumbnails and cached work are copied.
    Ids are renumbered in the order of ``store_dirs`` (items of the first store keep their ids,
    the second's follow, and so on; tiles keep pointing at their grid). Paths keep pointing at the
    original files (paths relative to a store become absolute). The same file in two stores stays
    two items. Derived products (indexes, maps) are rebuilt on first use.
    """
    stores = [Store.load(d) for d in store_dirs]
    meta = _common_meta(stores)
    out = _new_store(Path(out_dir), meta)
    offsets = np.cumsum([0] + [len(s.items) for s in stores[:-1]]).tolist()
    parts = [_renumbered(s, int(o)) for s, o in zip(stores, offsets, strict=True)]
    nonempty = [p for p in parts if len(p)]
    out.items = normalise_items(pd.concat(nonempty, ignore_index=True)) if nonempty else out.items
    out.image_emb = np.vstack([_matrix(s, "image_emb", meta["dim"]) for s in stores])
    out.caption_emb = np.vstack([_matrix(s, "caption_emb", meta["dim"]) for s in stores])
    for store in stores:
        _copy_thumbnails(store, out)
        merge_cache_file(store.root / CACHE_FILE, out.root / CACHE_FILE)
    out.meta["merged_from"] = [str(s.root.resolve()) for s in stores]
    out.write()
    log.info("merged %d stores (%d items) into %s", len(stores), len(out.items), out.root)
    return out


def _common_meta(stores: Sequence[Store]) -> dict[str, Any]:
    if not stores:
        raise StoreError("merge_stores needs at least one store")
    first = stores[0]
    for store in stores[1:]:
        for key in ("preset", "caption_key", "dim"):
            if store.meta.get(key) != first.meta.get(key):
                raise StoreError(
                    f"cannot merge {store.root} ({key} {store.meta.get(key)!r}) with "
                    f"{first.root} ({key} {first.meta.get(key)!r}): re-ingest one "
                    f"of them with --preset {first.preset}"
                )
    return {k: first.meta[k] for k in ("preset", "caption_key", "dim")}


def _new_store(root: Path, meta: dict[str, Any]) -> Store:
    if Store.exists(root) or (root.is_dir() and any(root.iterdir())):
        raise StoreError(f"{root} is not empty: merge into a new directory")
    return Store.create(root, meta["preset"], meta["caption_key"], int(meta["dim"]))


def _renumbered(store: Store, offset: int) -> pd.DataFrame:
    items = normalise_items(store.items)
    items["id"] = items["id"] + offset
    items["parent_id"] = items["parent_id"].where(
        items["parent_id"] < 0, items["parent_id"] + offset
    )
    root = store.root.resolve()
    items["path"] = [
        p if pd.isna(p) or Path(p).is_absolute() else str(root / p) for p in items["path"]
    ]
    return items


def _matrix(store: Store, name: str, dim: int) -> np.ndarray:
    matrix = getattr(store, name)
    return np.zeros((len(store.items), dim), np.float32) if matrix is None else matrix


def _copy_thumbnails(store: Store, out: Store) -> None:
    source = store.root / THUMBS_DIR
    if not source.is_dir():
        return
    (out.root / THUMBS_DIR).mkdir(exist_ok=True)
    for thumb in source.glob("*.jpg"):
        target = out.root / THUMBS_DIR / thumb.name
        if not target.exists():
            _link_or_copy(thumb, target)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def merge_cache_file(source: Path, target: Path) -> None:
    """Copy every cache entry of ``source`` missing from ``target`` (both cache.sqlite files)."""
    if not source.is_file():
        return
    Cache([target]).close()  # creates the file and its tables
    conn = sqlite3.connect(target, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS src", (str(source),))
        with conn:
            for table in TABLES:
                if _has_table(conn, table):
                    conn.execute(
                        f"INSERT OR IGNORE INTO main.{table} SELECT model, key, value "
                        f"FROM src.{table}"
                    )
        conn.execute("DETACH DATABASE src")
    finally:
        conn.close()


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    found = conn.execute("SELECT 1 FROM src.sqlite_master WHERE type='table' AND name=?", (table,))
    return found.fetchone() is not None
