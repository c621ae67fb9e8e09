"""Re-ranking through the gallery and per-domain priors (cdir.retrieval.rerank), on hand-built
embeddings whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from cdir.retrieval.rerank import (
    RerankConfig,
    domain_centred,
    gallery_expansion,
    k_reciprocal,
    reciprocal_sets,
    rerank,
)

D = 8
E = np.eye(D, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def two_clusters() -> np.ndarray:
    """Gallery rows 0-2: class A (near E0); rows 3-5: class B (near E1). Row 2 is an A image
    that leans towards B's direction but is still closest to the other A images."""
    return np.stack(
        [
            unit(E[0] + 0.1 * E[2]),
            unit(E[0] + 0.1 * E[3]),
            unit(E[0] + 0.8 * E[1] + 0.3 * E[4]),
            unit(E[1] + 0.1 * E[5]),
            unit(E[1] + 0.1 * E[6]),
            unit(E[1] + 0.1 * E[7]),
        ]
    )


def test_gallery_expansion_lifts_the_item_the_neighbours_vote_for() -> None:
    gallery = two_clusters()
    # the query's own scores put B item 3 second, A item 2 third; its top-2 are both A items,
    # whose gallery neighbour is item 2: the vote must lift 2 above 3
    scores = np.array([[0.9, 0.85, 0.5, 0.55, 0.1, 0.1]])
    sim = gallery @ gallery.T
    assert np.argsort(-scores[0])[:3].tolist() == [0, 1, 3]
    out = gallery_expansion(scores, sim, k=2, beta=1.0)
    assert np.argsort(-out[0])[:3].tolist() == [0, 1, 2]
    # beta = 0 is plain (standardised) CM: same order
    assert (
        np.argsort(-gallery_expansion(scores, sim, k=2, beta=0.0)[0]).tolist()
        == np.argsort(-scores[0], kind="stable").tolist()
    )


def test_reciprocal_sets_hold_mutual_neighbours_only() -> None:
    # 0 and 1 are each other's nearest; 2's nearest is 1, but 1's top-2 is {1, 0}: 2 not mutual
    sim = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.8], [0.1, 0.8, 1.0]])
    r = reciprocal_sets(sim, k=2)
    assert r.tolist() == [[True, True, False], [True, True, False], [False, False, True]]


def test_k_reciprocal_prefers_items_whose_neighbourhood_matches_the_query() -> None:
    gallery = two_clusters()
    scores = np.array([[0.9, 0.85, 0.5, 0.55, 0.1, 0.1]])
    out = k_reciprocal(scores, gallery @ gallery.T, k=3, lam=0.6)
    assert set(np.argsort(-out[0])[:3].tolist()) == {0, 1, 2}
    # lam = 0 keeps the order
    plain = k_reciprocal(scores, gallery @ gallery.T, k=3, lam=0.0)
    assert np.argsort(-plain[0]).tolist() == np.argsort(-scores[0], kind="stable").tolist()


def test_domain_centring_removes_what_a_style_shares() -> None:
    # two styles, each with its own big style component (E7, E6); every sketch also carries E5,
    # and so does the photo of class 1: raw, the class-0 sketch matches the class-1 photo best;
    # centred per style, only the class is left and it matches the class-0 photo
    rows = np.stack(
        [
            unit(3 * E[7] + E[0] + 2 * E[5]),
            unit(3 * E[7] + E[1] + 2 * E[5]),
            unit(3 * E[6] + E[0]),
            unit(3 * E[6] + E[1] + 2 * E[5]),
        ]
    )
    domains = ["sketch", "sketch", "photo", "photo"]
    raw = rows @ rows.T
    assert raw[0, 3] > raw[0, 2]
    out = domain_centred(rows, domains)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    sims = out @ out.T
    assert sims[0, 2] > 0 > sims[0, 3]
    assert sims[1, 3] > 0 > sims[1, 2]


def test_domain_centring_leaves_a_lone_vector() -> None:
    out = domain_centred(np.stack([E[0], unit(E[0] + E[1]), E[2]]), ["a", "b", "b"])
    assert np.allclose(out[0], E[0])


def test_rerank_dispatches_and_checks_its_config() -> None:
    gallery = two_clusters()
    scores = np.array([[0.9, 0.85, 0.5, 0.55, 0.1, 0.1]])
    assert np.array_equal(rerank(scores, gallery, RerankConfig()), scores)
    expanded = rerank(scores, gallery, RerankConfig("gallery_expansion", k=2, beta=1.0))
    assert np.allclose(expanded, gallery_expansion(scores, gallery @ gallery.T, 2, 1.0))
    with pytest.raises(ValueError, match="re-ranking"):
        RerankConfig("diffusion")
    with pytest.raises(ValueError, match="k must be"):
        RerankConfig("k_reciprocal", k=0)
