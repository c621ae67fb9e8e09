"""Named clusters on the map: cluster the points, name each cluster from its captions and prompts.

Clustering is scikit-learn's: k-means (``KMeans``, every point in a cluster) or HDBSCAN
(``sklearn.cluster.HDBSCAN``, Campello et al. 2013; dense regions only, the rest is noise, label
-1), on the 2-D map coordinates (what the user sees) or on the original embeddings.

Names are class-based TF-IDF (c-TF-IDF, as in BERTopic, Grootendorst 2022): all the captions and
prompts of one cluster are joined into one document, words are counted per cluster
(``CountVectorizer``, English stop words and the captioner's style words removed, see
:mod:`cdir.models.style_words`), and ``TfidfTransformer`` weighs each word by how often the cluster
uses it against how many clusters use it; a cluster is named by its top words. The noise points
of HDBSCAN form a document of their own, so words common everywhere are weighed down, but get
no name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cdir.models.style_words import DEFAULT_STYLE_WORDS, Neutraliser

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("kmeans", "hdbscan")
NOISE = -1


@dataclass(frozen=True)
class ClusterConfig:
    """How to cluster and name. ``n_clusters`` (k-means; None: about sqrt(N / 2), 2..30);
    ``min_cluster_size`` (HDBSCAN; None: about 1 % of N, at least 5); ``n_words`` words per
    name; ``style_words`` removed before counting (None: the neutraliser's defaults)."""

    method: str = "kmeans"
    n_clusters: int | None = None
    min_cluster_size: int | None = None
    n_words: int = 3
    seed: int = 0
    style_words: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"cluster with one of {', '.join(METHODS)}, not {self.method!r}")
        if self.n_clusters is not None and self.n_clusters < 1:
            raise ValueError(f"the number of clusters must be at least 1, not {self.n_clusters}")
        if self.n_words < 1:
            raise ValueError(f"name clusters with at least 1 word, not {self.n_words}")


@dataclass
class Cluster:
    """One named cluster: ``label`` (0..), ``name`` (its top words joined), ``words`` with their
    c-TF-IDF weights, ``size``, ``position`` (x, y) where its name is drawn (the member nearest
    the cluster's mean, so the name sits on points) and the member ``ids``."""

    label: int
    name: str
    words: list[tuple[str, float]]
    size: int
    position: tuple[float, float]
    ids: list[int] = field(default_factory=list)


def cluster_labels(points: np.ndarray, config: ClusterConfig = ClusterConfig()) -> np.ndarray:
    """(N,) int64 cluster labels of ``points`` (N, D) float; -1 is HDBSCAN's noise. Fewer points
    than clusters asked give one cluster per point."""
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if config.method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        size = config.min_cluster_size or max(5, round(n / 100))
        if n < max(2, size):
            return np.full(n, NOISE, dtype=np.int64)
        return HDBSCAN(min_cluster_size=size, copy=True).fit_predict(points).astype(np.int64)
    from sklearn.cluster import KMeans

    k = min(n, config.n_clusters or min(30, max(2, round(math.sqrt(n / 2)))))
    model = KMeans(n_clusters=k, n_init=3, random_state=config.seed)
    return model.fit_predict(points).astype(np.int64)


