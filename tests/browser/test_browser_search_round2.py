"""The Search tab's second round, in headless Chromium with real clicks and keys (tiny preset):
typing k re-runs the query and a text query greys the modes out; near-duplicates folded into one
card (and shown again with the checkbox); a search link restores the search for its visitor,
for anyone on the examples, and reads as a missing collection for another visitor; a query by
image URL; the worked example's claim matches the cards it shows.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cdir import api
from tests.drawn import CLASSES, DOMAINS, draw_image
from tests.served import browser, open_tab, require_chromium, served_app, upload_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "cdir" / "assets" / "examples"
PRESET = os.environ.get("CDIR_BROWSER_PRESET", "tiny")  # demo for the README's screenshots
EXAMPLES_NAME = f"examples-{PRESET}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from cdir.app.workspace import Workspace

    require_chromium()
    workspace = Workspace(tmp_path_factory.mktemp("workspace"))
    with served_app(workspace, tmp_path_factory.mktemp("cache"), preset=PRESET) as (url, _):
        yield {"url": url, "workspace": workspace}


@pytest.fixture(scope="module")
def chromium(served: dict[str, Any]) -> Iterator[Any]:
    with browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def page(served: dict[str, Any], chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(600_000)  # a bound for a hang, not a wait
    page.goto(served["url"])
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )
    yield page
    context.close()


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    handler = partial(_Quiet, directory=str(EXAMPLES))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _tab(page: Any, name: str) -> None:
    open_tab(page, name)


def _cards(page: Any) -> list[tuple[int, int]]:
    """(item id, folded near-duplicates) of every result card, in order."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('#results .cdir-card')].map(c => {
            const d = c.querySelector('.dupes');
            return [Number(c.dataset.id), d ? Number(d.innerText.match(/\\+(\\d+)/)[1]) : 0];
        })"""
    )
    return [(int(i), int(n)) for i, n in found]


def _wait_cards(page: Any, n: int) -> None:
    from playwright.sync_api import TimeoutError as Timeout

    try:
        page.wait_for_function(f"document.querySelectorAll('#results .cdir-card').length === {n}")
    except Timeout:
        shown = page.locator("#results .cdir-card").count()
        raise AssertionError(f"{shown} cards, not {n}: {page.inner_text('#query-info')}") from None


def _link(page: Any) -> str:
    box = page.locator("#share-link").locator("textarea, input").first
    page.wait_for_function(
        "() => { const b = document.querySelector('#share-link textarea, #share-link input');"
        " return b && b.value.includes('?collection='); }"
    )
    return box.input_value()


def _wait_text(page: Any, selector: str, text: str) -> None:
    """Wait until ``selector`` exists and its text contains ``text``."""
    page.wait_for_function(
        "([sel, text]) => { const e = document.querySelector(sel);"
        " return !!e && e.innerText.includes(text); }",
        arg=[selector, text],
    )


def _message(page: Any, text: str) -> str:
    """The one-line message (a toast) containing ``text``, once visible; no bare "Error"."""
    message = page.get_by_text(text).first
    message.wait_for(state="visible")
    assert page.get_by_text("Error", exact=True).count() == 0
    return message.inner_text()


def test_1_a_text_query_greys_the_modes_and_typing_k_reruns(page: Any) -> None:
    _tab(page, "Search")
    _tab(page, "Text")
    page.fill("#query-text textarea, #query-text input", "a house")
    page.keyboard.press("Enter")
    _wait_cards(page, 12)
    page.wait_for_function(
        "() => { const r = [...document.querySelectorAll('#mode input[type=radio]')];"
        " return r.length === 4 && r.every(x => x.disabled); }"
    )
    assert page.get_by_text(api.mode_note("text")).is_visible()
    # typing k in the number box re-runs the query (no drag, no Enter, no leaving the box)
    box = page.locator("#results-k input[type=number]")
    box.fill("5")
    _wait_cards(page, 5)
    box.fill("9")
    _wait_cards(page, 9)
    # a result clicked is an image query: the modes apply again
    page.locator("#results .cdir-card").first.click()
    _wait_text(page, "#query-info", "item #")
    page.wait_for_function("!document.querySelector('#mode input[type=radio]').disabled")
    assert not page.get_by_text(api.mode_note("text")).is_visible()


def _folding_query(workspace: Any) -> tuple[int, list[tuple[int, list[int]]]]:
    """An item of the examples whose image -> image top 48 folds some near-duplicates, and
    what the one function below every surface gives for it."""
    session = api.session_for(workspace.root / EXAMPLES_NAME)
    options = api.SearchOptions(mode="image", k=48, collapse_duplicates=True)
    for item in range(len(session.store.items)):
        hits = api.search(session, item_id=item, options=options).hits
        if any(h.near_duplicates for h in hits):
            return item, [(h.id, list(h.near_duplicates)) for h in hits]
    raise AssertionError("no query of the examples folds a near-duplicate")


def test_2_near_duplicates_take_one_card_and_show_again_on_request(
    page: Any, served: dict[str, Any], shots: Path
) -> None:
    item, expected = _folding_query(served["workspace"])
    page.goto(f"{served['url']}?collection={EXAMPLES_NAME}&item={item}&mode=image&k=48")
    _wait_text(page, "#query-info", f"item #{item}")
    _wait_cards(page, 48)
    cards = _cards(page)
    assert cards == [(i, len(d)) for i, d in expected]  # as the API folds them
    folded = next(
        c for c in page.locator("#results .cdir-card").all() if c.locator(".dupes").count()
    )
    assert re.fullmatch(r"\+\d+ near-duplicates?", folded.locator(".dupes").inner_text())
    folded.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "search_near_duplicates.png"))
    # the checkbox lists them as their own results: the plain ranking
    page.locator("#show-duplicates input[type=checkbox]").check()
    page.wait_for_function("document.querySelectorAll('#results .dupes').length === 0")
    plain = api.search(
        api.session_for(served["workspace"].root / EXAMPLES_NAME),
        item_id=item,
        options=api.SearchOptions(mode="image", k=48),
    )
    assert [i for i, _ in _cards(page)] == [h.id for h in plain.hits]
    page.locator("#show-duplicates input[type=checkbox]").uncheck()
    page.wait_for_function("document.querySelectorAll('#results .dupes').length > 0")


def _build_own(page: Any, tmp: Path) -> str:
    """Build a small collection of this visitor's; its name."""
    files = []
    for domain in DOMAINS:
        for cls in CLASSES:
            path = tmp / f"{domain}_{cls}.png"
            draw_image(domain, cls, 0).save(path)
            files.append(str(path))
    _tab(page, "Collection")
    upload_files(page, "#upload-files", files)
    page.get_by_label("Collection name").fill("mine")
    page.click("#build-collection")
    _wait_text(page, "#collection-summary", "mine-")
    return re.search(r"mine-[0-9a-f]+", page.inner_text("#collection-summary")).group(0)


