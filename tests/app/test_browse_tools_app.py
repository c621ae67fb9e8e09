"""The Browse panel's tools called directly (no browser): saved views, downloads of the
current view, a diverse subset, and the large viewer with its label correction, on a small drawn
collection ingested with the tiny preset."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cdir import api
from cdir.app.browse import BrowseActions
from cdir.app.browse_tools import BrowseTools, details_html
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from cdir.ingest.pipeline import ingest
from cdir.models.loaded import load_models
from tests.drawn import draw_collection

EMPTY = ([], [], [], "any", "any", "", [], "name", False, "")  # the grid's filter widgets


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    src = tmp_path_factory.mktemp("drawn")
    draw_collection(src, per_class=2)
    root = tmp_path_factory.mktemp("ws") / "drawn"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        ingest([src], root, load_models("tiny", device="cpu"))
    return str(root)


@pytest.fixture
def tools(tmp_path: Path) -> BrowseTools:
    return BrowseTools(BrowseActions(AppActions(Workspace(tmp_path / "ws"), "tiny")))


def filters(domains: list[str] | None = None, selection: list[int] | None = None) -> tuple:
    return (domains or [], *EMPTY[1:], 1, selection)


def test_a_view_saved_opens_with_its_filters_and_selection(tools: BrowseTools, store: str) -> None:
    names, message = tools.save_view(store, "sketches", *filters(["sketch"], [1, 2, 3]))
    assert "sketches" in str(names["choices"]) and names["value"] == "sketches"
    assert "saved" in message
    values = tools.open_view(store, "sketches")
    assert values[0] == ["sketch"] and values[11] == [1, 2, 3] and values[10] == 1
    names, _ = tools.rename_view(store, "sketches", "drawn")
    assert names["value"] == "drawn"
    names, _ = tools.delete_view(store, "drawn")
    assert names["choices"] == []
    with pytest.raises(Exception, match="Choose a saved view"):
        tools.open_view(store, None)


def test_the_current_view_downloads_as_a_file_list(tools: BrowseTools, store: str) -> None:
    shown, message = tools.export(store, "csv", *filters(["sketch"]))
    path = shown["value"]
    assert shown["visible"] and Path(path).parent == Path(store) / "exports"
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    assert rows and {r["domain"] for r in rows} == {"sketch"}
    assert f"{len(rows)} items" in message
    shown, _ = tools.export(store, "zip", *filters(selection=[0, 1]))
    assert shown["value"].endswith(".zip")


def test_a_diverse_subset_becomes_the_selection(tools: BrowseTools, store: str) -> None:
    chosen, message = tools.diverse(store, 3, 0, *filters())
    assert len(chosen) == 3 == len(set(chosen)) and "3 diverse items" in message
    assert tools.diverse(store, 3, 0, *filters())[0] == chosen


def test_the_viewer_steps_through_the_view_and_corrects_a_label(
    tools: BrowseTools, store: str
) -> None:
    view = filters(["sketch"])
    ids = tools.browse.matching_ids(store, *view)
    shown = tools.open_large(store, f"{ids[1]}:5", *view)
    assert shown[4] == ids[1] and shown[0]["visible"] is True
    assert "item 2 of" in shown[3]
    assert tools.key(store, "next:6", ids[1], *view)[4] == ids[2]
    assert tools.key(store, "prev:7", ids[0], *view)[4] == ids[0]  # stays at the first
    assert tools.key(store, "close:8", ids[0], *view)[0]["visible"] is False
    html, message = tools.correct(store, ids[0], "sketch", "corrected-class")
    assert "corrected-class" in html and "corrected" in message
    session = api.session_for(store)
    assert session.store.items.at[ids[0], "class"] == "corrected-class"
    assert "corrected-class" in tools.browse.browser(store).facets()["classes"]
    assert "corrected-class" in tools.browse.open_item(store, f"{ids[0]}:9")[1]


def test_the_viewer_escapes_names() -> None:
    row = {
        "id": 3,
        "rel_path": "a\u202egnp.exe<b>",
        "domain": "<i>x</i>",
        "class": None,
        "label_source": "folder",
        "caption": "<script>",
        "prompt": None,
    }
    html = details_html(row)
    assert "<script>" not in html and "<i>x" not in html and "\u202e" not in html


def test_two_members_of_a_group_compare_side_by_side(store: str, tmp_path: Path) -> None:
    from cdir.app.compare import compare_html, compare_view, pair_of

    state = [{"tier": "exact", "members": [4, 7, 9], "keep": 7}]
    assert pair_of(state, 1, "") == (7, 4)  # the keep and the next member
    assert pair_of(state, 1, "", "0-9:5") == (9, 7)  # the card pressed with c, and the keep
    assert pair_of(state, 1, "", "0-7:5") == (7, 4)  # the keep pressed: the next member
    assert pair_of(state, 1, " 3, 5 ") == (3, 5)
    with pytest.raises(Exception, match="Groups run 1..1"):
        pair_of(state, 2, "")
    with pytest.raises(Exception, match="Find near-duplicates first"):
        pair_of([], 1, "")
    session = api.session_for(store)
    left, right, html = compare_view(session, state, 1, "0 1", "", 2)
    items = session.store.items
    assert left.size == (items.at[0, "width"], items.at[0, "height"])  # the centre, enlarged
    assert right is not None and "resolution" in html and "format" in html
    result = api.compare_items(session, 0, 1)
    result.a.file = "<b>x\u202e.png"
    assert "<b>x" not in compare_html(result) and "\u202e" not in compare_html(result)
    assert html.count('class="differs"') == len(result.differing)
