"""A query by image URL from the Search tab's handlers: the image fetched (through the operator's
setting from a local server), searched in stages like a dropped image, and shown as the current
query; a private address refused by default in one line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.queries import SearchSettings
from cdir.app.workspace import Workspace
from cdir.imaging.fetch import ALLOW_PRIVATE_ENV
from tests.drawn import draw_collection


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("url") / "tree"
    draw_collection(root, per_class=1)
    return root


@pytest.fixture(scope="module")
def served(tree: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tree)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def actions(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[AppActions, str]:
    workspace = Workspace(tree.parent / "workspace")
    store = workspace.root / "shapes"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        api.ingest([tree], store, "tiny")
    return AppActions(workspace, "tiny"), str(store)


def _settings(mode: str = "caption") -> list:
    s = SearchSettings(mode=mode, k=5)
    return [s.mode, s.k, False, [], True, "", *s.weights, False]


def test_an_image_url_is_searched_like_a_dropped_image(
    actions: tuple[AppActions, str], served: str, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = actions
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")  # the operator allows the local server
    url = f"{served}/photo/circle/circle_0.png"
    stages = list(app.ui_search_stages("url", store, url, *_settings()))
    assert len(stages) == 2  # image -> image first, then caption matching
    _, html, table, query, picture = stages[-1]
    assert (
        query == {"kind": "url", "value": url}
        and picture.size == Image.open(tree / "photo" / "circle" / "circle_0.png").size
    )
    assert html.count('class="cdir-card"') == 5 and len(table) == 5
    # the same picture given as a file ranks the same: one decode and search path
    dropped = api.search(
        api.session_for(store),
        image=app.workspace.root.parent / "tree" / "photo" / "circle" / "circle_0.png",
        options=SearchSettings(k=5).options(),
    )
    assert [row[1] for row in table] == [h.id for h in dropped.hits]
    # an option change re-runs it; a non-CM mode answers once
    again = list(app.rerun_stages(store, query, *_settings("image")))
    assert len(again) == 1 and again[0][1].count('class="cdir-card"') == 5


def test_a_private_address_is_refused_by_default(
    actions: tuple[AppActions, str], served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = actions
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    url = f"{served}/photo/circle/circle_0.png"
    with pytest.raises(api.UserInputError) as caught:
        list(app.ui_search_stages("url", store, url, *_settings()))
    assert "not a public address (loopback)" in str(caught.value)
    assert ALLOW_PRIVATE_ENV in str(caught.value) and "\n" not in str(caught.value)
