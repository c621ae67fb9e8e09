"""Named clusters: scikit-learn clustering of map points and c-TF-IDF names from captions and
prompts, with style words left out; on hand-built blobs whose right names are known."""

from __future__ import annotations

import numpy as np
import pytest

from cdir.maps.clusters import (
    NOISE,
    ClusterConfig,
    cluster_labels,
    cluster_words,
    item_texts,
    label_positions,
    name_clusters,
)

CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
CAPTIONS = [  # per blob: a different subject, each in every style
    [
        "a sketch of a cat on a sofa",
        "a photo of a cat sleeping on a sofa",
        "a watercolor painting of a cat",
    ],
    ["a photo of a red car on a road", "a pencil drawing of a car", "a cartoon of a red car"],
    ["a painting of a tree by a lake", "a photo of a tree near a lake", "a sketch of a tree"],
]


def blobs(per: int = 30, seed: int = 0) -> tuple[np.ndarray, list[str], list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    xy, texts, truth = [], [], []
    for b, centre in enumerate(CENTRES):
        xy.append(centre + rng.normal(scale=0.5, size=(per, 2)))
        texts += [CAPTIONS[b][i % 3] for i in range(per)]
        truth += [b] * per
    return np.vstack(xy), texts, list(range(per * 3)), np.array(truth)


@pytest.mark.parametrize("method", ["kmeans", "hdbscan"])
def test_three_blobs_are_three_clusters_named_by_their_subject(method: str) -> None:
    xy, texts, ids, truth = blobs()
    config = ClusterConfig(
        method=method, n_clusters=3 if method == "kmeans" else None, min_cluster_size=10
    )
    clusters = name_clusters(xy, texts, ids, config)
    assert len(clusters) == 3
    for cluster in clusters:
        blob = int(truth[cluster.ids[0]])
        assert set(truth[cluster.ids]) == {blob} and cluster.size == 30
        subject = {0: "cat", 1: "car", 2: "tree"}[blob]
        assert cluster.words[0][0] == subject or subject in cluster.name.split()
        for style in ("sketch", "photo", "painting", "watercolor", "pencil", "drawing", "cartoon"):
            assert style not in cluster.name.split()  # the captioner's style words never name
        x, y = cluster.position  # drawn on a member, near its blob's centre
        assert np.hypot(x - CENTRES[blob][0], y - CENTRES[blob][1]) < 1.0


def test_names_weigh_words_shared_by_all_clusters_down() -> None:
    texts = ["blue cat", "blue cat", "blue dog", "blue dog"]
    words = cluster_words(texts, np.array([0, 0, 1, 1]), ClusterConfig(n_words=2))
    assert words[0][0][0] == "cat" and words[1][0][0] == "dog"
    assert words[0][0][1] > words[0][1][1]  # "blue", in both, weighs less


def test_noise_is_weighed_but_not_named_and_clusters_without_words_are_numbered() -> None:
    words = cluster_words(["cat", "cat", "tree", None], np.array([0, 0, NOISE, 1]))
    assert set(words) == {0, 1} and words[0][0][0] == "cat" and words[1] == []
    clusters = name_clusters(
        np.array([[0, 0], [0, 1], [5, 5], [5, 6]]),
        [None] * 4,
        [7, 8, 9, 10],
        ClusterConfig(n_clusters=2),
    )
    assert sorted(c.name for c in clusters) == ["cluster 0", "cluster 1"]
    assert sorted(sorted(c.ids) for c in clusters) == [[7, 8], [9, 10]]


def test_clustering_the_original_vectors_and_the_size_rules() -> None:
    xy, texts, ids, truth = blobs(per=10)
    vectors = np.repeat(np.eye(3)[truth], 4, axis=1) + 0.01  # blobs in 12-D
    clusters = name_clusters(np.zeros_like(xy), texts, ids, ClusterConfig(n_clusters=3), vectors)
    assert sorted(sorted(set(truth[c.ids])) for c in clusters) == [[0], [1], [2]]
    assert len(set(cluster_labels(xy).tolist())) == 4  # default: about sqrt(30 / 2)
    assert (cluster_labels(xy[:3], ClusterConfig(method="hdbscan")) == NOISE).all()
    assert len(cluster_labels(np.zeros((0, 2)))) == 0


def test_positions_and_texts() -> None:
    labels = np.array([0, 0, 0, NOISE])
    assert label_positions(np.array([[0, 0], [1, 0], [2, 0], [9, 9]]), labels) == {0: (1.0, 0.0)}
    assert item_texts(["a cat", None, ""], ["a prompt", None, "p"]) == ["a cat a prompt", "", "p"]


def test_bad_settings_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="kmeans, hdbscan"):
        ClusterConfig(method="dbscan")
    with pytest.raises(ValueError, match="at least 1"):
        ClusterConfig(n_clusters=0)
    with pytest.raises(ValueError, match="one text, id and vector per point"):
        name_clusters(np.zeros((3, 2)), ["a"], [1, 2, 3])


def test_a_collections_map_clusters_are_named(tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    from cdir.maps.collection_map import map_clusters
    from cdir.store.collection import Store, normalise_items

    _, texts, ids, truth = blobs(per=12)
    rng = np.random.default_rng(3)
    emb = np.repeat(np.eye(3)[truth], 3, axis=1) + rng.normal(scale=0.02, size=(36, 9))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    items = normalise_items(
        pd.DataFrame(
            {
                "id": ids,
                "path": [f"/x/{i}.png" for i in ids],
                "rel_path": [f"{i}.png" for i in ids],
                "sha256": [f"s{i}" for i in ids],
                "caption": texts,
                "status": "ok",
                "prompt": [None] * 35 + ["a cat on a sofa"],
            }
        )
    )
    (tmp_path / "s").mkdir()
    store = Store(tmp_path / "s", {"preset": "tiny"}, items, emb.astype(np.float32))
    for on in ("map", "vectors"):
        clusters = map_clusters(store, "pca", config=ClusterConfig(n_clusters=3), on=on)
        names = {int(truth[c.ids[0]]): c.words[0][0] for c in clusters}
        assert names == {0: "cat", 1: "car", 2: "tree"}, on
    with pytest.raises(ValueError, match="'map' or 'vectors'"):
        map_clusters(store, "pca", on="pixels")
