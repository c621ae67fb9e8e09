"""Attacks 1-3: names of other visitors' collections cannot be probed or guessed, only the owner
deletes (with a real, wrong key too), a delete is whole, and the shared examples stay as they
are whatever a visitor sends."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError

from cdir.app.workspace import Workspace, WorkspaceError
from cdir.store.collection import Store, StoreError
from tests.drawn import draw_collection
from tests.security.visitors import build


def _refusal(server, api_name: str, *args) -> str:
    with pytest.raises(AppError) as refused:
        server.call(api_name, *args)
    return str(refused.value)


def test_the_same_name_gives_each_visitor_an_unguessable_collection(server) -> None:
    assert server.a_name != server.b_name
    for name in (server.a_name, server.b_name):
        assert re.fullmatch(r"mine-[0-9a-f]{10}", name)
    listed_a = [c["name"] for c in server.call("/list_collections", server.a_key)]
    assert server.a_name in listed_a and server.b_name not in listed_a


def test_someone_elses_collection_answers_as_one_that_does_not_exist(server) -> None:
    absent = "mine-0000000000"
    for api_name, args in (
        ("/open_collection", (server.b_name, server.a_key)),
        ("/search_text", (server.b_name, "x", "caption", 3, [], server.a_key)),
        ("/find_duplicates", (server.b_name, ["exact"], 8, 0.95, server.a_key)),
    ):
        theirs = _refusal(server, api_name, *args)
        nothing = _refusal(server, api_name, absent, *args[1:])
        assert theirs.replace(server.b_name, "NAME") == nothing.replace(absent, "NAME")
        assert "no collection named" in theirs


def test_a_build_never_tells_whether_a_name_is_taken(server, tmp_path: Path) -> None:
    files = draw_collection(tmp_path, domains=("sketch",), classes=("cross",), per_class=1)
    taken = build(server.client, files, server.b_name.rsplit("-", 1)[0], owner="c-key")
    fresh = build(server.client, files, "never-used-before", owner="c-key")
    for made, asked in ((taken, "mine"), (fresh, "never-used-before")):
        assert re.fullmatch(rf"{asked}-[0-9a-f]{{10}}", made["collection"])
    exact = build(server.client, files, server.b_name, owner="c-key")  # B's full name
    assert exact["collection"] != server.b_name
    assert Store.load(server.workspace.root / server.b_name).counts()["n_ok"] == 4


def test_deleting_with_a_real_wrong_key_is_refused_and_loses_nothing(server) -> None:
    before = sorted(p.name for p in (server.workspace.root / server.b_name).rglob("*"))
    message = _refusal(server, "/delete_collection", server.b_name, server.a_key)
    assert "no collection named" in message
    after = sorted(p.name for p in (server.workspace.root / server.b_name).rglob("*"))
    assert after == before
    assert server.b_name in [c["name"] for c in server.call("/list_collections", server.b_key)]


def test_the_examples_cannot_be_deleted_or_added_to(server, tmp_path: Path) -> None:
    root = server.workspace.root / server.examples
    before = Store.load(root).counts()["n_ok"]
    message = _refusal(server, "/delete_collection", server.examples, server.a_key)
    assert "cannot be deleted" in message
    files = draw_collection(tmp_path, domains=("clipart",), classes=("circle",), per_class=1)
    added = build(server.client, files, server.examples, owner=server.a_key, if_exists="add")
    assert added["collection"] != server.examples
    assert added["collection"].startswith("my-examples-tiny-")
    assert Store.load(root).counts()["n_ok"] == before
    listed_b = [c["name"] for c in server.call("/list_collections", server.b_key)]
    assert server.examples in listed_b and added["collection"] not in listed_b


def test_tags_and_decisions_on_the_examples_are_refused(server) -> None:
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        server.workspace.check_writable(server.examples)
    server.workspace.check_writable(server.a_name)  # one's own: fine


def test_a_visitor_cannot_make_a_collection_everyone_sees(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    made = workspace.new_collection("examples-demo", unguessable=True)
    workspace.claim(made, "visitor")
    assert not made.name.startswith("examples")
    fake = tmp_path / "ws" / "examples-fake"  # even one made on disk with an owner file
    fake.mkdir()
    workspace.claim(fake, "visitor")
    assert not workspace.is_examples(fake) and not workspace.visible(fake, "someone else")


def test_delete_while_captions_are_written_removes_all_or_nothing(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background job is stopped first; the collection is then gone whole and never comes
    back (its job does not write the table again), and the owner sees it gone."""
    actions = server.demo.cdir_actions
    files = draw_collection(
        tmp_path, domains=("photo", "sketch"), classes=("circle", "square"), per_class=3
    )
    gate, entered = threading.Event(), threading.Event()
    made = build(server.client, files, "busy", owner="d-key", captions="lazy")
    root = server.workspace.root / made["collection"]
    from cdir import api

    models = api.get_models("tiny")
    original = models.captioner.caption

    def slow(images):
        entered.set()
        gate.wait(30)
        return original(images)

    models.captioner.caption = slow
    stopping = threading.Event()
    stop = actions.jobs.stop

    def stop_noted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        stopping.set()  # the delete has reached the job's stop, and waits there for the job
        return stop(*args, **kwargs)

    monkeypatch.setattr(actions.jobs, "stop", stop_noted)
    try:
        actions.jobs.start(root, models)
        assert entered.wait(30)
        deleting = threading.Thread(
            target=server.call, args=("/delete_collection", made["collection"], "d-key")
        )
        deleting.start()
        assert stopping.wait(60)
        assert root.exists()  # waiting for the job to stop
        gate.set()
        deleting.join(60)
    finally:
        models.captioner.caption = original
        gate.set()
    actions.jobs.wait(root, 30)
    assert not root.exists()
    assert not any(p.name.startswith(made["collection"]) for p in server.workspace.root.iterdir())
    assert made["collection"] not in [c["name"] for c in server.call("/list_collections", "d-key")]
    with pytest.raises(StoreError):
        server.workspace.path(made["collection"], "d-key")


