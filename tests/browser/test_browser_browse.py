"""The Browse tab in headless Chromium (tiny preset, the example collection): filter the grid by
domain and text, lasso a region of the map and see exactly those items, tag them and filter by
the tag, name the clusters; then the duplicate review, in the one place it lives (the Duplicates
tab, which the Browse panel opens at an item's group): mark "not a duplicate", re-run with another
threshold and find the decision kept, export the decisions, review by keyboard. Screenshots as in
``test_browser.py``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import CHROMIUM, CHROMIUM_ARGS, plot_drawn, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from cdir.app.workspace import Workspace

    require_chromium()
    # a private deployment (--shared-workspace): the examples may be tagged and decided on;
    # on a public server they are read-only (tests/security/)
    workspace = Workspace(tmp_path_factory.mktemp("workspace"), shared=True)
    with served_app(workspace, tmp_path_factory.mktemp("cache")) as (url, _):
        yield url, workspace.examples_dir("tiny")


@pytest.fixture(scope="module")
def page(served: tuple[str, Path]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(served[0])
        yield page
        browser.close()


def grid_ids(page) -> list[int]:  # noqa: ANN001
    return [
        int(i)
        for i in page.eval_on_selector_all(
            "#browse-grid .cdir-card[data-browse-id]", "cards => cards.map(c => c.dataset.browseId)"
        )
    ]


def changed(page, selector: str, previous: str) -> str:  # noqa: ANN001
    page.wait_for_function(
        "([s, p]) => { const e = document.querySelector(s);"  # not pending
        " return e && e.innerText.trim() && e.innerText !== p"
        " && !/\\d+\\.\\ds/.test(e.innerText)"
        " && !e.querySelector('.pending, .generating'); }",
        arg=[selector, previous],
    )
    return page.inner_text(selector)


def all_pages(page) -> list[int]:  # noqa: ANN001
    """The ids on every page of the grid, walking forward with "next", then back to page 1."""
    ids = grid_ids(page)
    line = page.inner_text("#browse-page")
    pages = int(re.search(r"page \d+ of (\d+)", line).group(1))
    for _ in range(pages - 1):
        page.click("#browse-next")
        line = changed(page, "#browse-page", line)
        ids += grid_ids(page)
    if pages > 1:
        page.fill("#browse-page-number input", "1")
        page.press("#browse-page-number input", "Enter")
        changed(page, "#browse-page", line)
    return sorted(ids)


def pick(page, dropdown: str, option: str) -> None:  # noqa: ANN001
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=re.compile(rf"^{re.escape(option)} \(\d+\)$")).click()
    page.keyboard.press("Escape")


def test_1_grid_filters_by_domain_and_text(page, shots: Path) -> None:  # noqa: ANN001
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )
    page.get_by_text("Browse the whole collection").click()
    page.wait_for_selector("#browse-grid .cdir-card")
    line = page.inner_text("#browse-page")
    assert len(grid_ids(page)) == 48 and "page 1 of" in line
    pick(page, "#browse-domains", "sketch")
    line = changed(page, "#browse-page", line)
    badges = page.locator("#browse-grid .badge.dom").all_inner_texts()
    assert badges and set(badges) == {"sketch"}
    page.fill("#browse-text input, #browse-text textarea", "house")
    page.press("#browse-text input, #browse-text textarea", "Enter")
    line = changed(page, "#browse-page", line)
    cards = page.eval_on_selector_all(
        "#browse-grid .cdir-card[data-browse-id]", "cs => cs.map(c => c.title + ' ' + c.innerText)"
    )
    assert cards and all("house" in c.lower() for c in cards), cards
    assert set(page.locator("#browse-grid .badge.dom").all_inner_texts()) == {"sketch"}
    page.locator("#browse-panel").screenshot(path=str(shots / "browse_grid.png"))
    page.fill("#browse-text input, #browse-text textarea", "")
    page.press("#browse-text input, #browse-text textarea", "Enter")
    line = changed(page, "#browse-page", line)
    page.click("#browse-domains input")
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    changed(page, "#browse-page", line)
    page.wait_for_function("document.querySelectorAll('#browse-grid .cdir-card').length === 48")


def test_2_a_lasso_on_the_map_shows_exactly_those_items(page, shots: Path) -> None:  # noqa: ANN001
    first = grid_ids(page)[0]
    page.locator(f"#browse-grid .cdir-card[data-browse-id='{first}']").click()
    page.wait_for_function(
        "id => document.querySelector('#browse-item').innerText.includes('id ' + id)",
        arg=str(first),
    )
    page.wait_for_selector("#browse-item-neighbours .cdir-card")
    page.get_by_text("Map: draw a box or a lasso").click()
    page.locator("#browse-method").get_by_label("PCA").check()
    page.click("#browse-draw")
    page.wait_for_function(  # drawn, and the page's own listeners bound (browse_script.py)
        "(() => { const g = document.querySelector('#browse-map "
        ".js-plotly-plot'); return g && g.data && g.data.length > 1 && "
        "g.dataset.cdirBound === '1'; })()"
    )
    page.evaluate("""() => { const g = document.querySelector('#browse-map .js-plotly-plot');
        g.on('plotly_selected', e => { window._lassoed = e ? e.points.filter(
            p => Array.isArray(p.customdata)).map(p => p.customdata[0]) : []; }); }""")
    box = page.locator("#browse-map .nsewdrag").first.bounding_box()
    cx, cy, w, h = (
        box["x"] + box["width"] / 2,
        box["y"] + box["height"] / 2,
        box["width"],
        box["height"],
    )
    corners = [
        (cx - 0.3 * w, cy - 0.3 * h),
        (cx + 0.05 * w, cy - 0.35 * h),
        (cx + 0.1 * w, cy + 0.3 * h),
        (cx - 0.35 * w, cy + 0.25 * h),
    ]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in [*corners[1:], corners[0]]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    text = changed(page, "#browse-selection", "")
    lassoed = sorted(set(page.evaluate("window._lassoed")))
    assert lassoed and f"{len(lassoed)} items selected" in text
    page.wait_for_function(
        "n => document.querySelector('#browse-page').innerText.includes(n + ' selected')",
        arg=str(len(lassoed)),
    )
    assert all_pages(page) == lassoed
    page.locator("#browse-map-panel").screenshot(path=str(shots / "browse_lasso.png"))
    page.fill("#browse-tag input, #browse-tag textarea", "lassoed")
    page.click("#browse-tag-add")
    result = changed(page, "#browse-tag-result", "")
    assert f"added to {len(lassoed)} of {len(lassoed)} items" in result
    line = page.inner_text("#browse-page")
    page.click("#browse-clear")
    page.wait_for_function("!document.querySelector('#browse-page').innerText.includes('selected')")
    line = page.inner_text("#browse-page")
    pick(page, "#browse-tags", "lassoed")
    changed(page, "#browse-page", line)
    page.wait_for_function(
        "n => document.querySelector('#browse-page').innerText.startsWith(n + ' of ')",
        arg=str(len(lassoed)),
    )
    assert all_pages(page) == lassoed
    page.get_by_label("Name the clusters from the captions").check()
    page.click("#browse-draw")
    page.wait_for_function(
        "(() => { const g = document.querySelector('#browse-map "
        ".js-plotly-plot'); return g && g.layout.annotations && "
        "g.layout.annotations.length >= 2; })()"
    )
    plot_drawn(page, "#browse-map")  # the names' boxes drawn, not only in the layout
    page.locator("#browse-map-panel").screenshot(path=str(shots / "browse_named_clusters.png"))


def dupe_ids(row) -> list[int]:  # noqa: ANN001
    return [
        int(m) for m in row.locator("[data-id]").evaluate_all("ms => ms.map(m => m.dataset.id)")
    ]


def find_dupes(page, bits: int) -> None:  # noqa: ANN001
    """Find near-duplicates in the Duplicates tab at ``bits`` perceptual bits; wait for them."""
    summary = page.inner_text("#dupes-summary")
    page.fill("#dupes-perceptual input[type=number]", str(bits))
    page.press("#dupes-perceptual input[type=number]", "Enter")
    page.click("#find-dupes")
    changed(page, "#dupes-summary", summary)
    page.wait_for_selector("#dupe-groups .cdir-row")


def test_3_not_a_duplicate_is_kept_on_a_rerun_and_exported(
    page, served: tuple[str, Path], shots: Path
) -> None:  # noqa: ANN001
    """Duplicates are reviewed in the Duplicates tab (the one review place): n marks a member
    not a duplicate; a re-run with another threshold keeps it apart; the export says so."""
    page.get_by_role("tab", name="Duplicates").click()
    find_dupes(page, 20)
    first = page.locator("#dupe-groups .cdir-row").first
    members = dupe_ids(first)
    target = members[-1]
    first.locator(f".cdir-card[data-id='{target}']").focus()
    page.keyboard.press("n")
    page.wait_for_selector(f"#dupe-apart [data-apart='{target}']")
    assert "Marked not a duplicate" in page.inner_text("#dupe-groups")
    find_dupes(page, 14)
    for row in page.locator("#dupe-groups .cdir-row:not(#dupe-apart)").all():
        ids = set(dupe_ids(row))
        assert not (target in ids and ids & (set(members) - {target}))
    assert page.locator(f"#dupe-apart [data-apart='{target}']").count() == 1
    page.click("#dupes-export-csv")
    page.wait_for_selector("#dupes-export-file a")
    out = served[1] / "dupes" / "exports" / "duplicate-decisions.csv"
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert any(int(r["id"]) == target and r["decision"] == "not_duplicate" for r in rows)


def test_4_review_by_keyboard_and_a_job_family(page, shots: Path) -> None:  # noqa: ANN001
    """On a focused member: k keep, a alternate, r remove, u undo, j the next group; each key
    saved at once, the focus kept. The grid's tile and its upscale show as one job family."""

    def card(member: int) -> str:
        return f"#dupe-groups .cdir-card[data-id='{member}']"

    def press(key: str) -> None:
        shown = page.inner_text("#dupe-groups")
        page.keyboard.press(key)
        changed(page, "#dupe-groups", shown)
        # the page puts the focus back on the card drawn again (app.js); the next key goes there
        page.wait_for_function(
            "() => !!document.activeElement.closest('#dupe-groups .cdir-card[data-id]')"
        )

    open_group = next(
        g
        for g in page.locator("#dupe-groups .cdir-row:not(#dupe-apart)").all()
        if g.locator(".badge.decided").count() == 0
    )
    members = dupe_ids(open_group)
    page.locator(card(members[0])).focus()
    press("k")
    page.wait_for_selector(f"{card(members[0])}.kept")
    focused = page.evaluate("document.activeElement.dataset.id")
    assert int(focused) == members[0]  # the place is kept after the groups are drawn again
    page.keyboard.press("ArrowLeft")  # no key of the review: nothing happens
    page.locator(card(members[1])).focus()
    press("a")
    assert page.inner_text(f"{card(members[1])} .badge.decided") == "alternate"
    press("r")
    assert page.inner_text(f"{card(members[1])} .badge.decided") == "remove"
    press("u")
    assert page.locator(f"{card(members[1])} .badge.decided").count() == 0
    before = page.evaluate("document.activeElement.closest('.cdir-row').innerText")
    page.keyboard.press("j")
    after = page.evaluate("document.activeElement.closest('.cdir-row').innerText")
    assert after != before and page.evaluate("document.activeElement.dataset.id !== undefined")
    family = page.locator("#dupe-groups .cdir-family")
    assert family.count() >= 1
    assert "grid → tiles U2 → 1 upscale" in family.first.inner_text()


