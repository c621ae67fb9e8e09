"""Work already done, keyed by (model, content hash): image embeddings, captions, text embeddings.

Two layers: one SQLite file inside the store (so an interrupted ingest resumes without recomputing
anything) and one shared by every collection (``$CDIR_CACHE_DIR``, default ``~/.cache/cdir``; set it
to ``off`` to keep everything inside the store). SQLite commits are atomic, so a process killed at
any moment leaves each layer with whole entries only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "CDIR_CACHE_DIR"
CACHE_FILE = "cache.sqlite"
TABLES = ("image_emb", "caption", "text_emb", "image_info")

_SCHEMA = "".join(
    f"CREATE TABLE IF NOT EXISTS {t} (model TEXT, key TEXT, value BLOB, PRIMARY KEY (model, key));"
    for t in TABLES
)


def shared_cache_dir() -> Path | None:
    """The cross-collection cache directory, or None when disabled."""
    value = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "cdir"))
    return None if value.lower() in ("", "off", "none", "0") else Path(value).expanduser()


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Layer:
    def __init__(self, path: Path) -> None:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def get(self, table: str, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT key, value FROM {table} WHERE model=? AND key IN ({marks})",
                [model, *chunk],
            )
            found.update(rows.fetchall())
        return found

    def put(self, table: str, model: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self.conn:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO {table} (model, key, value) VALUES (?, ?, ?)",
                [(model, k, v) for k, v in items],
            )


class Cache:
    """A read-through, write-through stack of cache layers (first layer is read first)."""

    def __init__(self, paths: Sequence[Path], optional_writes: bool = False) -> None:
        self.layers = []
        for path in paths:
            try:
                self.layers.append(_Layer(path))
            except (sqlite3.OperationalError, OSError) as exc:
                if not optional_writes:
                    raise
                log.warning("cache %s unusable (%s): answering without it", path.name, exc)
        if not self.layers:  # a reader on a full disk: a cache for this process only
            self.layers.append(_Layer(Path(":memory:")))
        self._lock = threading.Lock()
        # True for a reader (a search): a write the disk refuses (full, I/O error) is skipped
        # with a warning, since a cache entry only saves time; a writer (ingest) must fail
        self.optional_writes = optional_writes

    @classmethod
    def for_store(
        cls, store_dir: Path, shared: bool = True, optional_writes: bool = False
    ) -> Cache:
        paths = [store_dir / CACHE_FILE]
        shared_dir = shared_cache_dir() if shared else None
        if shared_dir is not None and shared_dir.resolve() != store_dir.resolve():
            paths.append(shared_dir / CACHE_FILE)
        return cls(paths, optional_writes)

    def _put_layer(
        self, layer: _Layer, table: str, model: str, items: Iterable[tuple[str, bytes]]
    ) -> None:
        try:
            layer.put(table, model, items)
        except (sqlite3.OperationalError, OSError) as exc:
            if not self.optional_writes:
                raise
            log.warning("not cached (%s): %s", type(exc).__name__, exc)

    def get(self, table: str, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        """Values found in any layer; entries found only in a later layer are copied forward."""
        with self._lock:
            found: dict[str, bytes] = {}
            for i, layer in enumerate(self.layers):
                missing = [k for k in keys if k not in found]
                if not missing:
                    break
                hits = layer.get(table, model, missing)
                if hits and i > 0:
                    self._put_layer(self.layers[0], table, model, hits.items())
                found.update(hits)
            return found

    def put(self, table: str, model: str, items: dict[str, bytes]) -> None:
        with self._lock:
            for layer in self.layers:
                self._put_layer(layer, table, model, items.items())

    # typed helpers -----------------------------------------------------------------------------
    def get_vectors(self, table: str, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found = self.get(table, model, keys)
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in found.items()}

    def put_vectors(self, table: str, model: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        self.put(table, model, {k: vecs[i].tobytes() for i, k in enumerate(keys)})

    def get_texts(self, table: str, model: str, keys: Sequence[str]) -> dict[str, str]:
        return {k: v.decode("utf-8") for k, v in self.get(table, model, keys).items()}

    def put_texts(self, table: str, model: str, items: dict[str, str]) -> None:
        self.put(table, model, {k: v.encode("utf-8") for k, v in items.items()})

    def close(self) -> None:
        for layer in self.layers:
            layer.conn.close()
