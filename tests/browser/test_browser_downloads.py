"""A download from the page, in headless Chromium (tiny preset): search, click the results'
JSON download, and the browser receives the results with their scores.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import browser, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from cdir.app.workspace import Workspace

    require_chromium()
    workspace = Workspace(tmp_path_factory.mktemp("workspace"))
    with served_app(workspace, tmp_path_factory.mktemp("cache")) as (url, _), browser() as chromium:
        context = chromium.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(url)
        yield page
        context.close()


def test_search_results_download_as_json(page, tmp_path: Path) -> None:
    page.click("#load-examples")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('examples-tiny')"
    )
    page.get_by_role("tab", name="Search").click()
    page.get_by_role("tab", name="Text").click()
    page.get_by_label("Describe what you are looking for").fill("a house")
    page.get_by_role("button", name="Search with this text").click()
    page.wait_for_selector("#results .cdir-card")
    shown = page.locator("#results .cdir-card").count()
    page.click("#download-search-json")
    link = page.locator("#search-file a[download]").first
    link.wait_for(state="visible")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("search-")
    assert download.suggested_filename.endswith(".json")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["query"]["text"] == "a house"
    assert len(data["hits"]) == shown
    scores = [hit["score"] for hit in data["hits"]]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)
    assert [hit["rank"] for hit in data["hits"]] == list(range(1, shown + 1))
    target = os.environ.get("CDIR_SCREENSHOT_DIR")
    shots = Path(target) if target else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.locator("#download-search-json").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "download_search.png"))


def _downloaded(page, links: str, tmp_path: Path) -> list[str]:
    """Download every link of the file box ``links``; returns the downloaded files' names."""
    page.locator(links).first.wait_for(state="visible")
    names = []
    for n in range(page.locator(links).count()):
        with page.expect_download() as info:
            page.locator(links).nth(n).click()
        info.value.save_as(tmp_path / info.value.suggested_filename)
        names.append(info.value.suggested_filename)
    return names


def test_map_and_evaluation_report_download(page, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Map").click()
    page.wait_for_selector("#cdir-map .scatterlayer .point")
    page.click("#download-map-html")
    [name] = _downloaded(page, "#map-file a[download]", tmp_path)
    assert name.startswith("map-") and name.endswith(".html")
    assert "Plotly.newPlot" in (tmp_path / name).read_text(encoding="utf-8")
    page.get_by_role("tab", name="Evaluate").click()
    page.click("#run-eval")
    page.wait_for_function("document.querySelector('#eval-report').innerText.includes('mAP')")
    page.click("#download-eval-report")
    names = _downloaded(page, "#eval-file a[download]", tmp_path)
    assert sorted(names) == ["report.csv", "report.md"]
    assert "mAP" in (tmp_path / "report.md").read_text(encoding="utf-8")
