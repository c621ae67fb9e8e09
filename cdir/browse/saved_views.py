"""Saved views of the grid: a filter, a sort and a selection kept under a name in
``<store>/views.json``, listed, opened again, renamed and deleted.

```
{"version": 1, "views": {"<name>": {"query": {GridQuery fields}, "similar": "...",
                                    "selection": [ids] | null, "saved": "<UTC time>"}}}
```
A view holds the query without its page (it opens on page 1). The file is written to a temporary
name and renamed (:func:`cdir.store.collection.atomic_write_json`); changes in one process are
serialised by a lock. Names follow the tags' rules (:func:`cdir.store.tags.normalise_tag`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cdir.browse.grid import GridQuery
from cdir.store.collection import StoreError, atomic_write_json
from cdir.store.tags import normalise_tag

log = logging.getLogger(__name__)

VIEWS_FILE = "views.json"
VIEWS_VERSION = 1
_LOCK = threading.Lock()
_TUPLES = ("domains", "classes", "label_sources", "tags")
_KEPT = tuple(f.name for f in fields(GridQuery) if f.name not in ("page", "page_size"))


@dataclass(frozen=True)
class SavedView:
    """A named grid view: ``query`` (page 0), ``similar`` (the similarity query's text or item
    id, for a similarity sort) and ``selection`` (the ids chosen on the map, or None: every
    item)."""

    name: str
    query: GridQuery
    similar: str = ""
    selection: tuple[int, ...] | None = None
    saved: str = ""

    def to_dict(self) -> dict[str, Any]:
        query = {k: v for k, v in asdict(self.query).items() if k in _KEPT}
        query = {k: list(v) if isinstance(v, tuple) else v for k, v in query.items()}
        return {
            "query": query,
            "similar": self.similar,
            "selection": None if self.selection is None else list(self.selection),
            "saved": self.saved,
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> SavedView:
        raw = dict(data.get("query") or {})
        query: dict[str, Any] = {k: v for k, v in raw.items() if k in _KEPT}
        for key in (*_TUPLES, "ids"):
            if query.get(key) is not None:
                query[key] = (
                    tuple(int(i) for i in query[key])
                    if key == "ids"
                    else tuple(str(v) for v in query[key])
                )
        selection = data.get("selection")
        return cls(
            name,
            GridQuery(**query),
            str(data.get("similar") or ""),
            None if selection is None else tuple(int(i) for i in selection),
            str(data.get("saved") or ""),
        )


def views_path(root: Path | str) -> Path:
    return Path(root) / VIEWS_FILE


def load_views(root: Path | str) -> dict[str, SavedView]:
    """Name -> saved view, in the order saved; {} when none is saved yet. Raises StoreError when
    the file is damaged (the message says how to recover)."""
    path = views_path(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): SavedView.from_dict(str(k), v) for k, v in dict(data["views"]).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoreError(
            f"{VIEWS_FILE} of this collection is damaged ({type(exc).__name__}); move it away "
            "to start the saved views afresh"
        ) from exc


def _save(root: Path | str, views: dict[str, SavedView]) -> None:
    body = {name: view.to_dict() for name, view in views.items()}
    atomic_write_json(views_path(root), {"version": VIEWS_VERSION, "views": body})


def save_view(
    root: Path | str,
    name: str,
    query: GridQuery,
    similar: str = "",
    selection: tuple[int, ...] | list[int] | None = None,
) -> SavedView:
    """Save (or replace) the view ``name``; returns it. ValueError for an empty or over-long
    name."""
    name = normalise_tag(name)
    view = SavedView(
        name,
        replace(query, page=0),
        str(similar or ""),
        None if selection is None else tuple(int(i) for i in selection),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    with _LOCK:
        views = load_views(root)
        views[name] = view
        _save(root, views)
    log.info("saved the view %r", name)
    return view


def get_view(root: Path | str, name: str) -> SavedView:
    """The saved view ``name``; KeyError (naming the saved ones) when there is none."""
    views = load_views(root)
    if name not in views:
        known = ", ".join(views) or "none yet"
        raise KeyError(f"no saved view {name!r} (saved: {known})")
    return views[name]


def rename_view(root: Path | str, old: str, new: str) -> SavedView:
    """Rename the view ``old`` to ``new``; KeyError when ``old`` is not saved, ValueError when
    ``new`` is empty, too long or taken."""
    new = normalise_tag(new)
    with _LOCK:
        views = load_views(root)
        if old not in views:
            raise KeyError(f"no saved view {old!r}")
        if new != old and new in views:
            raise ValueError(f"a view named {new!r} exists: choose another name or delete it")
        renamed = {(new if k == old else k): v for k, v in views.items()}
        renamed[new] = replace(views[old], name=new)
        _save(root, renamed)
    return renamed[new]


def delete_view(root: Path | str, name: str) -> bool:
    """Delete the view ``name``; returns whether it was saved."""
    with _LOCK:
        views = load_views(root)
        if views.pop(name, None) is None:
            return False
        _save(root, views)
    return True
