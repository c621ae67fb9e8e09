"""Ranking metrics: hand-computed cases, the tie rule, fast paths against the direct ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cdir.evaluation.metrics import (
    average_precision,
    metrics_from_ranks,
    precision_at_k,
    query_metrics,
    rank_order,
    ranked_relevance,
    relevant_ranks,
    top_k_order,
)

T, F = True, False


def test_precision_denominator_is_min_of_k_and_relevant_count() -> None:
    ranking = np.array([T, F, T, F, F])  # 2 relevant items, at ranks 1 and 3
    assert precision_at_k(ranking, 1) == 1.0  # 1 hit / min(1, 2)
    assert precision_at_k(ranking, 2) == 0.5  # 1 hit / min(2, 2)
    assert precision_at_k(ranking, 3) == 1.0  # 2 hits / min(3, 2): both found by rank 3
    assert precision_at_k(ranking, 5) == 1.0  # 2 hits / min(5, 2), not 2 / 5
    assert precision_at_k(ranking, 15) == 1.0  # k beyond the ranking


def test_precision_with_relevant_items_outside_the_ranking() -> None:
    # 4 relevant in the gallery, only 2 in this (truncated) ranking: P@3 = 2 / min(3, 4)
    assert precision_at_k(np.array([T, F, T]), 3, n_relevant=4) == pytest.approx(2 / 3)


def test_query_without_relevant_items_is_nan() -> None:
    assert math.isnan(precision_at_k(np.array([F, F, F]), 2))
    assert math.isnan(average_precision(np.array([F, F, F])))


def test_bad_k_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        precision_at_k(np.array([T]), 0)


def test_average_precision_by_hand() -> None:
    ranking = np.array([T, F, T, F, T])
    # relevant at ranks 1, 3, 5: precisions 1/1, 2/3, 3/5 -> (1 + 0.6667 + 0.6) / 3 = 0.7556
    assert average_precision(ranking) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # a fourth relevant item never retrieved adds a zero term: (1 + 2/3 + 3/5) / 4 = 0.5667
    assert average_precision(ranking, n_relevant=4) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)


def test_ties_keep_gallery_order() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.9, 0.1]])
    # 0.9 at 1 and 3 (1 first), then 0.5 at 0 and 2 (0 first), then 0.1
    assert rank_order(scores).tolist() == [[1, 3, 0, 2, 4]]


def test_tie_puts_an_earlier_irrelevant_item_first() -> None:
    scores = np.array([[0.7, 0.7, 0.2]])
    relevant = np.array([[F, T, F]])
    assert ranked_relevance(scores, relevant).tolist() == [[F, T, F]]
    metrics = query_metrics(scores, relevant, ks=(1, 2))
    assert metrics.precision[1][0] == 0.0  # the irrelevant twin (index 0) wins the tie
    assert metrics.precision[2][0] == 1.0  # 1 hit / min(2, 1)
    assert metrics.average_precision[0] == 0.5  # the only relevant item at rank 2: 1/2


def test_nan_scores_rank_last_in_gallery_order() -> None:
    scores = np.array([[np.nan, 0.1, -np.inf, 0.3]])
    assert rank_order(scores).tolist() == [[3, 1, 0, 2]]
    assert relevant_ranks(scores, np.array([[T, F, T, F]]))[0].tolist() == [3, 4]


def test_vectorised_metrics_match_the_scalar_definitions() -> None:
    rng = np.random.default_rng(7)
    scores = np.round(rng.normal(size=(40, 30)), 1)  # rounding makes plenty of ties
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    relevant = rng.random(scores.shape) < 0.2
    relevant[3] = False  # one query without relevant items
    ranked = ranked_relevance(scores, relevant, chunk=7)
    metrics = query_metrics(scores, relevant, ks=(1, 5, 15), chunk=7)
    for i, row in enumerate(ranked):
        for k in (1, 5, 15):
            np.testing.assert_equal(metrics.precision[k][i], precision_at_k(row, k))
        np.testing.assert_allclose(metrics.average_precision[i], average_precision(row))
    assert metrics.evaluated.tolist() == [i != 3 for i in range(40)]


def test_chunk_size_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    scores, relevant = rng.normal(size=(50, 20)), rng.random((50, 20)) < 0.3
    one = query_metrics(scores, relevant, (5,), chunk=256)
    many = query_metrics(scores, relevant, (5,), chunk=3)
    np.testing.assert_array_equal(one.average_precision, many.average_precision)
    np.testing.assert_array_equal(one.precision[5], many.precision[5])


def test_metrics_from_ranks_by_hand() -> None:
    metrics = metrics_from_ranks([np.array([1, 3, 5]), np.array([], dtype=np.int64)], ks=(2,))
    assert metrics.average_precision[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert metrics.precision[2][0] == 0.5
    assert math.isnan(metrics.precision[2][1]) and math.isnan(metrics.average_precision[1])


def test_top_k_order_matches_the_full_ranking() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(30, 25)), 1)
    scores[:, 5] = -np.inf
    full = rank_order(scores)
    for k in (1, 4, 10, 25, 40):
        np.testing.assert_array_equal(top_k_order(scores, k), full[:, :k])


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        query_metrics(np.zeros((2, 3)), np.zeros((2, 4), bool), ks=(1,))


# ------------------------------------------------------------- what the mutation check asked for


def test_no_query_at_all_gives_empty_metrics() -> None:
    """A domain pair where no query can be measured: empty arrays, not an error."""
    metrics = metrics_from_ranks([], (1, 5))
    assert metrics.average_precision.shape == (0,) and metrics.n_relevant.shape == (0,)
    assert {k: v.shape for k, v in metrics.precision.items()} == {1: (0,), 5: (0,)}


def test_truthy_relevance_counts_once() -> None:
    assert precision_at_k([2, 0, 1], 3) == 1.0  # 2 relevant, both in the top 3
    assert average_precision([0, 5, 1]) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_orders_are_integer_indices_and_relevance_stays_boolean() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7]], dtype=np.float32)
    top = top_k_order(scores, 2)
    assert top.dtype == np.int64 and top.tolist() == [[1, 3]]
    ranked = ranked_relevance(scores, [[True, False, True, False]])
    assert ranked.dtype == bool and ranked.tolist() == [[False, False, True, True]]
