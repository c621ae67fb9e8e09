"""The Browse tab in headless Chromium (tiny preset, the example collection): filter the grid by
domain and text, lasso a region of the map and see exactly those items, tag them and filter by
the tag, name the clusters, mark "not a duplicate", re-run with another threshold and find the
decision kept, export the decisions. Screenshots as in ``test_browser.py``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import CHROMIUM, CHROMIUM_ARGS, require_chromium, served_app

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
    page.wait_for_timeout(300)
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
    page.wait_for_function(
        "(() => { const g = document.querySelector('#browse-map "
        ".js-plotly-plot'); return g && g.data && g.data.length > 1 && "
        "typeof g.on === 'function'; })()"
    )
    page.wait_for_timeout(1500)  # the page's listeners bind every 0.5 s
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
    page.wait_for_timeout(1000)
    page.locator("#browse-map-panel").screenshot(path=str(shots / "browse_named_clusters.png"))


def test_3_not_a_duplicate_is_kept_on_a_rerun_and_exported(
    page, served: tuple[str, Path], shots: Path
) -> None:  # noqa: ANN001
    page.get_by_text("Duplicate decisions (saved in the collection)").click()
    page.fill("#browse-perceptual input[type=number]", "20")
    page.press("#browse-perceptual input[type=number]", "Enter")
    page.click("#browse-find")
    page.wait_for_selector("#browse-groups .cdir-group")
    first = page.locator("#browse-groups .cdir-group").first
    members = [
        int(m)
        for m in first.locator("[data-member]").evaluate_all("ms => ms.map(m => m.dataset.member)")
    ]
    target = members[-1]
    summary = page.inner_text("#browse-dupes-summary")
    first.locator(f"button[data-decide$='|{target}|not_duplicate']").click()
    changed(page, "#browse-dupes-summary", summary)
    assert "Marked not a duplicate" in page.inner_text("#browse-groups")
    page.fill("#browse-perceptual input[type=number]", "14")
    page.press("#browse-perceptual input[type=number]", "Enter")
    summary = page.inner_text("#browse-dupes-summary")
    page.click("#browse-find")
    page.wait_for_timeout(3000)
    for group in page.locator("#browse-groups .cdir-group").all():
        if "Marked not a duplicate" in group.inner_text():
            continue
        ids = {
            int(m)
            for m in group.locator("[data-member]").evaluate_all(
                "ms => ms.map(m => m.dataset.member)"
            )
        }
        assert not (target in ids and ids & (set(members) - {target}))
    assert "Marked not a duplicate" in page.inner_text("#browse-groups")
    page.locator("#browse-dupes-panel").screenshot(path=str(shots / "browse_review.png"))
    page.click("#browse-export-csv")
    page.wait_for_selector("#browse-export-file a")
    out = served[1] / "dupes" / "exports" / "duplicate-decisions.csv"
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert any(int(r["id"]) == target and r["decision"] == "not_duplicate" for r in rows)


def test_4_review_by_keyboard_and_a_job_family(page, shots: Path) -> None:  # noqa: ANN001
    """On a focused member: k keep, r remove, a alternate, u undo, j the next group; each key
    saved at once. The grid's tile and its upscale show as one job
    family."""

    def decision(member: int) -> str:
        return page.inner_text(f"#browse-groups .cdir-member[data-member='{member}'] .decision")

    def press(key: str) -> None:
        shown = page.inner_text("#browse-groups")
        page.keyboard.press(key)
        changed(page, "#browse-groups", shown)
        page.wait_for_timeout(500)

    groups = page.locator("#browse-groups .cdir-group")
    open_group = next(
        g
        for g in groups.all()
        if "Marked not a duplicate" not in g.inner_text() and "decided:" not in g.inner_text()
    )
    members = [
        int(m)
        for m in open_group.locator("[data-member]").evaluate_all(
            "ms => ms.map(m => m.dataset.member)"
        )
    ]
    page.locator(f"#browse-groups .cdir-member[data-member='{members[0]}']").focus()
    press("k")
    assert decision(members[0]) == "decided: keep"
    focused = page.evaluate("document.activeElement.dataset.member")
    assert int(focused) == members[0]  # the place is kept after the groups are drawn again
    page.keyboard.press("ArrowLeft")  # no key of the review: nothing happens
    page.locator(f"#browse-groups .cdir-member[data-member='{members[1]}']").focus()
    press("a")
    assert decision(members[1]) == "decided: alternate"
    press("r")
    assert decision(members[1]) == "decided: remove"
    press("u")
    assert decision(members[1]).startswith("suggested:")
    before = page.evaluate("document.activeElement.closest('.cdir-group').innerText")
    page.keyboard.press("j")
    after = page.evaluate("document.activeElement.closest('.cdir-group').innerText")
    assert after != before and page.evaluate(
        "document.activeElement.classList.contains('cdir-member')"
    )
    family = page.locator("#browse-groups .cdir-family")
    assert family.count() >= 1
    assert "grid → tiles U2 → 1 upscale" in family.first.inner_text()
    family.first.scroll_into_view_if_needed()
    family.first.screenshot(path=str(shots / "dupes_job_family.png"))


def test_5_a_decision_in_one_review_shows_in_the_other(page) -> None:  # noqa: ANN001
    """One duplicates path: removing an item in the Browse panel shows as decided in the
    Duplicates tab, and an alternate chosen in the Duplicates tab shows in the panel."""
    page.click("#browse-find")
    page.wait_for_selector("#browse-groups .cdir-group")
    page.wait_for_timeout(1000)
    group = next(
        g
        for g in page.locator("#browse-groups .cdir-group").all()
        if "decided:" not in g.inner_text() and "Marked not a duplicate" not in g.inner_text()
    )
    members = [
        int(m)
        for m in group.locator("[data-member]").evaluate_all("ms => ms.map(m => m.dataset.member)")
    ]
    removed, kept = members[-1], members[0]
    shown = page.inner_text("#browse-groups")
    group.locator(f"button[data-decide$='|{removed}|remove']").click()
    changed(page, "#browse-groups", shown)
    page.get_by_role("tab", name="Duplicates").click()
    page.fill("#dupes-perceptual input[type=number]", "14")  # the panel's threshold
    page.press("#dupes-perceptual input[type=number]", "Enter")
    page.click("#find-dupes")
    card = f'#dupe-groups .cdir-card[data-id="{removed}"]'
    page.wait_for_selector(f"{card} .badge.decided")
    assert page.inner_text(f"{card} .badge.decided") == "remove"
    other = f'#dupe-groups .cdir-card[data-id="{kept}"]'
    page.locator(other).focus()
    page.keyboard.press("a")  # the Duplicates tab's key: alternate, saved in the collection
    page.wait_for_selector(f"{other} .badge.decided")
    assert page.inner_text(f"{other} .badge.decided") == "alternate"
    page.get_by_role("tab", name="Collection").click()
    shown = page.inner_text("#browse-groups")
    page.click("#browse-find")
    page.wait_for_function(
        f'(() => {{ const m = document.querySelector("#browse-groups .cdir-member'
        f"[data-member='{kept}'] .decision\"); "
        "return m && m.innerText === 'decided: alternate'; })()"
    )
    assert page.inner_text(f"#browse-groups .cdir-member[data-member='{removed}'] .decision") == (
        "decided: remove"
    )
