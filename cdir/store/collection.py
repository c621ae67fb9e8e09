"""A collection on disk: one directory with a table, embedding matrices, thumbnails and meta.json.

```
<store>/meta.json            format version, preset, dimensions, counts
<store>/items.parquet        one row per image (see COLUMNS)
<store>/image_emb.npy        (N, D) float32 CLIP image embeddings, row i = item id i
<store>/caption_emb.npy      (N, D) float32 CLIP text embeddings of the captions (zeros: none yet)
<store>/thumbs/<sha>.jpg     thumbnails the app serves (originals stay where they are)
<store>/files/               images extracted from uploaded zips or uploaded one by one
<store>/cache.sqlite         work done so far, keyed by content hash (resume, incremental adds)
<store>/derived/             rebuildable products: indexes, neutralised matrices, projections
```
Every file is written to a temporary name in the same directory and renamed over the old one, so a
reader never sees a partial file.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "meta.json"
ITEMS_FILE = "items.parquet"
IMAGE_EMB_FILE = "image_emb.npy"
CAPTION_EMB_FILE = "caption_emb.npy"
THUMBS_DIR = "thumbs"
FILES_DIR = "files"
DERIVED_DIR = "derived"

COLUMNS: dict[str, str] = {
    "id": "int64",
    "path": "string",  # absolute path of the original, or relative to the store for uploads
    "rel_path": "string",  # path inside its source, for display
    "sha256": "string",  # of the file bytes
    "pixel_sha256": "string",  # of the decoded pixels (exact-duplicate tier)
    "phash": "string",  # perceptual hash, hex
    "phash_mirror": "string",  # perceptual hash of the horizontally mirrored image, hex
    "phash_centre": "string",  # perceptual hash of the centre 90 % (cropped copies), hex
    "width": "int64",
    "height": "int64",
    "file_size": "int64",
    "domain": "string",
    "class": "string",
    "label_source": "string",  # folder | manifest | predicted | none
    "caption": "string",
    "caption_source": "string",  # model | manifest
    "prompt": "string",  # positive generation prompt embedded in the file (or its sidecar)
    "negative_prompt": "string",  # negative generation prompt, if any
    "generator": "string",  # the tool that made the image: A1111, ComfyUI, NovelAI, ...
    "generation_settings": "string",  # the tool's other parameters (sampler, seed...), JSON
    "metadata_issue": "string",  # why some metadata text was not stored (undecodable), if so
    "prompt_source": "string",  # dataset (a 🤗 dataset's column) | none: read from the file
    "status": "string",  # ok | failed
    "error": "string",
    "parent_id": "int64",  # for tiles of a grid image: the grid's id, else -1
    "tile": "int64",  # 1..4 for a tile of a 2x2 grid image (row-major, like U1..U4), else -1
}


_UMASK = os.umask(0)
os.umask(_UMASK)


class StoreError(RuntimeError):
    """A store that cannot be read or written; the message says what to do."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: Path, writer: Callable[[Any], Any]) -> None:
    """Write through ``writer(file)`` to a temp file beside ``path``, fsync, then rename over it.
    A full disk raises a :class:`StoreError` that says so; ``path`` keeps its old content."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        full = disk_full_error(exc, path)
        if full is not None:
            raise full from exc
        raise


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})  # no space, or over quota


def disk_full_error(exc: BaseException, path: Path) -> StoreError | None:
    """A StoreError saying the disk is full when ``exc`` means that (OSError ENOSPC/EDQUOT or
    SQLite's "database or disk is full"), else None."""
    if not (getattr(exc, "errno", None) in DISK_FULL_ERRNOS or "disk is full" in str(exc)):
        return None
    return StoreError(
        f"disk full: cannot write {path.name}. Free some space (or raise the quota) and "
        "run the same ingest again: the collection keeps what it had, and the work done so far "
        "is cached"
    )


def load_matrix(path: Path) -> np.ndarray:
    """A ``.npy`` matrix memory-mapped copy-on-write: pages are read when a search touches them,
    the file stays as it is (changes stay in memory until written through :func:`atomic_write_npy`,
    which replaces the file; a reader's map keeps the old file's pages). Read whole on Windows,
    where a mapped file cannot be replaced."""
    return np.load(path, allow_pickle=False, mmap_mode=None if os.name == "nt" else "c")


def atomic_write_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))


def empty_items() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def normalise_items(df: pd.DataFrame) -> pd.DataFrame:
    """Columns in the canonical order and types; missing columns filled with nulls / -1."""
    df = df.copy()
    for col, dtype in COLUMNS.items():
        if col not in df:
            df[col] = -1 if dtype == "int64" else None
        if dtype == "int64":
            df[col] = df[col].fillna(-1)
        df[col] = df[col].astype(dtype)
    return df[list(COLUMNS)].reset_index(drop=True)


