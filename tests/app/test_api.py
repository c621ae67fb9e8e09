"""The documented API through gradio_client, as the README shows it: every endpoint called on its
own, naming its collection, returning plain JSON, on the real app (tiny preset)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cdir.app.workspace import Workspace
from tests.archives import make_zip
from tests.drawn import draw_collection
from tests.served import served_app

pytestmark = pytest.mark.slow

ENDPOINTS = {
    "/list_collections",
    "/open_collection",
    "/build_collection",
    "/search_image",
    "/search_text",
    "/search_item",
    "/find_duplicates",
    "/delete_collection",
}
HIT_KEYS = {
    "rank",
    "id",
    "file",
    "score",
    "domain",
    "class",
    "caption",
    "prompt",
    "near_duplicates",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("api")
    tree = base / "tree"
    draw_collection(tree, per_class=2)  # 3 domains x 4 classes x 2
    (tree / "photo" / "circle" / "circle_0_copy.png").write_bytes(
        (tree / "photo" / "circle" / "circle_0.png").read_bytes()
    )  # an exact duplicate
    entries = {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*.png"))}
    make_zip(base / "shapes.zip", entries)
    workspace = Workspace(base / "workspace")
    with served_app(workspace, base / "cache") as (url, _):
        yield {"url": url, "tree": tree, "workspace": workspace}


@pytest.fixture(scope="module")
def client(server: dict[str, Any]) -> Any:
    from gradio_client import Client

    return Client(server["url"], verbose=False)


@pytest.fixture(scope="module")
def built(server: dict[str, Any], client: Any) -> dict[str, Any]:
    """One /build_collection call, followed while it runs through Job.status()."""
    from gradio_client import handle_file

    archive = handle_file(str(server["tree"].parent / "shapes.zip"))
    job = client.submit([archive], "Shapes", "tiny", "lazy", api_name="/build_collection")
    seen = []
    while not job.done():
        seen.append(job.status().progress_data)
    seen += [
        u.progress_data
        for u in list(job.communicator.updates._queue)
        if getattr(u, "progress_data", None)
    ]
    return {"result": job.result(), "progress": [p for p in seen if p]}


def _no_server_path(record: Any, server: dict[str, Any]) -> None:
    text = json.dumps(record)
    assert str(server["workspace"].root) not in text and "/tmp" not in text, text


def _hits_ok(hits: list[dict[str, Any]]) -> None:
    assert hits and all(set(h) == HIT_KEYS for h in hits)
    assert all(re.fullmatch(r"[\w/.#-]+", h["file"]) for h in hits)


def test_the_api_page_lists_the_documented_calls_only(client: Any) -> None:
    named = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert named == ENDPOINTS  # no /wrapper, /search_image_1, param_2 ...
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    params = [p["parameter_name"] for p in info["/search_text"]["parameters"]]
    assert params == ["collection", "text", "mode", "k", "domains", "owner", "show_duplicates"]


def test_build_collection_reports_progress_and_returns_an_owner(
    built: dict[str, Any], server: dict[str, Any]
) -> None:
    result = built["result"]
    # a visitor's collection is named <name>-<10 random hex digits>: unguessable
    assert re.fullmatch(r"shapes-[0-9a-f]{10}", result["collection"]) and result["images"] == 25
    assert result["owner"] and set(result["domains"]) == {"photo", "sketch", "clipart"}
    stages = {unit.desc for update in built["progress"] for unit in update}
    assert stages and stages <= {"hashing", "embedding images", "embedding captions"}, stages
    assert any(unit.length == 25 for update in built["progress"] for unit in update)
    _no_server_path(result, server)


def test_list_and_open_need_the_owner_key(
    server: dict[str, Any], client: Any, built: dict[str, Any]
) -> None:
    name = built["result"]["collection"]
    owner = built["result"]["owner"]
    assert [c["name"] for c in client.predict(owner, api_name="/list_collections")] == [name]
    assert client.predict("", api_name="/list_collections") == []  # a stranger sees nothing
    opened = client.predict(name, owner, api_name="/open_collection")
    assert opened["images"] == 25 and opened["classes"]["circle"] == 7
    _no_server_path(opened, server)
    with pytest.raises(Exception, match="no collection named 'shapes-"):
        client.predict(name, "someone else", api_name="/open_collection")


def test_search_text_image_and_item(
    server: dict[str, Any], client: Any, built: dict[str, Any]
) -> None:
    name = built["result"]["collection"]
    from gradio_client import handle_file

    owner = built["result"]["owner"]
    text = client.predict(name, "a red circle", "image", 5, [], owner, api_name="/search_text")
    assert text["query"]["text"] == "a red circle" and len(text["hits"]) == 5
    _hits_ok(text["hits"])
    query = server["tree"] / "sketch" / "square" / "square_1.png"
    image = client.predict(
        name, handle_file(str(query)), "caption", 4, ["photo"], owner, api_name="/search_image"
    )
    assert len(image["hits"]) == 4 and {h["domain"] for h in image["hits"]} == {"photo"}
    assert image["query"]["caption"]  # caption matching captions the query
    _hits_ok(image["hits"])
    item = client.predict(name, 3, "image", 6, [], owner, api_name="/search_item")
    assert item["query"]["id"] == 3 and 3 not in [h["id"] for h in item["hits"]]
    _no_server_path([text, image, item], server)


def test_search_image_in_cm_mode_answers_in_two_stages(
    server: dict[str, Any], client: Any, built: dict[str, Any]
) -> None:
    """``predict`` gives the final (CM) answer; ``submit`` shows the image → image one first."""
    name = built["result"]["collection"]
    from gradio_client import handle_file

    owner = built["result"]["owner"]
    query = handle_file(str(server["tree"] / "clipart" / "cross" / "cross_0.png"))
    job = client.submit(name, query, "caption", 5, [], owner, api_name="/search_image")
    final = job.result()
    outputs = job.outputs()
    assert [o["stage"] for o in outputs] == ["image", "final"]
    assert [o["showing"] for o in outputs] == ["image", "caption"]
    assert outputs[0]["query"]["caption"] is None and final["query"]["caption"]
    assert final == outputs[-1]
    _hits_ok(outputs[0]["hits"])
    predicted = client.predict(name, query, "caption", 5, [], owner, api_name="/search_image")
    assert predicted["stage"] == "final" and predicted["hits"] == final["hits"]
    image = client.submit(name, query, "image", 5, [], owner, api_name="/search_image")
    image.result()
    assert [o["stage"] for o in image.outputs()] == ["final"]  # other modes answer once


def test_find_duplicates_numbers_groups_from_one(client: Any, built: dict[str, Any]) -> None:
    name = built["result"]["collection"]
    owner = built["result"]["owner"]
    found = client.predict(name, ["exact"], 8, 0.95, owner, api_name="/find_duplicates")
    groups = found["groups"]
    assert groups[0]["group"] == 1 and groups[0]["tier"] == "exact"
    files = sorted(m["file"].rsplit("/", 1)[-1] for m in groups[0]["members"])
    assert files == ["circle_0.png", "circle_0_copy.png"]


def test_bad_calls_get_a_one_line_message(client: Any, built: dict[str, Any]) -> None:
    name = built["result"]["collection"]
    owner = built["result"]["owner"]
    with pytest.raises(Exception, match="give a text to search for"):
        client.predict(name, " ", "caption", 5, [], owner, api_name="/search_text")
    with pytest.raises(Exception, match="fuzzy.*not in the list of choices"):
        client.predict(name, ["fuzzy"], 8, 0.95, owner, api_name="/find_duplicates")


def test_delete_collection_only_by_its_owner(
    client: Any, built: dict[str, Any], server: dict[str, Any]
) -> None:
    from gradio_client import handle_file

    kept = built["result"]["collection"]
    owner = built["result"]["owner"]
    extra = client.predict(
        [handle_file(str(server["tree"] / "photo" / "square" / "square_0.png"))],
        "to delete",
        "tiny",
        "lazy",
        owner,
        "new",
        api_name="/build_collection",
    )
    name = extra["collection"]
    assert name.startswith("to-delete-") and extra["owner"] == owner
    with pytest.raises(Exception, match="no collection named"):
        client.predict(name, "", api_name="/delete_collection")
    wrong = "a-real-key-of-someone-else-0123456789"  # non-empty, well-formed, not the owner's
    assert wrong != owner
    with pytest.raises(Exception, match="no collection named"):
        client.predict(name, wrong, api_name="/delete_collection")
    assert (server["workspace"].root / name).is_dir()
    left = client.predict(name, owner, api_name="/delete_collection")
    assert [c["name"] for c in left] == [kept]
    assert not (server["workspace"].root / name).exists()
