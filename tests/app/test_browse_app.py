"""The Browse tab's handlers called directly (no browser): grid filters, map selection, item view,
tags, and the duplicate decisions it hands to the Duplicates tab, on a small drawn collection
ingested with the tiny preset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cdir.app.browse import BrowseActions
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from cdir.duplicates.decisions import load_decided
from cdir.ingest.pipeline import ingest
from cdir.maps.collection_map import map_points
from cdir.models.loaded import load_models
from cdir.store.tags import load_tags
from tests.drawn import draw_collection

EMPTY = ([], [], [], "any", "any", "", [], "name", False, "")  # the grid's filter widgets


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    src = tmp_path_factory.mktemp("drawn")
    draw_collection(src, per_class=2)
    shutil.copy(src / "photo" / "circle" / "circle_0.png", src / "photo" / "circle" / "zz_copy.png")
    root = tmp_path_factory.mktemp("ws") / "drawn"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        ingest([src], root, load_models("tiny", device="cpu"))
    return str(root)


@pytest.fixture
def browse(tmp_path: Path) -> BrowseActions:
    return BrowseActions(AppActions(Workspace(tmp_path / "ws"), "tiny"))


def card_ids(html: str) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'data-browse-id="(\d+)"', html)]


def test_grid_filters_and_pages(browse: BrowseActions, store: str) -> None:
    html, line, page = browse.grid(store, *EMPTY, 1, None)
    assert len(card_ids(html)) == 25 and "**25** of 25 items" in line and page == 1
    sketch = list(EMPTY)
    sketch[0] = ["sketch"]
    html, line, _ = browse.grid(store, *sketch, 1, None)
    items = browse.session(store).store.items
    assert sorted(card_ids(html)) == sorted(items.index[items["domain"] == "sketch"].tolist())
    texty = list(EMPTY)
    texty[5] = "copy"
    assert card_ids(browse.grid(store, *texty, 1, None)[0]) == [
        int(items.index[items["rel_path"] == "photo/circle/zz_copy.png"][0])
    ]
    similar = list(EMPTY)
    similar[7], similar[9] = "similarity", "3"
    assert card_ids(browse.grid(store, *similar, 1, None)[0])[0] == 3
    similar[9] = "a red circle"
    assert len(card_ids(browse.grid(store, *similar, 1, None)[0])) == 25
    html, line, _ = browse.grid(store, *EMPTY, 1, [4, 2])
    assert sorted(card_ids(html)) == [2, 4] and "2 selected on the map" in line
    facets = browse.facets(store)
    assert {c[1] for c in facets[0]["choices"]} == {"photo", "sketch", "clipart"}


def test_a_lasso_on_the_map_selects_exactly_the_points_inside(
    browse: BrowseActions, store: str
) -> None:
    fig = browse.draw_map(store, "pca", "image", "domain", True)
    assert fig.layout.dragmode == "lasso" and len(fig.layout.annotations) >= 2
    row = next(t for t in fig.data if t.customdata is not None).customdata[0]
    assert row[5].startswith("cdir-media/") and ".jpg?" in row[5]  # a signed thumbnail URL
    rows, xy = map_points(browse.session(store).store, "pca", "image")
    x0, x1 = np.percentile(xy[:, 0], [20, 70])
    y0, y1 = np.percentile(xy[:, 1], [10, 90])
    region = {"lassoPoints": {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}}
    ids, message = browse.select_region(store, "pca", "image", json.dumps(region) + "|1")
    inside = [int(r) for r, (x, y) in zip(rows, xy, strict=True) if x0 <= x <= x1 and y0 <= y <= y1]
    assert sorted(ids) == sorted(inside) and f"{len(ids)} items selected" in message
    assert browse.select_region(store, "pca", "image", "|2")[0] is None


def test_opening_an_item_and_tagging(browse: BrowseActions, store: str) -> None:
    image, text, neighbours = browse.open_item(store, "0:123")
    assert image.size == (96, 96) and "id 0" in text and "caption" in text  # the full image
    assert "neighbours" in neighbours
    copy = browse.session(store).store.items
    copy_id = int(copy.index[copy["rel_path"] == "photo/circle/zz_copy.png"][0])
    original = int(copy.index[copy["rel_path"] == "photo/circle/circle_0.png"][0])
    assert f"items [{copy_id}]" in browse.open_item(store, f"{original}:1")[2]
    sketch = list(EMPTY)
    sketch[0] = ["sketch"]
    message = browse.tag(store, "add", "drawn by hand", "matching", "", *sketch, 1, None)
    n_sketch = int((copy["domain"] == "sketch").sum())
    assert f"added to {n_sketch} of {n_sketch}" in message
    tagged = list(EMPTY)
    tagged[6] = ["drawn by hand"]
    html, _, _ = browse.grid(store, *tagged, 1, None)
    assert sorted(card_ids(html)) == sorted(copy.index[copy["domain"] == "sketch"].tolist())
    assert "drawn by hand" in html
    browse.tag(store, "add", "one", "item", "5:9", *EMPTY, 1, None)
    assert load_tags(Path(store))[5] == ["one"]
    browse.tag(store, "remove", "drawn by hand", "matching", "", *EMPTY, 1, None)
    assert all("drawn by hand" not in v for v in load_tags(Path(store)).values())
    with pytest.raises(Exception, match="Click a card first"):
        browse.tag(store, "add", "x", "item", "", *EMPTY, 1, None)


def test_duplicate_decisions_stay_across_thresholds_and_export(
    browse: BrowseActions, store: str
) -> None:
    """The panel's review moved to the Duplicates tab (the one review place): its handlers keep
    every decision the panel made (not a duplicate, accept, undo) and open at an item's group."""
    dupes = browse.actions
    tiers = ["exact", "perceptual"]
    summary, html, state = dupes.find_dupes(store, tiers, 20, 0.95)
    assert state and "data-group" in html
    group = state[0]
    member = group["members"][-1]
    others = set(group["members"]) - {member}
    summary, html, state = dupes.choose_keep(
        store, f"0-{member}-not_duplicate:5", state, tiers, 20, 0.95
    )
    assert load_decided(Path(store))[member].decision == "not_duplicate"
    for bits in (20, 12, 8):
        _, html, state = dupes.find_dupes(store, tiers, bits, 0.95)
        for g in state:
            assert not (member in g["members"] and others & set(g["members"]))
        assert "Marked not a duplicate" in html and f'data-apart="{member}"' in html
    dupes.accept_dupes(store, "all", state, tiers, 8, 0.95)
    out = dupes.export_dupes(store, state, "csv")
    assert Path(out).is_relative_to(Path(store)) and "not_duplicate" in Path(out).read_text()
    assert "rm -- " in Path(dupes.export_dupes(store, state, "sh")).read_text() or not state
    if state:  # the keyboard's undo: back to the suggestion
        decided = state[0]["members"][-1]
        assert decided in load_decided(Path(store))
        summary, _, state = dupes.choose_keep(store, f"0-{decided}-undo:7", state, tiers, 8, 0.95)
        assert decided not in load_decided(Path(store)) and "groups decided" in summary
        # opened from the Browse panel at an item's group: that group first
        last = state[-1]["members"][0]
        summary, _, state = dupes.review_item(store, f"{last}:8", tiers, 8, 0.95)
        assert last in state[0]["members"] and f"Item {last}: its group" in summary
    summary, _, _ = dupes.review_item(store, f"{member}:9", tiers, 8, 0.95)
    assert f"Item {member} is in no group" in summary
