"""Open collections: a session holds a collection's store, models and searcher, shared per
process and re-opened when the collection changed on disk."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdir.models.lazy import LazyModels
from cdir.models.loaded import Models
from cdir.models.presets import get_preset, list_presets
from cdir.retrieval.search import Searcher
from cdir.store.collection import Store


@dataclass
class Session:
    """An open collection with its models and searcher."""

    store: Store
    models: Models | LazyModels  # loaded on first use: a text query loads the text tower only
    searcher: Searcher

    def reload(self) -> None:
        """Re-read the store after an ingest or caption update."""
        self.store = Store.load(self.store.root)
        self.searcher = Searcher(self.store, self.models)


def register_store_preset(meta: dict[str, Any]) -> None:
    """Make a collection's preset known when it came from a preset file (``preset_file`` in its
    meta): collections built with ``--preset my.toml`` open again by name."""
    path = meta.get("preset_file")
    if path and meta.get("preset") not in list_presets() and Path(path).is_file():
        get_preset(str(path))


def open_collection(store: str | Path, model_root: str | Path | None = None) -> Session:
    """The collection at ``store`` with its preset's models, which load when first used (the
    process's shared models, :func:`cdir.models.loaded.get_models`; a text query alone loads just
    the text tower, :mod:`cdir.models.text_only`). Raises StoreError for a missing or damaged
    collection, UnknownPresetError for a preset this cdir does not know."""
    loaded = Store.load(store)
    register_store_preset(loaded.meta)
    models = LazyModels(loaded.preset, model_root, dim=loaded.meta.get("dim"))
    return Session(loaded, models, Searcher(loaded, models))  # type: ignore[arg-type]


_sessions_lock = threading.Lock()
_sessions: dict[str, Session] = {}


def session_for(store: str | Path, model_root: str | Path | None = None) -> Session:
    """A shared open session for ``store``, re-opened when the store changed on disk (captions
    written by a background job, images added). Sessions hold models and indexes; UI state holds
    only the store path."""
    key = str(Path(store).resolve())
    revision = Store.read_meta(key).get("revision")
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None or session.store.meta.get("revision") != revision:
            session = _sessions[key] = open_collection(key, model_root)
        return session


def forget(store: str | Path) -> None:
    """Drop the shared session of a collection (after it was deleted)."""
    with _sessions_lock:
        _sessions.pop(str(Path(store).resolve()), None)
