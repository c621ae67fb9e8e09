"""Properties of an XMP packet, read with regular expressions (no XML parser, so no entity
expansion or external references): simple values, element or attribute form, and language
alternatives (``rdf:Alt`` of ``rdf:li xml:lang=...``: ``x-default`` first, else the first)."""

from __future__ import annotations

import html
import re

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
_LI = re.compile(r"<rdf:li\b([^>]*)>(.*?)</rdf:li>", re.S)
_LANG = re.compile(r"""xml:lang\s*=\s*["']([^"']*)["']""")
_TAG = re.compile(r"<[^>]+>")


def xmp_property(packet: str, name: str) -> str | None:
    """The text of property ``name`` (e.g. ``dc:description``) in ``packet``, or None."""
    element = re.search(rf"<{re.escape(name)}\b[^>]*?(?<!/)>(.*?)</{re.escape(name)}>", packet,
                        re.S)
    if element:
        return _value(element.group(1))
    attribute = re.search(rf"""\b{re.escape(name)}\s*=\s*(?:"([^"]*)"|'([^']*)')""", packet)
    if attribute:
        return _unescape(attribute.group(1) if attribute.group(1) is not None
                         else attribute.group(2))
    return None


def _value(content: str) -> str | None:
    items = _LI.findall(content)
    if not items:
        return _unescape(content)
    for attributes, text in items:
        lang = _LANG.search(attributes)
        if lang and lang.group(1).lower() == "x-default":
            return _unescape(text)
    return _unescape(items[0][1])


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
