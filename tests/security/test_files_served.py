"""Attack 1: no file of a collection can be downloaded by someone who may not see it, and no
response names a place on the server (``docs/security.md``, ``cdir/app/media.py``)."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

from cdir.app import media
from cdir.store.collection import Store

COLLECTION_FILES = ["meta.json", "items.parquet", "image_emb.npy", "cache.sqlite", "owner", ".lock"]


def _file_route(path: str) -> str:
    return "gradio_api/file=" + urllib.parse.quote(path)


def test_no_file_of_a_collection_is_served_by_gradios_file_route(server) -> None:
    root = server.workspace.root / server.a_name
    store = Store.load(root)
    targets = [root / name for name in COLLECTION_FILES]
    targets += [store.thumb_path(str(sha)) for sha in store.items["sha256"]]
    targets += [store.image_path(row) for _, row in store.items.iterrows()]  # the originals
    targets += list((root / "files").rglob("*.png"))  # the uploads
    assert any(t.exists() for t in targets)
    answers = {server.get(_file_route(str(t)))[0] for t in targets}
    missing = server.get(_file_route(str(root / "no-such-file.json")))[0]
    assert answers <= {403, 404} and missing in (403, 404)


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        "{base}/secret.txt",
        "{workspace}/../secret.txt",
        "{workspace}/%2e%2e/secret.txt",
        "../../../../../../etc/passwd",
        "{repo}/app.py",
    ],
)
def test_nothing_outside_the_public_files_is_served(server, target: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    path = target.format(base=server.base, workspace=server.workspace.root, repo=repo)
    for route in (
        _file_route(path),
        "gradio_api/file=" + path,
        f"{media.PUBLIC_ROUTE}/examples/{path}",
        f"{media.PUBLIC_ROUTE}/examples/../../app.py",
    ):
        status, body = server.get(route)
        assert status in (403, 404), (route, status)
        assert b"not in it" not in body and b"root:" not in body


def _thumb_urls(html: str) -> list[str]:
    return re.findall(r'src="(cdir-media/[^"]+)"', html.replace("&amp;", "&"))


def test_a_page_shows_thumbnails_through_signed_urls_only(server) -> None:
    from cdir.app.views import card_html
    from cdir.retrieval.search import Hit

    store = Store.load(server.workspace.root / server.a_name)
    thumb = str(store.thumb_path(str(store.items.at[0, "sha256"])))
    html = card_html(
        Hit(
            rank=1,
            id=0,
            score=1.0,
            path="",
            rel_path="a.png",
            thumb=thumb,
            domain=None,
            label=None,
            caption=None,
            prompt=None,
            width=8,
            height=8,
        )
    )
    urls = _thumb_urls(html)
    assert urls and str(server.workspace.root) not in html
    status, body = server.get(urls[0])
    assert status == 200 and body[:3] == b"\xff\xd8\xff"


def test_a_forged_or_moved_signature_gets_the_same_404_as_a_missing_file(server) -> None:
    store = Store.load(server.workspace.root / server.a_name)
    sha = str(store.items.at[0, "sha256"])
    url = media.media_url(store.thumb_path(sha))
    assert url is not None and server.get(url)[0] == 200
    path, query = url.split("?")
    params = dict(urllib.parse.parse_qsl(query))
    forged = {**params, "s": "A" * len(params["s"])}
    later = {**params, "e": str(int(params["e"]) + 1)}  # a longer life, same signature
    other = f"{media.ROUTE}/{server.b_name}/{sha}.jpg?{query}"  # A's signature on B's name
    missing = media.media_url(store.thumb_path("0" * 64))
    answers = [server.get(f"{path}?{urllib.parse.urlencode(q)}") for q in (forged, later)]
    answers += [server.get(other), server.get(missing), server.get(path)]
    assert {status for status, _ in answers} == {404}
    assert len({body for _, body in answers}) == 1  # nothing tells them apart


def test_an_expired_signature_is_refused() -> None:
    url = media.media_url(Path("/w/c/thumbs") / ("a" * 64 + ".jpg"), now=0)
    assert url is not None
    _, query = url.split("?")
    params = dict(urllib.parse.parse_qsl(query))
    assert media.verify("c", "a" * 64 + ".jpg", params["e"], params["s"], now=0)
    assert not media.verify(
        "c", "a" * 64 + ".jpg", params["e"], params["s"], now=(media.LIFETIME_HOURS + 2) * 3600
    )


def test_no_api_answer_names_a_server_path(server) -> None:
    root = str(server.workspace.root)
    answers = [
        server.call("/list_collections", server.a_key),
        server.call("/open_collection", server.a_name, server.a_key),
        server.call("/search_text", server.a_name, "a red circle", "caption", 3, [], server.a_key),
        server.call("/search_item", server.a_name, 0, "image", 3, [], server.a_key),
        server.call(
            "/find_duplicates", server.a_name, ["exact", "perceptual"], 8, 0.95, server.a_key
        ),
    ]
    text = json.dumps(answers)
    assert root not in text and str(server.base) not in text
    status, config = server.get("config")
    assert status == 200 and root.encode() not in config
