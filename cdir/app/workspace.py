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
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdir import api

log = logging.getLogger(__name__)

EXAMPLES_NAME = "examples"
OWNER_FILE = "owner"
TRASH_DIR = ".trash"  # collections being deleted: never listed, emptied at start
_SLUG = re.compile(r"[^a-z0-9]+")
_SUFFIXED = re.compile(r"[a-z0-9-]+-[0-9a-f]{10}")
_SUFFIXED_BASE = 37  # a name's part before its random suffix: 37 + 1 + 10 = the slug's 48


class WorkspaceError(ValueError):
    """A collection name or path that the workspace refuses."""


def slug(name: str, fallback: str = "collection") -> str:
    """A safe directory name: lowercase ASCII letters, digits and dashes, at most 48 chars."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _SLUG.sub("-", ascii_name.lower()).strip("-")[:48] or fallback


PERSISTENT_ROOT = Path("/data")  # a Hugging Face Space's persistent storage, when attached


def default_store(
    environ: dict[str, str] | None = None, persistent: Path = PERSISTENT_ROOT
) -> Path:
    """Where the app keeps its collections: ``$CDIR_STORE`` when set; else ``/data/cdir-stores``
    when persistent storage is attached (``/data`` exists and is writable); else ``stores``."""
    import os

    env = os.environ if environ is None else environ
    if env.get("CDIR_STORE"):
        return Path(env["CDIR_STORE"])
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent / "cdir-stores"
    return Path("stores")


def storage_note(
    root: Path, environ: dict[str, str] | None = None, persistent: Path = PERSISTENT_ROOT
) -> str:
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
        return (
            "This Space has no persistent storage: collections built here vanish when it "
            "restarts. Download what you need, or attach persistent storage (kept under "
            "/data)."
        )


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
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir() and self.complete(p) and self.visible(p, owner)
        ]
        return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]

    def visible(self, collection: Path, owner: str | None) -> bool:
        """True when ``owner`` may see and open ``collection`` (see the module docstring)."""
        recorded = self.owner_of(collection)
        return (
            self.shared
            or recorded is None
            or (bool(owner) and recorded == _owner_digest(str(owner)))
        )

    @staticmethod
    def complete(collection: Path) -> bool:
        """True when ``collection`` has its table: a build killed before its first write has
        none, is never listed and cannot be opened (build it again)."""
        return api.is_built(collection)

    def is_examples(self, collection: str | Path) -> bool:
        """True for the app's own example collections (``examples-<preset>``, owned by nobody):
        shared by every visitor, so read-only for them."""
        path = self.root / Path(collection).name
        return path.name.startswith(f"{EXAMPLES_NAME}-") and self.owner_of(path) is None

    def check_writable(self, collection: str | Path) -> None:
        """Refuse (WorkspaceError) a visitor's change to a collection every visitor shares:
        tags, duplicate decisions and added files go into collections the visitor built."""
        if self.is_examples(collection) and not self.shared:
            raise WorkspaceError(
                "The example collection is shared by every visitor and cannot "
                "be changed: build your own collection to tag images, decide "
                "on duplicates or add files."
            )

    def find_own(self, name: str | None, owner: str | None) -> Path | None:
        """The collection a visitor means by ``name`` when adding files: exactly that name, or
        one they built under that name (``<name>-<suffix>``), newest first; None when there is
        none they may change. Never tells whether someone else's collection has that name."""
        if not name or not slug(name, "") or not owner:
            return None
        base = slug(name)
        mine = [
            p
            for p in self.root.iterdir()
            if p.is_dir()
            and api.is_collection(p)
            and (
                p.name == base
                or _SUFFIXED.fullmatch(p.name)
                and p.name.rsplit("-", 1)[0] == base[:_SUFFIXED_BASE]
            )
            and self.owner_of(p) == _owner_digest(owner)
        ]
        return max(mine, key=lambda p: p.stat().st_mtime) if mine else None

    def owner_of(self, collection: Path) -> str | None:
        """The SHA-256 of the key that built ``collection``, or None when nobody owns it."""
        try:
            return (Path(collection) / OWNER_FILE).read_text(encoding="ascii").strip() or None
        except OSError:
            return None

    def claim(self, collection: Path, owner: str | None) -> None:
        """Record ``owner`` as the owner of a new collection (nothing when ``owner`` is empty)."""
        if owner:
            (Path(collection) / OWNER_FILE).write_text(
                _owner_digest(owner) + "\n", encoding="ascii"
            )

    def path(self, name: str, owner: str | None = None) -> Path:
        """The directory of an existing collection that ``owner`` may see; refuses anything
        else with the same message, so a name never tells whether someone else's exists."""
        if not name or slug(name) != name:
            raise WorkspaceError(
                f"{name!r} is not a collection name (lowercase letters, digits and dashes)"
            )
        path = self.root / name
        if not self.complete(path) or not self.visible(path, owner):
            raise api.StoreError(f"there is no collection named {name!r}; build one first")
        return path

    def name_taken(self, name: str | None) -> bool:
        """True when a directory of that name exists (a build would get a suffixed name)."""
        return bool(name) and (self.root / slug(name)).exists()

    def check_deletable(self, name: str, owner: str | None) -> Path:
        """The directory of ``name`` when ``owner`` may delete it: a collection they built (any
        collection but the examples in a shared workspace). Otherwise StoreError with the same
        words for "not yours" and "does not exist", or WorkspaceError for the examples."""
        path = self.path(name, owner)
        mine = bool(owner) and self.owner_of(path) == _owner_digest(str(owner))
        if self.is_examples(path) and not self.shared:
            raise WorkspaceError(
                "The example collection is shared by every visitor and cannot be deleted."
            )
        if not (self.shared or mine):
            raise api.StoreError(f"there is no collection named {name!r} that you built")
        return path

    def remove(self, path: Path) -> None:
        """Remove a collection directory in one step: it is renamed out of the workspace's
        listing first (an atomic rename inside the same file system), so a failure half-way
        leaves either the whole collection or none of it visible; the renamed remains are
        deleted next, and again by :meth:`sweep` at the next start if that fails."""
        path = Path(path)
        if path.parent != self.root:
            raise WorkspaceError(f"{path.name!r} is not a collection of this workspace")
        trash = self.root / TRASH_DIR
        trash.mkdir(exist_ok=True)
        target = trash / f"{path.name}-{secrets.token_hex(4)}"
        path.rename(target)  # atomic: after this line the collection is gone for every visitor
        shutil.rmtree(target, ignore_errors=True)
        log.info("deleted the collection %s", path.name)

    def sweep(self, older_than: float = 24 * 3600) -> list[str]:
        """At start: finish deletions that a crash interrupted (the remains under ``.trash``)
        and remove visitors' builds that never wrote their table and were last touched more than
        ``older_than`` seconds ago (the server was killed mid-build); returns their names."""
        import time

        shutil.rmtree(self.root / TRASH_DIR, ignore_errors=True)
        removed = []
        for path in self.root.iterdir():
            if (
                path.is_dir()
                and not path.name.startswith(".")
                and not self.complete(path)
                and self.owner_of(path) is not None
                and time.time() - path.stat().st_mtime > older_than
            ):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if removed:
            log.info("removed %d unfinished builds: %s", len(removed), ", ".join(removed))
        return removed

    def new_collection(self, name: str | None, unguessable: bool = False) -> Path:
        """A fresh, empty directory for a new collection. A taken name gets a suffix; with
        ``unguessable`` (a visitor's build on a shared server) every name gets a random one
        (40 bits), so a name neither tells whether another visitor's collection exists nor can be
        guessed. Names starting with ``examples`` are kept for the app's examples."""
        base = slug(name or "upload")
        if base == EXAMPLES_NAME or base.startswith(f"{EXAMPLES_NAME}-"):
            base = f"my-{base}"
        with self._lock:
            if unguessable:
                candidate = f"{base[:_SUFFIXED_BASE]}-{secrets.token_hex(5)}"
                while (self.root / candidate).exists():
                    candidate = f"{base[:_SUFFIXED_BASE]}-{secrets.token_hex(5)}"
            else:
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
        usable = api.is_searchable(collection)
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
    target = api.files_dir(collection) / "uploads"
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


