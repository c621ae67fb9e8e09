"""Collection › Browse in headless Chromium (tiny preset, the example collection), with real
clicks and keys: save, open, rename and delete a view; download the current view as a file list,
the originals and a 🤗 dataset; step through the view in the large viewer with ← → j k and close
it with Esc; correct a class label and find it after a reload; pick a diverse subset into the
grid; compare two duplicates side by side in the Duplicates tab."""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_browser_browse import changed, grid_ids, pick
from tests.served import CHROMIUM, CHROMIUM_ARGS, after_event, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


PRESET = os.environ.get("CDIR_BROWSER_PRESET", "tiny")  # demo for the README's screenshots


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from cdir.app.workspace import Workspace

    require_chromium()
    # a private deployment: the examples may be labelled and their views saved
    workspace = Workspace(tmp_path_factory.mktemp("workspace"), shared=True)
    with served_app(workspace, tmp_path_factory.mktemp("cache"), preset=PRESET) as (url, _):
        yield url, workspace.examples_dir(PRESET)


@pytest.fixture(scope="module")
def page(served: tuple[str, Path]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(served[0])
        yield page
        browser.close()


def open_browse(page) -> None:  # noqa: ANN001
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )
    page.get_by_text("Browse the whole collection").click()
    page.wait_for_selector("#browse-grid .cdir-card")


def total(page) -> int:  # noqa: ANN001
    return int(re.match(r"\s*(\d+) of", page.inner_text("#browse-page")).group(1))


def result(page, selector: str, previous: str = "") -> str:  # noqa: ANN001
    return changed(page, selector, previous)


def test_1_a_view_is_saved_opened_renamed_and_deleted(page, served, shots: Path) -> None:  # noqa: ANN001
    open_browse(page)
    line = page.inner_text("#browse-page")
    pick(page, "#browse-domains", "sketch")
    line = changed(page, "#browse-page", line)
    sketches = total(page)
    page.fill("#browse-view-name input, #browse-view-name textarea", "my sketches")
    page.click("#browse-view-save")
    assert "saved" in result(page, "#browse-view-result")
    assert '"my sketches"' in (served[1] / "views.json").read_text()
    page.click("#browse-domains input")  # the filter off: every item again
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    line = changed(page, "#browse-page", line)
    assert total(page) > sketches
    page.click("#browse-views input")
    page.get_by_role("option", name="my sketches").click()
    message = page.inner_text("#browse-view-result")
    page.click("#browse-view-open")
    assert "opened" in result(page, "#browse-view-result", message)
    page.wait_for_function(
        "n => document.querySelector('#browse-page').innerText.trim().startsWith(n + ' of')",
        arg=str(sketches),
    )
    assert set(page.locator("#browse-grid .badge.dom").all_inner_texts()) == {"sketch"}
    page.locator("#browse-tools").screenshot(path=str(shots / "browse_saved_views.png"))
    page.fill("#browse-view-name input, #browse-view-name textarea", "drawn")
    message = page.inner_text("#browse-view-result")
    page.click("#browse-view-rename")
    assert "renamed" in result(page, "#browse-view-result", message)
    assert '"drawn"' in (served[1] / "views.json").read_text()
    message = page.inner_text("#browse-view-result")
    page.click("#browse-view-delete")
    assert "deleted" in result(page, "#browse-view-result", message)
    assert '"drawn"' not in (served[1] / "views.json").read_text()


def test_2_the_current_view_downloads_three_ways(page, served, tmp_path: Path) -> None:  # noqa: ANN001
    """Still filtered to the sketches: the file list, the originals and the dataset hold
    exactly the items of the view, and come through the page's download link."""
    import datasets

    sketches = total(page)

    def download(fmt: str) -> Path:
        message = page.inner_text("#browse-download-result")
        page.click(f"#browse-download-{fmt}")
        result(page, "#browse-download-result", message)
        with page.expect_download() as info:
            page.click("#browse-download a")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        return path

    rows = list(csv.DictReader(io.StringIO(download("csv").read_text())))
    assert len(rows) == sketches and {r["domain"] for r in rows} == {"sketch"}
    with zipfile.ZipFile(download("zip")) as archive:
        assert len(archive.namelist()) == sketches
    data = download("datasets")
    with zipfile.ZipFile(data) as archive:
        archive.extractall(tmp_path / "out")
    (folder,) = (tmp_path / "out").iterdir()
    loaded = datasets.load_from_disk(str(folder))
    assert len(loaded) == sketches and set(loaded["domain"]) == {"sketch"}
    exports = served[1] / "exports"
    assert {p.suffix for p in exports.iterdir() if p.name.startswith("browse")} == {".csv", ".zip"}