def test_3_a_search_link_restores_the_search_for_its_visitor_only(
    page: Any, served: dict[str, Any], chromium: Any, tmp_path: Path, shots: Path
) -> None:
    name = _build_own(page, tmp_path)
    _tab(page, "Search")
    _tab(page, "Text")
    page.fill("#query-text textarea, #query-text input", "a red circle")
    page.keyboard.press("Enter")
    _wait_text(page, "#query-info", "red circle")
    page.locator("#results-k input[type=number]").fill("4")
    _wait_cards(page, 4)
    page.wait_for_function(
        "document.querySelector('#share-link textarea, #share-link input').value.endsWith('&k=4')"
    )
    link = _link(page)
    assert link.startswith(served["url"]) and f"collection={name}" in link
    assert "text=a+red+circle" in link and link.endswith("&k=4")
    owner = page.evaluate("() => JSON.stringify(window.localStorage)")
    keys = re.findall(r"[0-9a-f]{32,}", owner)
    assert not any(key in link for key in keys)  # no owner key
    assert str(served["workspace"].root) not in link and "/tmp" not in link
    shown = _cards(page)
    page.screenshot(path=str(shots / "search_share_link.png"))

    # the same visitor (same browser storage), a new page: restored and run
    again = page.context.new_page()
    again.goto(link)
    _wait_text(again, "#query-info", "red circle")
    _wait_cards(again, 4)
    assert _cards(again) == shown
    assert again.locator("#query-text textarea, #query-text input").input_value() == "a red circle"
    assert again.locator("#results-k input[type=number]").input_value() == "4"
    again.close()

    # another visitor: the same one line as for a collection that does not exist
    other = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.set_default_timeout(600_000)  # a bound for a hang, not a wait
    other.goto(link)
    refused = _message(other, f"no collection named '{name}'")
    other.goto(link.replace(name, "mine-0123456789"))
    missing = _message(other, "no collection named 'mine-0123456789'")
    assert refused.replace(name, "X") == missing.replace("mine-0123456789", "X")
    assert other.locator("#results .cdir-card").count() == 0

    # anyone opens a link to the examples
    other.goto(f"{served['url']}?collection={EXAMPLES_NAME}&text=a+house&k=6")
    _wait_text(other, "#query-info", "a house")
    _wait_cards(other, 6)
    other.context.close()


def test_4_a_query_by_image_url(
    page: Any, image_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.goto(page.url.split("?")[0])
    page.click("#load-examples")
    _wait_text(page, "#collection-summary", f"{EXAMPLES_NAME}")
    _tab(page, "Search")
    _tab(page, "Image")
    url = f"{image_server}/sketch/house/sketch_house_01.jpg"
    monkeypatch.setenv("CDIR_ALLOW_PRIVATE_URLS", "1")  # the operator allows the local server
    page.fill("#query-url textarea, #query-url input", url)
    page.keyboard.press("Enter")
    _wait_text(page, "#query-info", "caption matching")
    _wait_cards(page, 12)
    page.wait_for_selector("#current-query img")
    assert "url=" in _link(page)
    # by default a private address is refused, in one line
    monkeypatch.delenv("CDIR_ALLOW_PRIVATE_URLS")
    page.click("#search-url")
    text = _message(page, "not a public address (loopback)")
    assert "CDIR_ALLOW_PRIVATE_URLS" in text and "\n" not in text.strip()


def test_5_the_worked_example_says_what_it_shows(page: Any) -> None:
    _tab(page, "Search")
    page.get_by_text("Style words and fusion weights").click()
    assert page.locator("#neutral-words input[type=checkbox]").is_checked()  # measured best
    _tab(page, "How it works")
    page.click("#worked-example")
    _wait_text(page, "#worked-summary", "top")
    claims = re.findall(
        r"(.+): (\d+) of the top (\d+) pictures in the other styles are houses",
        page.inner_text("#worked-summary"),
    )
    rows = page.evaluate(
        """() => [...document.querySelectorAll('#worked-html .cdir-row')].map(r => [
            r.querySelector('.cdir-row-title').innerText,
            [...r.querySelectorAll('.cdir-card')].map(c =>
                [...c.querySelectorAll('.badge.cls')].map(b => b.innerText).join('')),
        ])"""
    )
    assert len(claims) == len(rows) == 2
    for (label, houses, top), (title, classes) in zip(claims, rows, strict=True):
        assert label.strip() == title.strip()
        assert int(top) == len(classes) == 6
        assert int(houses) == sum(c == "house" for c in classes)
    assert "style words removed" in rows[1][0]  # CM as measured best
