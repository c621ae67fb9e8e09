"""A search as a link: built from the page's query, read back from a page address, refused for a
collection the visitor may not see in the same words as for a missing one, never carrying an
owner key or a server path (tiny preset)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace, new_owner_key
from tests.drawn import draw_collection

PAGE = "http://127.0.0.1:7860/"


def _params(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("text", "a red boat & a 'sail' #1 ü"),
        ("item", "17"),
        ("url", "https://example.org/a b.jpg?x=1&y=2"),
    ],
)
def test_a_link_reads_back_as_the_same_search(kind: str, value: str) -> None:
    link = api.query_link("shapes-0a1b2c3d4e", kind, value, "image", 20)
    back = api.parse_query_link(_params(PAGE + link.query_string()))
    assert back == link


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"collection": "c"}, "names none"),
        ({"collection": "c", "text": "a", "item": "3"}, "names 2"),
        ({"collection": "c", "text": "a", "mode": "magic"}, "unknown mode"),
        ({"collection": "c", "text": "a", "k": "0"}, "from 1 to 48"),
        ({"collection": "c", "text": "a", "k": "many"}, "from 1 to 48"),
        ({"collection": "c", "item": "x1"}, "item number"),
    ],
)
def test_a_bad_link_is_refused_in_one_line(params: dict[str, str], words: str) -> None:
    with pytest.raises(api.UserInputError) as caught:
        api.parse_query_link(params)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_an_address_without_a_collection_is_no_link() -> None:
    assert api.parse_query_link({}) is None
    assert api.parse_query_link({"text": "a boat"}) is None


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("links")
    draw_collection(base / "tree", per_class=1)
    workspace = Workspace(base / "workspace")
    actions = AppActions(workspace, "tiny")
    owner = new_owner_key()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(base / "cache"))
        store, *_ = actions.build_store(
            [str(p) for p in sorted((base / "tree").rglob("*.png"))],
            "mine",
            "tiny",
            "lazy",
            owner=owner,
        )
    return {"actions": actions, "owner": owner, "store": store, "workspace": workspace}


def _request(**params: str) -> Any:
    return SimpleNamespace(query_params=params)


def test_the_link_box_names_the_collection_never_its_owner_or_path(app: dict[str, Any]) -> None:
    actions, store = app["actions"], app["store"]
    update = actions.share_link(str(store), {"kind": "item", "value": "3:99"}, PAGE, "image", 7)
    link = update["value"]
    assert link.startswith(PAGE + "?")
    assert _params(link) == {"collection": store.name, "item": "3", "mode": "image", "k": "7"}
    assert app["owner"] not in link and str(app["workspace"].root) not in link
    assert "/tmp" not in link.removeprefix(PAGE)
    # an upload or a sketch has no link: the box says why in one line
    update = actions.share_link(str(store), {"kind": "image", "value": "/x/q.png"}, PAGE, "c", 7)
    assert update["value"] == "" and update["placeholder"] == api.NO_LINK


def test_opening_a_link_restores_and_runs_the_search(app: dict[str, Any]) -> None:
    actions, store, owner = app["actions"], app["store"], app["owner"]
    link = api.query_link(store.name, "text", "a circle", "image", 5).query_string()
    out = actions.open_link(owner, _request(**_params(link)))
    n = len(actions.stale) + 7
    assert out[0] == str(store)  # the collection is open
    text, url, mode, k, tabs, panel, query = out[n:]
    assert text["value"] == "a circle" and url == {"__type__": "update"}
    assert mode["value"] == "image" and k["value"] == 5
    assert tabs.selected == "search" and panel.selected == "text"
    assert query == {"kind": "text", "value": "a circle", "mode": "image", "k": 5}
    settings = ["caption", 12, False, [], True, "", 0.5, 1.0, 0.5, False]  # not shown yet
    (shown,) = list(actions.run_link(str(store), query, *settings))
    assert shown[1].count('class="cdir-card"') == 5
    assert shown[3] == {"kind": "text", "value": "a circle"}
    # no link in the address: nothing changes
    assert all(u == {"__type__": "update"} for u in actions.open_link(owner, _request()))


def test_another_visitors_collection_reads_as_a_missing_one(app: dict[str, Any]) -> None:
    actions, store = app["actions"], app["store"]
    messages = []
    for name, owner in ((store.name, new_owner_key()), (store.name, ""), ("nope-0a1b2c3d4e", "")):
        with pytest.raises(api.user_errors()) as caught:
            actions.open_link(owner, _request(collection=name, text="a circle"))
        messages.append(str(caught.value).replace(name, "NAME"))
    assert len(set(messages)) == 1 and "\n" not in messages[0]


def test_anyone_opens_a_link_to_the_examples(app: dict[str, Any], tmp_path: Path) -> None:
    actions = app["actions"]
    examples = actions.workspace.examples_dir("tiny").name
    out = actions.open_link("", _request(collection=examples, item="3", k="4"))
    assert Path(out[0]).name == examples and out[-1]["value"] == "3:link"
    settings = ["caption", 4, False, [], True, "", 0.5, 1.0, 0.5, False]
    shown = list(actions.run_link(out[0], out[-1], *settings))[-1]
    assert shown[1].count('class="cdir-card"') == 4
