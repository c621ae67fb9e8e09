"""Ranking metrics for retrieval: precision@k (UCDIR definition) and average precision.

Conventions used everywhere in cdir's evaluation:

* **Ranking.** A query's ranking is a *stable* sort of the gallery on ``(-score, gallery index)``:
  higher scores first, and equal scores keep the gallery's order (the lower index ranks first).
  ``NaN`` scores are treated as ``-inf``, so unscorable items rank last, in gallery order.
* **precision@k** = (relevant items among the top k) / ``min(k, n_relevant)``, the definition of
  UCDIR and ProtoOT: a query with fewer relevant items than k can still reach 1.0.
* **average precision** is taken over the whole ranking (mAP@all): the mean, over the query's
  ``n_relevant`` relevant items, of the precision at the rank of each one.
* **A query with no relevant item** (``n_relevant == 0``) has no defined precision or AP: every
  function returns ``nan`` for it, and callers must skip it (``np.nanmean``) and count it.

Values are fractions in [0, 1]; reports multiply by 100. The vectorised functions work on a
(Q, N) score matrix in chunks of queries, so temporary arrays stay bounded. :func:`query_metrics`
needs only the rank of each relevant item, which a plain sort of the scores gives far faster than
a stable argsort of every row; :func:`ranked_relevance` is the direct (slower) construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CHUNK = 256


def _check_k(k: int) -> int:
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def precision_at_k(relevant_sorted: np.ndarray, k: int, n_relevant: int | None = None) -> float:
    """Precision at ``k`` of one ranking, with the denominator ``min(k, n_relevant)``.

    ``relevant_sorted`` is the relevance of the gallery in ranked order. ``n_relevant`` defaults
    to the number of relevant items in it. Returns ``nan`` when ``n_relevant == 0``.
    """
    rel = np.asarray(relevant_sorted, dtype=bool)
    k = _check_k(k)
    n_rel = int(rel.sum()) if n_relevant is None else int(n_relevant)
    if n_rel == 0:
        return float("nan")
    return np.count_nonzero(rel[:k]) / min(k, n_rel)


def average_precision(relevant_sorted: np.ndarray, n_relevant: int | None = None) -> float:
    """Average precision of one ranking over all its ranks (mAP@all for a single query).

    Relevant items missing from the ranking (``n_relevant`` larger than the relevant items
    present) count as never retrieved. Returns ``nan`` when ``n_relevant == 0``.
    """
    rel = np.asarray(relevant_sorted, dtype=bool)
    n_rel = int(rel.sum()) if n_relevant is None else int(n_relevant)
    if n_rel == 0:
        return float("nan")
    ranks = np.flatnonzero(rel) + 1
    hits = np.arange(1, len(ranks) + 1)
    return float(np.sum(hits / ranks) / n_rel)


def _sort_key(scores: np.ndarray) -> np.ndarray:
    """Scores as a 2-D float64 array with ``nan`` replaced by ``-inf`` (ranked last)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    return np.where(np.isnan(scores), -np.inf, scores)


def rank_order(scores: np.ndarray) -> np.ndarray:
    """Gallery indices of each row of ``scores`` (Q, N), best first; ties keep gallery order."""
    return np.argsort(-_sort_key(scores), axis=-1, kind="stable")


def top_k_order(scores: np.ndarray, k: int) -> np.ndarray:
    """The first ``min(k, N)`` columns of :func:`rank_order` (same tie rule), found without
    sorting whole rows: a partition finds each row's k-th best score, then only the items at
    least that good are sorted."""
    key = _sort_key(scores)
    n = key.shape[1]
    k = min(_check_k(k), n)
    if k == n:
        return rank_order(key)
    kth = np.partition(key, n - k, axis=1)[:, n - k]
    out = np.empty((len(key), k), dtype=np.int64)
    for i, row in enumerate(key):
        candidates = np.flatnonzero(row >= kth[i])
        out[i] = candidates[np.argsort(-row[candidates], kind="stable")[:k]]
    return out


