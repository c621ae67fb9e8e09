"""Cluster names beside their points, not on them (cdir/maps/label_layout.py), measured on
hand-built clustered maps: how many point markers the name boxes cover, placed at the cluster's
middle as before and placed by the layout; the sentence that says what the map shows; colouring
by cluster. The browser side is in tests/browser/test_browser_map_eval.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cdir.maps.explain import map_caption
from cdir.maps.label_layout import (
    LabelStyle,
    data_per_pixel,
    label_size,
    place_labels,
    points_covered,
)
from cdir.maps.plots import add_cluster_labels, map_figure

NAMES = ["cat sofa window", "red car street", "pine tree forest", "boat harbour sea"]


def blobs(per: int = 150, spread: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four dense round clusters on a 2 x 2 grid, 6 units apart: (xy (4*per, 2), labels)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6]], dtype=np.float64)
    labels = np.repeat(np.arange(4), per)
    return centres[labels] + rng.normal(scale=spread, size=(len(labels), 2)), labels


def _covered_at(xy: np.ndarray, labels: np.ndarray, where: str) -> int:
    """Points the name boxes cover: ``where`` "middle" (the old place: the member nearest the
    mean) or "layout" (place_labels), with the same box sizes and marker reach."""
    style = LabelStyle()
    scale = data_per_pixel(xy, style)
    placed = place_labels(xy, [(n, labels == i) for i, n in enumerate(NAMES)], style)
    reach = style.marker_px / 2 * scale
    centres = [p.anchor if where == "middle" else p.position for p in placed]
    return sum(
        int(points_covered(xy, np.array([c]), p.size, reach)[0])
        for c, p in zip(centres, placed, strict=True)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_names_cover_few_points_where_the_middle_covered_many(seed: int) -> None:
    xy, labels = blobs(seed=seed)
    before, after = _covered_at(xy, labels, "middle"), _covered_at(xy, labels, "layout")
    print(f"seed {seed}: name boxes cover {before} points in the middle, {after} beside")
    assert before >= 0.2 * len(xy)  # the names hid a fifth of the map
    assert after <= 0.01 * len(xy)  # now at most 1 %


def test_names_do_not_overlap_and_stay_near_their_cluster() -> None:
    xy, labels = blobs(per=80, spread=1.2)  # wide, touching clusters: little free room
    placed = place_labels(xy, [(n, labels == i) for i, n in enumerate(NAMES)])
    assert [p.name for p in placed] == NAMES
    for i, a in enumerate(placed):
        members = xy[labels == i]
        assert any((members == a.anchor).all(axis=1))  # it points at one of its own points
        # its box is within a few cluster radii of the cluster
        assert np.linalg.norm(np.subtract(a.position, a.anchor)) < 4 * 1.2 * 2.2 + max(a.size)
        for b in placed[i + 1 :]:
            gap = np.abs(np.subtract(a.position, b.position)) - np.add(a.size, b.size) / 2
            assert (gap >= 0).any(), (a, b)  # separated along x or y


def test_box_sizes_and_coverage_by_hand() -> None:
    xy = np.array([[0, 0], [10, 0], [0, 4.5]], dtype=np.float64)
    style = LabelStyle(plot_px=(110.0, 100.0))  # 11 units over 110 px: 0.1 unit per pixel
    assert data_per_pixel(xy, style) == pytest.approx(0.1)
    w, h = label_size("abc", 0.1, style)
    assert (w, h) == pytest.approx(((3 * 0.62 * 13 + 8) * 0.1, (1.3 * 13 + 8) * 0.1))
    centres = np.array([[0, 0], [5, 0], [0.5, 0.5]])
    assert points_covered(xy, centres, (2.0, 2.0)).tolist() == [1, 0, 1]
    # a marker whose disk reaches into the box counts as covered
    assert points_covered(xy, np.array([[0, 3]]), (2.0, 2.0)).tolist() == [0]
    assert points_covered(xy, np.array([[0, 3]]), (2.0, 2.0), reach=0.6).tolist() == [1]
    assert data_per_pixel(np.zeros((1, 2))) == 1.0
    with pytest.raises(ValueError, match="expected a mask of 3 points"):
        place_labels(xy, [("a", np.array([True]))])
    assert place_labels(xy, [("empty", np.zeros(3, dtype=bool))]) == []


def test_the_grid_count_never_misses_a_point_and_overcounts_one_square_at_most() -> None:
    from cdir.maps.label_layout import _CountGrid

    rng = np.random.default_rng(5)
    xy = rng.normal(size=(3000, 2))
    centres = rng.normal(scale=1.5, size=(300, 2))
    half = np.array([0.4, 0.1])
    grid = _CountGrid(xy, 0.02)
    fast = grid.count(centres, half)
    exact = points_covered(xy, centres, tuple(2 * half))
    wider = points_covered(xy, centres, tuple(2 * half + 2 * 0.02))
    assert (fast >= exact).all() and (fast <= wider).all()
    assert grid.count(np.array([[50.0, 50.0]]), half).tolist() == [0]  # off the grid


def test_names_are_drawn_beside_with_a_line_and_a_halo() -> None:
    xy, labels = blobs(per=40)
    fig = map_figure(xy, [str(v) for v in labels], [{}] * len(xy), list(range(len(xy))), "m")
    placed = place_labels(xy, [(n, labels == i) for i, n in enumerate(["<b>x</b>", *NAMES[1:]])])
    add_cluster_labels(fig, placed)
    notes = fig.layout.annotations
    assert [a.text for a in notes] == [
        "<b>&lt;b&gt;x&lt;/b&gt;</b>",
        *(f"<b>{n}</b>" for n in NAMES[1:]),
    ]
    for note, label in zip(notes, placed, strict=True):
        assert (note.x, note.y) == label.anchor and (note.ax, note.ay) == label.position
        assert note.axref == "x" and note.ayref == "y" and note.showarrow
        assert "#fff" in note.font.shadow
    json.loads(fig.to_json())


@pytest.mark.parametrize(
    ("method", "color", "words"),
    [
        ("umap", "domain", ["UMAP", "domain", "a photo, a sketch"]),
        ("tsne", "class", ["t-SNE", "class", "what it shows"]),
        ("pca", "cluster", ["PCA", "group", "legend"]),
    ],
)
def test_the_sentence_follows_the_projection_and_the_colouring(
    method: str, color: str, words: list[str]
) -> None:
    text = map_caption(method, "image", color)
    assert text.startswith("Each dot is one image; images the model sees as similar sit close")
    assert all(w in text for w in words), text
    others = {"domain", "class", "cluster"} - {color}
    assert not any(f"colour shows each image's {o}" in text for o in others)
    assert "captions say similar things" in map_caption(method, "caption", color)
    assert "boxed names" in map_caption(method, "image", color, named=True)


def test_an_unknown_choice_says_which_to_use() -> None:
    with pytest.raises(ValueError, match="unknown map projection 'mds': use one of umap"):
        map_caption("mds")
    with pytest.raises(ValueError, match="unknown map colouring 'size'"):
        map_caption("umap", "image", "size")


def test_a_collection_coloured_by_cluster_names_them_in_the_legend(tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    from cdir.maps.clusters import ClusterConfig
    from cdir.maps.collection_map import (
        cluster_name_labels,
        cluster_names_of,
        collection_map,
        map_clusters,
    )
    from cdir.store.collection import Store, normalise_items

    words = ["cat sofa", "red car", "pine tree"]
    truth = np.repeat(np.arange(3), 12)
    rng = np.random.default_rng(3)
    emb = np.repeat(np.eye(3)[truth], 3, axis=1) + rng.normal(scale=0.02, size=(36, 9))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    ids = list(range(36))
    items = normalise_items(
        pd.DataFrame(
            {
                "id": ids,
                "path": [f"/x/{i}.png" for i in ids],
                "rel_path": [f"{i}.png" for i in ids],
                "sha256": [f"s{i}" for i in ids],
                "caption": [f"a {words[t]}" for t in truth],
                "status": "ok",
            }
        )
    )
    (tmp_path / "s").mkdir()
    store = Store(tmp_path / "s", {"preset": "tiny"}, items, emb.astype(np.float32))
    clusters = map_clusters(store, "pca")
    fig = collection_map(store, "pca", color_by="cluster")
    names = cluster_names_of(store, "pca", "image", np.array(ids), clusters)
    # one legend entry per cluster, named by its words (two "pine tree" groups: "(2)")
    assert {t.name for t in fig.data} == set(names) and len(set(names)) == len(clusters)
    assert fig.layout.legend.title.text == "cluster"
    for cluster in clusters:  # each point's colour is its own cluster's name
        assert len({names[i] for i in cluster.ids}) == 1
        assert names[cluster.ids[0]].startswith(cluster.name)
    # two clusters of one name are told apart; a point in none says so
    twins = [clusters[0], clusters[1]]
    twins[1] = type(clusters[1])(**{**vars(clusters[1]), "name": clusters[0].name})
    named = cluster_names_of(store, "pca", "image", np.array(ids), twins)
    assert named[twins[1].ids[0]] == f"{clusters[0].name} (2)"
    assert named[clusters[2].ids[0]] == "no cluster"
    labels = cluster_name_labels(
        store, "pca", clusters=map_clusters(store, "pca", config=ClusterConfig(n_clusters=3))
    )
    assert len(labels) == 3 and all(label.covered <= 1 for label in labels)
