"""The Collection tab as visitors drive it, in headless Chromium (tiny preset): a name another
visitor already used, coming back to a running build after a reload, the layout guess shown
before a build, the upload box emptied after a build, and the page at a phone's width.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drawn import draw_collection
from tests.served import browser, collection_name, require_chromium, served_app, upload_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    from cdir.app.first_run import offline_banner
    from cdir.app.workspace import Workspace

    require_chromium()
    workspace = Workspace(tmp_path_factory.mktemp("workspace"))
    # the page as a first run without weights shows it: the offline banner above everything
    notice = offline_banner("default", "its weights are not on this machine", "demo")
    with served_app(workspace, tmp_path_factory.mktemp("cache"), notice=notice) as served:
        yield served


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("few")
    return draw_collection(root, domains=("sketch",), classes=("cross", "circle"), per_class=1)


def _visitor(chromium, url: str, **context: object):
    """A new visitor: a browser context of its own (its own owner key), on the page."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, **context)
    page = ctx.new_page()
    page.set_default_timeout(600_000)  # a bound for a hang, not a wait
    page.goto(url)
    page.wait_for_selector("#build-collection")
    return ctx, page


def _upload(page, files: list[Path]) -> None:
    upload_files(page, "#upload-files", files)  # every file uploaded, not only the last named


def _summary_has(page, text: str, timeout: float = 300_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('#collection-summary').innerText.includes(t)",
        arg=text,
        timeout=timeout,
    )


def _choices(page) -> list[str]:
    page.fill("#saved input", "")
    page.click("#saved input")
    page.wait_for_selector("[role=option]", state="attached")
    names = [
        o.strip().split("\n")[-1].strip() for o in page.get_by_role("option").all_inner_texts()
    ]
    page.keyboard.press("Escape")
    return names


def _build(page, files: list[Path], name: str) -> None:
    _upload(page, files)
    page.get_by_label("Collection name").fill(name)
    page.click("#build-collection")


def test_a_name_another_visitor_used_builds_the_visitors_own(served, chromium, few) -> None:
    url, _ = served
    ctx_a, a = _visitor(chromium, url)
    ctx_b, b = _visitor(chromium, url)
    try:
        _build(a, few, "mj-set")
        _summary_has(a, "2 images searchable")
        a_name = collection_name(a, r"^mj-set-[0-9a-f]{10}$")
        _build(b, few[:1], "mj-set")
        _summary_has(b, "1 image")
        assert b.locator("#name-taken").is_hidden()  # B never built an mj-set: no question
        note = b.inner_text("#build-note")
        b_name = collection_name(b, r"^mj-set-[0-9a-f]{10}$")
        assert b_name != a_name
        assert note.startswith(f"Saved as {b_name}, your own collection")
        assert "no collection named" not in b.inner_text("body")
        assert a_name not in _choices(b) and b_name in _choices(b)
        assert b_name not in _choices(a)
    finally:
        ctx_a.close()
        ctx_b.close()


def _upload_box(page) -> str:
    return page.inner_text("#upload-files")


def test_the_upload_box_empties_after_a_build_not_after_a_failure(
    served, chromium, few, tmp_path: Path
) -> None:
    url, _ = served
    ctx, page = _visitor(chromium, url)
    try:
        fake = tmp_path / "holiday.png"
        fake.write_text("a text file with an image's name")
        _build(page, [fake], "nothing here")
        page.get_by_text("No collection was made").first.wait_for()
        assert "holiday" in _upload_box(page)  # a failed build keeps the files to try again
        page.locator("#upload-files button[aria-label='Clear']").first.click()
        page.wait_for_function(
            "() => !document.querySelector('#upload-files').innerText.includes('holiday')"
        )
        _build(page, few, "kept once")
        _summary_has(page, "2 images searchable")
        page.wait_for_function(
            "s => !document.querySelector('#upload-files').innerText.includes(s)",
            arg=few[0].stem,
        )
        assert page.locator("#upload-files input[type=file]").count() == 1  # ready for more
    finally:
        ctx.close()


def test_download_boxes_show_only_once_there_is_something_to_download(served, chromium) -> None:
    url, _ = served
    ctx, page = _visitor(chromium, url, accept_downloads=True)
    try:
        assert page.locator("#download-collection-parquet").is_visible()
        assert (
            page.locator("#collection-file").count() == 0
            or page.locator("#collection-file").is_hidden()
        )
        page.click("#load-examples")
        _summary_has(page, "examples-tiny")
        page.click("#download-collection-parquet")
        link = page.locator("#collection-file a[download]").first
        link.wait_for(state="visible")
        assert ".parquet" in page.inner_text("#collection-file")
        page.get_by_role("tab", name="Search").click()
        assert page.locator("#search-file").count() == 0 or page.locator("#search-file").is_hidden()
    finally:
        ctx.close()


