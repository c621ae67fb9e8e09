"""Attacks 3-5: strings that would be Markdown or HTML, query files that are no image or too
large, unknown options, and refused calls that must not flood the log."""

from __future__ import annotations

import logging
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from cdir import api
from cdir.app import views
from tests.drawn import draw_image
from tests.security.visitors import build

EVIL = "[CLICK HERE](https:evil.example)"


def test_a_folder_name_that_is_a_link_is_shown_as_text(server, tmp_path: Path) -> None:
    """A zip whose domain folder is a Markdown link: the summary a viewer reads has no link,
    and the names stay readable."""
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in range(2):
            path = tmp_path / f"{n}.png"
            draw_image("photo", "circle", n).save(path)
            zf.write(path, f"{EVIL}/**bold**/{n}.png")
    made = build(server.client, [archive], "evil", owner="e-key")
    assert EVIL in made["domains"]  # the label itself is kept as written
    summary = views.collection_summary(api.info(server.workspace.root / made["collection"]))
    assert "](" not in summary and "**bold**" not in summary and "<a " not in summary
    rendered = _markdown_to_html(summary)
    assert "href" not in rendered and "<strong>bold</strong>" not in rendered
    assert "CLICK HERE" in rendered


def _markdown_to_html(text: str) -> str:
    """Markdown as gradio's server renders it for a gr.Markdown (markdown-it, as gradio uses)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"linkify": False}).enable("table").render(text)


@pytest.mark.parametrize(
    "text",
    [
        EVIL,
        "<img src=x onerror=alert(1)>",
        "**x** _y_ `z`",
        "| a | b |",
        "# heading",
        "![p](https:evil.example/p.png)",
    ],
)
def test_every_user_string_is_escaped_for_markdown_and_html_alike(text: str) -> None:
    shown = views.esc(text)
    html = _markdown_to_html(f"**Domains:** {shown}")
    assert "<a" not in html and "<img" not in html and "<em>" not in html
    assert "<code>" not in html and "<h1>" not in html and "<table>" not in html


def _png_claiming(width: int, height: int, path: Path) -> Path:
    """A small PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("kind", ["empty", "html", "svg", "bomb", "huge"])
def test_a_query_file_that_is_no_usable_image_gets_one_line(
    server, tmp_path: Path, kind: str
) -> None:
    path = (
        tmp_path
        / {"empty": "q.png", "html": "q.html", "svg": "q.svg", "bomb": "q.png", "huge": "big.png"}[
            kind
        ]
    )
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "html":
        path.write_text("<html><body>not an image</body></html>")
    elif kind == "svg":
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    elif kind == "bomb":
        _png_claiming(30000, 30000, path)
    else:
        _png_claiming(9990, 9990, path)  # under Pillow's own limit, over the query budget
    with pytest.raises(AppError) as refused:
        server.client.predict(
            server.a_name,
            handle_file(str(path)),
            "caption",
            3,
            [],
            server.a_key,
            api_name="/search_image",
        )
    message = str(refused.value)
    assert message.strip() and message.strip() != "Error" and "\n" not in message.strip()
    assert str(tmp_path) not in message and str(server.workspace.root) not in message
    if kind in ("bomb", "huge"):
        assert "pixels" in message or "megapixels" in message or "MP" in message


@pytest.mark.parametrize("mode,k", [("telepathy", 3), ("caption", 0)])
def test_unknown_modes_and_a_k_below_one_are_refused(server, mode: str, k: int) -> None:
    with pytest.raises(AppError, match="mode|k must"):
        server.call("/search_text", server.a_name, "a circle", mode, k, [], server.a_key)


def test_a_refused_call_logs_one_line_not_a_traceback(server, caplog) -> None:
    with caplog.at_level(logging.INFO):
        with pytest.raises(AppError):
            server.call("/open_collection", "mine-0000000000", server.a_key)
    assert not any(r.exc_info for r in caplog.records)
