"""The app's workspace: one directory holding every collection the app created or opened.

The app only ever writes inside the workspace: uploads are copied into ``<collection>/files``
before they are ingested, and collection names are reduced to a safe slug, so a user-supplied name
can never point outside it.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdir.store.collection import FILES_DIR, Store, StoreError

log = logging.getLogger(__name__)

EXAMPLES_NAME = "examples"
_SLUG = re.compile(r"[^a-z0-9]+")


class WorkspaceError(ValueError):
    """A collection name or path that the workspace refuses."""


def slug(name: str, fallback: str = "collection") -> str:
    """A safe directory name: lowercase ASCII letters, digits and dashes, at most 48 chars."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _SLUG.sub("-", ascii_name.lower()).strip("-")[:48] or fallback


@dataclass
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def collections(self) -> list[str]:
        """Names of the collections in the workspace, newest first."""
        found = [p for p in self.root.iterdir() if p.is_dir() and Store.exists(p)]
        return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]

    def path(self, name: str) -> Path:
        """The directory of an existing collection; refuses anything that is not one."""
        if not name or slug(name) != name:
            raise WorkspaceError(f"{name!r} is not a collection of this workspace")
        path = self.root / name
        if not Store.exists(path):
            raise StoreError(f"there is no collection named {name!r}; build one first")
        return path

    def new_collection(self, name: str | None) -> Path:
        """A fresh, empty directory for a new collection (a suffix keeps names unique)."""
        base = slug(name or time.strftime("upload-%Y%m%d-%H%M%S"))
        with self._lock:
            candidate, n = base, 2
            while (self.root / candidate).exists():
                candidate, n = f"{base}-{n}", n + 1
            (self.root / candidate).mkdir(parents=True)
        return self.root / candidate

    def discard_if_unusable(self, collection: Path) -> bool:
        """Remove a collection of this workspace that has no searchable image (a build that
        failed before its first write), with the uploads copied into it."""
        collection = Path(collection).resolve()
        if collection.parent != self.root:
            raise WorkspaceError(f"{collection} is not a collection of this workspace")
        try:
            usable = Store.exists(collection) and Store.load(collection).counts()["n_ok"] > 0
        except StoreError:
            usable = False
        if not usable:
            shutil.rmtree(collection, ignore_errors=True)
            log.info("removed the unusable collection %s", collection.name)
        return not usable

    def examples_dir(self, preset: str) -> Path:
        return self.root / f"{EXAMPLES_NAME}-{slug(preset)}"

    def owns(self, path: str | Path) -> bool:
        """True when ``path`` lies inside the workspace."""
        try:
            Path(path).resolve().relative_to(self.root)
        except ValueError:
            return False
        return True


def copy_uploads(uploads: Sequence[str | Path], collection: Path) -> list[Path]:
    """Copy uploaded files into ``<collection>/files/`` (zips are extracted later, by ingest)."""
    target = collection / FILES_DIR / "uploads"
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for upload in uploads:
        source = Path(upload)
        if not source.is_file():
            log.warning("upload %s vanished before it could be copied", source)
            continue
        dest = _unique(target / _safe_name(source.name))
        shutil.copyfile(source, dest)
        copied.append(dest)
    return copied


def _safe_name(name: str) -> str:
    """The upload's own base name (unicode kept), without separators, NULs or a leading dot."""
    clean = re.sub(r"[/\\\x00-\x1f]", "_", Path(name).name).lstrip(".").strip()
    return clean[:200] or "upload"


def _unique(path: Path) -> Path:
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
