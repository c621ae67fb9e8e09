"""The app's flows called as handlers (no browser): progress, state resets, refusals, owners."""

from __future__ import annotations

from pathlib import Path

import pytest
from drawn import draw_collection

from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace


class FalsyProgress:
    """Like ``gr.Progress``: falsy, callable with ``((done, total), desc=..., unit=...)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, str]] = []

    def __bool__(self) -> bool:
        return False

    def __call__(self, value: object, desc: str = "", unit: str = "steps") -> None:
        self.calls.append((value, desc))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return draw_collection(tmp_path_factory.mktemp("drawn"), per_class=2)


@pytest.fixture()
def actions(tmp_path: Path) -> AppActions:
    return AppActions(Workspace(tmp_path / "workspace"), "tiny")


def test_a_falsy_progress_still_receives_every_stage(actions: AppActions,
                                                     drawn: list[Path]) -> None:
    progress = FalsyProgress()
    actions.build([str(p) for p in drawn], "shapes", "tiny", "lazy", progress)
    stages = {desc for _, desc in progress.calls}
    assert "embedding images" in stages
    assert ((len(drawn), len(drawn)), "embedding images") in progress.calls
