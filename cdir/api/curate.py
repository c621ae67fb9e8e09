"""Curating a collection from the Browse view: saved views, corrected labels, downloads of the
current filter or selection, a diverse subset, and two duplicates compared side by side.

Lower floors' ValueError and KeyError become :class:`~cdir.api.errors.UsageError` here, with
their one line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cdir.api.errors import UsageError
from cdir.api.sessions import Session
from cdir.browse.grid import GridQuery
from cdir.browse.saved_views import SavedView as SavedView  # re-exported


@contextmanager
def _usage() -> Iterator[None]:
    try:
        yield
    except KeyError as exc:
        raise UsageError(str(exc.args[0]) if exc.args else "not found") from exc
    except ValueError as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(str(exc)) from exc


# ----------------------------------------------------------------------------- saved views
def save_view(
    session: Session,
    name: str,
    query: GridQuery,
    similar: str = "",
    selection: Sequence[int] | None = None,
) -> SavedView:
    """Save the grid's filter and sort (``query``; ``similar``: the similarity query) and map
    ``selection`` (ids, or None) under ``name`` in the collection (``views.json``); a view of the
    same name is replaced. UsageError for an empty or over-long name."""
    from cdir.browse.saved_views import save_view as save

    with _usage():
        return save(session.store.root, name, query, similar, selection)


def list_views(session: Session) -> list[SavedView]:
    """The views saved in the collection, in the order saved."""
    from cdir.browse.saved_views import load_views

    return list(load_views(session.store.root).values())


def open_view(session: Session, name: str) -> SavedView:
    """The saved view ``name`` (its query on page 1); UsageError naming the saved ones when
    there is none. Ids of its selection beyond the collection are dropped."""
    from cdir.browse.saved_views import get_view

    with _usage():
        view = get_view(session.store.root, name)
    if view.selection is None:
        return view
    n = len(session.store.items)
    from dataclasses import replace

    return replace(view, selection=tuple(i for i in view.selection if 0 <= i < n))


def rename_view(session: Session, old: str, new: str) -> SavedView:
    """Rename a saved view; UsageError when ``old`` is not saved or ``new`` is taken."""
    from cdir.browse.saved_views import rename_view as rename

    with _usage():
        return rename(session.store.root, old, new)


def delete_view(session: Session, name: str) -> bool:
    """Delete a saved view; returns whether there was one."""
    from cdir.browse.saved_views import delete_view as delete

    return delete(session.store.root, name)


# -------------------------------------------------------------------------- corrected labels
def correct_label(
    session: Session, ids: Sequence[int], domain: str | None = None, cls: str | None = None
) -> int:
    """Set the domain and/or class of the items ``ids`` by hand (``label_source`` becomes
    ``corrected``): written into the collection's table, so the grid, search, maps, exports and
    :func:`cdir.api.evaluate` all use it. Returns how many items changed; the session re-reads
    the collection. UsageError for an unknown id, nothing to set or a bad label."""
    from cdir.browse.labels import correct_labels

    with _usage():
        changed = correct_labels(session.store.root, ids, domain, cls)
    if changed:
        session.reload()
    return changed


# -------------------------------------------------------------------------------- downloads
def export_selection(
    session: Session, ids: Sequence[int], fmt: str, stem: str = "selection"
) -> Any:
    """Write the items ``ids`` as a file list (``csv``), a zip of the originals (``zip``) or a
    zipped 🤗 ``datasets`` folder (``datasets``) into ``<store>/exports/``; returns a
    ``SelectionExport`` (``path``, ``rows``, ``skipped``). UsageError for no item or an unknown
    id; DownloadError for another format."""
    from cdir.export.selection import export_selection as export

    with _usage():
        return export(session.store.root, ids, fmt, stem)


def zip_folder(folder: str | Path) -> Path:
    """``folder`` zipped as ``<folder>.zip`` beside it (written whole, then renamed)."""
    from cdir.export.selection import zip_folder as zipped

    return zipped(Path(folder))


# --------------------------------------------------------------------------- diverse subset
def diverse_subset(
    session: Session, k: int, seed: int = 0, ids: Sequence[int] | None = None
) -> list[int]:
    """``k`` item ids that cover the collection's image-embedding space (k-means, then the item
    nearest each centre: :func:`cdir.browse.diverse.diverse_rows`), among ``ids`` (a filter or a
    selection) or every readable item; the same ids for the same seed. UsageError for k < 1 or
    no embedded item."""
    from cdir.browse.diverse import diverse_rows

    store = session.store
    if store.image_emb is None:
        raise UsageError("this collection has no image embeddings yet: build it first")
    pool = np.flatnonzero(store.ok_mask() & (np.abs(store.image_emb).sum(axis=1) > 0))
    if ids is not None:
        pool = np.intersect1d(pool, np.asarray(list(ids), dtype=np.int64))
    if len(pool) == 0:
        raise UsageError("no embedded item to choose from: change the filters or the selection")
    with _usage():
        rows = diverse_rows(store.image_emb[pool], int(k), int(seed))
    return [int(i) for i in pool[rows]]


# ------------------------------------------------------------------------------- comparison
def compare_items(session: Session, a: int, b: int) -> Any:
    """Two items side by side (:func:`cdir.duplicates.compare.compare`): resolution, file size,
    format and the metadata fields, with those that differ flagged. UsageError for an unknown
    id or the same item twice."""
    from cdir.duplicates.compare import compare

    with _usage():
        return compare(session.store, int(a), int(b))


def zoomed(image: Any, zoom: float) -> Any:
    """The centre 1/``zoom`` of a PIL image (both sides of a comparison at one zoom)."""
    from cdir.duplicates.compare import zoomed as crop

    with _usage():
        return crop(image, zoom)
