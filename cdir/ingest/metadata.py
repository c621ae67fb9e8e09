"""The generation prompt of AI images, read from a sidecar file or the image's own metadata.

:func:`extract_prompt` tries, in order: a sidecar ``<stem>.txt`` / ``<name>.txt``; PNG text
chunks (A1111 ``parameters``, ComfyUI ``prompt`` JSON, InvokeAI, ``Description``, ``Comment``,
``Title``); EXIF ImageDescription and UserComment; XMP ``dc:description``. Only metadata is read,
never pixels, so PNG text chunks that come after the image data are not seen (generators write
theirs before it). Broken metadata is logged at debug level and skipped, never raised.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from cdir.ingest.decode import SAFE_FORMATS, pillow_warnings_logged

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 64 * 1024
_IMAGE_DESCRIPTION = 0x010E
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
_XMP_TIFF_TAG = 700
_A1111_STOP = ("Negative prompt:", "Steps:")
_PNG_TEXT_KEYS = ("Description", "Comment", "Title")
# Values cameras and editors write by default: they describe nothing.
_PLACEHOLDERS = {
    "olympus digital camera",
    "sony dsc",
    "default",
    "image",
    "picture",
    "untitled",
    "ascii",
    "unicode",
}
_DC_DESCRIPTION = re.compile(r"<dc:description\b[^>]*>(.*?)</dc:description>", re.S)
_RDF_LI = re.compile(r"<rdf:li\b[^>]*>(.*?)</rdf:li>", re.S)
_DC_ATTRIBUTE = re.compile(r"\bdc:description\s*=\s*\"([^\"]*)\"")


def extract_prompt(path: Path) -> str | None:
    """The generation prompt stored with the image at ``path``, stripped, or None."""
    path = Path(path)
    prompt = sidecar_prompt(path)
    if prompt:
        return prompt
    try:
        with pillow_warnings_logged(), Image.open(path, formats=SAFE_FORMATS) as img:
            return prompt_from_image(img)
    except Exception as exc:  # unreadable file or hostile header: no prompt, no crash
        log.debug("no metadata read from %s: %s", path, exc)
        return None


def prompt_from_image(img: Image.Image) -> str | None:
    """The prompt in an opened image's metadata (PNG text, EXIF, XMP), or None."""
    readers: tuple[Callable[[Image.Image], str | None], ...] = (
        png_text_prompt,
        exif_prompt,
        xmp_prompt,
    )
    for reader in readers:
        prompt = _safely(reader, img)
        if prompt:
            return prompt
    return None


def _safely(reader: Callable[[Image.Image], str | None], img: Image.Image) -> str | None:
    try:
        return _clean(reader(img))
    except Exception as exc:  # broken metadata must never fail the image
        log.debug("%s: unreadable metadata: %s", reader.__name__, exc)
        return None


def _clean(text: str | None) -> str | None:
    if not isinstance(text, str):
        return None
    text = text.replace("\x00", "").strip()
    if not text or text.lower() in _PLACEHOLDERS:
        return None
    return text


def sidecar_prompt(path: Path) -> str | None:
    """The text of ``<stem>.txt`` or ``<name>.txt`` next to the image, if present."""
    for candidate in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        if candidate == path or not candidate.is_file():
            continue
        try:
            with candidate.open("rb") as fp:
                text = fp.read(MAX_SIDECAR_BYTES).decode("utf-8-sig", errors="replace")
        except OSError as exc:
            log.debug("cannot read sidecar %s: %s", candidate, exc)
            continue
        if text.strip():
            return text.strip()
    return None


# --- PNG text chunks -----------------------------------------------------------------------------


def png_text_prompt(img: Image.Image) -> str | None:
    """A prompt from PNG text chunks (also tried on any format that fills ``img.info``)."""
    info = img.info
    parsers: tuple[tuple[str, Callable[[str], str | None]], ...] = (
        ("parameters", a1111_prompt),
        ("prompt", _prompt_key),
        ("Dream", invokeai_dream_prompt),
        ("invokeai_metadata", _invokeai_metadata_prompt),
    )
    for key, parse in parsers:
        value = _text(info.get(key))
        if value and (prompt := _clean(parse(value))):
            return prompt
    for key in _PNG_TEXT_KEYS:
        if prompt := _clean(_text(info.get(key))):
            return prompt
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def a1111_prompt(parameters: str) -> str | None:
    """The positive prompt of an AUTOMATIC1111 ``parameters`` text: the lines before the
    ``Negative prompt:`` or ``Steps:`` line."""
    kept: list[str] = []
    for line in parameters.splitlines():
        if line.lstrip().startswith(_A1111_STOP):
            break
        kept.append(line)
    return "\n".join(kept).strip() or None


def _prompt_key(value: str) -> str | None:
    """A ``prompt`` chunk: ComfyUI's graph JSON, or plain text from other tools."""
    stripped = value.lstrip()
    if not stripped.startswith("{"):
        return value
    try:
        graph = json.loads(value)
    except json.JSONDecodeError:
        log.debug("prompt chunk looks like JSON but does not parse")
        return None
    return comfyui_prompt(graph) if isinstance(graph, dict) else None


