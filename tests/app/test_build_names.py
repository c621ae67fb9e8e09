"""Building under a name another visitor used, or a name the workspace changes: the build
succeeds as the caller's own collection and says in one line under which name; someone else's
collection is never touched, opened or named."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace, saved_as
from cdir.store.collection import Store, StoreError
from tests.drawn import draw_collection

SUFFIXED = r"mj-set-[0-9a-f]{10}"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("files")
    made = draw_collection(root, domains=("sketch",), classes=("cross",), per_class=2)
    return [str(p) for p in made]


@pytest.fixture
def actions(tmp_path: Path) -> AppActions:
    return AppActions(Workspace(tmp_path / "workspace"), "tiny")


def _summary(out: tuple) -> str:
    return html.unescape(str(out[1]))


def test_visitor_b_builds_a_name_visitor_a_owns_as_their_own(
    actions: AppActions, files: list[str]
) -> None:
    a = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a")
    a_name = Path(a[0]).name
    assert re.fullmatch(SUFFIXED, a_name)
    b = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-b")
    b_name = Path(b[0]).name
    assert b[-3]["visible"] is False  # no "add to it?" question: B has no mj-set
    assert re.fullmatch(SUFFIXED, b_name) and b_name != a_name
    summary = _summary(b)
    assert f"Saved as {b_name}, your own collection" in summary
    assert a_name not in summary and "no collection named" not in summary
    assert a_name not in actions.workspace.collections("key-b")
    assert actions.workspace.owner_of(Path(b[0])) != actions.workspace.owner_of(Path(a[0]))
    assert Store.load(Path(a[0])).counts()["n_ok"] == 2  # A's collection as it was


def test_add_to_a_name_only_another_visitor_owns_makes_a_new_one(
    actions: AppActions, files: list[str]
) -> None:
    a_name = Path(actions.build(files, "mj-set", "tiny", "lazy", owner="key-a")[0]).name
    for name in ("mj-set", a_name):  # the name typed, or A's full name
        out = actions.build_or_ask(files[:1], name, "tiny", "lazy", owner="key-b", add=True)
        assert Path(out[0]).name != a_name
        assert "Added to" not in _summary(out)
    assert Store.load(actions.workspace.root / a_name).counts()["n_ok"] == 2


def test_adding_to_ones_own_collection_says_so(actions: AppActions, files: list[str]) -> None:
    first = actions.build(files[:1], "mj-set", "tiny", "lazy", owner="key-a")
    asked = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a")
    assert asked[-3]["visible"] is True  # the question, nothing built yet
    added = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a", add=True)
    assert added[0] == first[0]
    assert f"Added to {Path(first[0]).name}, your collection of that name." in _summary(added)


def test_opening_or_deleting_another_visitors_name_gives_one_line(
    actions: AppActions, files: list[str]
) -> None:
    a_name = Path(actions.build(files, "mj-set", "tiny", "lazy", owner="key-a")[0]).name
    with pytest.raises(StoreError, match=rf"^there is no collection named '{a_name}'; build one"):
        actions.open_saved(a_name, "key-b")
    with pytest.raises(StoreError, match=rf"^there is no collection named '{a_name}'; build one"):
        actions.delete(a_name, "key-b")
    with pytest.raises(ValueError, match="is not a collection name"):
        actions.open_saved("MJ Set", "key-b")


def test_a_shared_workspace_names_the_taken_name(tmp_path: Path, files: list[str]) -> None:
    actions = AppActions(Workspace(tmp_path / "shared", shared=True), "tiny")
    actions.build(files, "mj-set", "tiny", "lazy", owner="key-a")
    out = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-b")
    assert Path(out[0]).name == "mj-set-2"
    assert "A collection named mj-set exists already: saved as mj-set-2." in _summary(out)


@pytest.mark.parametrize(
    ("asked", "made", "added", "line"),
    [
        ("mj-set", "mj-set", False, "Saved as mj-set."),
        ("MJ set!", "mj-set", False, "Saved as mj-set (a name keeps lowercase letters"),
        ("", "upload", False, "No name given (a name needs a letter or a digit): saved as upload."),
        ("!!!", "upload-2", False, "No name given"),
        ("examples", "my-examples", False, 'Names starting with "examples" are kept'),
        ("mj-set", "mj-set-0123456789", False, "your own collection: names on this server"),
        ("mj-set", "mj-set-3", False, "A collection named mj-set exists already"),
        ("mj-set", "mj-set-0123456789", True, "Added to mj-set-0123456789, your collection"),
    ],
)
def test_saved_as_gives_one_line_per_case(asked: str, made: str, added: bool, line: str) -> None:
    said = saved_as(asked, made, added)
    assert line in said and "\n" not in said and made in said


def test_the_upload_box_empties_after_a_build_and_keeps_files_after_a_failure(
    actions: AppActions, files: list[str], tmp_path: Path
) -> None:
    from cdir.app.wrappers import as_message

    built = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a")
    assert built[-1] == {"__type__": "update", "value": None}
    asked = actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a")
    assert asked[-1] == {"__type__": "update"}  # the question: the files stay for the answer
    fake = tmp_path / "holiday.png"
    fake.write_text("not an image")
    outputs = len(built)
    failed = as_message(actions.build_or_ask, outputs)([str(fake)], "x", "tiny", "lazy", None, "k")
    assert failed[-1] == {"__type__": "update"}  # as the page wires it: the files stay