def cluster_words(
    texts: Sequence[str | None], labels: np.ndarray, config: ClusterConfig = ClusterConfig()
) -> dict[int, list[tuple[str, float]]]:
    """Cluster label -> its ``config.n_words`` top (word, c-TF-IDF weight), highest first, from
    ``texts`` (one per point: caption and prompt joined; None counts as empty). Noise (-1) takes
    part in the weighing but is not named; a cluster with no usable word gets []."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    labels = np.asarray(labels, dtype=np.int64)
    present = sorted(set(labels.tolist()))
    neutral = _neutraliser(config)
    docs = [
        " ".join(
            neutral(str(t)) for t, lab in zip(texts, labels, strict=True) if lab == label and t
        )
        for label in present
    ]
    stop = sorted(_stop_words(config))
    vectorizer = CountVectorizer(
        stop_words=stop, token_pattern=r"(?u)\b[^\W\d_]{2,}\b", lowercase=True
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # no word at all in any caption
        return {label: [] for label in present if label != NOISE}
    weights = TfidfTransformer(sublinear_tf=True).fit_transform(counts).toarray()
    vocab = vectorizer.get_feature_names_out()
    named: dict[int, list[tuple[str, float]]] = {}
    for row, label in enumerate(present):
        if label == NOISE:
            continue
        order = np.lexsort((vocab, -weights[row]))[: config.n_words]
        named[label] = [
            (str(vocab[i]), round(float(weights[row, i]), 4)) for i in order if weights[row, i] > 0
        ]
    return named


def _neutraliser(config: ClusterConfig) -> Neutraliser:
    return Neutraliser(config.style_words) if config.style_words is not None else Neutraliser()


def _stop_words(config: ClusterConfig) -> set[str]:
    """English stop words plus every word of the style phrases ("pencil", "sketch", ...), which
    the neutraliser only removes as whole phrases."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    phrases = config.style_words if config.style_words is not None else DEFAULT_STYLE_WORDS
    return set(ENGLISH_STOP_WORDS) | {w.lower() for p in phrases for w in p.split()}


def label_positions(xy: np.ndarray, labels: np.ndarray) -> dict[int, tuple[float, float]]:
    """Cluster label -> (x, y) of its member nearest the cluster's mean (noise left out)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    positions = {}
    for label in sorted(set(np.asarray(labels).tolist()) - {NOISE}):
        members = xy[labels == label]
        nearest = members[np.argmin(((members - members.mean(axis=0)) ** 2).sum(axis=1))]
        positions[int(label)] = (float(nearest[0]), float(nearest[1]))
    return positions


def name_clusters(
    xy: np.ndarray,
    texts: Sequence[str | None],
    ids: Sequence[int],
    config: ClusterConfig = ClusterConfig(),
    vectors: np.ndarray | None = None,
) -> list[Cluster]:
    """Cluster the map and name the clusters, largest first.

    ``xy``: (N, 2) map coordinates; ``texts``: N captions (+ prompts); ``ids``: N item ids;
    ``vectors``: (N, D) embeddings to cluster instead of ``xy`` (names are still drawn at map
    positions). Raises ValueError when the lengths differ."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    points = xy if vectors is None else np.asarray(vectors)
    if not len(xy) == len(points) == len(texts) == len(ids):
        raise ValueError(
            f"expected one text, id and vector per point ({len(xy)} points), got "
            f"{len(texts)} texts, {len(ids)} ids, {len(points)} vectors"
        )
    labels = cluster_labels(points, config)
    words = cluster_words(texts, labels, config)
    positions = label_positions(xy, labels)
    ids_array = np.asarray(ids, dtype=np.int64)
    clusters = [
        Cluster(
            label,
            " ".join(w for w, _ in words.get(label, [])) or f"cluster {label}",
            words.get(label, []),
            int((labels == label).sum()),
            positions[label],
            ids_array[labels == label].tolist(),
        )
        for label in positions
    ]
    log.info("%d clusters (%s) over %d points", len(clusters), config.method, len(xy))
    return sorted(clusters, key=lambda c: (-c.size, c.label))


def item_texts(captions: Sequence[str | None], prompts: Sequence[str | None]) -> list[str]:
    """Caption and prompt of each item joined (either may be missing: None, NaN or pandas NA);
    the prompt's words only, without weight, alternation, BREAK or LoRA syntax."""
    import pandas as pd

    from cdir.models.prompt_words import prompt_words

    words = [prompt_words(p) if isinstance(p, str) else p for p in prompts]
    return [
        " ".join(str(t).strip() for t in pair if not pd.isna(t) and str(t).strip())
        for pair in zip(captions, words, strict=True)
    ]
