"""Names with control, bidi and line-separator characters are printed escaped everywhere a name
is shown as text: one helper, used by every CLI listing and report."""

from __future__ import annotations

import pytest

from cdir.names import has_unsafe, shown_name

TRICKS = {
    "new\nline.png": "new\\nline.png",
    "tab\there.jpg": "tab\\there.jpg",
    "cr\rforged: ok.png": "cr\\rforged: ok.png",
    "cat\u202egpj.exe": "cat\\u202egpj.exe",
    "iso\u2066late\u2069.png": "iso\\u2066late\\u2069.png",
    "esc\x1b[31mred.png": "esc\\x1b[31mred.png",
    "del\x7f.png": "del\\x7f.png",
    "c1\x85next.png": "c1\\x85next.png",
    "ls\u2028sep.png": "ls\\u2028sep.png",
    "bom\ufeff.png": "bom\\ufeff.png",
    "mark\u200f.png": "mark\\u200f.png",
}


@pytest.mark.parametrize("name", list(TRICKS))
def test_tricks_are_escaped(name: str) -> None:
    assert shown_name(name) == TRICKS[name] and has_unsafe(name)
    assert "\n" not in shown_name(name) and shown_name(name).isprintable()


@pytest.mark.parametrize(
    "name",
    ["写真/猫/表紙.png", "café.jpg", "😀 family👨‍👩‍👧.png", "a b (1).png", "back\\slash.png"],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert shown_name(name) == name and not has_unsafe(name)


def test_none() -> None:
    assert shown_name(None) == "" and not has_unsafe(None)


BAD = "evil\nfailed: x.png\u202e"


def test_cli_listings_escape_names() -> None:
    from cdir.cli.dupes import _decisions_text, _dupes_text
    from cdir.cli.ingest import _ingest_text
    from cdir.cli.query import _export_text, _search_text

    report = {
        "store": "s",
        "counts": {"n_ok": 1, "n_captioned": 0},
        "added": 1,
        "embedded": 1,
        "metadata": {
            "with_prompt": 1,
            "with_negative_prompt": 0,
            "generators": {},
            "issues": [{"file": BAD, "reason": "why\nnot"}],
        },
        "failed": [{"file": BAD, "reason": "r"}],
        "rejected": [{"file": BAD, "reason": "r"}],
        "notes": [f"note on {BAD}"],
    }
    texts = [_ingest_text(report)]
    texts.append(
        _dupes_text(
            {
                "thresholds": {},
                "n_groups": 1,
                "tiers": ["exact"],
                "groups": [
                    {
                        "tier": "exact",
                        "size": 1,
                        "keep": 1,
                        "keep_reason": "the original",
                        "members": [{"id": 1, "score": 1.0, "decision": None, "file": BAD}],
                    }
                ],
                "failed": [{"file": BAD, "reason": "r"}],
                "rejected": [],
            }
        )
    )
    texts.append(
        _decisions_text(
            [
                {
                    "group": 0,
                    "id": 1,
                    "decision": "keep",
                    "decided": True,
                    "distance": "0",
                    "file": BAD,
                }
            ]
        )
    )
    texts.append(
        _search_text(
            {
                "query": {"kind": "text", "text": "q"},
                "hits": [
                    {
                        "rank": 1,
                        "score": 0.5,
                        "domain": "d\u202e",
                        "class": "c\n",
                        "rel_path": BAD,
                        "caption": "cap",
                    }
                ],
            }
        )
    )
    texts.append(
        _export_text(
            {
                "rows": 1,
                "format": "csv",
                "out": "o",
                "pushed_to": None,
                "skipped": [{"file": BAD, "reason": "r"}],
            }
        )
    )
    for text in texts:
        assert "\u202e" not in text and "evil\\nfailed: x.png\\u202e" in text
        assert not any(line.startswith("failed: x.png") for line in text.splitlines())


def test_markdown_report_cells_escape_names() -> None:
    from cdir.evaluation.report import _cell

    assert _cell("dom\u202eain|x\ny\tz") == "dom\\u202eain\\|x y\\tz"


def test_removal_script_shows_the_escaped_name_above_the_quoted_path(tmp_path) -> None:
    from types import SimpleNamespace

    import pandas as pd

    from cdir.duplicates.export import removal_script

    name = "copy\n\u202egpj.png"
    victim = tmp_path / name
    victim.write_bytes(b"x")
    store = SimpleNamespace(
        items=pd.DataFrame({"tile": [-1], "rel_path": [name]}),
        root=tmp_path,
        item_path=lambda item: victim,
    )
    script = removal_script(
        store,
        [
            {
                "id": 0,
                "decision": "remove",
                "group": 1,
                "tier": "exact",
                "distance": 0,
                "keep_file": "a.png",
            }
        ],
    )
    assert "# the next path holds control characters: " in script
    assert shown_name(name) in script and "rm -- '" in script


def test_the_app_shows_names_escaped() -> None:
    from cdir.app.views import esc_name

    # the escape's backslash is written as a character reference, like all Markdown punctuation
    assert esc_name("a\u202e<b>.png") == "a&#92;u202e&lt;b&gt;.png"
