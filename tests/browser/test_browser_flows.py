"""The flows around the happy path, in headless Chromium as a user drives them (tiny preset):
progress during a build, a collection switch clearing every tab, bad query files, refused
uploads, deleting a collection, options re-running the search, the sketch tool.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drawn import CLASSES, DOMAINS, draw_image
from tests.served import (
    browser,
    clear_upload,
    collection_name,
    require_chromium,
    served_app,
    upload_files,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
QUERY = REPO / "cdir" / "assets" / "examples" / "sketch" / "house" / "sketch_house_01.jpg"


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
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(app_url)
        yield page


@pytest.fixture(scope="module")
def many_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """120 small drawn images (3 domains x 4 classes x 10 variants), as loose files."""
    root = tmp_path_factory.mktemp("many")
    paths = []
    for domain in DOMAINS:
        for cls in CLASSES:
            for variant in range(10):
                path = root / f"{domain}_{cls}_{variant}.png"
                draw_image(domain, cls, variant % 5, size=64 + variant).save(path)
                paths.append(path)
    return paths


def _upload(page, files: list[Path]) -> None:
    """Replace what the upload box holds with ``files``."""
    clear_upload(page, "#upload-files")
    upload_files(page, "#upload-files", files)


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.get_by_role("tab", name=name, selected=True).wait_for()  # a condition, not a clock


def test_a_build_of_120_images_shows_its_stage_and_count(
    page, shots: Path, many_images: list[Path]
) -> None:
    _upload(page, many_images)
    page.get_by_label("Collection name").fill("many")
    page.click("#build-collection")
    # the page shows the stage and done / total while the build runs, not only a timer
    page.wait_for_function(
        "() => /embedding images[\\s\\S]*\\d+\\/120 images/.test(document.body.innerText)"
    )
    page.evaluate("window.scrollTo(0, 0)")  # the summary panel, where the bar is
    page.screenshot(path=str(shots / "progress_build.png"), full_page=False)
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('120 images searchable')",
        timeout=300_000,
    )


def _message(page, text: str) -> str:
    """Wait for the one-line message containing ``text``; return it. No widget may show a bare
    "Error" badge meanwhile."""
    message = page.get_by_text(text).first
    message.wait_for(state="visible")
    assert page.get_by_text("Error", exact=True).count() == 0
    return message.inner_text()


def _choices(page, dropdown: str) -> list[str]:
    page.fill(f"{dropdown} input", "")  # typed text would filter the list
    page.click(f"{dropdown} input")
    page.get_by_role("option").first.wait_for()
    # the chosen one carries a "✓" line before its name
    names = [
        o.strip().split("\n")[-1].strip() for o in page.get_by_role("option").all_inner_texts()
    ]
    page.keyboard.press("Escape")
    return names


def _choose(page, dropdown: str, name: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function(
        "([d, n]) => document.querySelector(d + ' input').value === n", arg=[dropdown, name]
    )


def test_b_switching_collection_clears_every_tab(page) -> None:
    _tab(page, "Search")
    _tab(page, "Text")
    page.get_by_label("Describe what you are looking for").fill("a red circle")
    page.get_by_role("button", name="Search with this text").click()
    page.wait_for_selector("#results .cdir-card")
    _tab(page, "Duplicates")
    page.click("#find-dupes")
    page.wait_for_function("document.querySelector('#dupes-summary').innerText.length > 0")
    _tab(page, "Collection")
    page.click("#load-examples")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('examples-tiny')"
    )
    page.wait_for_function("document.querySelectorAll('#results .cdir-card').length === 0")
    assert "Results appear here" in page.inner_text("#results")
    assert page.inner_text("#dupes-summary").strip() == ""
    assert page.locator("#dupe-groups .cdir-card").count() == 0
    assert "Choose a query" in page.inner_text("#query-info")


def test_c_an_upload_with_no_image_is_refused_with_reasons(
    page, tmp_path: Path, shots: Path
) -> None:
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file with an image's name")
    _upload(page, [fake])
    page.get_by_label("Collection name").fill("nothing here")
    page.click("#build-collection")
    text = _message(page, "No collection was made")
    assert "holiday.png" in text and "Drop JPEG" in text
    assert "/tmp" not in text
    page.screenshot(path=str(shots / "refused_upload.png"))
    assert "nothing-here" not in _choices(page, "#saved")


def _open_name(page) -> str:
    """The name of the open collection: the summary's heading (once gradio's progress line has
    left it)."""
    return collection_name(page, r"^many-[0-9a-f]{10}$")


def test_d_same_name_asks_then_delete_with_confirmation(page, many_images: list[Path]) -> None:
    first = next(n for n in _choices(page, "#saved") if n.startswith("many-"))
    assert re.fullmatch(r"many-[0-9a-f]{10}", first)  # a visitor's names are unguessable
    _upload(page, many_images[:3])
    page.get_by_label("Collection name").fill("many")
    page.click("#build-collection")
    page.wait_for_selector("#name-taken", state="visible")  # the visitor's own "many"
    page.click("#build-new")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('3 images searchable')"
    )
    second = _open_name(page)
    assert second != first and second.startswith("many-")
    _choose(page, "#saved", second)
    page.click("#delete-saved")
    page.wait_for_selector("#confirm-delete", state="visible")
    assert second in page.inner_text("#confirm-delete")
    page.click("#delete-yes")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('Deleted')"
    )
    left = _choices(page, "#saved")
    assert second not in left and first in left


def test_e_another_visitor_sees_only_the_examples(page, app_url: str) -> None:
    mine = _choices(page, "#saved")
    assert "examples-tiny" in mine and any(n.startswith("many-") for n in mine)
    context = page.context.browser.new_context()
    try:
        other = context.new_page()
        other.goto(app_url)
        # the list is empty until the page's load event fills it: _choices waits for an option
        assert _choices(other, "#saved") == ["examples-tiny"]
    finally:
        context.close()
    page.reload()
    assert any(n.startswith("many-") for n in _choices(page, "#saved"))  # the key survives


def test_f_a_bad_query_file_gives_a_message_not_a_bare_error(page, tmp_path: Path) -> None:
    _tab(page, "Search")
    _tab(page, "Image")
    fake = tmp_path / "query.png"
    fake.write_text("not an image at all")
    page.set_input_files("#query-image input[type=file]", str(fake))
    text = _message(page, "not an image")  # the upload widget shows the bare file name too
    assert "query.png" in text and "JPEG" in text


def _open(page, name: str) -> None:
    _tab(page, "Collection")
    _choose(page, "#saved", name)
    page.click("#open-saved")
    page.wait_for_function(
        f"document.querySelector('#collection-summary').innerText.includes('{name}')"
    )


def test_g_the_sketchpad_draws_with_its_default_tool(page, shots: Path) -> None:
    _open(page, "examples-tiny")
    _tab(page, "Search")
    _tab(page, "Sketch")
    page.wait_for_function(  # the page has selected the brush (app.js selectBrush)
        "() => { const p = document.querySelector('#query-sketch'); return p && p._cdirBrush; }"
    )
    canvas = page.locator("#query-sketch canvas").first
    box = canvas.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.3, y + h * 0.7)
    page.mouse.down()
    for px, py in ((0.3, 0.4), (0.5, 0.2), (0.7, 0.4), (0.7, 0.7), (0.3, 0.7)):
        page.mouse.move(x + w * px, y + h * py, steps=8)
    page.mouse.up()
    page.get_by_role("button", name="Search with this sketch").click()
    page.wait_for_selector("#results .cdir-card")
    page.wait_for_function("document.querySelector('#current-query img') !== null")
    # caption matching answers a sketch in two stages: the image match, then the caption's
    page.wait_for_function(
        "document.querySelector('#query-info').innerText.includes('Showing: caption matching')"
    )
    page.screenshot(path=str(shots / "search_sketch.png"))


def test_h_changing_an_option_reruns_the_current_query(page) -> None:
    before = page.inner_text("#query-info")
    assert "Caption matching" in before
    page.get_by_label("Image → image").check()
    page.wait_for_function("document.querySelector('#query-info').innerText.includes('Image →')")
    card = page.locator("#results .cdir-card").first
    item_id = card.get_attribute("data-id")
    card.click()
    page.wait_for_function(
        f"document.querySelector('#query-info').innerText.includes('item #{item_id}')"
    )
    # the left panel shows the clicked item, and an option change keeps that query
    page.wait_for_function("document.querySelector('#current-query img') !== null")
    page.click("#cross-domain input")
    page.wait_for_function("document.querySelectorAll('#results .cdir-row').length >= 4")
    assert f"item #{item_id}" in page.inner_text("#query-info")


def test_i_first_run_offline_shows_the_banner_and_runs_the_examples(
    page, tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    from cdir.app.first_run import startup_preset
    from cdir.app.workspace import Workspace

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("CDIR_MODEL_DIR", raising=False)
    preset, notice = startup_preset("default")  # no weights here, and no hub (conftest)
    assert preset == "demo"  # the trained model shipped in cdir/assets/models
    with served_app(
        Workspace(tmp_path / "ws"), tmp_path / "cache", preset=preset, notice=notice
    ) as (url, _):
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        banner = page.locator("#offline-banner")
        banner.wait_for(state="visible")
        banner.locator("summary").click()  # the details open under the banner's one line
        text = banner.inner_text()
        assert "default" in text and "--model-dir" in text and "drawn pictures" in text
        page.click("#load-examples")
        page.wait_for_function(
            "document.querySelector('#collection-summary').innerText.includes('searchable')"
        )
        assert page.get_by_text("Error", exact=True).count() == 0
        page.screenshot(path=str(shots / "offline_banner.png"))
        context.close()


def test_j_result_cards_work_from_the_keyboard(page) -> None:
    card = page.locator("#results .cdir-card[data-id]").first
    item_id = card.get_attribute("data-id")
    card.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelector('#query-info').innerText.includes('item #{item_id}')"
    )


def test_k_a_zip_inside_a_zip_keeps_its_folder_labels(page, tmp_path: Path) -> None:
    """photo/car/a.png inside inner.zip inside outer.zip: domain photo, class car."""
    import io

    from tests.archives import make_zip, zip_bytes

    pngs = []
    for variant in (1, 2):
        png = io.BytesIO()
        draw_image("photo", "square", variant).save(png, format="PNG")
        pngs.append(png.getvalue())
    inner = zip_bytes({"photo/car/a.png": pngs[0], "photo/car/b.png": pngs[1]})
    outer = make_zip(tmp_path / "outer.zip", {"inner.zip": inner})
    _tab(page, "Collection")
    _upload(page, [outer])
    page.get_by_label("Collection name").fill("nested")
    page.click("#build-collection")
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.startsWith('nested')"
    )
    summary = page.inner_text("#collection-summary")
    assert "Domains: photo" in summary and "Classes: car" in summary, summary


def test_l_a_visitor_cannot_decide_on_the_shared_examples(page) -> None:
    """A public page: the examples' groups are shown, but a keep clicked there is refused with
    one line (every visitor shares them); the review works on a collection the visitor built."""
    _open(page, "examples-tiny")
    _tab(page, "Duplicates")
    page.click("#find-dupes")
    page.wait_for_selector("#dupe-groups .cdir-row")
    other = page.locator("#dupe-groups .cdir-row").first.locator(".cdir-card:not(.kept)").first
    item_id = other.get_attribute("data-id")
    other.click()
    assert "build your own collection" in _message(page, "shared by every visitor")
    assert page.locator(f'#dupe-groups .cdir-card.kept[data-id="{item_id}"]').count() == 0