def _matching(scores: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, relevant = np.atleast_2d(scores), np.atleast_2d(np.asarray(relevant, dtype=bool))
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} differ in shape")
    return scores, relevant


def ranked_relevance(
    scores: np.ndarray, relevant: np.ndarray, chunk: int = DEFAULT_CHUNK
) -> np.ndarray:
    """Relevance (Q, N) of each query's gallery in ranked order (see :func:`rank_order`)."""
    scores, relevant = _matching(scores, relevant)
    out = np.empty(relevant.shape, dtype=bool)
    for start in range(0, len(scores), chunk):
        rows = slice(start, start + chunk)
        out[rows] = np.take_along_axis(relevant[rows], rank_order(scores[rows]), axis=1)
    return out


def _earlier_ties(key: np.ndarray, cols: np.ndarray, tied: np.ndarray) -> np.ndarray:
    """For each column in ``cols`` flagged ``tied``, how many earlier columns share its score."""
    out = np.zeros(len(cols), dtype=np.int64)
    for value in np.unique(key[cols[tied]]):
        equal_so_far = np.cumsum(key == value)
        here = tied & (key[cols] == value)
        out[here] = equal_so_far[cols[here]] - 1
    return out


def _row_ranks(key: np.ndarray, ascending: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """1-based ranks of the items ``cols`` in one row, ``ascending`` being the row sorted."""
    values = key[cols]
    above = np.searchsorted(ascending, values, side="right")
    ties = above - np.searchsorted(ascending, values, side="left")
    ranks = len(key) - above + 1
    if (ties > 1).any():
        ranks += _earlier_ties(key, cols, ties > 1)
    return np.sort(ranks)


def relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> list[np.ndarray]:
    """For each row, the ascending 1-based ranks of its relevant items in :func:`rank_order`.

    Equivalent to locating the relevant items in the ranking, without a stable argsort of every
    row: a plain sort of the scores gives the number of better items, and only rows with tied
    relevant items count the earlier ties.
    """
    scores, relevant = _matching(scores, relevant)
    key = _sort_key(scores)
    ascending = np.sort(key, axis=1)
    return [_row_ranks(key[i], ascending[i], np.flatnonzero(relevant[i])) for i in range(len(key))]


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, ``nan`` where ``den == 0``."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


@dataclass(frozen=True)
class QueryMetrics:
    """Per-query metrics (fractions); ``nan`` marks a query without relevant items."""

    precision: dict[int, np.ndarray]
    average_precision: np.ndarray
    n_relevant: np.ndarray

    @property
    def evaluated(self) -> np.ndarray:
        """Which queries have at least one relevant item (the ones that count)."""
        return self.n_relevant > 0


def metrics_from_ranks(ranks: Sequence[np.ndarray], ks: Sequence[int]) -> QueryMetrics:
    """precision@k and AP of each query from the ascending ranks of all its relevant items."""
    n_rel = np.array([len(r) for r in ranks], dtype=np.int64)
    flat = np.concatenate(ranks) if len(ranks) else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(len(ranks)), n_rel)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(n_rel) - n_rel, n_rel) + 1

    def per_query(weights: np.ndarray) -> np.ndarray:
        return np.bincount(row, weights=weights, minlength=len(ranks))

    precision = {
        k: _safe_divide(per_query(flat <= k), np.minimum(k, n_rel)) for k in map(_check_k, ks)
    }
    ap = _safe_divide(per_query(position / np.maximum(flat, 1)), n_rel)
    return QueryMetrics(precision, ap, n_rel)


def query_metrics(
    scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int], chunk: int = DEFAULT_CHUNK
) -> QueryMetrics:
    """precision@k for every k and AP of every query (rows of ``scores`` / ``relevant``, (Q, N)),
    ranking ``chunk`` queries at a time."""
    scores, relevant = np.atleast_2d(scores), np.atleast_2d(relevant)
    ranks: list[np.ndarray] = []
    for start in range(0, len(scores), chunk):
        rows = slice(start, start + chunk)
        ranks += relevant_ranks(scores[rows], relevant[rows])
    return metrics_from_ranks(ranks, ks)
