"""One result card per duplicate group: a ranking's near-duplicates folded under the best-ranked
member of their group, so that a picture and its copies take one of the ``k`` places.

The groups come from the collection's one duplicates engine (``cdir.duplicates.groups``, the
exact and perceptual groups kept in the collection, saved decisions applied); this module only
folds a ranking by them, so it takes the groups as plain lists of item ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdir.retrieval.search import Hit


def merge_overlapping(groups: Sequence[Sequence[int]]) -> list[list[int]]:
    """``groups`` with those sharing a member joined (the engine's tiers may overlap: an exact
    group inside a perceptual one), each member once, in the order first met."""
    merged: list[list[int]] = []
    where: dict[int, int] = {}  # member -> index in merged
    for group in groups:
        members = [int(m) for m in group]
        hits = sorted({where[m] for m in members if m in where})
        if not hits:
            target = len(merged)
            merged.append([])
        else:
            target = hits[0]
            for other in reversed(hits[1:]):  # fold later groups into the first one met
                for m in merged[other]:
                    merged[target].append(m)
                    where[m] = target
                merged[other] = []
        for m in members:
            if where.get(m) != target:
                where[m] = target
                merged[target].append(m)
    return [g for g in merged if g]


def depth_for(k: int, groups: Sequence[Sequence[int]], n_items: int) -> int:
    """How many ranked hits to fetch so that folding ``groups`` still leaves ``k`` cards when
    the collection has them: ``k`` plus every member that could be folded, at most
    ``n_items``."""
    hidden = sum(max(len(g) - 1, 0) for g in groups)
    return max(1, min(int(k) + hidden, int(n_items)))


def collapse_hits(hits: Sequence[Hit], groups: Sequence[Sequence[int]], k: int) -> list[Hit]:
    """The first ``k`` cards of ``hits`` (in rank order) with one card per group: the
    best-ranked member of a group holds, in ``near_duplicates``, the ids of the other members
    of its group found among ``hits`` (ranked anywhere in them); items of no group stay as
    they are. Groups sharing a member count as one (:func:`merge_overlapping`). Ranks are
    renumbered 1..n; scores are the cards' own."""
    group_of = {m: i for i, g in enumerate(merge_overlapping(groups)) for m in g}
    cards: list[Hit] = []
    folded: dict[int, list[int]] = {}  # group index -> ids folded under its card
    shown: dict[int, int] = {}  # group index -> position of its card in ``cards``
    for hit in hits:
        group = group_of.get(int(hit.id))
        if group is not None and group in shown:
            folded[group].append(int(hit.id))
            continue
        if len(cards) >= k:
            continue
        if group is not None:
            shown[group], folded[group] = len(cards), []
        cards.append(hit)
    for group, position in shown.items():
        cards[position] = replace(cards[position], near_duplicates=tuple(folded[group]))
    return [replace(card, rank=rank) for rank, card in enumerate(cards, start=1)]