def files_snapshot(collection: Path) -> set[Path]:
    """Every path under ``<collection>/files/`` now (before an add, to undo it)."""
    return set(api.files_dir(collection).rglob("*"))


def undo_files(collection: Path, before: set[Path]) -> None:
    """Remove what appeared under ``<collection>/files/`` since ``before`` (an add that failed:
    its copied uploads and what was extracted from them), so the collection keeps only what it
    had."""
    for path in sorted(
        files_snapshot(collection) - before, key=lambda p: len(p.parts), reverse=True
    ):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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


def saved_as(asked: str | None, made: str, added: bool = False) -> str:
    """The one line a build answers with: under which name its collection was saved and, when that
    is not the name asked for, why (no usable name, a name kept for the examples, characters a
    name cannot hold, or the random ending that keeps each visitor's names apart). Never tells
    whether another visitor's collection has that name. Plain text; names are slugs."""
    if added:
        return f"Added to {made}, your collection of that name."
    wanted = slug(asked or "", "")
    if not wanted:
        return f"No name given (a name needs a letter or a digit): saved as {made}."
    if wanted == EXAMPLES_NAME or wanted.startswith(f"{EXAMPLES_NAME}-"):
        return (
            f'Names starting with "examples" are kept for the example collection: saved as {made}.'
        )
    rule = "a name keeps lowercase letters, digits and dashes, 48 characters at most"
    if made == wanted:
        return (
            f"Saved as {made}." if (asked or "").strip() == made else f"Saved as {made} ({rule})."
        )
    if _SUFFIXED.fullmatch(made) and made.rsplit("-", 1)[0] == wanted[:_SUFFIXED_BASE]:
        return (
            f"Saved as {made}, your own collection: names on this server get a random ending, "
            "so they never meet another visitor's."
        )
    if re.fullmatch(rf"{re.escape(wanted)}-[0-9]+", made):
        return f"A collection named {wanted} exists already: saved as {made}."
    return f"Saved as {made} ({rule})."