def test_tagging_and_deciding_on_the_examples_is_refused_through_the_handlers(server) -> None:
    """The Browse panel's own handlers (what the page calls, and a visitor mimicking the page
    could call): one line, nothing saved for everyone. (Duplicate decisions moved to the
    Duplicates tab, the one review place.)"""
    from cdir.app.browse import BrowseActions

    browse = BrowseActions(server.demo.cdir_actions)
    examples = str(server.workspace.root / server.examples)
    filters = [[], [], [], "", "", "", [], "name", False, "", 1]
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        browse.tag(examples, "add", "mine-now", "item", "0:1", *filters)
    from cdir.app.browse_tools import BrowseTools

    tools = BrowseTools(browse)
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        tools.save_view(examples, "mine", *filters, None)
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        tools.correct(examples, 0, "mine", "mine")
    assert not (server.workspace.root / server.examples / "tags.json").exists()
    assert not (server.workspace.root / server.examples / "views.json").exists()
    own = str(server.workspace.root / server.a_name)
    assert "added to 1" in browse.tag(own, "add", "mine-now", "item", "0:1", *filters)


def test_duplicate_decisions_on_the_examples_are_refused_through_the_handlers(server) -> None:
    """The Duplicates tab's keep, keys and bulk accept (the one review place): one line on the
    shared examples, nothing saved for everyone; the visitor's own collection takes them."""
    actions = server.demo.cdir_actions
    examples = str(server.workspace.root / server.examples)
    tiers, perceptual = ["exact", "perceptual"], 10.0
    _, _, state = actions.find_dupes(examples, tiers, perceptual, None)
    assert state, "the examples have near-duplicate groups"
    member = state[0]["members"][0]
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        actions.choose_keep(examples, f"0-{member}:1", state, tiers, perceptual, None)
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        actions.choose_keep(examples, f"0-{member}-remove:2", state, tiers, perceptual, None)
    with pytest.raises(WorkspaceError, match="shared by every visitor"):
        actions.accept_dupes(examples, "all", state, tiers, perceptual, None)
    assert not (server.workspace.root / server.examples / "dupes" / "decided.json").exists()


def test_a_long_name_is_found_again_by_its_owner(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    name = "a very long collection name that goes on and on past the slug limit"
    made = workspace.new_collection(name, unguessable=True)
    workspace.claim(made, "me")
    (made / "meta.json").write_text("{}")
    assert len(made.name) <= 48 and re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{10}", made.name)
    assert workspace.find_own(name, "me") == made
    assert workspace.find_own(name, "someone else") is None
