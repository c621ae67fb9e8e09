"""Folding a ranking by duplicate groups: one card per group, the others' ids under it."""

from __future__ import annotations

from cdir.retrieval.collapse import collapse_hits, depth_for, merge_overlapping
from cdir.retrieval.search import Hit


def _hits(ids: list[int]) -> list[Hit]:
    return [
        Hit(r, i, 1.0 - r / 100, f"/x/{i}.png", f"{i}.png", "", None, None, None, None, 8, 8)
        for r, i in enumerate(ids, start=1)
    ]


def test_a_group_takes_one_card_at_its_best_rank_holding_the_others() -> None:
    # a grid's tiles and its upscale (1, 2, 3, 4) rank 2..5; item 5 and 9 are another pair
    hits = _hits([7, 1, 2, 3, 4, 5, 8, 9, 6])
    cards = collapse_hits(hits, [[1, 2, 3, 4], [9, 5]], k=4)
    assert [c.id for c in cards] == [7, 1, 5, 8]
    assert [c.rank for c in cards] == [1, 2, 3, 4]
    assert cards[1].near_duplicates == (2, 3, 4)
    assert cards[2].near_duplicates == (9,)  # ranked after the k-th card: still folded
    assert cards[0].near_duplicates == () and cards[3].near_duplicates == ()
    assert cards[1].score == hits[1].score  # the card keeps its own score


def test_no_groups_keeps_the_ranking() -> None:
    hits = _hits([3, 1, 2])
    assert [(c.id, c.rank) for c in collapse_hits(hits, [], k=2)] == [(3, 1), (1, 2)]


def test_depth_leaves_room_for_k_cards() -> None:
    assert depth_for(12, [[1, 2, 3, 4, 5], [6, 7]], 1000) == 12 + 4 + 1
    assert depth_for(12, [[1, 2]], 10) == 10


def test_overlapping_groups_fold_as_one() -> None:
    # an exact group inside a perceptual one, and a chain joining two groups
    assert merge_overlapping([[8, 9, 10, 13], [8, 9], [1, 2], [2, 3], [5]]) == [
        [8, 9, 10, 13],
        [1, 2, 3],
        [5],
    ]
    assert merge_overlapping([[1, 2], [3, 4], [4, 2]]) == [[1, 2, 3, 4]]
    cards = collapse_hits(_hits([9, 12, 8, 13]), [[8, 9, 13], [8, 9], [13, 12]], k=3)
    assert [(c.id, c.near_duplicates) for c in cards] == [(9, (12, 8, 13))]