def invokeai_dream_prompt(dream: str) -> str | None:
    """InvokeAI's ``Dream`` chunk: ``"a prompt" -s 50 -S 42 ...``."""
    match = re.match(r'\s*"(.*?)"(\s+-|\s*$)', dream, re.S)
    if match:
        return match.group(1)
    return re.split(r"\s+-[A-Za-z]\b", dream, maxsplit=1)[0]


def _invokeai_metadata_prompt(value: str) -> str | None:
    data = json.loads(value)
    prompt = data.get("positive_prompt") if isinstance(data, dict) else None
    return prompt if isinstance(prompt, str) else None


# --- ComfyUI -------------------------------------------------------------------------------------


def comfyui_prompt(graph: dict[str, Any]) -> str | None:
    """The text of the CLIPTextEncode node feeding a sampler's ``positive`` input; when that
    cannot be traced, the longest CLIPTextEncode text."""
    nodes = {str(key): node for key, node in graph.items() if isinstance(node, dict)}
    encoders = {key: text for key, node in nodes.items() if (text := _encoder_text(node))}
    if not encoders:
        return None
    positive = [encoders[key] for key in _upstream(nodes, _inputs_named(nodes, "positive"))]
    positive = [text for text in positive if text] or list(encoders.values())
    return max(positive, key=len)


def _encoder_text(node: dict[str, Any]) -> str | None:
    if "CLIPTextEncode" not in str(node.get("class_type", "")):
        return None
    inputs = node.get("inputs") or {}
    texts = [inputs.get(key) for key in ("text", "text_g", "text_l")]
    texts = [text.strip() for text in texts if isinstance(text, str) and text.strip()]
    return max(texts, key=len) if texts else None


def _inputs_named(nodes: dict[str, dict[str, Any]], name: str) -> list[str]:
    """Ids of the nodes linked to the input ``name`` of any node (a link is ``[id, slot]``)."""
    links = [(node.get("inputs") or {}).get(name) for node in nodes.values()]
    return [str(link[0]) for link in links if _is_link(link)]


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)


def _upstream(nodes: dict[str, dict[str, Any]], start: Iterable[str]) -> list[str]:
    """Text encoders reachable backwards from ``start`` (through conditioning combiners)."""
    found: list[str] = []
    queue, seen = list(start), set()
    while queue:
        key = queue.pop(0)
        if key in seen or key not in nodes:
            continue
        seen.add(key)
        if _encoder_text(nodes[key]):
            found.append(key)
            continue
        inputs = nodes[key].get("inputs") or {}
        queue.extend(str(value[0]) for value in inputs.values() if _is_link(value))
    return found


# --- EXIF ----------------------------------------------------------------------------------------


def exif_prompt(img: Image.Image) -> str | None:
    """EXIF ImageDescription (0x010E), else UserComment (0x9286, in the Exif IFD)."""
    exif = img.getexif()
    description = _clean(_text(exif.get(_IMAGE_DESCRIPTION)))
    if description:
        return description
    comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT) or exif.get(_USER_COMMENT)
    return decode_user_comment(comment) if comment is not None else None


def decode_user_comment(value: bytes | str) -> str | None:
    """Decode an EXIF UserComment: an 8-byte charset header (ASCII, UNICODE, JIS, or zeros)
    followed by the text."""
    if isinstance(value, str):
        return value
    header, body = value[:8], value[8:]
    if header.startswith(b"UNICODE"):
        return _decode_utf16(body)
    if header.startswith(b"JIS"):
        return body.decode("shift_jis", errors="replace")
    if header.startswith(b"ASCII") or header == b"\x00" * 8:
        return body.decode("utf-8", errors="replace")
    return value.decode("utf-8", errors="replace")


def _decode_utf16(body: bytes) -> str:
    """UTF-16 of either byte order: a BOM decides, else the side the zero bytes fall on."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", errors="replace")
    even_zeros = body[0::2].count(0)
    odd_zeros = body[1::2].count(0)
    return body.decode("utf-16-be" if even_zeros > odd_zeros else "utf-16-le", errors="replace")


# --- XMP -----------------------------------------------------------------------------------------


def xmp_prompt(img: Image.Image) -> str | None:
    """The ``dc:description`` of the image's XMP packet (JPEG, PNG, WebP, TIFF)."""
    packet = _xmp_packet(img)
    return xmp_description(packet) if packet else None


def _xmp_packet(img: Image.Image) -> str | None:
    for key in ("xmp", "XML:com.adobe.xmp"):
        if text := _text(img.info.get(key)):
            return text
    tags = getattr(img, "tag_v2", None)
    return _text(tags.get(_XMP_TIFF_TAG)) if tags is not None else None


def xmp_description(packet: str) -> str | None:
    """``dc:description`` from an XMP packet, read with regular expressions (no XML parser, so
    no entity expansion): the first ``rdf:li`` of the element, or the attribute form."""
    match = _DC_DESCRIPTION.search(packet)
    if match:
        items = _RDF_LI.findall(match.group(1))
        text = items[0] if items else match.group(1)
    else:
        attribute = _DC_ATTRIBUTE.search(packet)
        if not attribute:
            return None
        text = attribute.group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", text))
