"""The app's workspace: one directory holding every collection the app created or opened.

The app only ever writes inside the workspace: uploads are copied into ``<collection>/files``
before they are ingested, and collection names are reduced to a safe slug, so a user-supplied name
can never point outside it.

Owners: on a shared server each visitor sees the bundled examples, the collections nobody owns
(built with the CLI into the workspace) and the collections they built themselves. A visitor is
an owner key (a random token the browser keeps, or an API caller passes); a collection built with
a key records the key's SHA-256 in ``<collection>/owner``. ``shared=True``
(``--shared-workspace``) shows every collection to everyone, for a private deployment.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
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
OWNER_FILE = "owner"
_SLUG = re.compile(r"[^a-z0-9]+")


class WorkspaceError(ValueError):
    """A collection name or path that the workspace refuses."""


def slug(name: str, fallback: str = "collection") -> str:
    """A safe directory name: lowercase ASCII letters, digits and dashes, at most 48 chars."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _SLUG.sub("-", ascii_name.lower()).strip("-")[:48] or fallback


PERSISTENT_ROOT = Path("/data")  # a Hugging Face Space's persistent storage, when attached


def default_store(environ: dict[str, str] | None = None,
                  persistent: Path = PERSISTENT_ROOT) -> Path:
    """Where the app keeps its collections: ``$CDIR_STORE`` when set; else ``/data/cdir-stores``
    when persistent storage is attached (``/data`` exists and is writable); else ``stores``."""
    import os

    env = os.environ if environ is None else environ
    if env.get("CDIR_STORE"):
        return Path(env["CDIR_STORE"])
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent / "cdir-stores"
    return Path("stores")


def storage_note(root: Path, environ: dict[str, str] | None = None,
                 persistent: Path = PERSISTENT_ROOT) -> str:
    """A line for the page when the app runs on a Space (``$SPACE_ID``) whose collections live
    outside persistent storage: they vanish at the next restart. Empty otherwise."""
    import os

    env = os.environ if environ is None else environ
    if not env.get("SPACE_ID"):
        return ""
    try:
        Path(root).resolve().relative_to(persistent)
        return ""
    except ValueError:
        return ("This Space has no persistent storage: collections built here vanish when it "
                "restarts. Download what you need, or attach persistent storage (kept under "
                "/data).")


def new_owner_key() -> str:
    """A fresh owner key: 128 random bits, URL-safe text."""
    return secrets.token_urlsafe(16)


def _owner_digest(owner: str) -> str:
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


@dataclass
class Workspace:
    root: Path
    shared: bool = False  # True: every visitor sees every collection (--shared-workspace)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def collections(self, owner: str | None = None) -> list[str]:
        """Names of the collections ``owner`` may see, newest first: every one in a shared
        workspace; otherwise the examples, the unowned ones and those ``owner`` built."""
        found = [p for p in self.root.iterdir() if p.is_dir() and Store.exists(p)
                 and self.visible(p, owner)]
        return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]

    def visible(self, collection: Path, owner: str | None) -> bool:
        """True when ``owner`` may see and open ``collection`` (see the module docstring)."""
        if self.shared or collection.name.startswith(f"{EXAMPLES_NAME}-"):
            return True
        recorded = self.owner_of(collection)
        return recorded is None or (bool(owner) and recorded == _owner_digest(str(owner)))

    def owner_of(self, collection: Path) -> str | None:
        """The SHA-256 of the key that built ``collection``, or None when nobody owns it."""
        try:
            return (Path(collection) / OWNER_FILE).read_text(encoding="ascii").strip() or None
        except OSError:
            return None

    def claim(self, collection: Path, owner: str | None) -> None:
        """Record ``owner`` as the owner of a new collection (nothing when ``owner`` is empty)."""
        if owner:
            (Path(collection) / OWNER_FILE).write_text(_owner_digest(owner) + "\n",
                                                       encoding="ascii")

    def path(self, name: str, owner: str | None = None) -> Path:
        """The directory of an existing collection that ``owner`` may see; refuses anything
        else with the same message, so a name never tells whether someone else's exists."""
        if not name or slug(name) != name:
            raise WorkspaceError(f"{name!r} is not a collection name (lowercase letters, digits "
                                 "and dashes)")
        path = self.root / name
        if not Store.exists(path) or not self.visible(path, owner):
            raise StoreError(f"there is no collection named {name!r}; build one first")
        return path

    def name_taken(self, name: str | None) -> bool:
        """True when a directory of that name exists (a build would get a suffixed name)."""
        return bool(name) and (self.root / slug(name)).exists()

    def delete(self, name: str, owner: str | None) -> None:
        """Remove a collection ``owner`` built (the examples and unowned ones stay unless the
        workspace is shared). Raises WorkspaceError when ``owner`` may not delete it."""
        path = self.path(name, owner)
        mine = owner and self.owner_of(path) == _owner_digest(owner)
        if not (self.shared or mine) or name.startswith(f"{EXAMPLES_NAME}-"):
            raise WorkspaceError(f"only the visitor who built {name!r} can delete it")
        shutil.rmtree(path)
        log.info("deleted the collection %s", name)

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
            raise WorkspaceError(f"{collection.name!r} is not a collection of this workspace")
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
