"""``cdir app``: the web app from the command line, the same app and options as ``app.py``."""

from __future__ import annotations

import pytest

from cdir import cli
from cdir.app import main as app_main


def test_cdir_app_hands_every_option_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(app_main, "main", lambda argv=None: seen.append(list(argv)))
    assert cli.main(["app", "--preset", "demo", "--port", "7999", "--share"]) == 0
    assert cli.main(["app"]) == 0
    assert seen == [["--preset", "demo", "--port", "7999", "--share"], []]


def test_cdir_app_help_is_the_apps_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["app", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--preset" in out and "--store" in out and "--shared-workspace" in out


def test_cdir_help_lists_app() -> None:
    assert "app" in cli.build_parser().format_help()


def test_the_app_is_the_same_from_app_py() -> None:
    import app

    assert app.main is app_main.main
