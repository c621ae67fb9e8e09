"""Test-time re-ranking of caption-matching scores through the gallery itself; domain priors.

Caption matching (CM, Iijima et al., arXiv 2403.15152) scores a query's caption t(q) against each
gallery image v(g). The options here go past the paper; each works on a score matrix (Q, N) over
one gallery (e.g. the target domain) and needs nothing but the gallery's own embeddings:

``domain_prior``
    Per-domain centring: subtract from every query caption vector the mean caption vector of its
    domain, and from every gallery image vector the mean image vector of its domain, then
    re-normalise. What all captions (images) of one style share, the style's "prior", no longer
    counts towards the match. (The text-side analogue of the domain-mean subtraction used in
    cross-domain retrieval; see ICFRR, Zhou et al., arXiv 2303.17703, for the gallery side.)
``gallery_expansion``
    Query expansion over the gallery (alpha-QE style, Radenović et al., TPAMI 2019): the query's
    top-``k`` gallery images vote, through gallery-gallery image similarity, for their own
    neighbours; the vote is z-scored and added with weight ``beta`` to the z-scored CM score.
``k_reciprocal``
    k-reciprocal neighbours (Zhong et al., CVPR 2017; used for cross-domain retrieval in ICFRR,
    arXiv 2303.17703): a gallery item's k-reciprocal set R(g) holds the gallery items that are in
    each other's top-``k``; the query's top-``k`` set N(q) is compared with R(g) by Jaccard
    similarity, and ``(1 - lam) z(CM) + lam z(Jaccard)`` is the new score.

All of them are measured against plain CM on held-out drawings in docs/reproducing.md; only a
variant that raised P@1 and mAP there on trained and unseen styles may become a default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cdir.retrieval.scoring import standardise

RERANKERS: tuple[str, ...] = ("none", "gallery_expansion", "k_reciprocal")


@dataclass(frozen=True)
class RerankConfig:
    """Which re-ranking to apply and its parameters (``none`` leaves the scores alone)."""

    method: str = "none"
    k: int = 5
    beta: float = 0.5  # gallery_expansion: weight of the neighbours' vote
    lam: float = 0.3  # k_reciprocal: weight of the Jaccard term

    def __post_init__(self) -> None:
        if self.method not in RERANKERS:
            raise ValueError(f"unknown re-ranking {self.method!r}; use {', '.join(RERANKERS)}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def domain_centred(vectors: np.ndarray, domains: Sequence[str] | np.ndarray) -> np.ndarray:
    """``vectors`` (N, D) with their domain's mean vector subtracted, re-normalised to unit length.

    A domain with a single vector keeps it (its mean is itself: nothing would be left)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    domains = np.asarray(domains)
    out = vectors.copy()
    for domain in np.unique(domains):
        rows = domains == domain
        if rows.sum() > 1:
            out[rows] = vectors[rows] - vectors[rows].mean(axis=0, keepdims=True)
    return _normalise(out).astype(np.float32)


def _top_k_sets(scores: np.ndarray, k: int) -> np.ndarray:
    """(Q, N) bool: each row's ``k`` best columns (ties to the lower column)."""
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(out, order, True, axis=1)
    return out


def gallery_expansion(
    scores: np.ndarray, gallery_sim: np.ndarray, k: int = 5, beta: float = 0.5
) -> np.ndarray:
    """``z(scores) + beta * z(vote)``, where ``vote[q, g]`` is the mean gallery-gallery similarity
    of ``g`` to the query's top-``k`` gallery items. ``gallery_sim`` is (N, N), e.g. the gallery
    images' cosine similarities."""
    scores = np.asarray(scores, dtype=np.float64)
    top = _top_k_sets(scores, k).astype(np.float64)
    vote = top @ np.asarray(gallery_sim, dtype=np.float64) / top.sum(axis=1, keepdims=True)
    return standardise(scores) + beta * standardise(vote)


def reciprocal_sets(gallery_sim: np.ndarray, k: int) -> np.ndarray:
    """(N, N) bool: ``R[g, j]`` when ``j`` is in ``g``'s top-``k`` and ``g`` in ``j``'s (an item
    is its own neighbour)."""
    top = _top_k_sets(np.asarray(gallery_sim, dtype=np.float64), k)
    return top & top.T


def k_reciprocal(
    scores: np.ndarray, gallery_sim: np.ndarray, k: int = 5, lam: float = 0.3
) -> np.ndarray:
    """``(1 - lam) z(scores) + lam z(J)``, ``J[q, g]`` the Jaccard similarity of the query's
    top-``k`` set and ``g``'s k-reciprocal set."""
    scores = np.asarray(scores, dtype=np.float64)
    nq = _top_k_sets(scores, k).astype(np.float64)
    rg = reciprocal_sets(gallery_sim, k).astype(np.float64)
    inter = nq @ rg.T
    union = nq.sum(1, keepdims=True) + rg.sum(1)[None, :] - inter
    jaccard = inter / np.where(union > 0, union, 1.0)
    return (1 - lam) * standardise(scores) + lam * standardise(jaccard)


def rerank(scores: np.ndarray, gallery_image: np.ndarray, config: RerankConfig) -> np.ndarray:
    """Apply ``config`` to ``scores`` (Q, N) over a gallery whose image vectors are
    ``gallery_image`` (N, D, unit length)."""
    if config.method == "none":
        return np.asarray(scores, dtype=np.float64)
    gallery_image = np.asarray(gallery_image, dtype=np.float32)
    sim = gallery_image @ gallery_image.T
    if config.method == "gallery_expansion":
        return gallery_expansion(scores, sim, config.k, config.beta)
    return k_reciprocal(scores, sim, config.k, config.lam)
