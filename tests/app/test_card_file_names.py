"""A long file name on a result card and on a Browse card: the whole name is in the card (the
stylesheet wraps and clamps it inside the card's padding) and in the title shown on hover,
HTML-escaped. The browser side is in tests/browser/test_browser_map_eval.py."""

from __future__ import annotations

import re
from pathlib import Path

from cdir.app.browse import card_html as browse_card
from cdir.app.views import card_html as result_card
from cdir.retrieval.search import Hit

LONG = "a" * 50 + '_<b>"quoted" & más_' + "z" * 47 + ".png"  # 120 characters
ESCAPED = "a" * 50 + "&#95;&lt;b&gt;&quot;quoted&quot; &amp; más&#95;" + "z" * 47 + ".png"
CSS = Path(__file__).resolve().parents[2] / "cdir" / "app" / "static" / "app.css"


def _file_div(html: str) -> tuple[str, str]:
    match = re.search(r'<div class="file" title="([^"]*)">([^<]*)</div>', html)
    assert match, html
    return match.group(1), match.group(2)


def test_the_long_name_is_120_characters() -> None:
    assert len(LONG) == 120


def test_a_result_card_shows_the_file_name_whole_and_escaped() -> None:
    hit = Hit(
        rank=1,
        id=3,
        score=0.5,
        path="",
        rel_path=f"photo/{LONG}",
        thumb="",
        domain="photo",
        label=None,
        caption="a cat",
        prompt=None,
        width=8,
        height=8,
    )
    title, text = _file_div(result_card(hit))
    assert text == ESCAPED  # the name, not its folder
    assert title == f"photo/{ESCAPED}"  # the hover shows the whole path
    assert "<b>" not in result_card(hit)


def test_a_browse_card_shows_the_file_name_whole_and_escaped() -> None:
    card = {
        "id": 3,
        "file": f"photo/{LONG}",
        "domain": "photo",
        "class": "",
        "caption": "a cat",
        "prompt": "",
        "status": "ok",
        "error": "",
        "thumb": "",
        "tags": [],
        "score": None,
    }
    title, text = _file_div(browse_card(card))
    assert title == text == f"photo/{ESCAPED}"  # not cut in Python: the stylesheet clamps it


def test_the_stylesheet_pads_wraps_and_clamps_file_names() -> None:
    rule = re.search(r"\.cdir-card \.file \{([^}]*)\}", CSS.read_text(encoding="utf-8"))
    assert rule, "a .cdir-card .file rule"
    body = rule.group(1)
    assert "padding: 2px 6px" in body and "overflow-wrap: anywhere" in body
    assert "line-clamp: 2" in body and "white-space: nowrap" not in body
