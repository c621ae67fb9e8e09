"""A dropped image or a drawn sketch in caption-matching (CM) mode answers in two stages: its
image → image results first, then the CM results; a caption that fails keeps the image results
with a one-line message. Handlers called directly, tiny models (no browser, no timings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cdir import api
from cdir.app.endpoints import Endpoints
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from cdir.app.wrappers import as_message
from cdir.retrieval.search import SearchOptions
from cdir.retrieval.staged import staged_search
from tests.drawn import draw_collection

CM = ("caption", 5, False, [], False, "", 0.5, 1.0, 0.5)  # the search widgets' values
IMAGE = ("image", *CM[1:])
CROSS_CM = ("caption", 3, True, [], False, "", 0.5, 1.0, 0.5)


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> AppActions:
    return AppActions(Workspace(tmp_path_factory.mktemp("workspace")), "tiny")


@pytest.fixture(scope="module")
def store(actions: AppActions, tmp_path_factory: pytest.TempPathFactory) -> str:
    tree = tmp_path_factory.mktemp("upload") / "tree"
    draw_collection(tree)
    files = [str(p) for p in sorted(tree.rglob("*.png"))]
    return str(actions.build_store(files, "shapes", "tiny", "all")[0])


_drawn = iter(range(1, 10_000))


def new_query(folder: Path) -> Path:
    """A query image never seen before (nothing of it is cached)."""
    n = next(_drawn)
    rng = np.random.default_rng(n)
    image = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        [8, 8, 56, 56], outline=tuple(int(c) for c in rng.integers(0, 255, 3)), width=1 + n % 5
    )
    path = folder / f"query_{n}.png"
    image.save(path)
    return path


def ids(result) -> list[int]:  # noqa: ANN001
    return [h.id for h in result.hits]


@pytest.fixture
def failing_captioner(store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The queries' captioner raises, as a broken model or an out-of-memory would."""
    captioner = api.session_for(store).models.query_captioner

    def broken(images: object) -> list[str]:
        raise RuntimeError("the captioner broke")

    monkeypatch.setattr(captioner, "caption", broken)
    yield


def test_cm_stages_are_the_image_ranking_then_the_cm_ranking(store: str, tmp_path: Path) -> None:
    session = api.session_for(store)
    image, sha = session.searcher.load_picture(new_query(tmp_path))
    options = SearchOptions(mode="caption", k=6)
    stages = list(staged_search(session.searcher, image, options, sha))
    assert [(s.showing, s.final) for s in stages] == [("image", False), ("caption", True)]
    assert stages[0].waiting_for_caption and not stages[1].waiting_for_caption
    first, final = stages[0].rows[0][1], stages[1].rows[0][1]
    assert first.query.caption is None and final.query.caption  # the caption came second
    # each stage ranks exactly as a one-stage search in its mode
    plain_image = api.search(session, image=image, options=SearchOptions(mode="image", k=6))
    plain_cm = api.search(session, image=image, options=options)
    assert ids(first) == ids(plain_image) and ids(final) == ids(plain_cm)
    assert final.query.caption == plain_cm.query.caption


def test_other_modes_answer_in_one_stage(store: str, tmp_path: Path) -> None:
    session = api.session_for(store)
    for mode in ("image", "caption-caption", "fusion"):
        stages = list(
            api.search_staged(
                session, image=new_query(tmp_path), options=SearchOptions(mode=mode, k=4)
            )
        )
        assert [(s.showing, s.final) for s in stages] == [(mode, True)]