@dataclass
class Store:
    """A collection directory; ``load`` reads it, the ``write_*`` methods replace its parts."""

    root: Path
    meta: dict[str, Any] = field(default_factory=dict)
    items: pd.DataFrame = field(default_factory=empty_items)
    image_emb: np.ndarray | None = None
    caption_emb: np.ndarray | None = None

    @classmethod
    def exists(cls, root: Path) -> bool:
        return (Path(root) / META_FILE).is_file()

    @classmethod
    def create(
        cls,
        root: Path,
        preset: str,
        caption_key: str,
        dim: int,
        extra: dict[str, Any] | None = None,
    ) -> Store:
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} is a file; give a directory for the store")
        root.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "preset": preset,
            "caption_key": caption_key,
            "dim": dim,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(extra or {}),
        }
        store = cls(root, meta)
        atomic_write_json(root / META_FILE, meta)
        return store

    @classmethod
    def read_meta(cls, root: Path | str) -> dict[str, Any]:
        root = Path(root)
        if not cls.exists(root):
            raise StoreError(
                f"no collection at {root}: create one with `python -m cdir ingest SRC "
                f"--store {root}`"
            )
        try:
            return dict(json.loads((root / META_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {root / META_FILE}: {exc}") from exc

    @classmethod
    def load(cls, root: Path | str) -> Store:
        root = Path(root)
        meta = cls.read_meta(root)
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise StoreError(
                f"{root} was written by a newer cdir (format "
                f"{meta['format_version']}); upgrade cdir to read it"
            )
        store = cls(root, meta)
        store._load_tables()
        return store

    def _load_tables(self) -> None:
        items_path = self.root / ITEMS_FILE
        if items_path.is_file():
            try:
                self.items = normalise_items(pd.read_parquet(items_path))
            except Exception as exc:  # pyarrow raises many types for a damaged file
                raise self._damaged(items_path, exc) from exc
        self.image_emb = self._load_matrix(IMAGE_EMB_FILE)
        self.caption_emb = self._load_matrix(CAPTION_EMB_FILE)

    def _damaged(self, path: Path, exc: BaseException) -> StoreError:
        return StoreError(
            f"{path} is damaged ({type(exc).__name__}: {exc}). Delete it and ingest the same "
            "source into this collection again: work already done is cached, so it is quick"
        )

    def _load_matrix(self, name: str) -> np.ndarray | None:
        path = self.root / name
        if not path.is_file():
            return None
        try:
            matrix = load_matrix(path)
        except (OSError, ValueError, EOFError) as exc:
            raise self._damaged(path, exc) from exc
        if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
            raise self._damaged(
                path,
                ValueError(
                    f"a {matrix.dtype} array of shape {matrix.shape}, not a matrix of vectors"
                ),
            )
        if len(matrix) > len(self.items):  # written just before a table that never came
            return matrix[: len(self.items)]
        if len(matrix) != len(self.items):
            log.warning(
                "%s has %d rows for %d items; ignoring it", name, len(matrix), len(self.items)
            )
            return None
        return matrix

    # ---------------------------------------------------------------------------------- writing
    def write(self, matrices: bool = True) -> None:
        """Write the matrices (unless ``matrices`` is False: only the table changed, as when a
        label is corrected), the table, then meta.json, each atomically.

        Items are only ever appended, so a write stopped between two files (a crash, a full
        disk) leaves at worst matrices with rows for items the table does not have yet, which
        :meth:`load` leaves out: readers see the previous collection or the new one.
        """
        self.items = normalise_items(self.items)
        written = (IMAGE_EMB_FILE, self.image_emb), (CAPTION_EMB_FILE, self.caption_emb)
        for name, matrix in written if matrices else ():
            if matrix is not None:
                atomic_write_npy(self.root / name, np.ascontiguousarray(matrix, dtype=np.float32))
        atomic_write(self.root / ITEMS_FILE, lambda f: self.items.to_parquet(f, index=False))
        self.meta.update(
            self.counts(),
            updated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            revision=time.time_ns(),
        )
        atomic_write_json(self.root / META_FILE, self.meta)

    # ---------------------------------------------------------------------------------- reading
    @property
    def preset(self) -> str:
        return str(self.meta.get("preset", ""))

    def ok_mask(self) -> np.ndarray:
        return (self.items["status"] == "ok").to_numpy(dtype=bool)

    def caption_mask(self) -> np.ndarray:
        """Items that have a caption embedding."""
        if self.caption_emb is None:
            return np.zeros(len(self.items), dtype=bool)
        return np.abs(self.caption_emb).sum(axis=1) > 0

    def counts(self) -> dict[str, int]:
        ok = self.ok_mask()
        return {
            "n_items": int(len(self.items)),
            "n_ok": int(ok.sum()),
            "n_failed": int((~ok).sum()),
            "n_captioned": int(self.caption_mask().sum()),
        }

    def thumb_path(self, sha: str) -> Path:
        return self.root / THUMBS_DIR / f"{sha}.jpg"

    def image_path(self, row: pd.Series | dict[str, Any]) -> Path:
        """The original file of an item (uploads and zip members live under the store)."""
        path = Path(str(row["path"]))
        return path if path.is_absolute() else self.root / path

    def item_path(self, row: int) -> Path:
        """:meth:`image_path` of table row ``row``, without building the row (fast in loops)."""
        return self.image_path({"path": self.items.at[row, "path"]})

    def derived_dir(self) -> Path:
        return self.root / DERIVED_DIR

    def fingerprint(self) -> str:
        """Changes whenever the items or their embeddings change (keys derived products)."""
        return f"{len(self.items)}-{self.meta.get('revision', 0)}"
