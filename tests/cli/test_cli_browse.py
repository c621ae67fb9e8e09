"""``cdir tag`` and ``cdir dupes --decide/--accept/--decisions/--show`` on hand-built collections
written to disk."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from cdir import cli
from cdir.duplicates.decisions import load_decided
from cdir.store.collection import Store
from cdir.store.tags import load_tags
from tests.browse.test_browse import make_store
from tests.duplicates.test_decisions import perceptual_store


def on_disk(store: Store) -> Path:
    created = Store.create(store.root, "tiny", "none", 8)
    created.items = store.items
    created.write()
    return store.root


def run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, Any, str]:
    code = cli.main([*map(str, args), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_tag_by_ids_and_by_filter_then_list_and_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = on_disk(make_store(tmp_path / "s"))
    code, doc, _ = run(capsys, "tag", root, "--add", "best", "--ids", 0, 3)
    assert code == 0 and doc == {"items": 2, "added": 2, "tags": {"best": 2}}
    code, doc, _ = run(
        capsys,
        "tag",
        root,
        "--add",
        "cats",
        "--filter",
        "text=cat",
        "domain=sketch",
        "domain=photo",
    )
    assert doc["added"] == 2 and load_tags(root) == {0: ["best", "cats"], 2: ["cats"], 3: ["best"]}
    code, doc, _ = run(capsys, "tag", root, "--remove", "best", "--filter", "tag=cats")
    assert doc["removed"] == 1 and load_tags(root)[0] == ["cats"]
    code, doc, _ = run(capsys, "tag", root, "--list")
    assert doc["tags"] == {"cats": 2, "best": 1}
    code, doc, _ = run(capsys, "tag", root, "--ids", 3)
    assert doc["tags"] == {"best": 1}
    out = tmp_path / "tags.csv"
    code, _, err = run(capsys, "tag", root, "--export", out)
    assert code == 0 and out.read_text().splitlines()[1] == "0,sketch/cat/a.png,cats"


def test_tag_mistakes_exit_2_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = on_disk(make_store(tmp_path / "s"))
    assert cli.main(["tag", str(root), "--add", "x"]) == 2
    assert "say which items to tag" in capsys.readouterr().err
    assert cli.main(["tag", str(root), "--add", "x", "--ids", "40"]) == 2
    assert "no item with id 40" in capsys.readouterr().err
    assert cli.main(["tag", str(root), "--add", "x", "--filter", "colour=red"]) == 2
    assert "filters are KEY=VALUE" in capsys.readouterr().err
    assert load_tags(root) == {}


def test_dupes_decisions_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = on_disk(perceptual_store(tmp_path / "s"))
    base = ["dupes", root, "--tier", "perceptual", "--threshold", 4]
    code, doc, _ = run(capsys, *base)
    assert code == 0 and any(
        set(g["members"][i]["id"] for i in range(3)) == {0, 1, 2}
        for g in doc["groups"]
        if g["size"] == 3
    )
    code, doc, _ = run(capsys, *base, "--decide", "2=not_duplicate", "1=keep")
    assert {i: d.decision for i, d in load_decided(root).items()} == {1: "keep", 2: "not_duplicate"}
    for threshold in (4, 6, 8):  # other thresholds: 2 stays apart from 0 and 1
        code, doc, _ = run(capsys, "dupes", root, "--tier", "perceptual", "--threshold", threshold)
        for g in doc["groups"]:
            found = {m["id"] for m in g["members"]}
            assert not (2 in found and found & {0, 1})
    code, doc, err = run(capsys, *base, "--accept", "perceptual", "--show")
    assert "items decided as suggested" in err
    decided = {r["id"]: (r["decision"], r["decided"]) for r in doc}
    assert decided[1] == ("keep", True) and decided[0] == ("remove", True)
    assert decided[2] == ("not_duplicate", True)
    script = tmp_path / "remove.sh"
    code, _, err = run(capsys, *base, "--decisions", script)
    assert code == 0 and "decisions written" in err
    removed = [
        shlex.split(line, comments=True)[2]
        for line in script.read_text().splitlines()
        if line.startswith("rm ")
    ]
    # relative to the folder the user gave, never a server path
    assert removed == [str(Store.load(root).items.at[0, "rel_path"])]
    code, _, _ = run(capsys, *base, "--decisions", tmp_path / "d.json")
    assert {r["id"] for r in json.loads((tmp_path / "d.json").read_text())} >= {0, 1, 2}
    assert cli.main([*map(str, base), "--decide", "4=keep"]) == 2
    assert "for an item in a group of this run" in capsys.readouterr().err
    assert cli.main([*map(str, base), "--decide", "1=delete"]) == 2
    assert "one of keep, remove, not_duplicate" in capsys.readouterr().err
    assert cli.main([*map(str, base), "--decisions", str(tmp_path / "d.png")]) == 2
    capsys.readouterr()
    code = cli.main([*map(str, base), "--show"])
    assert code == 0 and "not_duplicate" in capsys.readouterr().out


def test_search_takes_a_tag_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    store = make_store(tmp_path / "s", np.eye(6, 8, dtype=np.float32) + 0.1)
    root = on_disk(store)
    written = Store.load(root)
    written.image_emb = store.image_emb
    written.write()
    assert run(capsys, "tag", root, "--add", "x", "--ids", 2, 3)[0] == 0
    code, doc, err = run(
        capsys, "search", root, "--id", 0, "--mode", "image", "--k", 5, "--tag", "x"
    )
    assert code == 0, err
    assert sorted(h["id"] for h in doc["hits"]) == [2, 3]
