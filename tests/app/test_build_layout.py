"""The layout box under the upload: the guess shown before a build, a level chosen instead, and
the build labelling by what the box showed."""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

import pytest

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from tests.drawn import draw_image

RELS = [f"{p}/{c}/{c}_{n}.png" for p in ("p0", "p1") for c in ("circle", "cross") for n in (0, 1)]


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("batches")
    archive = root / "batches.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n, rel in enumerate(RELS):
            image = root / f"{n}.png"
            draw_image("photo", rel.split("/")[1], n % 5).save(image)
            zf.write(image, rel)
    return str(archive)


@pytest.fixture
def actions(tmp_path: Path) -> AppActions:
    return AppActions(Workspace(tmp_path / "workspace"), "tiny")


def test_the_preview_shows_the_guess_and_a_chosen_level(actions: AppActions, batches: str) -> None:
    box, line, domain, cls = actions.layout_preview([batches])
    assert box["visible"] is True
    assert html.unescape(line).endswith(
        "domains: none from folders; classes: 2 (from level 2); 8 images"
    )
    assert api.guess_layout_of([batches]).describe() in html.unescape(line)  # the CLI's line
    assert ("level 1: p0, p1", "1") in domain["choices"] and domain["value"] == "auto"
    chosen = actions.layout_preview([batches], "1", "auto")[1]
    assert "domains: p0, p1 (from level 1); classes: 2 (from level 2)" in html.unescape(chosen)
    assert actions.layout_preview([])[0]["visible"] is False
    with pytest.raises(api.UsageError, match="no folder level 3"):
        actions.layout_preview([batches], "3", "auto")


def test_a_build_labels_by_the_levels_chosen(actions: AppActions, batches: str) -> None:
    guessed = actions.build([batches], "guessed", "tiny", "lazy", owner="k")
    assert api.info(guessed[0])["domains"].keys() != {"p0", "p1"}
    assert set(api.info(guessed[0])["classes"]) == {"circle", "cross"}
    chosen = actions.build([batches], "chosen", "tiny", "lazy", owner="k", levels=("1", "2"))
    info = api.info(chosen[0])
    assert set(info["domains"]) == {"p0", "p1"} and set(info["classes"]) == {"circle", "cross"}
    before = set(actions.workspace.root.iterdir())
    with pytest.raises(api.UsageError, match="a folder level is a number"):
        actions.build([batches], "bad", "tiny", "lazy", owner="k", levels=("first", "auto"))
    with pytest.raises(api.user_errors(), match="no folder level 5"):
        actions.build([batches], "deep", "tiny", "lazy", owner="k", levels=("5", "auto"))
    assert set(actions.workspace.root.iterdir()) == before  # nothing left behind
