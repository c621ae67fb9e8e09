"""The Search tab's controls say what they do: a text query greys the modes out with the one
line that says why, and typing k (not only dragging it) re-runs the query."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdir import api
from cdir.app.queries import MODE_INFO, mode_widget


def test_a_text_query_greys_the_modes_out_with_one_line() -> None:
    note = api.mode_note("text")
    assert note and "\n" not in note and "text → image" in note
    update = mode_widget("text")
    assert update["interactive"] is False and update["info"] == note
    for kind in ("image", "sketch", "item", "url"):
        assert api.mode_note(kind) == ""
        assert mode_widget(kind) == {"__type__": "update", "interactive": True, "info": MODE_INFO}


def test_a_text_query_says_it_was_matched_text_to_image() -> None:
    from cdir.app import views
    from cdir.retrieval.search import Query

    result = api.SearchResult(Query("text", text="a boat"), [], api.SearchOptions(mode="text"))
    assert views.query_markdown(result).startswith("**Mode:** Text → image")


def _listeners(demo, component) -> set[str]:
    """The events of ``component`` that some dependency of ``demo`` listens to."""
    return {
        event
        for dep in demo.config["dependencies"]
        for target, event in dep["targets"]
        if target == component._id
    }


def test_k_reruns_on_any_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdir.app import main
    from cdir.app.handlers import AppActions
    from cdir.app.workspace import Workspace

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = main.build_app(AppActions(Workspace(tmp_path / "ws"), "tiny"))
    k = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "Results (k)")
    # "input" fires for a typed value and while dragging; "release" only at the end of a drag
    assert "input" in _listeners(demo, k) and "release" not in _listeners(demo, k)


def test_the_search_tab_and_the_worked_example_use_the_measured_best_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Style-word removal (docs/reproducing.md) is on by default on the Search tab, and the
    worked example's CM row runs with it; its summary counts the cards it shows."""
    import html as html_lib
    import re

    from cdir.app import main
    from cdir.app.handlers import AppActions
    from cdir.app.queries import SearchSettings
    from cdir.app.tabs.method import worked_example
    from cdir.app.workspace import Workspace

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    actions = AppActions(Workspace(tmp_path / "ws"), "tiny")
    demo = main.build_app(actions)
    neutral = next(
        b
        for b in demo.blocks.values()
        if str(getattr(b, "label", "")).startswith("Remove style words")
    )
    assert neutral.value is True and SearchSettings().options().neutralise is True
    html, summary = worked_example(actions)
    rows = re.findall(
        r'<div class="cdir-row-title">(.*?)</div>(.*?)(?=<div class="cdir-row"|$)', html
    )
    claims = re.findall(r"\*\*(.+)\*\*: (\d+) of the top (\d+) pictures", summary)
    assert [c[0] for c in claims] == [
        "Image → image (plain CLIP baseline)",
        "Caption matching (CM): query caption → gallery images, style words removed",
    ]
    for (title, cards), (label, houses, top) in zip(rows, claims, strict=True):
        assert html_lib.unescape(title) == label
        assert cards.count('class="cdir-card"') == int(top) == 6
        assert cards.count('<span class="badge cls">house</span>') == int(houses)
