"""One card per duplicate group on every surface: ``cdir.api.search``, ``cdir search``, the
``/search_text`` endpoint and the Search tab fold the same near-duplicates under the same hits
(tiny preset, a drawn collection with copies)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cdir import api, cli
from cdir.app.endpoints import Endpoints
from cdir.app.handlers import AppActions
from cdir.app.queries import SearchSettings
from cdir.app.workspace import Workspace
from tests.drawn import draw_collection

TEXT = "a red circle"


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    base = tmp_path_factory.mktemp("collapse")
    tree = base / "tree"
    draw_collection(tree, per_class=2)
    original = tree / "photo" / "circle" / "circle_0.png"
    for n in range(3):  # three exact copies and an upscale: one group of five
        (tree / "photo" / "circle" / f"circle_0_copy{n}.png").write_bytes(original.read_bytes())
    with Image.open(original) as im:
        im.resize((im.width * 2, im.height * 2)).save(tree / "photo" / "circle" / "up.png")
    workspace = Workspace(base / "workspace")
    store = workspace.root / "shapes"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(base / "cache"))
        api.ingest([tree], store, "tiny")
    return workspace, store


def _group_of(store: Path, item: int) -> list[int]:
    session = api.session_for(store)
    return next(g for g in api.search_groups(session) if item in g)


def test_a_search_shows_one_card_per_group_and_k_cards(collection: Any) -> None:
    _, store = collection
    session = api.session_for(store)
    groups = api.search_groups(session)
    assert any(len(g) >= 4 for g in groups), groups  # the copies and the upscale are one group
    n = int(session.store.ok_mask().sum())
    folded = api.search(session, text=TEXT, options=api.SearchOptions(k=n))
    every = api.search(session, text=TEXT, options=api.SearchOptions(k=n))
    assert folded.hits == every.hits  # off unless asked (the library's default)
    folded = api.search(
        session, text=TEXT, options=api.SearchOptions(k=n, collapse_duplicates=True)
    )
    member = {m: i for i, g in enumerate(groups) for m in g}
    shown = [member[h.id] for h in folded.hits if h.id in member]
    assert len(shown) == len(set(shown)) == len(groups)  # each group once
    hidden = sum(len(h.near_duplicates) for h in folded.hits)
    assert len(folded.hits) + hidden == n
    for hit in folded.hits:
        if hit.near_duplicates:
            assert sorted([hit.id, *hit.near_duplicates]) == sorted(groups[member[hit.id]])
    # k cards remain when the collection has them
    few = api.search(session, text=TEXT, options=api.SearchOptions(k=5, collapse_duplicates=True))
    assert len(few.hits) == 5 and [h.rank for h in few.hits] == [1, 2, 3, 4, 5]


def _cards(html: str) -> list[tuple[int, int]]:
    cards = re.findall(r'data-id="(\d+)"(.*?)(?=<div class="cdir-card"|$)', html, re.S)
    out = []
    for item, body in cards:
        found = re.search(r"\+(\d+) near-duplicate", body)
        out.append((int(item), int(found.group(1)) if found else 0))
    return out


def test_every_surface_folds_the_same_way(
    collection: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, store = collection
    k = 12
    session = api.session_for(store)
    lib = api.search(session, text=TEXT, options=api.SearchOptions(k=k, collapse_duplicates=True))
    expected = [(h.id, list(h.near_duplicates)) for h in lib.hits]
    assert any(dupes for _, dupes in expected)

    assert cli.main(["search", str(store), "--text", TEXT, "--k", str(k), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(h["id"], h["near_duplicates"]) for h in printed["hits"]] == expected

    actions = AppActions(workspace, "tiny")
    record = Endpoints(actions).search_text("shapes", TEXT, k=k)
    assert [(h["id"], h["near_duplicates"]) for h in record["hits"]] == expected
    assert record["options"]["show_duplicates"] is False

    _, html, _ = actions.search(str(store), {"text": TEXT}, SearchSettings(k=k))
    assert _cards(html) == [(i, len(d)) for i, d in expected]

    # show all: the same option on every surface gives the plain ranking
    plain = [h.id for h in api.search(session, text=TEXT, options=api.SearchOptions(k=k)).hits]
    flag = ["search", str(store), "--text", TEXT, "--k", str(k), "--show-duplicates", "--json"]
    assert cli.main(flag) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)["hits"]] == plain
    record = Endpoints(actions).search_text("shapes", TEXT, k=k, show_duplicates=True)
    assert [h["id"] for h in record["hits"]] == plain
    _, html, _ = actions.search(
        str(store), {"text": TEXT}, SearchSettings(k=k, show_duplicates=True)
    )
    assert [i for i, _ in _cards(html)] == plain


def test_an_image_query_in_stages_is_folded_too(collection: Any) -> None:
    _, store = collection
    session = api.session_for(store)
    image = store.parent.parent / "tree" / "photo" / "circle" / "circle_1.png"
    options = api.SearchOptions(k=8, collapse_duplicates=True)
    stages = list(api.search_staged(session, image=image, options=options))
    groups = api.search_groups(session)
    member = {m: i for i, g in enumerate(groups) for m in g}
    for stage in stages:
        hits = stage.rows[0][1].hits
        shown = [member[h.id] for h in hits if h.id in member]
        assert len(shown) == len(set(shown)) and len(hits) == 8


def test_a_folded_result_keeps_the_options_it_ran_with(collection: Any) -> None:
    _, store = collection
    session = api.session_for(store)
    options = api.SearchOptions(mode="image", k=5, collapse_duplicates=True)
    folded = api.search(session, text=TEXT, options=options)
    plain = api.search(session, text=TEXT, options=api.SearchOptions(mode="image", k=5))
    assert folded.options.mode == plain.options.mode == "text"  # a text query ran as text
    assert folded.options.k == 5 and folded.options.collapse_duplicates


def test_a_decision_changes_what_is_folded(collection: Any, tmp_path: Path) -> None:
    """The groups a search folds follow the saved decisions (remembered until they change)."""
    import shutil

    _, store = collection
    copy = tmp_path / "shapes"
    shutil.copytree(store, copy)
    session = api.session_for(copy)
    groups = api.search_groups(session)
    assert api.search_groups(session) is groups  # remembered
    group = next(g for g in api.find_duplicates(session, api.duplicate_config(("exact",))))
    apart = group.members[-1]
    api.decide(session, group, apart, "not_duplicate")
    after = api.search_groups(session)
    assert after is not groups
    assert not any(apart in g and group.members[0] in g for g in after)
