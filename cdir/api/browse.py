"""Browsing a collection: the grid, its filters and similarity sort, one item, tags, the map and
its named clusters and region selection."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cdir.api.errors import UsageError
from cdir.api.sessions import Session
from cdir.browse.grid import Browser  # the grid of a collection, and what it shows
from cdir.browse.grid import GridQuery as GridQuery

_BROWSERS: dict[str, tuple[str, Browser]] = {}
_LOCK = threading.Lock()


def browser(session: Session) -> Browser:
    """The grid of the session's collection: one Browser per collection version (rebuilt when
    the collection changes), its tags re-read."""
    key, stamp = str(session.store.root), session.store.fingerprint()
    with _LOCK:
        cached = _BROWSERS.get(key)
        if cached is None or cached[0] != stamp:
            cached = (stamp, Browser(session.store))
            _BROWSERS[key] = cached
    cached[1].reload_tags()
    return cached[1]


def text_vector(session: Session, text: str) -> np.ndarray:
    """The CLIP text embedding of ``text`` (cached with the collection), to sort the grid by
    similarity to it."""
    from cdir.models.text_embeddings import embed_texts
    from cdir.store.cache import Cache

    return embed_texts([text], session.models, Cache.for_store(session.store.root))[0]


def item_image(session: Session, row: Any) -> Any:
    """An item's image decoded here (a PIL image: the original may lie outside the folders the
    app serves; a tile is cut from its grid), else its thumbnail's path, else None."""
    from cdir.imaging.decode import DecodeError, DecodeLimits
    from cdir.ingest.reader import load_item_image

    store = session.store
    try:
        return load_item_image(store.image_path(row), DecodeLimits(), int(row["tile"]))
    except (DecodeError, OSError):
        thumb = store.thumb_path(str(row["sha256"]))
        return str(thumb) if thumb.is_file() else None


def add_tags(session: Session, ids: Sequence[int], tags: Sequence[str]) -> int:
    """Add ``tags`` to the items ``ids``; returns how many (item, tag) pairs were new. An unknown
    id is a ValueError and nothing is written."""
    from cdir.store.tags import add_tags as add

    return add(session.store.root, ids, tags, n_items=len(session.store.items))


def remove_tags(session: Session, ids: Sequence[int] | None, tags: Sequence[str]) -> int:
    """Remove ``tags`` from the items ``ids`` (None: every item); returns how many pairs went."""
    from cdir.store.tags import remove_tags as remove

    return remove(session.store.root, ids, tags)


def tag_items(
    store: str | Path,
    ids: Sequence[int] | None = None,
    filters: Sequence[str] = (),
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    export: str | Path | None = None,
) -> dict[str, Any]:
    """``cdir tag``: add or remove tags on the items ``ids`` and/or those the grid ``filters``
    keep (``domain=sketch``, ``text=cat``…), list the tags of those items (all when none is
    chosen) and optionally write every (item, tag) to ``export`` (.csv or .json). Returns
    {"items", "added"?, "removed"?, "tags": {tag: count}}; UsageError when tags are added or
    removed without saying on which items."""
    from cdir.browse.filters import parse_filters
    from cdir.store.collection import Store
    from cdir.store.tags import add_tags as add_to
    from cdir.store.tags import export_tags, load_tags, tag_counts, tag_rows
    from cdir.store.tags import remove_tags as remove_from

    loaded = Store.load(store)
    chosen = None if ids is None else list(ids)
    if filters:
        matched = Browser(loaded).query(parse_filters(filters)).matched.tolist()
        chosen = matched if chosen is None else [i for i in chosen if i in set(matched)]
    if (add or remove) and chosen is None:
        raise UsageError(
            "say which items to tag: --ids 3 7 12, or --filter domain=sketch "
            "(--filter text=cat, tag=..., see --help)"
        )
    result: dict[str, Any] = {"items": len(chosen or [])}
    if add:
        result["added"] = add_to(loaded.root, chosen or [], add, n_items=len(loaded.items))
    if remove:
        result["removed"] = remove_from(loaded.root, chosen or [], remove)
    tags = load_tags(loaded.root)
    if chosen is not None and not (add or remove):
        tags = {i: tags[i] for i in chosen if i in tags}
    result["tags"] = tag_counts(tags)
    if export:
        files = dict(
            zip(loaded.items["id"].astype(int), loaded.items["rel_path"].astype(str), strict=True)
        )
        print(
            f"tags written to {export_tags(tag_rows(tags, files), Path(export))}", file=sys.stderr
        )
    return result


def draw_map(
    session: Session,
    method: str,
    vectors: str = "image",
    color_by: str = "domain",
    highlight: int | None = None,
    progress: Callable[[str], None] | None = None,
    thumb_url: Callable[[str], str] | None = None,
    named: bool = False,
) -> Any:
    """The plotly figure of the collection projected with ``method`` (umap, tsne, pca) from its
    ``vectors`` (image or caption embeddings), coloured by ``color_by`` (domain, class, or
    cluster: the clusters named in the legend); ``thumb_url(sha256)``: each point's hover
    thumbnail; ``named``: the clusters' names written beside them (placed so they hide few
    points, see :mod:`cdir.maps.label_layout`). What the map shows, in words:
    :func:`map_caption`."""
    from cdir.maps.collection_map import cluster_name_labels, collection_map
    from cdir.maps.plots import add_cluster_labels

    fig = collection_map(
        session.store,
        method,
        vectors,
        color_by,
        highlight=highlight,
        progress=progress,
        thumb_url=thumb_url,
    )
    if named:
        add_cluster_labels(fig, cluster_name_labels(session.store, method, vectors))
    return fig


def map_caption(
    method: str, vectors: str = "image", color_by: str = "domain", named: bool = False
) -> str:
    """One plain sentence above the map saying what it shows, right for the projection
    ``method``, the ``vectors`` and the colouring ``color_by`` (see :func:`draw_map`); raises
    ValueError for an unknown choice."""
    from cdir.maps.explain import map_caption as caption

    return caption(method, vectors, color_by, named)


def region_ids(session: Session, method: str, vectors: str, region: dict[str, Any]) -> list[int]:
    """The ids of the map points inside a box (``{"range": ...}``) or lasso
    (``{"lassoPoints": ...}``) drawn on the map."""
    from cdir.maps.collection_map import map_points
    from cdir.maps.selection import ids_in_region

    rows, xy = map_points(session.store, method, vectors)
    return ids_in_region(xy, session.store.items["id"].to_numpy()[rows], region).tolist()


def histogram_figure(
    edges: Sequence[float], counts: Sequence[int], threshold: float | None, title: str, x_title: str
) -> Any:
    """A plotly histogram (of nearest-neighbour distances) with its threshold marked."""
    from cdir.maps.plots import histogram_figure as figure

    return figure(edges, counts, threshold, title, x_title)
