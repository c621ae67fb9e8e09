"""The Map and Evaluate tabs and the cards' layout in headless Chromium (tiny preset, the example
collection): the evaluation report fits a screen until a pair is opened, slider and number labels
are whole at 800 px, the map says in words what it shows and its cluster names leave the points
visible, and a 120-character file name stays inside its card.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drawn import draw_image
from tests.served import (
    browser,
    open_tab,
    plot_drawn,
    require_chromium,
    served_app,
    upload_files,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 800, "height": 900}
# 120 characters; "&" must reach the page escaped (the upload keeps it; it drops "<" and ">")
LONG_NAME = "a_very_long_file_name_from_the_holiday_&_the_sketchbook_" + "x" * 60 + ".png"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from cdir.app.workspace import Workspace

    require_chromium()
    workspace = Workspace(tmp_path_factory.mktemp("workspace"))
    with served_app(workspace, tmp_path_factory.mktemp("cache")) as (url, _):
        yield url


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[object]:
    with browser() as chromium:
        page = chromium.new_page(viewport=WIDE)
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(app_url)
        yield page


def _tab(page, name: str) -> None:  # noqa: ANN001
    open_tab(page, name)


def _open_accordions(page) -> None:  # noqa: ANN001
    """Open every closed accordion on the shown tab, with clicks (one opened can show more)."""
    closed = page.locator("button.label-wrap:not(.open):visible")
    for _ in range(20):
        if not closed.count():
            return
        button = closed.first.element_handle()
        button.click()
        page.wait_for_function("b => b.classList.contains('open')", arg=button)


def test_1_the_example_collection_loads(page) -> None:  # noqa: ANN001
    page.click("#load-examples")
    page.wait_for_selector("#collection-summary h3")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('captions ready')", timeout=300_000
    )


def test_2_the_evaluation_report_answers_first_and_folds_the_pairs(page, shots: Path) -> None:  # noqa: ANN001
    _tab(page, "Evaluate")
    page.click("#run-eval")
    page.wait_for_selector("#eval-report details summary", timeout=300_000)
    page.wait_for_function(
        "!document.querySelector('#eval-report .pending, #eval-report .generating')"
    )
    page.evaluate("window.scrollTo(0, 0)")
    # the summary table is rendered as a table, before any folded part
    summary_table = page.locator("#eval-report table").first
    assert "mode" in summary_table.inner_text() and "mAP" in summary_table.inner_text()
    assert "★" in summary_table.inner_text()
    # the first screen answers "which mode is best"
    answer = page.locator("#eval-report p", has_text="the best mode here")
    box = answer.bounding_box()
    assert box["y"] + box["height"] <= WIDE["height"], box
    details = page.locator("#eval-report details")
    n_details = details.count()
    assert n_details >= 3 + 2  # the facts, the pairs (6 domains: 30), the bias
    assert page.locator("#eval-report details[open]").count() == 0
    height = page.evaluate("document.documentElement.scrollHeight")
    print(f"evaluation page height before expanding: {height} px at 1280x800")
    assert height < 3000, height
    page.screenshot(path=str(shots / "evaluate_summary.png"), full_page=True)
    # open one pair: its table shows
    pair = page.locator("#eval-report details").nth(1)
    title = pair.locator("summary").inner_text()
    assert "→" in title and "best" in title
    assert not pair.locator("table").is_visible()
    pair.locator("summary").click()
    page.wait_for_function("document.querySelectorAll('#eval-report details[open]').length === 1")
    table = pair.locator("table")
    table.wait_for(state="visible")
    assert "P@1" in table.inner_text() and "queries" in table.inner_text()
    assert table.bounding_box()["height"] > 100
    opened = page.evaluate("document.documentElement.scrollHeight")
    print(f"evaluation page height with one pair open: {opened} px")
    assert opened > height


SETTINGS_JS = """() => {
  const bad = [];
  const inputs = document.querySelectorAll('input[type=range], input[type=number]');
  for (const input of inputs) {
    const block = input.closest('.block');
    if (!block || !block.offsetParent) continue;
    const outer = block.getBoundingClientRect();
    for (const el of block.querySelectorAll('*')) {
      if (!el.offsetParent || el.getClientRects().length === 0) continue;
      const box = el.getBoundingClientRect();
      const clipped = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
      const outside = box.width > 0 && (box.left < outer.left - 1 || box.right > outer.right + 1);
      if (clipped || outside) bad.push([block.id, (el.innerText || '').slice(0, 40),
        el.scrollWidth, el.clientWidth, Math.round(box.right), Math.round(outer.right)]);
    }
  }
  return [inputs.length, bad];
}"""


def test_3_every_slider_and_number_label_is_whole_at_800px(page, shots: Path) -> None:  # noqa: ANN001
    page.set_viewport_size(NARROW)
    try:
        seen = 0
        for tab in ("Collection", "Search", "Map", "Duplicates", "Evaluate"):
            _tab(page, tab)
            _open_accordions(page)
            n, bad = page.evaluate(SETTINGS_JS)
            seen += n
            assert not bad, (tab, bad)
            if tab == "Duplicates":
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(shots / "settings_800px.png"))
        assert seen >= 6  # k, fusion weights, thresholds
    finally:
        page.set_viewport_size(WIDE)


COVERED_JS = """sel => {
  const root = document.querySelector(sel);
  const rects = q => [...root.querySelectorAll(q)].map(e => e.getBoundingClientRect());
  const boxes = rects('.annotation .bg'), points = rects('.scatterlayer .point');
  const meets = (a, b) =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const covered = points.filter(p => boxes.some(b => meets(p, b))).length;
  return [boxes.length, points.length, covered];
}"""


def _drawn(page, selector: str, expected: str, title: str) -> str:  # noqa: ANN001
    """Wait until the map's sentence, no longer pending, includes ``expected`` and Plotly has
    drawn the map whose title includes ``title``; return the sentence."""
    page.wait_for_function(
        "([s, x]) => { const e = document.querySelector(s);"
        " return e && e.innerText.includes(x) && !/\\d+\\.\\ds/.test(e.innerText)"
        " && !e.closest('.pending') && !e.querySelector('.pending, .generating'); }",
        arg=[selector, expected],
    )
    plot_drawn(page, "#cdir-map", title)
    return page.inner_text(selector)


def test_4_the_map_says_what_it_shows_and_its_names_leave_points_visible(page, shots: Path) -> None:  # noqa: ANN001
    _tab(page, "Map")
    text = _drawn(page, "#map-caption", "UMAP", "UMAP of image embeddings")
    assert text.startswith("Each dot is one image; images the model sees as similar")
    assert "UMAP" in text and "each image's domain" in text
    # the caption sits above the map
    assert (
        page.locator("#map-caption").bounding_box()["y"]
        < page.locator("#cdir-map").bounding_box()["y"]
    )
    page.locator("#map-method").get_by_label("t-SNE").check()
    page.locator("#map-color").get_by_label("class").check()
    page.click("#draw-map")
    text = _drawn(page, "#map-caption", "t-SNE", "colour: class")
    assert "t-SNE" in text and "each image's class" in text and "UMAP" not in text
    page.locator("#map-color").get_by_label("cluster").check()
    page.click("#draw-map")
    text = _drawn(page, "#map-caption", "group", "colour: cluster")
    assert "group" in text and "legend" in text
    # the legend is titled "cluster" and names each cluster by its words
    page.wait_for_function(
        "(document.querySelector('#cdir-map .legendtitletext') || {}).textContent === 'cluster'"
    )
    legend = page.eval_on_selector_all(
        "#cdir-map .legend .traces .legendtext", "ts => ts.map(t => t.textContent)"
    )
    assert len(legend) >= 2 and all(name.strip() for name in legend), legend
    page.screenshot(path=str(shots / "map_caption_clusters.png"), full_page=True)
    # the Browse panel's map with the clusters named: the names hide few points
    _tab(page, "Collection")
    panel = page.locator("button.label-wrap", has_text="Map: draw a box or a lasso")
    if "open" not in (panel.get_attribute("class") or ""):
        panel.click()
    page.get_by_label("Name the clusters from the captions").check()
    page.click("#browse-draw")
    page.wait_for_function(
        "(() => { const g = document.querySelector('#browse-map .js-plotly-plot');"
        " return g && g.layout.annotations && g.layout.annotations.length >= 2; })()"
    )
    page.wait_for_selector("#browse-map .annotation .bg")
    plot_drawn(page, "#browse-map")  # every name's box drawn
    page.wait_for_function(
        "document.querySelector('#browse-map-caption').innerText.includes('boxed names')"
    )
    names, points, covered = page.evaluate(COVERED_JS, "#browse-map")
    print(f"cluster names: {names}; point markers under a name: {covered} of {points}")
    assert names >= 2 and points >= 100
    assert covered <= 0.03 * points, (covered, points)
    page.locator("#browse-map-panel").screenshot(path=str(shots / "map_cluster_names_beside.png"))


def test_5_a_long_file_name_stays_inside_its_card(page, tmp_path: Path, shots: Path) -> None:  # noqa: ANN001
    files = []
    for i, name in enumerate([LONG_NAME, "b.png", "c.png"]):
        path = tmp_path / name
        draw_image("photo", "house", i).save(path)
        files.append(path)
    assert len(LONG_NAME) == 120
    _tab(page, "Collection")
    upload_files(page, "#upload-files", files)
    page.get_by_label("Collection name").fill("long names")
    page.click("#build-collection")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('3 images searchable')",
        timeout=300_000,
    )
    where = {
        "preview": "#collection-preview .cdir-card .file",
        "browse": "#browse-grid .cdir-card .file",
    }
    browse = page.locator("button.label-wrap", has_text="Browse the whole collection")
    if "open" not in (browse.get_attribute("class") or ""):
        browse.click()
    page.wait_for_selector("#browse-grid .cdir-card")
    for surface, selector in where.items():
        names = page.locator(selector)
        titles = [names.nth(i).get_attribute("title") for i in range(names.count())]
        long_one = names.nth(next(i for i, t in enumerate(titles) if t.endswith(LONG_NAME)))
        card = long_one.locator("xpath=..")
        shown, inner = long_one.bounding_box(), card.bounding_box()
        # padded on both sides, never wider than the card, at most two lines
        # the text itself (a Range over it) keeps 4 px or more from both sides of the card
        text = long_one.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e);"
            " const b = r.getBoundingClientRect(); return [b.left, b.right]; }"
        )
        assert text[0] >= inner["x"] + 4, (surface, text, inner)
        assert text[1] <= inner["x"] + inner["width"] - 4, (surface, text, inner)
        assert shown["x"] + shown["width"] <= inner["x"] + inner["width"], (surface, shown)
        fits = long_one.evaluate("e => [e.scrollWidth, e.clientWidth, e.scrollHeight]")
        assert fits[0] <= fits[1], (surface, fits)
        line = float(long_one.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
        assert shown["height"] <= 2 * line + 4 + 1, (surface, shown, line)
        assert fits[2] > shown["height"]  # the rest is clamped, not lost: it is in the title
        # the whole name on hover, and as text: "&" was escaped in the HTML, not taken as markup
        assert long_one.get_attribute("title").endswith(LONG_NAME)
        assert long_one.evaluate("e => e.textContent").endswith(LONG_NAME)
    page.locator("#collection-preview").screenshot(path=str(shots / "long_file_name_card.png"))
