"""One duplicates answer on every surface (case 28: byte-identical copies named as browsers and
file managers name them, the copies newer): the API, the CLI listing, ``--json``, ``--show``,
``--accept``, the removal list, the Duplicates tab (the one review place) and its export, and
the ``/find_duplicates`` endpoint name the same groups and the same keep, before and after the
user's decisions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdir import api
from cdir.app.endpoints import Endpoints
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from cdir.cli import main
from cdir.ingest.pipeline import ingest
from cdir.models.loaded import load_models
from tests.shared_cases import case_input

ORIGINALS = {"holiday.jpg", "sunset.png"}
COPIES = {"holiday (1).jpg", "Copy of sunset.png"}
EXACT = (["exact"], 8, 0.95)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the case's input regenerated with its modification times, a workspace holding it as
    the collection "holidays")."""
    source = case_input("28").parent
    here = tmp_path_factory.mktemp("case28")
    shutil.copy(source / "make.py", here / "make.py")
    subprocess.run([sys.executable, str(here / "make.py")], check=True, cwd=here)
    workspace = tmp_path_factory.mktemp("ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        ingest([here / "input"], workspace / "holidays", load_models("tiny", device="cpu"))
    return here / "input", workspace


def names(store: Path) -> dict[int, str]:
    items = api.open_store(store).items
    return dict(zip(items["id"].astype(int), items["rel_path"].astype(str), strict=True))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["dupes", *args]) == 0
    return capsys.readouterr().out


def surfaces(
    store: Path, workspace: Path, capsys: pytest.CaptureFixture[str], tmp: Path
) -> dict[str, set[tuple[frozenset[str], str]]]:
    """Each surface's answer: {(the group's files, its keep's file)}."""
    files = names(store)
    out: dict[str, set[tuple[frozenset[str], str]]] = {}
    groups = api.find_duplicates(store, api.duplicate_config(["exact"]))
    out["api"] = {(frozenset(files[m] for m in g.members), files[g.keep]) for g in groups}
    text = cli(capsys, str(store), "--tier", "exact")
    listed: set[tuple[frozenset[str], str]] = set()
    for block in re.split(r"\n(?=group \d)", text)[1:]:
        members = re.findall(r"^  (keep|    ) +\d+ +\S+ +\S+ +(.+)$", block, re.M)
        listed.add(
            (
                frozenset(f.strip() for _, f in members),
                next(f.strip() for k, f in members if k == "keep"),
            )
        )
    out["listing"] = listed
    report = json.loads(cli(capsys, str(store), "--tier", "exact", "--json"))
    out["--json"] = {
        (frozenset(m["file"] for m in g["members"]), files[g["keep"]]) for g in report["groups"]
    }
    rows = json.loads(cli(capsys, str(store), "--tier", "exact", "--show", "--json"))
    out["--show"] = by_group(rows, lambda r: r["decision"] == "keep")
    actions = AppActions(Workspace(workspace), "tiny")
    _, _, state = actions.find_dupes(str(store), *EXACT)
    out["Duplicates tab"] = {
        (frozenset(files[m] for m in g["members"]), files[g["keep"]]) for g in state
    }
    exported = json.loads(Path(actions.export_dupes(str(store), state, "json")).read_text())
    out["Duplicates tab export"] = by_group(exported, lambda r: r["keep"])
    _, _, reviewed = actions.review_item(str(store), "0:1", *EXACT)  # from the Browse panel
    out["Duplicates tab opened from Browse"] = {
        (frozenset(files[m] for m in g["members"]), files[g["keep"]]) for g in reviewed
    }
    found = Endpoints(actions).find_duplicates("holidays", ["exact"])
    out["/find_duplicates"] = {
        (frozenset(m["file"] for m in g["members"]), files[g["keep"]]) for g in found["groups"]
    }
    return out