def test_3_the_viewer_steps_with_arrows_and_j_k_and_closes_with_esc(page, shots: Path) -> None:  # noqa: ANN001
    ids = grid_ids(page)

    def shown() -> int:
        return int(re.search(r"id (\d+)", page.inner_text("#viewer-details")).group(1))

    def press(key: str, expected: int) -> None:
        page.keyboard.press(key)
        page.wait_for_function(
            "id => document.querySelector('#viewer-details').innerText.includes('id ' + id)",
            arg=str(expected),
        )
        assert shown() == expected

    page.locator(f"#browse-grid .cdir-card[data-browse-id='{ids[0]}']").click()
    page.wait_for_function(
        "id => document.querySelector('#browse-item').innerText.includes('id ' + id)",
        arg=str(ids[0]),
    )
    page.click("#browse-view-large")
    page.wait_for_selector("#browse-viewer", state="visible")
    page.wait_for_selector("#viewer-details .file")
    assert shown() == ids[0] and "item 1 of" in page.inner_text("#viewer-position")
    details = page.inner_text("#viewer-details")
    assert "caption" in details and "prompt" in details and "sketch" in details
    press("ArrowRight", ids[1])
    press("j", ids[2])
    press("k", ids[1])
    press("ArrowLeft", ids[0])
    press("ArrowLeft", ids[0])  # the first stays the first
    page.wait_for_selector("#viewer-image img")
    page.wait_for_function(  # drawn, not pending
        "!document.querySelector('#browse-viewer .pending, #browse-viewer .generating')"
    )
    page.screenshot(path=str(shots / "browse_viewer.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector("#browse-viewer", state="hidden")


def test_4_a_corrected_class_is_kept_and_shown(page, served) -> None:  # noqa: ANN001
    item = grid_ids(page)[1]
    page.locator(f"#browse-grid .cdir-card[data-browse-id='{item}']").click()
    page.wait_for_function(
        "id => document.querySelector('#browse-item').innerText.includes('id ' + id)",
        arg=str(item),
    )
    page.click("#browse-view-large")
    page.wait_for_selector("#browse-viewer", state="visible")
    page.wait_for_function(
        "id => document.querySelector('#viewer-details').innerText.includes('id ' + id)",
        arg=str(item),
    )
    page.click("#viewer-class input")
    page.fill("#viewer-class input", "lighthouse")
    page.keyboard.press("Enter")
    page.click("#viewer-save-label")
    assert "corrected" in result(page, "#viewer-label-result")
    assert "lighthouse" in page.inner_text("#viewer-details")
    page.keyboard.press("Escape")
    page.wait_for_selector("#browse-viewer", state="hidden")
    card = f"#browse-grid .cdir-card[data-browse-id='{item}'] .badge.cls"
    page.wait_for_function(f"document.querySelector(\"{card}\").innerText === 'lighthouse'")
    page.reload()  # kept in the collection: a new page finds it
    open_browse(page)
    line = page.inner_text("#browse-page")
    pick(page, "#browse-classes", "lighthouse")
    changed(page, "#browse-page", line)
    assert grid_ids(page) == [item]


def test_5_a_diverse_subset_fills_the_grid_and_downloads(page, served, shots: Path) -> None:  # noqa: ANN001
    line = page.inner_text("#browse-page")
    page.click("#browse-classes input")  # the class filter off
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    line = changed(page, "#browse-page", line)
    page.fill("#browse-diverse-k input", "6")
    page.click("#browse-diverse")
    assert "6 diverse items" in result(page, "#browse-diverse-result")
    page.wait_for_function(
        "document.querySelector('#browse-page').innerText.includes('6 selected')"
    )
    chosen = sorted(grid_ids(page))
    assert len(chosen) == 6
    page.locator("#browse-grid").screenshot(path=str(shots / "browse_diverse.png"))
    message = page.inner_text("#browse-download-result")
    page.click("#browse-download-csv")
    result(page, "#browse-download-result", message)
    newest = max((served[1] / "exports").glob("browse-*.csv"), key=lambda p: p.stat().st_mtime)
    rows = list(csv.DictReader(io.StringIO(newest.read_text())))
    assert sorted(int(r["id"]) for r in rows) == chosen
    # the same seed: the same items (the grid, drawn again after the choice, is the same)
    after_event(page, "#browse-grid", lambda: page.click("#browse-diverse"))
    page.wait_for_function(
        "document.querySelector('#browse-page').innerText.includes('6 selected')"
    )
    assert sorted(grid_ids(page)) == chosen


def test_6_two_duplicates_side_by_side(page, shots: Path) -> None:  # noqa: ANN001
    page.get_by_role("tab", name="Duplicates").click()
    page.fill("#dupes-perceptual input[type=number]", "14")
    page.press("#dupes-perceptual input[type=number]", "Enter")
    page.click("#find-dupes")
    page.wait_for_selector("#dupe-groups .cdir-row .cdir-card[data-id]")
    card = page.locator("#dupe-groups .cdir-row .cdir-card[data-id]:not(.kept)").first
    member = card.get_attribute("data-id")
    card.focus()
    page.keyboard.press("c")
    page.wait_for_selector("#compare-table table")
    table = page.inner_text("#compare-table")
    assert f"item {member}" in table and "resolution" in table and "format" in table
    assert page.locator("#compare-table tr.differs").count() >= 1
    page.wait_for_selector("#compare-left img")
    page.wait_for_selector("#compare-right img")
    before = page.get_attribute("#compare-left img", "src")
    page.fill("#compare-zoom input[type=number]", "3")
    page.press("#compare-zoom input[type=number]", "Enter")
    page.click("#compare-run")
    page.wait_for_function(
        "src => { const i = document.querySelector('#compare-left img');"
        " return i && i.src !== src; }",
        arg=before,
    )
    page.locator("#compare-panel").screenshot(path=str(shots / "dupes_compare.png"))
