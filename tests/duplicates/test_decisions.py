"""Duplicate decisions that stay: keep / remove / not a duplicate saved in the collection,
honoured by the finder on re-runs with other thresholds, bulk accepts, keep suggestions for exact
copies, distances in words and the exports (CSV, JSON, shell-safe removal list). Hand-built
collections with known groups."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.duplicates.decision_export import export, removal_script
from cdir.duplicates.decisions import (
    accept_suggestions,
    decide,
    decision_rows,
    distance_words,
    find_decided_groups,
    forget,
    load_decided,
    looks_like_copy,
    split_hook,
    suggested_keep,
)
from cdir.duplicates.finder import DedupConfig, DupGroup, find_groups
from cdir.store.collection import Store, StoreError, normalise_items

# pHash of 5 items: 0..2 within 4 bits of each other, 3 is 2 bits from 2 but 6 from 0, 4 far away
HASHES = ["0000000000000000", "0000000000000003", "000000000000000f", "000000000000003f",
          "ffffffffffff0000"]


def perceptual_store(root: Path) -> Store:
    n = len(HASHES)
    files = [root / "src" / f"img {i}'s.png" for i in range(n)]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
    items = normalise_items(pd.DataFrame({
        "id": range(n), "path": [str(f) for f in files], "rel_path": [f.name for f in files],
        "sha256": [f"s{i}" for i in range(n)], "pixel_sha256": [f"p{i}" for i in range(n)],
        "phash": HASHES, "phash_mirror": HASHES, "width": 64, "height": 64, "file_size": 100,
        "status": "ok", "caption": [f"caption {i}" for i in range(n)],
        "prompt": ["a prompt", None, None, None, None]}))
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
        groups = find_decided_groups(again, perceptual(bits))
        for g in groups:
            assert not (2 in g.members and ({0, 1} & set(g.members))), (bits, g.members)
        assert any({0, 1} <= set(g.members) for g in groups)
    # with no decisions the finder groups 2 with 0 and 1 again
    assert any({0, 1, 2} <= set(g.members) for g in find_groups(store, perceptual(6)))
    forget(store.root, [2])
    assert any({0, 1, 2} <= set(g.members) for g in find_decided_groups(store, perceptual(6)))


def test_splitting_out_the_representative_scores_the_rest_against_the_next(store: Store) -> None:
    group = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0})
    decide(store.root, group, 0, "not_duplicate")
    [rest] = split_hook(store)([group])
    assert rest.members == [1, 2] and rest.representative == 1
    assert rest.scores == {1: 0.0, 2: 2.0}  # 0x3 vs 0xf: 2 bits
    assert split_hook(store)([DupGroup("perceptual", [0, 2], 0, {0: 0.0, 2: 4.0})]) == []
    other = DupGroup("perceptual", [0, 4], 0, {0: 0.0, 4: 32.0})  # 0 was not marked apart of 4
    assert split_hook(store)([other]) == [other]


def test_semantic_rescoring_uses_cosine(store: Store) -> None:
    store.image_emb = np.array([[1, 0], [0.6, 0.8], [0.8, 0.6], [0, 1], [-1, 0]], np.float32)
    group = DupGroup("semantic", [0, 1, 2], 0, {0: 1.0, 1: 0.6, 2: 0.8})
    decide(store.root, group, 0, "not_duplicate")
    [rest] = split_hook(store)([group])
    assert rest.scores[1] == pytest.approx(1.0) and rest.scores[2] == pytest.approx(0.96)


def test_keep_and_remove_survive_and_bulk_accept_respects_earlier_decisions(store: Store) -> None:
    groups = [DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 4.0}),
              DupGroup("exact", [3, 4], 3, {3: 1.0, 4: 1.0})]
    decide(store.root, groups[0], 1, "keep")
    assert accept_suggestions(store, groups, tier="perceptual") == 2
    decided = load_decided(store.root)
    assert {i: d.decision for i, d in decided.items()} == {0: "remove", 1: "keep", 2: "remove"}
    assert accept_suggestions(store, groups) == 2  # the exact group now
    assert accept_suggestions(store, groups, overwrite=True) == 5
    assert load_decided(store.root)[1].decision == "remove"  # suggestion: lowest id 0 kept
    assert load_decided(store.root)[0].decision == "keep"
    with pytest.raises(ValueError, match="one of keep, remove"):
        decide(store.root, groups[0], 0, "delete")
    with pytest.raises(ValueError, match="not in this group"):
        decide(store.root, groups[0], 4, "keep")


def test_a_damaged_decisions_file_says_how_to_recover(store: Store) -> None:
    path = store.root / "dupes" / "decided.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"items": {"1": {"decision": "burn"}}}')
    with pytest.raises(StoreError, match="move dupes/decided.json away"):
        load_decided(store.root)


# --------------------------------------------------------------------------- exact copies
@pytest.mark.parametrize(("name", "copy"), [
    ("cat_copy.png", True), ("cat copy 2.png", True), ("cat-copy.jpg", True),
    ("Copy of cat.png", True), ("cat (1).png", True), ("cat.png", False),
    ("copycat.png", False), ("photocopy.png", False)])
def test_copy_names(name: str, copy: bool) -> None:
    assert looks_like_copy(name) is copy


def exact_store(root: Path, names: list[str], mtimes: list[int]) -> Store:
    for name, mtime in zip(names, mtimes, strict=True):
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    n = len(names)
    items = normalise_items(pd.DataFrame({
        "id": range(n), "path": [str(root / "src" / f) for f in names], "rel_path": names,
        "sha256": "s", "pixel_sha256": "same", "width": 10, "height": 10, "file_size": 5,
        "status": "ok"}))
    return Store(root, items=items)


def test_exact_copies_keep_the_file_not_named_copy_then_the_earliest_then_the_shortest(
        tmp_path: Path) -> None:
    s = exact_store(tmp_path / "a", ["cat_copy.png", "cat (1).png", "cat.png"], [1, 2, 3])
    [group] = find_groups(s, DedupConfig(tiers=("exact",)))
    assert group.representative == 0  # the finder's representative: lowest id
    assert suggested_keep(s, group) == 2  # the only name that does not say copy
    s = exact_store(tmp_path / "b", ["b.png", "a.png", "long_name.png"], [5, 3, 3])
    [group] = find_groups(s, DedupConfig(tiers=("exact",)))
    assert suggested_keep(s, group) == 1  # earliest two: 1 and 2; shorter name: 1


def test_distance_in_words() -> None:
    p = DupGroup("perceptual", [0, 1, 2], 0, {0: 0.0, 1: 2.0, 2: 1.0})
    assert [distance_words(p, m) for m in p.members] == ["representative", "pHash 2 bits apart",
                                                         "pHash 1 bit apart"]
    s = DupGroup("semantic", [3, 4], 3, {3: 1.0, 4: 0.9712})
    assert distance_words(s, 4) == "cosine 0.97"
    assert distance_words(DupGroup("exact", [5, 6], 5, {5: 1.0, 6: 1.0}), 6) == "identical pixels"


# -------------------------------------------------------------------------------- exports
def test_rows_and_exports(store: Store, tmp_path: Path) -> None:
    groups = [DupGroup("perceptual", [0, 1], 0, {0: 0.0, 1: 2.0})]
    decide(store.root, DupGroup("perceptual", [2, 3], 2, {2: 0.0, 3: 2.0}), 3, "not_duplicate")
    rows = decision_rows(store, groups)
    assert [(r["group"], r["id"], r["decision"], r["decided"]) for r in rows] == [
        (0, 0, "keep", False), (0, 1, "remove", False), (None, 3, "not_duplicate", True)]
    assert rows[0]["prompt"] == "a prompt" and rows[1]["distance"] == "pHash 2 bits apart"
    assert rows[2]["apart_from"] == [2]
    doc = json.loads(export(store, rows, tmp_path / "d.json").read_text())
    assert doc == json.loads(json.dumps(rows))
    csv_lines = export(store, rows, tmp_path / "d.csv").read_text().splitlines()
    assert csv_lines[0].startswith("group,tier,id,file,decision,decided") and len(csv_lines) == 4
    with pytest.raises(ValueError, match=".csv, .json or .sh"):
        export(store, rows, tmp_path / "d.png")


def test_the_removal_list_is_shell_safe_and_deletes_nothing_itself(store: Store,
                                                                 tmp_path: Path) -> None:
    hostile = store.root / "src" / "x'; touch PWNED; echo '$(id) -rf.png"
    hostile.write_bytes(b"x")
    store.items.loc[1, "path"] = str(hostile)
    store.items.loc[2, "tile"] = 2  # a tile: no file of its own
    rows = [{"group": g, "id": i, "decision": d} for g, i, d in [
        (0, 0, "keep"), (0, 1, "remove"), (0, 2, "remove"), (1, 3, "remove"), (1, 4, "remove")]]
    script = removal_script(store, rows)
    assert hostile.exists()  # nothing deleted by cdir
    commands = [line for line in script.splitlines() if line.startswith("rm ")]
    assert [shlex.split(c) for c in commands] == [
        ["rm", "--", str(hostile)], ["rm", "--", str(store.item_path(3))],
        ["rm", "--", str(store.item_path(4))]]
    assert "item 2 is a tile" in script and "every member of group 1" in script
    out = export(store, rows, tmp_path / "remove.sh")
    subprocess.run(["sh", str(out)], cwd=tmp_path, check=True)  # run by the user, here the test
    assert not hostile.exists() and not store.item_path(3).exists()
    assert store.item_path(0).exists() and not (tmp_path / "PWNED").exists()
