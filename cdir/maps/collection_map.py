"""A collection's 2-D map: which rows, which vectors, projected (cached in the store), plotted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.store.collection import Store

if TYPE_CHECKING:
    from cdir.maps.clusters import Cluster, ClusterConfig
    from cdir.maps.label_layout import PlacedLabel

VECTOR_KINDS = ("image", "caption")
COLOR_BY = ("domain", "class", "cluster")
NO_CLUSTER = "no cluster"


def map_rows(store: Store, vectors: str) -> np.ndarray:
    """Rows that have the chosen vectors (readable images; for captions, captioned ones)."""
    if vectors not in VECTOR_KINDS:
        raise ValueError(f"map vectors must be one of {', '.join(VECTOR_KINDS)}")
    mask = store.ok_mask()
    if vectors == "caption":
        mask &= store.caption_mask()
    return np.flatnonzero(mask)


METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}  # as the page names them


def collection_map(
    store: Store,
    method: str,
    vectors: str = "image",
    color_by: str = "domain",
    highlight: int | None = None,
    progress: Callable[[str], None] | None = None,
    thumb_url: Callable[[str], str] | None = None,
) -> Any:
    """The plotly figure of ``store`` projected with ``method`` (umap, tsne, pca), coloured by
    ``color_by`` (domain, class, or cluster: the named clusters of :func:`map_clusters`, their
    names in the legend); ``thumb_url(sha256)`` gives the thumbnail URL each point carries for
    hover."""
    from cdir.maps.plots import map_figure

    if color_by not in COLOR_BY:
        raise ValueError(f"colour by one of {', '.join(COLOR_BY)}")
    rows, xy = map_points(store, method, vectors, progress)
    items = store.items.iloc[rows]
    hover = [
        {
            "caption": _s(r["caption"]),
            "domain": _s(r["domain"]),
            "class": _s(r["class"]),
            "id": int(r["id"]),
            "file": _s(r["rel_path"]),
            "thumb": thumb_url(str(r["sha256"])) if thumb_url else "",
        }
        for _, r in items.iterrows()
    ]
    if color_by == "cluster":
        colours = cluster_names_of(store, method, vectors, items["id"].to_numpy())
    else:
        colours = [_s(v) or "unlabelled" for v in items[color_by]]
    title = (
        f"{METHOD_NAMES.get(method, method)} of {vectors} embeddings · {len(rows)} images "
        f"· colour: {color_by}"
    )
    return map_figure(
        xy,
        colours,
        hover,
        [int(i) for i in items["id"]],
        title,
        highlight=highlight,
        color_title=color_by,
    )


def map_points(
    store: Store, method: str, vectors: str = "image", progress: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, xy): the table rows on the map, (M,) int64, and their 2-D coordinates, (M, 2)
    float32, projected with ``method`` and cached in the store."""
    from cdir.maps.projection import ProjectionConfig, cached_projection

    rows = map_rows(store, vectors)
    matrix = store.image_emb if vectors == "image" else store.caption_emb
    xy = np.zeros((0, 2), dtype=np.float32)
    if len(rows) and matrix is not None:
        xy = cached_projection(
            store.derived_dir(),
            {"kind": vectors, "preset": store.preset},
            matrix[rows],
            ProjectionConfig(method=method),
            progress,
        )
    return rows, xy


def map_clusters(
    store: Store,
    method: str,
    vectors: str = "image",
    config: ClusterConfig | None = None,
    on: str = "map",
) -> list[Cluster]:
    """Named clusters of the map of ``store`` (see :mod:`cdir.maps.clusters`), clustered on the
    map's 2-D points (``on="map"``) or on the embeddings themselves (``on="vectors"``)."""
    from cdir.maps.clusters import ClusterConfig, item_texts, name_clusters

    if on not in ("map", "vectors"):
        raise ValueError(f"cluster on 'map' or 'vectors', not {on!r}")
    rows, xy = map_points(store, method, vectors)
    if not len(xy):
        return []
    items = store.items.iloc[rows]
    texts = item_texts(items["caption"].tolist(), items["prompt"].tolist())
    matrix = store.image_emb if vectors == "image" else store.caption_emb
    points = matrix[rows] if on == "vectors" and matrix is not None else None
    return name_clusters(xy, texts, items["id"].tolist(), config or ClusterConfig(), points)


def cluster_names_of(
    store: Store,
    method: str,
    vectors: str,
    ids: np.ndarray,
    clusters: list[Cluster] | None = None,
) -> list[str]:
    """The name of the cluster (:func:`map_clusters`) of each item id of ``ids``; two clusters
    with the same name are told apart by a number, an item in none is "no cluster"."""
    clusters = map_clusters(store, method, vectors) if clusters is None else clusters
    names = np.full(len(ids), NO_CLUSTER, dtype=object)
    seen: dict[str, int] = {}
    for cluster in clusters:
        seen[cluster.name] = seen.get(cluster.name, 0) + 1
        name = cluster.name if seen[cluster.name] == 1 else f"{cluster.name} ({seen[cluster.name]})"
        names[np.isin(ids, cluster.ids)] = name
    return names.tolist()


def cluster_name_labels(
    store: Store, method: str, vectors: str = "image", clusters: list[Cluster] | None = None
) -> list[PlacedLabel]:
    """The names of the map's clusters (:func:`map_clusters`, largest first), each placed beside
    its points (:func:`cdir.maps.label_layout.place_labels`)."""
    from cdir.maps.label_layout import place_labels

    rows, xy = map_points(store, method, vectors)
    clusters = map_clusters(store, method, vectors) if clusters is None else clusters
    ids = store.items["id"].to_numpy()[rows]
    return place_labels(xy, [(c.name, np.isin(ids, c.ids)) for c in clusters])


def _s(value: Any) -> str:
    import pandas as pd

    return "" if value is None or pd.isna(value) else str(value)
