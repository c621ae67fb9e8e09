"""The real app in headless Chromium, driven as a user would (tiny preset; ``$CDIR_BROWSER_PRESET``
picks another one that runs offline, such as the shipped ``demo`` model).

Screenshots of every tab go to ``$CDIR_SCREENSHOT_DIR`` (the README's come from
``CDIR_BROWSER_PRESET=demo CDIR_SCREENSHOT_DIR=assets/screenshots python -m pytest
tests/browser/test_browser.py``), else to a temporary directory. Chromium comes from Debian
(`apt-get install chromium`); without it these tests are skipped, except under CI where its
absence is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import browser, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PRESET = os.environ.get("CDIR_BROWSER_PRESET", "tiny")
QUERY = REPO / "cdir" / "assets" / "examples" / "sketch" / "house" / "sketch_house_01.jpg"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from cdir.app.workspace import Workspace

    require_chromium()
    # a private deployment (--shared-workspace): the review below decides on the examples; on a
    # public page that is refused (test_browser_flows.py, test_l)
    workspace = Workspace(tmp_path_factory.mktemp("workspace"), shared=True)
    with served_app(workspace, tmp_path_factory.mktemp("cache"), preset=PRESET) as (url, _):
        yield url


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[object]:
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(app_url)
        yield page


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.get_by_role("tab", name=name, selected=True).wait_for()  # a condition, not a clock


def _search_done(page, previous: str) -> str:
    """Wait until the query panel shows a new search, return its text."""
    page.wait_for_function(  # the final stage shown, and no output still pending
        "prev => { const t = document.querySelector('#query-info').innerText;"
        " return t.includes('Mode:') && t !== prev"
        " && !document.querySelector('#query-info .pending, #query-info .generating,"
        " #results .pending, #results .generating'); }",
        arg=previous,
    )
    return page.inner_text("#query-info")


def test_1_example_collection_loads_with_banner(page, shots: Path) -> None:
    from cdir.models.presets import get_preset

    if not get_preset(PRESET).trained:  # random models: the page must say results mean nothing
        page.wait_for_selector("#untrained-banner", state="visible")
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    summary = page.inner_text("#collection-summary")
    assert "images" in summary and "sketch" in summary and "photo" in summary
    assert page.locator("#collection-preview .cdir-card").count() >= 6
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )
    page.screenshot(path=str(shots / "collection.png"), full_page=True)


def test_2_query_upload_shows_results_with_captions(page, shots: Path) -> None:
    _tab(page, "Search")
    page.set_input_files("#query-image input[type=file]", str(QUERY))
    text = _search_done(page, "")
    assert "The query's caption" in text and "Caption matching" in text
    cards = page.locator("#results .cdir-card")
    assert cards.count() == 12
    assert all(c.strip() for c in page.locator("#results .cdir-card .cap").all_inner_texts())
    page.screenshot(path=str(shots / "search.png"), full_page=True)


def test_3_mode_switch_and_cross_domain_rows(page, shots: Path) -> None:
    previous = page.inner_text("#query-info")
    page.get_by_label("Image → image").check()
    page.get_by_role("button", name="Search with this image").click()
    previous = _search_done(page, previous)
    assert "Image → image" in previous
    page.get_by_label("Caption matching (CM)").check()
    page.click("#cross-domain input")
    page.get_by_role("button", name="Search with this image").click()
    _search_done(page, previous)
    page.wait_for_function("document.querySelectorAll('#results .cdir-row').length >= 6")
    titles = page.locator("#results .cdir-row-title").all_inner_texts()
    assert {t.split(":")[0] for t in titles} >= {"photo", "sketch", "painting", "clipart"}
    page.screenshot(path=str(shots / "search_cross_domain.png"), full_page=True)


def test_4_clicking_a_result_searches_more_like_it(page) -> None:
    previous = page.inner_text("#query-info")
    card = page.locator("#results .cdir-card").first
    item_id = card.get_attribute("data-id")
    card.click()
    assert f"item #{item_id}" in _search_done(page, previous)


def test_5_map_point_selection_shows_image_and_neighbours(page, shots: Path) -> None:
    _tab(page, "Map")
    points = page.locator("#cdir-map .scatterlayer .point")
    page.wait_for_selector("#cdir-map .scatterlayer .point")
    page.wait_for_function(  # the page's script has bound its click listener (app.js bindMap)
        "() => { const p = document.querySelector('#cdir-map .js-plotly-plot');"
        " return p && p._cdirBound; }"
    )
    box = points.nth(3).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_function("document.querySelector('#map-selected').innerText.includes('item #')")
    assert page.locator("#map-neighbours .cdir-card").count() >= 4
    page.screenshot(path=str(shots / "map.png"), full_page=True)


def test_6_duplicates_review_finds_groups_and_changes_keep(page, shots: Path) -> None:
    _tab(page, "Duplicates")
    from cdir.models.presets import get_preset

    # semantic is ticked by default only with trained models (with random ones every pair
    # looks close)
    semantic = page.get_by_label("semantic", exact=True).is_checked()
    assert semantic == get_preset(PRESET).trained
    page.click("#find-dupes")
    page.wait_for_selector("#dupe-groups .cdir-row")
    groups = page.inner_text("#dupe-groups")
    assert "upscale_fish.png" in groups and "grid_fish.png#tile" in groups  # tile ↔ its upscale
    assert groups.count("_dup_") >= 3  # the bundled resized / re-encoded / flipped copies
    family = page.locator("#dupe-groups .cdir-family").first
    family.scroll_into_view_if_needed()
    family.screenshot(path=str(shots / "dupes_job_family.png"))  # the README's job family
    first_group = page.locator("#dupe-groups .cdir-row").first
    other = first_group.locator(".cdir-card:not(.kept)").first
    item_id = other.get_attribute("data-id")
    other.click()
    page.wait_for_selector(f'#dupe-groups .cdir-card.kept[data-id="{item_id}"]')
    assert "complete linkage" in page.inner_text("#dupes-summary")
    assert "job family: grid → tiles U2 → 1 upscale" in page.inner_text("#dupe-groups")
    assert page.get_by_label("semantic: off: random weights").count() == (
        0 if get_preset(PRESET).trained else 1
    )
    # the keys: r remove, u undo, on the focused card (its place kept after the redraw)
    card = f'#dupe-groups .cdir-card[data-id="{item_id}"]'
    page.locator(card).focus()
    page.keyboard.press("r")
    page.wait_for_selector(f"{card} .badge.decided")
    assert page.inner_text(f"{card} .badge.decided") == "remove"
    page.wait_for_function(f"document.activeElement === document.querySelector('{card}')")
    page.keyboard.press("u")
    page.wait_for_selector(f"{card} .badge.decided", state="detached")
    page.screenshot(path=str(shots / "duplicates.png"), full_page=True)


def test_7_evaluate_panel_shows_the_protocol_table(page, shots: Path) -> None:
    _tab(page, "Evaluate")
    page.click("#run-eval")
    page.wait_for_function("document.querySelector('#eval-report').innerText.includes('mAP')")
    assert "caption" in page.inner_text("#eval-report")
    page.screenshot(path=str(shots / "evaluate.png"), full_page=True)


def test_8_method_tab_explains_caption_matching(page, shots: Path) -> None:
    _tab(page, "How it works")
    assert "caption" in page.inner_text(".cdir-method").lower()
    page.click("#worked-example")
    page.wait_for_function("document.querySelector('#worked-summary').innerText.includes('top')")
    assert page.locator("#worked-html .cdir-card").count() == 12
    page.screenshot(path=str(shots / "method.png"), full_page=True)