def test_5_the_browse_panel_opens_the_review_at_the_items_group(page) -> None:  # noqa: ANN001
    """The Browse panel has no review of its own: "review its duplicates" on an opened item
    opens the Duplicates tab with that item's group first and its card focused; a decision
    made there shows when the panel's item is reviewed again."""
    row = page.locator("#dupe-groups .cdir-row:not(#dupe-apart)").nth(1)
    member = dupe_ids(row)[-1]
    name = page.eval_on_selector(f"#dupe-groups .cdir-card[data-id='{member}'] img", "i => i.alt")
    page.get_by_role("tab", name="Collection").click()
    line = page.inner_text("#browse-page")
    page.click("#browse-tags input")  # the tag filter of test 2 off
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    line = changed(page, "#browse-page", line)
    page.fill("#browse-text input, #browse-text textarea", name.rsplit("/", 1)[-1])
    page.press("#browse-text input, #browse-text textarea", "Enter")
    changed(page, "#browse-page", line)
    page.locator(f"#browse-grid .cdir-card[data-browse-id='{member}']").click()
    page.wait_for_function(
        "id => document.querySelector('#browse-item').innerText.includes('id ' + id)",
        arg=str(member),
    )
    page.click("#browse-review-dupes")
    page.wait_for_function(
        "id => document.querySelector('#dupes-summary').innerText.includes("
        "'Item ' + id + ': its group is shown first')",
        arg=str(member),
    )
    first = page.locator("#dupe-groups .cdir-row").first
    assert member in dupe_ids(first)
    page.wait_for_function(f"document.activeElement.dataset.id === '{member}'")
    page.keyboard.press("r")  # the review keys work at once on the focused card
    page.wait_for_selector(f"#dupe-groups .cdir-card[data-id='{member}'] .badge.decided")
    assert page.inner_text(f"#dupe-groups .cdir-card[data-id='{member}'] .badge.decided") == (
        "remove"
    )
    page.get_by_role("tab", name="Collection").click()
    page.click("#browse-review-dupes")
    page.wait_for_function(
        "id => document.querySelector('#dupes-summary').innerText.includes('Item ' + id + ':')",
        arg=str(member),
    )
    page.wait_for_selector(f"#dupe-groups .cdir-card[data-id='{member}'] .badge.decided")
