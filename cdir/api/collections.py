"""Collections on disk as the app's workspace sees them: is a folder a collection, is it built,
can it be searched, where do its files go."""

from __future__ import annotations

from pathlib import Path

from cdir.store.collection import (
    StoreError as StoreError,  # a collection missing, unreadable or refused
)


def is_collection(path: str | Path) -> bool:
    """True when ``path`` is a collection folder (it has its meta), built or not."""
    from cdir.store.collection import Store

    return Store.exists(Path(path))


def is_built(path: str | Path) -> bool:
    """True when the collection at ``path`` has its table: a build killed before its first
    write has none and cannot be opened."""
    from cdir.store.collection import ITEMS_FILE

    return is_collection(path) and (Path(path) / ITEMS_FILE).is_file()


def is_searchable(path: str | Path) -> bool:
    """True when the collection at ``path`` opens and holds at least one readable image."""
    from cdir.store.collection import Store

    try:
        return is_collection(path) and Store.load(path).counts()["n_ok"] > 0
    except StoreError:
        return False


def files_dir(path: str | Path) -> Path:
    """The folder inside a collection that holds its copied files (uploads go there)."""
    from cdir.store.collection import FILES_DIR

    return Path(path) / FILES_DIR


def collection_preset(path: str | Path) -> str | None:
    """The preset the collection at ``path`` was built with (None when it records none)."""
    from cdir.store.collection import Store

    return Store.load(path).preset


def shown_name(name: object) -> str:
    """A name (file, folder label, domain) as text safe on one line: control, bidi and
    line-separator characters written as escapes (:func:`cdir.names.shown_name`)."""
    from cdir.names import shown_name as shown

    return shown(name)
