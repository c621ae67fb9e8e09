"""The flows around the happy path, in headless Chromium as a user drives them (tiny preset):
progress during a build, a collection switch clearing every tab, bad query files, refused
uploads, deleting a collection, options re-running the search, the sketch tool.

Screenshots go to ``$CDIR_SCREENSHOT_DIR`` when it is set (``assets/screenshots``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from drawn import CLASSES, DOMAINS, draw_image
from served import browser, require_chromium, served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
QUERY = REPO / "assets" / "examples" / "sketch" / "house" / "sketch_house_01.jpg"


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
        page.set_default_timeout(120_000)
        page.goto(app_url)
        yield page


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("CDIR_SCREENSHOT_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(400)


def test_a_build_of_120_images_shows_its_stage_and_count(page, shots: Path,
                                                         many_images: list[Path]) -> None:
    page.set_input_files("#upload-files input[type=file]", [str(p) for p in many_images])
    page.get_by_label("Collection name").fill("many")
    page.click("#build-collection")
    # the page shows the stage and done / total while the build runs, not only a timer
    page.wait_for_function(
        "() => /embedding images[\\s\\S]*\\d+\\/120 images/.test(document.body.innerText)")
    page.screenshot(path=str(shots / "progress_build.png"), full_page=False)
    page.wait_for_function(
        "document.querySelector('#collection-summary').innerText.includes('120 images')",
        timeout=300_000)
