"""Grouping by one tier's metric: the kNN edges that pass its threshold, their connected
components, and greedy complete linkage inside each component (every member passes against every
other; the rule :data:`cdir.duplicates.finder.GROUPING_RULE` states).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Metric:
    """How one tier compares items: ``score(row, rows)``, and the threshold that passes."""

    score: Callable[[int, np.ndarray], np.ndarray]
    threshold: float
    higher_is_closer: bool

    def passes(self, values: np.ndarray) -> np.ndarray:
        return values >= self.threshold if self.higher_is_closer else values <= self.threshold

    def closest_first(self, values: np.ndarray) -> np.ndarray:
        return np.argsort(-values if self.higher_is_closer else values, kind="stable")


def threshold_edges(
    values: np.ndarray, nbr: np.ndarray, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) of the kNN edges that pass the threshold (NaN slots never pass)."""
    ok = (nbr >= 0) & metric.passes(values)
    sources = np.broadcast_to(np.arange(len(nbr))[:, None], nbr.shape)[ok]
    return sources, nbr[ok]


def components(n: int, sources: np.ndarray, targets: np.ndarray) -> Iterator[np.ndarray]:
    """The connected components with at least two nodes, as sorted index arrays."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(sources), np.int8), (sources, targets)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    for part in np.split(order, cuts):
        if len(part) > 1:
            yield part


def complete_linkage(
    nodes: np.ndarray, metric: Metric, degree: np.ndarray
) -> list[tuple[int, list[int], list[float]]]:
    """Greedy complete-linkage groups of one component (see
    :data:`cdir.duplicates.finder.GROUPING_RULE`): [(representative, members closest first, their
    scores against it)] with >= 2 members."""
    if len(nodes) > LARGE_COMPONENT:
        log.warning(
            "%d items are linked into one cluster: the threshold is probably too loose "
            "(see the calibration histogram); grouping them takes a while",
            len(nodes),
        )
    remaining = list(nodes[np.lexsort((nodes, -degree[nodes]))])
    groups = []
    while len(remaining) > 1:
        members, scores = _grow(remaining[0], np.array(remaining[1:], dtype=np.int64), metric)
        taken = set(members)
        remaining = [r for r in remaining if r not in taken]
        if len(members) > 1:
            groups.append((members[0], members, scores))
    return groups


LARGE_COMPONENT = 10_000


def _grow(seed: int, rest: np.ndarray, metric: Metric) -> tuple[list[int], list[float]]:
    """``seed`` and, closest first, every item of ``rest`` that passes against all members so
    far; with the scores against the seed."""
    values = metric.score(seed, rest)
    passing = np.flatnonzero(metric.passes(values))
    members, scores = [int(seed)], [float(metric.score(seed, _positions([seed]))[0])]
    for pos in passing[metric.closest_first(values[passing])]:
        if metric.passes(metric.score(int(rest[pos]), _positions(members))).all():
            members.append(int(rest[pos]))
            scores.append(float(values[pos]))
    return members, scores


def _positions(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def graph_groups(
    values: np.ndarray, nbr: np.ndarray, metric: Metric
) -> list[tuple[int, list[int], list[float]]]:
    """Groups over positions 0..n-1 from a kNN graph: threshold, components, complete linkage."""
    sources, targets = threshold_edges(values, nbr, metric)
    degree = np.bincount(np.concatenate([sources, targets]), minlength=len(nbr))
    groups = []
    for part in components(len(nbr), sources, targets):
        groups.extend(complete_linkage(part, metric, degree))
    return groups
