"""Near-duplicate grouping on hand-built collections whose groups are known: the exact tier,
complete linkage (representative, order, scores), stricter tiers not repeated, tiles kept apart
from their own grid, missing hashes and vectors, the report and the config checks. Fast: these
are the finder's own tests in the mutation check."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from cdir.duplicates.finder import (
    DedupConfig,
    config_with_threshold,
    find_groups,
    hex_to_uint64,
)
from cdir.duplicates.groups import find_duplicates
from cdir.duplicates.keep import choose_keep
from cdir.duplicates.rows import groups_report
from tests.duplicates.test_dup_thresholds import BASE, flip, hexes, memory_store


def members(groups) -> list[tuple[str, list[int]]]:  # noqa: ANN001
    return [(g.tier, g.members) for g in groups]


def test_exact_groups_by_pixels_lowest_id_first(tmp_path: Path) -> None:
    store = memory_store(
        tmp_path,
        6,
        pixel_sha256=["b", "a", "b", "a", "b", None],
        status=["ok", "ok", "ok", "ok", "failed", "ok"],
    )
    groups = find_groups(store, DedupConfig(tiers=("exact",)))
    assert members(groups) == [("exact", [0, 2]), ("exact", [1, 3])]  # 4 failed, 5 has no hash
    assert [g.representative for g in groups] == [0, 1]
    assert groups[0].scores == {0: 1.0, 2: 1.0}


def test_a_single_or_no_item_has_no_group(tmp_path: Path) -> None:
    one = memory_store(tmp_path, 1, phash=hexes(BASE), image_emb=np.eye(1, 4))
    assert find_groups(one) == []
    none = memory_store(tmp_path, 2, phash=[None, None])
    assert find_groups(none, DedupConfig(tiers=("perceptual", "semantic"))) == []


def test_the_most_linked_item_represents_and_members_come_closest_first(tmp_path: Path) -> None:
    """1 is 2, 4, 6 and 8 bits from 0, 2, 3 and 4; 0, 2 and 3 are within 4 bits of each other,
    4 is 8 bits from 1 only: 1 has the most links, so it leads; 4 fails against 0."""
    hashes = [flip(BASE, 2), BASE, flip(BASE, 4), flip(BASE, 6), flip(BASE, 8, start=40)]
    store = memory_store(tmp_path, 5, phash=hexes(*hashes))
    groups = find_groups(
        store, DedupConfig(tiers=("perceptual",), perceptual_max_distance=8, mirror=False)
    )
    assert members(groups) == [("perceptual", [1, 0, 2, 3])]
    assert groups[0].representative == 1
    assert groups[0].scores == {1: 0.0, 0: 2.0, 2: 4.0, 3: 6.0}


def test_a_member_must_pass_against_every_member_not_only_the_seed(tmp_path: Path) -> None:
    """0 is the seed (linked to 1, 2 and 3); 2 and 3 are 8 bits from 0 but 16 from each other:
    the closer 2 joins, then 3 fails against 2 and is left out of the group."""
    hashes = [BASE, flip(BASE, 2), flip(BASE, 6, start=2) ^ 0b11, flip(BASE, 8, start=20)]
    store = memory_store(tmp_path, 4, phash=hexes(*hashes))
    config = DedupConfig(tiers=("perceptual",), perceptual_max_distance=8, mirror=False)
    assert members(find_groups(store, config)) == [("perceptual", [0, 1, 2])]


def test_semantic_scores_are_cosines_against_the_representative(tmp_path: Path) -> None:
    emb = np.zeros((4, 4), np.float32)
    emb[0, 0] = 1.0
    emb[1, :2] = (0.96, np.sqrt(1 - 0.96**2))
    emb[2, :3] = (0.98, 0.0, np.sqrt(1 - 0.98**2))
    emb[3, 3] = 1.0
    store = memory_store(tmp_path, 4, image_emb=emb)
    groups = find_groups(store, DedupConfig(tiers=("semantic",), semantic_min_similarity=0.9))
    assert members(groups) == [("semantic", [0, 2, 1])]
    assert groups[0].scores == pytest.approx({0: 1.0, 2: 0.98, 1: 0.96})


def test_items_without_a_vector_are_not_grouped(tmp_path: Path) -> None:
    emb = np.zeros((3, 4), np.float32)
    emb[0, 0] = emb[1, 0] = 1.0  # row 2 has no image embedding (all zero)
    store = memory_store(tmp_path, 3, image_emb=emb, status=["ok", "ok", "ok"])
    assert members(find_groups(store, DedupConfig(tiers=("semantic",)))) == [("semantic", [0, 1])]
    failed = memory_store(tmp_path, 3, image_emb=np.ones((3, 4)) / 2, status=["ok", "failed", "ok"])
    assert members(find_groups(failed, DedupConfig(tiers=("semantic",)))) == [("semantic", [0, 2])]


def test_a_looser_tier_repeats_no_stricter_group_but_keeps_a_larger_one(tmp_path: Path) -> None:
    store = memory_store(
        tmp_path,
        5,
        pixel_sha256=["p", "p", "q", "r", "r"],
        phash=hexes(BASE, BASE, flip(BASE, 2), flip(BASE, 40), flip(BASE, 40)),
    )
    groups = find_groups(store, DedupConfig(tiers=("perceptual", "exact"), mirror=False))
    assert members(groups) == [("perceptual", [0, 1, 2]), ("exact", [0, 1]), ("exact", [3, 4])]


def test_groups_are_sorted_largest_first_then_strictest_tier_then_representative(
    tmp_path: Path,
) -> None:
    emb = np.zeros((7, 4), np.float32)
    emb[[0, 1], 0] = 1.0
    emb[[2, 3, 4], 1] = 1.0
    emb[[5, 6], 2] = 1.0
    store = memory_store(tmp_path, 7, image_emb=emb, pixel_sha256=list("abcdeff"))
    groups = find_groups(store, DedupConfig(tiers=("exact", "semantic")))
    assert members(groups) == [("semantic", [2, 3, 4]), ("exact", [5, 6]), ("semantic", [0, 1])]


def test_a_tile_is_never_grouped_with_its_own_grid(tmp_path: Path) -> None:
    """Item 0 is a grid, 1 its tile, 2 another file: the tile may pair with 2, never with 0."""
    store = memory_store(
        tmp_path, 3, phash=hexes(BASE, BASE, BASE), parent_id=[-1, 0, -1], tile=[-1, 1, -1]
    )
    config = DedupConfig(tiers=("perceptual",), mirror=False)
    assert members(find_groups(store, config)) == [("perceptual", [0, 2])]
    emb = np.ones((3, 4), np.float32) / 2
    store.image_emb = emb
    groups = find_groups(store, DedupConfig(tiers=("semantic",)))
    assert members(groups) == [("semantic", [0, 2])]
    for group in groups:
        assert not {0, 1} <= set(group.members)
    lone = memory_store(tmp_path, 2, phash=hexes(BASE, BASE), parent_id=[-1, 0], tile=[-1, 1])
    assert find_groups(lone, config) == []


def test_hex_hashes_and_missing_ones() -> None:
    assert hex_to_uint64(["ffffffffffffffff", "0000000000000001", None, ""]).tolist() == [
        2**64 - 1,
        1,
        0,
        0,
    ]


def test_the_report_lists_every_member_with_its_file_score_and_keep(tmp_path: Path) -> None:
    store = memory_store(
        tmp_path, 3, pixel_sha256=["p", "p", "z"], width=[10, 50, 20], height=[10, 50, 20]
    )
    config = DedupConfig(tiers=("exact", "semantic"))
    groups = find_duplicates(store, DedupConfig(tiers=("exact",)), decided={})
    report = groups_report(store, groups, config, decided={})
    assert report["tiers"] == ["exact", "semantic"]
    assert report["thresholds"] == {"semantic": config.semantic_min_similarity}
    assert report["n_groups"] == 1 and report["decided_groups"] == 0
    assert report["groups"] == [
        {
            "tier": "exact",
            "size": 2,
            "representative": 0,
            "keep": 0,
            "keep_reason": "first of equals",
            "members": [
                {
                    "id": 0,
                    "file": "0.jpg",
                    "score": 1.0,
                    "distance": "representative",
                    "decision": None,
                },
                {
                    "id": 1,
                    "file": "1.jpg",
                    "score": 1.0,
                    "distance": "identical pixels",
                    "decision": None,
                },
            ],
        }
    ]
    assert DedupConfig().threshold("perceptual") == 8.0 and DedupConfig().threshold("exact") is None


def test_the_keep_breaks_ties_by_lowest_id(tmp_path: Path) -> None:
    store = memory_store(tmp_path, 3)
    assert choose_keep(store, "perceptual", [2, 1]).item == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tiers": ()}, "unknown tier"),
        ({"perceptual_max_distance": -1}, "number of bits"),
        ({"perceptual_max_distance": 65}, "number of bits"),
        ({"semantic_min_similarity": 1.01}, "cosine"),
        ({"semantic_min_similarity": -1.01}, "cosine"),
        ({"k": 0}, "at least 1"),
    ],
)
def test_bad_configs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DedupConfig(**kwargs)


def test_config_bounds_are_inclusive() -> None:
    for kwargs in (
        {"perceptual_max_distance": 0},
        {"perceptual_max_distance": 64},
        {"semantic_min_similarity": -1.0},
        {"semantic_min_similarity": 1.0},
        {"k": 1},
    ):
        DedupConfig(**kwargs)


def test_threshold_for_the_one_tuned_tier() -> None:
    assert config_with_threshold(("exact", "perceptual"), 6.0).perceptual_max_distance == 6
    assert config_with_threshold(("semantic",), 0.9).semantic_min_similarity == 0.9
    assert config_with_threshold(("semantic",), None) == DedupConfig(
        tiers=("semantic",), semantic_auto=True
    )
    with pytest.raises(ValueError, match="one tier"):
        config_with_threshold(("exact",), 0.9)


def test_the_keep_prefers_resolution_then_file_size_then_files_over_tiles(tmp_path: Path) -> None:
    store = memory_store(
        tmp_path,
        5,
        width=[100, 200, 200, 400, 200],
        height=[100, 200, 200, 400, 200],
        file_size=[900, 500, 800, 10, 800],
        tile=[-1, -1, -1, 1, -1],
        parent_id=[-1, -1, -1, 0, -1],
    )
    keep = functools.partial(choose_keep, store, "perceptual")
    assert keep([0, 1]).item == 1
    assert keep([1, 3]).item == 1  # tile 1 is bigger but is not a file
    assert keep([4, 2]).item == 2  # all equal: the lower id


def test_a_zero_vector_is_never_a_semantic_duplicate_even_at_threshold_0(tmp_path: Path) -> None:
    emb = np.zeros((3, 4), np.float32)
    emb[0, 0], emb[1, 1] = 1.0, 1.0  # orthogonal: cosine 0 passes a threshold of 0
    store = memory_store(tmp_path, 3, image_emb=emb)
    groups = find_groups(store, DedupConfig(tiers=("semantic",), semantic_min_similarity=0.0))
    assert members(groups) == [("semantic", [0, 1])]


def test_the_report_names_its_store_and_rule(tmp_path: Path) -> None:
    from cdir.duplicates.finder import GROUPING_RULE

    store = memory_store(tmp_path, 2, pixel_sha256=["p", "p"])
    report = groups_report(
        store,
        find_groups(store, DedupConfig(tiers=("exact",))),
        DedupConfig(tiers=("exact",)),
        decided={},
    )
    assert report["store"] == str(tmp_path) and report["grouping_rule"] == GROUPING_RULE


def test_threshold_keeps_the_chosen_tiers_and_says_what_to_fix() -> None:
    assert config_with_threshold(("exact", "perceptual"), 6).tiers == ("exact", "perceptual")
    assert config_with_threshold(("exact", "semantic"), 0.9).tiers == ("exact", "semantic")
    with pytest.raises(ValueError) as error:
        config_with_threshold(("perceptual", "semantic"), 6)
    assert str(error.value) == (
        "--threshold applies to one tier: add --tier perceptual "
        "(differing bits, e.g. 8) or --tier semantic (cosine, e.g. 0.95)"
    )
    with pytest.raises(ValueError) as error:
        config_with_threshold(("perceptual",), 6.5)
    assert str(error.value) == "the perceptual threshold is a number of bits, not 6.5"


def test_a_looser_group_spanning_two_stricter_groups_is_kept(tmp_path: Path) -> None:
    """Exact groups {0, 1} and {2, 3}; pHash links 1 and 2 only: that pair is in no single
    stricter group, so it is shown."""
    store = memory_store(
        tmp_path,
        4,
        pixel_sha256=["p", "p", "q", "q"],
        phash=hexes(flip(BASE, 30), BASE, BASE, flip(BASE, 30, start=34)),
    )
    groups = find_groups(store, DedupConfig(tiers=("exact", "perceptual"), mirror=False))
    assert members(groups) == [("exact", [0, 1]), ("exact", [2, 3]), ("perceptual", [1, 2])]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tiers": ("fuzzy",)},
            "unknown tier(s) ['fuzzy']; choose from exact, perceptual, semantic",
        ),
        ({"tiers": ()}, "unknown tier(s) (none given); choose from exact, perceptual, semantic"),
        ({"perceptual_max_distance": 65}, "perceptual_max_distance is a number of bits, 0..64"),
        ({"semantic_min_similarity": 2.0}, "semantic_min_similarity is a cosine similarity, -1..1"),
    ],
)
def test_config_messages_in_full(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        DedupConfig(**kwargs)
    assert str(error.value) == message