def by_group(rows: list[dict[str, Any]], is_keep: Any) -> set[tuple[frozenset[str], str]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        if row["group"] is not None:
            groups.setdefault(row["group"], []).append(row)
    return {
        (frozenset(r["file"] for r in g), next(r["file"] for r in g if is_keep(r)))
        for g in groups.values()
    }


def test_every_surface_names_the_same_groups_and_keep(
    case: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, workspace = case
    store = workspace / "holidays"
    expected = {
        (frozenset({"holiday.jpg", "holiday (1).jpg"}), "holiday.jpg"),
        (frozenset({"sunset.png", "Copy of sunset.png"}), "sunset.png"),
    }
    # before any decision: the originals, everywhere, also for `cdir dupes FOLDER`
    for surface, answer in surfaces(store, workspace, capsys, tmp_path).items():
        assert answer == expected, surface
    folder_report = json.loads(cli(capsys, str(folder), "--tier", "exact", "--json", "-q"))
    assert {
        (
            frozenset(m["file"] for m in g["members"]),
            next(m["file"] for m in g["members"] if m["id"] == g["keep"]),
        )
        for g in folder_report["groups"]
    } == expected
    # a suggestion is not a decision: the removal list is empty
    cli(capsys, str(store), "--tier", "exact", "--decisions", str(tmp_path / "none.sh"))
    assert "\nrm " not in (tmp_path / "none.sh").read_text()
    # --accept: the suggestions become decisions, the keep unchanged
    cli(capsys, str(store), "--tier", "exact", "--accept")
    for surface, answer in surfaces(store, workspace, capsys, tmp_path).items():
        assert answer == expected, surface
    cli(capsys, str(store), "--tier", "exact", "--decisions", str(tmp_path / "remove.sh"))
    script = (tmp_path / "remove.sh").read_text()
    removed = {
        c.split("--", 1)[1].split("  #")[0].strip()
        for c in script.splitlines()
        if c.startswith("rm ")
    }
    assert removed == {"'holiday (1).jpg'", "'Copy of sunset.png'"}
    assert str(folder) not in script and str(store) not in script  # no server path
    assert all("exact, identical pixels" in c for c in script.splitlines() if c.startswith("rm "))
    # the user keeps the copy instead: every surface follows
    copy_id = next(i for i, f in names(store).items() if f == "holiday (1).jpg")
    cli(capsys, str(store), "--tier", "exact", "--decide", f"{copy_id}=keep")
    after = {
        (frozenset({"holiday.jpg", "holiday (1).jpg"}), "holiday (1).jpg"),
        (frozenset({"sunset.png", "Copy of sunset.png"}), "sunset.png"),
    }
    for surface, answer in surfaces(store, workspace, capsys, tmp_path).items():
        assert answer == after, surface
    cli(capsys, str(store), "--tier", "exact", "--decisions", str(tmp_path / "after.sh"))
    assert "rm -- holiday.jpg" in (tmp_path / "after.sh").read_text()
    assert "holiday (1).jpg'  #" not in (tmp_path / "after.sh").read_text()


def test_every_surface_gives_one_semantic_answer(case: tuple[Path, Path]) -> None:
    """Left empty, the app's semantic field means what the CLI and the API mean: the threshold
    of the collection (here off: the tiny embedder has random weights), the same words and
    groups on the Duplicates tab and ``/find_duplicates``."""
    from cdir.app import views

    _, workspace = case
    store = workspace / "holidays"
    config = api.duplicate_config(["exact", "semantic"])
    words = api.semantic_words(store, config)
    assert words.startswith("semantic tier off: random weights")
    assert views.semantic_label(False) == "semantic: off: random weights"
    assert "calibrated" in views.semantic_label(True)
    assert views.semantic_value(0) is None and views.semantic_value(0.97) == 0.97  # 0: empty
    expected = api.groups_to_state(api.find_duplicates(store, config))
    actions = AppActions(Workspace(workspace), "tiny")
    summary, _, state = actions.find_dupes(str(store), ["exact", "semantic"], 8, None)
    assert words in summary and state == expected
    found = Endpoints(actions).find_duplicates("holidays", ["exact", "semantic"])
    assert [g["keep"] for g in found["groups"]] == [g["keep"] for g in expected]
    # a value typed in the field is the user's override, said as such
    summary, _, _ = actions.find_dupes(str(store), ["exact", "semantic"], 8, 0.97)
    assert words in summary  # random weights stay off whatever the value
