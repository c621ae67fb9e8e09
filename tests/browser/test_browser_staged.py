"""A dropped query image in caption-matching mode, in headless Chromium (tiny preset): the page
first shows the image match, labelled as such while the caption is being written, then the
caption-matching results under the caption's label.

The query's caption waits on a gate the test opens once it has seen the first stage, so both
stages are seen in order however fast the machine is (no timing in the test). Screenshots go to
``$CDIR_SCREENSHOT_DIR`` when it is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.drawn import draw_image
from tests.served import browser, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def gate() -> Iterator[threading.Event]:
    """Query captions of the served app's models wait until the returned event is set."""
    from cdir.models.loaded import get_models

    captioner = get_models("tiny").query_captioner
    opened = threading.Event()
    opened.set()
    original = captioner.caption

    def gated(images: Any) -> list[str]:
        opened.wait(timeout=120)
        return original(images)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(captioner, "caption", gated)
        try:
            yield opened
        finally:
            opened.set()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, gate: threading.Event) -> Iterator[Any]:
    from cdir.app.workspace import Workspace

    require_chromium()
    workspace = Workspace(tmp_path_factory.mktemp("workspace"))
    with served_app(workspace, tmp_path_factory.mktemp("cache")) as (url, _), browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(url)
        yield page


def _query_info_has(page: Any, text: str) -> str:
    page.wait_for_function(
        "t => document.querySelector('#query-info').innerText.includes(t)", arg=text
    )
    return page.inner_text("#query-info")


def test_dropped_image_shows_the_image_match_then_caption_matching(
    page: Any, gate: threading.Event, tmp_path: Path, shots: Path
) -> None:
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )
    page.get_by_role("tab", name="Search").click()
    query = tmp_path / "new query.png"  # not in the collection: its caption is not cached
    draw_image("sketch", "circle", 3, size=96).save(query)
    gate.clear()  # the query's caption waits
    try:
        page.set_input_files("#query-image input[type=file]", str(query))
        first = _query_info_has(page, "caption matching in progress")
        assert "Showing: image match" in first and "Mode:" not in first
        page.wait_for_selector("#results .cdir-card")
        assert page.locator("#results .cdir-card").count() == 12
        page.screenshot(path=str(shots / "search_image_match_first.png"), full_page=True)
    finally:
        gate.set()
    final = _query_info_has(page, "Showing: caption matching")
    assert "caption matching in progress" not in final
    assert "Mode:" in final and "“" in final  # the caption that did the matching
    assert page.locator("#results .cdir-card").count() == 12
    page.screenshot(path=str(shots / "search_caption_matching.png"), full_page=True)
