"""Duplicate decisions that stay: keep / remove / not a duplicate / alternate saved in the
collection as relations, honoured by the one duplicates path on re-runs with other thresholds
(transitively), bulk accepts (never the semantic tier unless named), keep suggestions for exact
copies, distances in words and the one exporter (CSV, JSON, shell-safe removal list of decided
removals, relative paths). Hand-built collections with known groups."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.duplicates.decisions import (
    accept_suggestions,
    decide,
    forget,
    load_decided,
    same_components,
    split_apart,
)
from cdir.duplicates.export import export, removal_script
from cdir.duplicates.finder import DedupConfig, DupGroup, find_groups
from cdir.duplicates.groups import find_duplicates
from cdir.duplicates.keep import choose_keep, looks_like_copy
from cdir.duplicates.rows import decision_rows
from cdir.store.collection import Store, StoreError, normalise_items

# pHash of 5 items: 0..2 within 4 bits of each other, 3 is 2 bits from 2 but 6 from 0, 4 far away
HASHES = [
    "0000000000000000",
    "0000000000000003",
    "000000000000000f",
    "000000000000003f",
    "ffffffffffff0000",
]


def perceptual_store(root: Path) -> Store:
    n = len(HASHES)
    files = [root / "src" / f"img {i}'s.png" for i in range(n)]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(n),
                "path": [str(f) for f in files],
                "rel_path": [f.name for f in files],
                "sha256": [f"s{i}" for i in range(n)],
                "pixel_sha256": [f"p{i}" for i in range(n)],
                "phash": HASHES,
                "phash_mirror": HASHES,
                "width": 64,
                "height": 64,
                "file_size": 100,
                "status": "ok",
                "caption": [f"caption {i}" for i in range(n)],
                "prompt": ["a prompt", None, None, None, None],
            }
        )
    )
    root.mkdir(parents=True, exist_ok=True)
    return Store(root, items=items)


def perceptual(bits: int) -> DedupConfig:
    return DedupConfig(tiers=("perceptual",), perceptual_max_distance=bits)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return perceptual_store(tmp_path / "store")


def members(groups: list[DupGroup]) -> list[list[int]]:
    return [g.members for g in groups]


def test_not_a_duplicate_is_kept_across_runs_with_other_thresholds(store: Store) -> None:
    [group] = [g for g in find_groups(store, perceptual(4)) if 0 in g.members]
    assert set(group.members) == {0, 1, 2}
    decide(store.root, group, 2, "not_duplicate")
    assert load_decided(store.root)[2].apart_from == (0, 1)
    again = Store(store.root, items=store.items)  # a later run, as after a restart
    for bits in (4, 6, 8):
        groups = find_duplicates(again, perceptual(bits))
        for g in groups:
            assert not (2 in g.members and ({0, 1} & set(g.members))), (bits, g.members)
        assert any({0, 1} <= set(g.members) for g in groups)
    # with no decisions the finder groups 2 with 0 and 1 again
    assert any({0, 1, 2} <= set(g.members) for g in find_groups(store, perceptual(6)))
    forget(store.root, [2])
    assert any({0, 1, 2} <= set(g.members) for g in find_duplicates(store, perceptual(6)))


def test_splitting_out_the_representative_scores_the_rest_against_the_next(store: Store) -> None:
    group = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0})
    decide(store.root, group, 0, "not_duplicate")
    decided = load_decided(store.root)
    [rest] = split_apart(store, [group], decided)
    assert rest.members == [1, 2] and rest.representative == 1
    assert rest.scores == {1: 0.0, 2: 2.0}  # 0x3 vs 0xf: 2 bits
    assert split_apart(store, [DupGroup("perceptual", [0, 2], 0, {0: 0.0, 2: 4.0})], decided) == []
    other = DupGroup("perceptual", [0, 4], 0, {0: 0.0, 4: 32.0})  # 0 was not marked apart of 4
    assert split_apart(store, [other], decided) == [other]


def test_semantic_rescoring_uses_cosine(store: Store) -> None:
    store.image_emb = np.array([[1, 0], [0.6, 0.8], [0.8, 0.6], [0, 1], [-1, 0]], np.float32)
    group = DupGroup("semantic", [0, 1, 2], 0, {0: 1.0, 1: 0.6, 2: 0.8})
    decide(store.root, group, 0, "not_duplicate")
    [rest] = split_apart(store, [group], load_decided(store.root))
    assert rest.scores[1] == pytest.approx(1.0) and rest.scores[2] == pytest.approx(0.96)


def test_keep_and_remove_survive_and_bulk_accept_respects_earlier_decisions(store: Store) -> None:
    groups = [
        DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0}, keep=0),
        DupGroup("exact", [3, 4], 3, {3: 1.0, 4: 1.0}, keep=3),
    ]
    decide(store.root, groups[0], 1, "keep")
    assert accept_suggestions(store.root, groups, tiers=("perceptual",)) == 2
    decided = load_decided(store.root)
    assert {i: d.decision for i, d in decided.items()} == {0: "remove", 1: "keep", 2: "remove"}
    assert decided[2].distance == "pHash 4 bits apart" and decided[2].with_ == (0, 1)
    assert accept_suggestions(store.root, groups) == 2  # the exact group now
    assert accept_suggestions(store.root, groups, overwrite=True) == 5
    assert load_decided(store.root)[1].decision == "remove"  # the suggestion 0 kept
    assert load_decided(store.root)[0].decision == "keep"
    with pytest.raises(ValueError, match="one of keep, remove"):
        decide(store.root, groups[0], 0, "delete")
    with pytest.raises(ValueError, match="not in this group"):
        decide(store.root, groups[0], 4, "keep")


def test_bulk_accept_leaves_the_semantic_tier_and_alternates_alone(store: Store) -> None:
    semantic = DupGroup("semantic", [3, 4], 3, {3: 1.0, 4: 0.97}, keep=3)
    perceptual_group = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0}, keep=0)
    decide(store.root, perceptual_group, 2, "alternate")
    assert accept_suggestions(store.root, [semantic, perceptual_group]) == 2
    decided = load_decided(store.root)
    assert 3 not in decided and 4 not in decided  # not named: untouched
    assert decided[2].decision == "alternate"  # never turned into a removal
    assert accept_suggestions(store.root, [semantic], tiers=("semantic",)) == 2
    rows = decision_rows(store, [perceptual_group])
    assert "img 2" not in removal_script(store, rows)


def test_one_keep_per_group(store: Store) -> None:
    group = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0})
    decide(store.root, group, 0, "keep")
    decide(store.root, group, 1, "keep")
    decided = load_decided(store.root)
    assert (decided[0].decision, decided[1].decision) == ("remove", "keep")


def test_decisions_are_transitive_and_survive_a_stricter_threshold(store: Store) -> None:
    # A with B decided in one group, B with C in another: one group of A, B, C afterwards
    decide(store.root, DupGroup("perceptual", [0, 1], 0, {0: 0.0, 1: 2.0}), 0, "keep")
    decide(store.root, DupGroup("perceptual", [0, 1], 0, {0: 0.0, 1: 2.0}), 1, "remove")
    decide(store.root, DupGroup("perceptual", [1, 3], 1, {1: 0.0, 3: 4.0}), 1, "remove")
    decide(store.root, DupGroup("perceptual", [1, 3], 1, {1: 0.0, 3: 4.0}), 3, "remove")
    assert same_components(load_decided(store.root)) == [{0, 1, 3}]
    for bits in (0, 2, 8):  # whatever the threshold, the decided items stay one group
        groups = find_duplicates(store, perceptual(bits))
        assert sum({0, 1, 3} <= set(g.members) for g in groups) == 1, bits
        [group] = [g for g in groups if 0 in g.members]
        assert group.keep == 0 and group.keep_reason == "your choice"
    # ...unless one of them is later marked apart
    [group] = [g for g in find_duplicates(store, perceptual(8)) if 3 in g.members]
    decide(store.root, group, 3, "not_duplicate")
    assert not any({0, 3} <= set(g.members) for g in find_duplicates(store, perceptual(8)))


def test_a_damaged_decisions_file_says_how_to_recover(store: Store) -> None:
    path = store.root / "dupes" / "decided.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"items": {"1": {"decision": "burn"}}}')
    with pytest.raises(StoreError, match="move dupes/decided.json away"):
        load_decided(store.root)


# --------------------------------------------------------------------------- exact copies
@pytest.mark.parametrize(
    ("name", "copy"),
    [
        ("cat_copy.png", True),
        ("cat copy 2.png", True),
        ("cat-copy.jpg", True),
        ("Copy of cat.png", True),
        ("cat (1).png", True),
        ("cat.png", False),
        ("copycat.png", False),
        ("photocopy.png", False),
    ],
)
def test_copy_names(name: str, copy: bool) -> None:
    assert looks_like_copy(name) is copy


def exact_store(root: Path, names: list[str], mtimes: list[int]) -> Store:
    for name, mtime in zip(names, mtimes, strict=True):
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    n = len(names)
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(n),
                "path": [str(root / "src" / f) for f in names],
                "rel_path": names,
                "sha256": "s",
                "pixel_sha256": "same",
                "width": 10,
                "height": 10,
                "file_size": 5,
                "status": "ok",
            }
        )
    )
    return Store(root, items=items)


def test_exact_copies_keep_the_file_not_named_copy_then_the_earliest_then_the_shortest(
    tmp_path: Path,
) -> None:
    s = exact_store(tmp_path / "a", ["cat_copy.png", "cat (1).png", "cat.png"], [1, 2, 3])
    [group] = find_duplicates(s, DedupConfig(tiers=("exact",)))
    assert group.representative == group.keep == 2  # the keep leads the group
    assert group.members == [2, 0, 1] and "name does not say copy" in group.keep_reason
    s = exact_store(tmp_path / "b", ["b.png", "a.png", "long_name.png"], [5, 3, 3])
    [group] = find_duplicates(s, DedupConfig(tiers=("exact",)))
    assert choose_keep(s, "exact", group.members).item == 1  # earliest 1 and 2; shorter: 1


def test_distance_in_words() -> None:
    p = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 1.0})
    assert [p.distance(m) for m in p.members] == [
        "representative",
        "pHash 2 bits apart",
        "pHash 1 bit apart",
    ]
    s = DupGroup("semantic", [3, 4], 3, {3: 1.0, 4: 0.9712})
    assert s.distance(4) == "cosine 0.97"
    assert DupGroup("exact", [5, 6], 5, {5: 1.0, 6: 1.0}).distance(6) == "identical pixels"


# -------------------------------------------------------------------------------- exports
def test_rows_and_exports(store: Store, tmp_path: Path) -> None:
    groups = [DupGroup("perceptual", [0, 1], 0, {0: 0.0, 1: 2.0}, keep=0, keep_reason="larger")]
    decide(store.root, DupGroup("perceptual", [2, 3], 2, {2: 0.0, 3: 2.0}), 3, "not_duplicate")
    rows = decision_rows(store, groups)
    assert [(r["group"], r["id"], r["decision"], r["decided"]) for r in rows] == [
        (1, 0, "keep", False),
        (1, 1, "remove", False),
        (None, 3, "not_duplicate", True),
    ]
    assert rows[0]["prompt"] == "a prompt" and rows[1]["distance"] == "pHash 2 bits apart"
    assert rows[0]["keep_reason"] == "larger" and rows[1]["keep_file"] == "img 0's.png"
    assert rows[2]["apart_from"] == [2]
    doc = json.loads(export(store, rows, tmp_path / "d.json").read_text())
    assert doc == json.loads(json.dumps(rows))
    csv_lines = export(store, rows, tmp_path / "d.csv").read_text().splitlines()
    assert csv_lines[0].startswith("group,tier,id,file,decision,decided") and len(csv_lines) == 4
    with pytest.raises(ValueError, match=".csv, .json or .sh"):
        export(store, rows, tmp_path / "d.png")
    # a suggestion is not a decision: nothing to remove yet
    assert "\nrm " not in removal_script(store, rows)


def test_the_removal_list_is_shell_safe_relative_and_deletes_nothing_itself(
    store: Store, tmp_path: Path
) -> None:
    hostile = store.root / "src" / "x'; touch PWNED; echo '$(id) -rf.png"
    hostile.write_bytes(b"x")
    store.items.loc[1, "path"] = str(hostile)
    store.items.loc[1, "rel_path"] = hostile.name
    store.items.loc[2, "tile"] = 2  # a tile: no file of its own
    rows = [
        {
            "group": g,
            "id": i,
            "decision": d,
            "decided": True,
            "tier": "perceptual",
            "distance": "pHash 2 bits apart",
            "keep_file": "img 0's.png",
        }
        for g, i, d in [
            (1, 0, "keep"),
            (1, 1, "remove"),
            (1, 2, "remove"),
            (2, 3, "remove"),
            (2, 4, "remove"),
        ]
    ]
    script = removal_script(store, rows)
    assert hostile.exists()  # nothing deleted by cdir
    assert str(store.root) not in script  # no server path
    commands = [line for line in script.splitlines() if line.startswith("rm ")]
    assert [shlex.split(c, comments=True) for c in commands] == [
        ["rm", "--", hostile.name],
        ["rm", "--", "img 3's.png"],
        ["rm", "--", "img 4's.png"],
    ]
    assert all("perceptual, pHash 2 bits apart" in c for c in commands)
    assert "item 2 is a tile" in script and "every member of group 2" in script
    out = export(store, rows, tmp_path / "remove.sh")
    # run by the user inside the folder they gave, here the test
    subprocess.run(["sh", str(out)], cwd=store.root / "src", check=True)
    assert not hostile.exists() and not store.item_path(3).exists()
    assert store.item_path(0).exists() and not (store.root / "src" / "PWNED").exists()