def test_the_offline_banner_is_one_line_on_a_phone(served, chromium, shots: Path) -> None:
    url, _ = served
    ctx = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    try:
        page = ctx.new_page()
        page.set_default_timeout(600_000)  # a bound for a hang, not a wait
        page.goto(url)
        banner = page.locator("#offline-banner")
        banner.wait_for(state="visible")
        summary = banner.locator("summary")
        line = page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('#offline-banner summary'))"
            ".lineHeight) || 24"
        )
        assert summary.bounding_box()["height"] <= 1.5 * line  # one line, not a paragraph
        assert banner.bounding_box()["height"] < 0.1 * 844
        assert "demo" in summary.inner_text() and "--model-dir" not in banner.inner_text()
        assert page.locator("#load-examples").is_visible()  # the first screen holds the start
        page.screenshot(path=str(shots / "phone_offline_banner.png"))
        summary.click()
        page.get_by_text("--model-dir").first.wait_for(state="visible")
        assert "default" in banner.inner_text() and "drawn pictures" in banner.inner_text()
        page.screenshot(path=str(shots / "phone_offline_banner_open.png"))
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def batches_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zip of p0/ and p1/ batch folders, each holding class folders."""
    import zipfile

    from tests.drawn import draw_image

    root = tmp_path_factory.mktemp("batches")
    archive = root / "batches.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n, (batch, cls) in enumerate(
            (b, c) for b in ("p0", "p1") for c in ("circle", "cross", "square")
        ):
            image = root / f"{n}.png"
            draw_image("photo", cls, n % 5).save(image)
            zf.write(image, f"{batch}/{cls}/{cls}_{n}.png")
    return archive


def _preview_has(page, text: str) -> None:
    page.wait_for_function(
        "t => (document.querySelector('#layout-preview') || {innerText: ''}).innerText.includes(t)",
        arg=text,
    )


def test_the_layout_guess_shows_before_the_build_and_can_be_changed(
    served, chromium, batches_zip: Path, shots: Path
) -> None:
    url, _ = served
    ctx, page = _visitor(chromium, url)
    try:
        page.set_input_files("#upload-files input[type=file]", [str(batches_zip)])
        _preview_has(page, "domains: none from folders; classes: 3 (from level 2); 6 images")
        page.locator("#layout-preview").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "layout_preview.png"))
        page.click("#domain-level input")
        page.get_by_role("option", name="level 1: p0, p1", exact=True).click()
        _preview_has(page, "domains: p0, p1 (from level 1); classes: 3 (from level 2)")
        page.get_by_label("Collection name").fill("batches")
        page.click("#build-collection")
        _summary_has(page, "6 images searchable")
        summary = page.inner_text("#collection-summary")
        assert "p0 (3)" in summary and "p1 (3)" in summary and "circle (2)" in summary
        page.wait_for_selector("#layout-preview", state="hidden")  # the upload box emptied
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """120 small drawn images as loose files."""
    from tests.drawn import CLASSES, DOMAINS, draw_image

    root = tmp_path_factory.mktemp("many")
    paths = []
    for domain in DOMAINS:
        for cls in CLASSES:
            for variant in range(10):
                path = root / f"{domain}_{cls}_{variant}.png"
                draw_image(domain, cls, variant % 5, size=64 + variant).save(path)
                paths.append(path)
    return paths


def test_a_reload_during_a_build_comes_back_to_it(served, chromium, many: list[Path]) -> None:
    """The build is held at its start by holding the server's heavy-work slot (the server runs
    in this process), so the reload surely lands while it runs; released, it finishes on the
    reloaded page."""
    from cdir import api

    url, _ = served
    ctx, page = _visitor(chromium, url)
    slot = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with api.heavy_work():
            slot.set()
            release.wait(600)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        slot.wait(60)
        _build(page, many, "reloaded")
        waiting = '() => document.body.innerText.includes("waiting for the server")'
        page.wait_for_function(waiting)
        page.reload()
        page.wait_for_selector("#build-collection")
        page.wait_for_function(waiting)  # the reloaded page shows the running build
        assert "No collection open yet" in page.inner_text("#status")
        release.set()
        _summary_has(page, "120 images searchable")
        collection_name(page, "^reloaded-")
        assert "reloaded-" in " ".join(_choices(page))
    finally:
        release.set()
        holder.join(60)
        ctx.close()