def test_handler_shows_the_image_match_then_caption_matching(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    path = str(new_query(tmp_path))
    shown = list(actions.ui_search_stages("image", store, path, *CM))
    assert len(shown) == 2
    (md1, html1, table1, query1, picture1), (md2, html2, table2, query2, picture2) = shown
    assert "image match" in md1 and "caption matching in progress" in md1
    assert "Mode:" not in md1  # the search is not done yet
    caption = api.search(
        api.session_for(store), image=path, options=SearchOptions(mode="caption")
    ).query.caption
    assert "Showing: caption matching" in md2 and caption in md2 and "Mode:" in md2
    assert html1.count('class="cdir-card"') == 5 == html2.count('class="cdir-card"')
    image_ids = [row[1] for row in actions.ui_search("image", store, path, *IMAGE)[2]]
    assert [row[1] for row in table1] == image_ids
    assert table2 == actions.ui_search("image", store, path, *CM)[2]
    assert query1 == query2 == {"kind": "image", "value": path}
    assert picture1 == picture2 == path


def test_a_sketch_answers_in_the_same_two_stages(actions: AppActions, store: str) -> None:
    drawing = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    ImageDraw.Draw(drawing).rectangle([20, 20, 76, 76], outline=(0, 0, 0, 255), width=4)
    shown = list(actions.ui_search_stages("sketch", store, {"composite": drawing}, *CM))
    assert len(shown) == 2
    assert "image match" in shown[0][0] and "Showing: caption matching" in shown[1][0]


def test_image_mode_and_text_queries_are_unchanged(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    path = str(new_query(tmp_path))
    assert list(actions.ui_search_stages("image", store, path, *IMAGE)) == [
        actions.ui_search("image", store, path, *IMAGE)
    ]
    assert list(actions.ui_search_stages("text", store, "a red circle", *CM)) == [
        actions.ui_search("text", store, "a red circle", *CM)
    ]


def test_cross_domain_view_stages_every_row(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    shown = list(actions.ui_search_stages("image", store, str(new_query(tmp_path)), *CROSS_CM))
    domains = sorted(api.info(store)["domains"])
    assert len(shown) == 2
    for _, html, table, *_ in shown:
        assert html.count('class="cdir-row"') == len(domains)
        assert sorted({row[3] for row in table}) == domains


def test_rerun_in_cm_mode_stages_the_current_image_query(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    query = {"kind": "image", "value": str(new_query(tmp_path))}
    shown = list(actions.rerun_stages(store, query, *CM))
    assert len(shown) == 2 and "image match" in shown[0][0]
    assert len(list(actions.rerun_stages(store, query, *IMAGE))) == 1


def test_failed_caption_keeps_the_image_results_with_a_message(
    actions: AppActions, store: str, tmp_path: Path, failing_captioner: None
) -> None:
    path = str(new_query(tmp_path))
    shown = list(actions.ui_search_stages("image", store, path, *CM))
    assert len(shown) == 2
    md, html, table = shown[1][:3]
    assert "image match only" in md and "could not be made (RuntimeError)" in md
    assert "\n" not in md.split("⚠️", 1)[1].split("  \n")[0]  # the message is one line
    assert table == shown[0][2]  # the image results stay
    assert html.count('class="cdir-card"') == 5


def test_failed_caption_through_the_page_wrapper_does_not_raise(
    actions: AppActions, store: str, tmp_path: Path, failing_captioner: None
) -> None:
    wrapped = as_message(actions.ui_search_stages, 5)
    shown = list(wrapped("image", store, str(new_query(tmp_path)), *CM))
    assert len(shown) == 2 and "image match only" in shown[1][0]


def test_page_wrapper_keeps_what_a_stage_showed_when_a_later_one_fails() -> None:
    def stages() -> Iterator[str]:
        yield "first"
        raise ValueError("the second stage failed")

    shown = list(as_message(stages, 1)())
    assert shown[0] == "first" and shown[1] == {"__type__": "update"}


def test_endpoint_yields_the_image_record_then_the_cm_record(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    calls = Endpoints(actions)
    path = str(new_query(tmp_path))
    records = list(calls.search_image_stages("shapes", path, "caption", 4))
    assert [r["stage"] for r in records] == ["image", "final"]
    assert [r["showing"] for r in records] == ["image", "caption"]
    assert records[0]["query"]["caption"] is None and records[1]["query"]["caption"]
    assert records[1]["hits"] == calls.search_image("shapes", path, "caption", 4)["hits"]
    single = list(calls.search_image_stages("shapes", path, "image", 4))
    assert [r["stage"] for r in single] == ["final"]


def test_endpoint_with_a_failed_caption_ends_with_image_hits_and_a_message(
    actions: AppActions, store: str, tmp_path: Path, failing_captioner: None
) -> None:
    records = list(
        Endpoints(actions).search_image_stages("shapes", str(new_query(tmp_path)), "caption", 4)
    )
    assert [r["stage"] for r in records] == ["image", "final"]
    assert records[1]["hits"] == records[0]["hits"] and "could not be made" in records[1]["message"]
