"""The app's flows called as handlers (no browser): progress, state resets, refusals, owners."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from tests.drawn import draw_collection


class FalsyProgress:
    """Like ``gr.Progress``: falsy, callable with ``((done, total), desc=..., unit=...)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, str]] = []

    def __bool__(self) -> bool:
        return False

    def __call__(self, value: object, desc: str = "", unit: str = "steps") -> None:
        self.calls.append((value, desc))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return draw_collection(tmp_path_factory.mktemp("drawn"), per_class=2)


@pytest.fixture()
def actions(tmp_path: Path) -> AppActions:
    return AppActions(Workspace(tmp_path / "workspace"), "tiny")


def test_a_falsy_progress_still_receives_every_stage(
    actions: AppActions, drawn: list[Path]
) -> None:
    progress = FalsyProgress()
    out = actions.build([str(p) for p in drawn], "shapes", "tiny", "lazy", progress)
    assert 'class="score"' not in out[2]  # a preview card has no score to show
    _, html, _ = actions.search_text(
        out[0], "a circle", "image", 4, False, [], False, "", 0.5, 1.0, 0.5
    )
    assert html.count('class="file"') == 4 and html.count('tabindex="0"') == 4
    stages = {desc for _, desc in progress.calls}
    assert "embedding images" in stages
    assert ((len(drawn), len(drawn)), "embedding images") in progress.calls


def test_messages_and_reports_name_no_server_path() -> None:
    from cdir.app.views import without_paths

    text = (
        "cannot read /srv/app/stores/mine/files/uploads/holiday.png: not an image; "
        "see '/tmp/x/y.zip' and report.md, a/b/c.png stays"
    )
    cleaned = without_paths(text)
    assert "/srv" not in cleaned and "/tmp" not in cleaned
    assert "holiday.png: not an image" in cleaned and "'y.zip'" in cleaned
    assert "a/b/c.png" in cleaned  # paths inside a collection are the user's own names


def test_a_refused_build_message_names_files_only(actions: AppActions, tmp_path: Path) -> None:
    import gradio as gr

    from cdir.app.wrappers import as_gr_error

    fake = tmp_path / "deep" / "folder" / "holiday.png"
    fake.parent.mkdir(parents=True)
    fake.write_text("text, not an image")
    with pytest.raises(gr.Error) as refused:
        as_gr_error(actions.build)([str(fake)], "nothing", "tiny", "lazy")
    assert "No collection was made" in refused.value.message
    assert "holiday.png" in refused.value.message and str(tmp_path) not in refused.value.message
    assert actions.workspace.collections() == []
    assert not (actions.workspace.root / "nothing").exists()


def test_the_evaluation_report_names_no_server_path(tmp_path: Path) -> None:
    from tests.drawn import draw_collection as draw

    actions = AppActions(Workspace(tmp_path / "ws"), "tiny")
    tree = tmp_path / "tree"
    draw(tree, per_class=2)
    from tests.archives import make_zip

    entries = {p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*.png")}
    store = actions.build([str(make_zip(tmp_path / "t.zip", entries))], "ev", "tiny", "all")[0]
    report = actions.evaluate(store)
    assert "mAP" in report and str(tmp_path) not in report and "/tmp" not in report


def test_storage_follows_cdir_store_then_persistent_data(tmp_path: Path) -> None:
    from cdir.app.workspace import default_store, storage_note

    data = tmp_path / "data"
    assert default_store({"CDIR_STORE": "/x/y"}, data) == Path("/x/y")
    assert default_store({}, data) == Path("stores")  # nothing attached
    data.mkdir()
    assert default_store({}, data) == data / "cdir-stores"
    assert storage_note(data / "cdir-stores", {"SPACE_ID": "me/app"}, data) == ""
    assert "vanish" in storage_note(tmp_path / "stores", {"SPACE_ID": "me/app"}, data)
    assert storage_note(tmp_path / "stores", {}, data) == ""  # not on a Space: nothing to say


def test_lazy_captions_are_made_when_a_mode_needs_them(
    actions: AppActions, drawn: list[Path]
) -> None:
    from cdir.app.queries import SearchSettings

    store = actions.build([str(p) for p in drawn], "lazy", "tiny", "lazy")[0]
    with pytest.raises(ValueError, match="Captions are being made now"):
        actions.search(store, {"text": "a circle"}, SearchSettings(mode="caption-caption"))
    actions.jobs.wait(Path(store))
    assert actions.jobs.status(Path(store)).finished
    _, html, table = actions.search(
        store, {"text": "a circle"}, SearchSettings(mode="caption-caption", k=3)
    )
    assert len(table) == 3 and actions.make_captions(store) == ""


def test_a_job_with_nothing_to_caption_says_ready_without_a_zero_count() -> None:
    from cdir.ingest.jobs import JobStatus

    assert JobStatus(finished=True).describe() == "captions ready"
    assert JobStatus(done=3, total=3, finished=True).describe() == "captions ready (3 images)"


def test_the_summary_says_why_images_outnumber_files() -> None:
    from cdir.app.views import collection_summary

    info = {
        "name": "examples",
        "n_ok": 105,
        "n_tiles": 4,
        "n_captioned": 105,
        "n_failed": 0,
        "preset": "tiny",
        "domains": {},
        "classes": {},
        "predicted_domains": 0,
        "failed": [],
    }
    assert "105 images** searchable (101 files and 4 tiles cut from grid images)" in (
        collection_summary(info)
    )
