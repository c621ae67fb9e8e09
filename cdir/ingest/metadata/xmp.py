"""Properties of an XMP packet, read by plain string scanning (no XML parser, so no entity
expansion or external references; no backtracking regular expression over the packet, so a
hostile packet costs linear time): simple values, element or attribute form, and language
alternatives (``rdf:Alt`` of ``rdf:li xml:lang=...``: ``x-default`` first, else the first)."""

from __future__ import annotations

import html
import re

MAX_PACKET_CHARS = 1024 * 1024  # XMP in JPEG is at most 64 KiB; real packets are far smaller
MAX_TAG_CHARS = 4096
# XMP property -> RawMetadata key
PROPERTIES: dict[str, str] = {
    "dc:description": "xmp:description",
    "dc:title": "xmp:title",
    "exif:UserComment": "xmp:UserComment",
    "tiff:ImageDescription": "xmp:ImageDescription",
    "xmp:CreatorTool": "xmp:CreatorTool",
    "iptcExt:DigImageGUID": "xmp:DigImageGUID",
    "photoshop:Headline": "xmp:Headline",
}
_LANG = re.compile(r"""xml:lang\s*=\s*["']([^"']{0,64})["']""")
_TAG = re.compile(r"<[^<>]{0,4096}>")
_NAME_END = re.compile(r"[\s/>]")


def xmp_property(packet: str, name: str) -> str | None:
    """The text of property ``name`` (e.g. ``dc:description``) in ``packet``, or None."""
    packet = packet[:MAX_PACKET_CHARS]
    content = _element(packet, name)
    if content is not None:
        return _value(content)
    return _attribute(packet, name)


def _element(packet: str, name: str) -> str | None:
    """The content of the first non-empty ``<name ...>...</name>`` element."""
    start = 0
    while (at := packet.find(f"<{name}", start)) >= 0:
        start = at + 1
        after = at + 1 + len(name)
        if after >= len(packet) or not _NAME_END.match(packet[after]):
            continue  # a longer name with the same start
        close = packet.find(">", after, after + MAX_TAG_CHARS)
        if close < 0 or packet[close - 1] == "/":
            continue  # self-closing: its value, if any, is in attributes
        end = packet.find(f"</{name}>", close)
        return packet[close + 1 : end] if end >= 0 else None
    return None


def _attribute(packet: str, name: str) -> str | None:
    start = 0
    while (at := packet.find(name, start)) >= 0:
        start = at + 1
        if at and (packet[at - 1].isalnum() or packet[at - 1] in ":_-<"):
            continue
        rest = packet[at + len(name) : at + len(name) + 16].lstrip()
        if not rest.startswith("="):
            continue
        eq = packet.find("=", at + len(name))
        quote_at = eq + 1
        while quote_at < len(packet) and packet[quote_at].isspace():
            quote_at += 1
        if quote_at >= len(packet) or packet[quote_at] not in "\"'":
            continue
        end = packet.find(packet[quote_at], quote_at + 1)
        return _unescape(packet[quote_at + 1 : end]) if end >= 0 else None
    return None


def _value(content: str) -> str | None:
    """A simple value, or of a list: the non-empty ``x-default`` item, else the first non-empty."""
    items = _list_items(content)
    if not items:
        return _unescape(content)
    for attributes, text in items:
        lang = _LANG.search(attributes)
        if lang and lang.group(1).lower() == "x-default" and (value := _unescape(text)):
            return value
    return next((value for _, text in items if (value := _unescape(text))), None)


def _list_items(content: str) -> list[tuple[str, str]]:
    """[(attributes, text)] of the ``rdf:li`` elements of ``content``."""
    items: list[tuple[str, str]] = []
    start = 0
    while (at := content.find("<rdf:li", start)) >= 0:
        close = content.find(">", at, at + MAX_TAG_CHARS)
        if close < 0:
            break
        end = content.find("</rdf:li>", close)
        if end < 0:
            break
        items.append((content[at + 7 : close], content[close + 1 : end]))
        start = end + 9
    return items


def _unescape(text: str) -> str | None:
    text = html.unescape(_TAG.sub("", text)).strip()
    return text or None


def xmp_texts(packet: str) -> dict[str, str]:
    """{RawMetadata key: text} of the known properties present in ``packet``."""
    found = {}
    for name, key in PROPERTIES.items():
        value = xmp_property(packet, name)
        if value:
            found[key] = value
    return found
