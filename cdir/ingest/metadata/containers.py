"""Raw metadata text of an image file, decoded: PNG text chunks (anywhere in the file), EXIF
(UserComment, ASCII fields, Windows XP tags, ComfyUI's ``prompt:``/``workflow:`` tags), XMP,
IPTC caption, JPEG/GIF comments, text hidden in the pixels' lowest bits (stealth pnginfo of
NovelAI and Forge, PNG/WebP), C2PA manifests (PNG ``caBX``, JPEG APP11, WebP ``C2PA``), and
sidecar ``.txt`` / ``.caption`` files. Pixels are decoded only to look for stealth text, and only
in a PNG/WebP without a generator's text chunk. Text that does not decode is left out with a
reason in ``RawMetadata.issues``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from cdir.imaging.decode import SAFE_FORMATS, pillow_warnings_logged
from cdir.ingest.metadata.c2pa import MANIFEST_KEY, ManifestError, read_manifest_store
from cdir.ingest.metadata.png_chunks import read_png_texts
from cdir.ingest.metadata.result import RawMetadata
from cdir.ingest.metadata.stealth import FORMATS as STEALTH_FORMATS
from cdir.ingest.metadata.stealth import StealthError, read_stealth, stealth_fields
from cdir.ingest.metadata.text_encodings import (
    TextDecodeError,
    decode_exif_ascii,
    decode_latin1_field,
    decode_legacy,
    decode_sidecar,
    decode_user_comment,
    decode_xmp_packet,
    decode_xp,
)
from cdir.ingest.metadata.xmp import xmp_texts

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 64 * 1024
SIDECAR_SUFFIXES = (".txt", ".caption")
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
_XMP_TIFF_TAG = 700
# EXIF ASCII-typed tags of IFD0 -> RawMetadata key
_ASCII_TAGS = {
    0x010E: "exif:ImageDescription",
    0x013B: "exif:Artist",
    0x0131: "exif:Software",
    0x010F: "exif:Make",
    0x0110: "exif:Model",
}
_XP_TAGS = {0x9C9B: "exif:XPTitle", 0x9C9C: "exif:XPComment", 0x9C9F: "exif:XPSubject"}
_IPTC_CAPTION = (2, 120)
MAX_RIFF_CHUNKS = 1000
# Text chunks that already hold a generation record: no need to look in the pixels.
_GENERATOR_CHUNKS = (
    "parameters",
    "prompt",
    "workflow",
    "invokeai_metadata",
    "sd-metadata",
    "Comment",
)
MAX_C2PA_BYTES = 16 * 1024 * 1024


def read_raw_metadata(path: Path) -> RawMetadata:
    """Every metadata text of the image at ``path`` (never raises for bad data)."""
    raw = RawMetadata()
    try:
        png_texts, markers = read_png_texts(path)
    except OSError as exc:
        log.debug("cannot read %s: %s", path, exc)
        return raw
    for chunk in png_texts:
        raw.add(chunk.keyword, chunk.text)
        if chunk.issue:
            raw.issues.append(chunk.issue)
    raw.markers.update(markers)
    image_format = None
    try:
        with pillow_warnings_logged(), Image.open(path, formats=SAFE_FORMATS) as img:
            image_format = img.format
            for reader in (_exif_texts, _xmp, _iptc, _comments, _app_markers):
                _safely(reader, img, raw)
    except Exception as exc:  # unreadable file or hostile header: what was read is kept
        log.debug("no image metadata read from %s: %s", path, exc)
    if image_format == "WEBP":
        _webp_c2pa(path, raw)
    if "c2pa" in raw.markers:
        _c2pa(path, image_format, raw)
    if image_format in STEALTH_FORMATS and not any(k in raw.texts for k in _GENERATOR_CHUNKS):
        _stealth(path, raw)
    return raw


def _stealth(path: Path, raw: RawMetadata) -> None:
    """Texts hidden in the pixels' lowest bits (see :mod:`cdir.ingest.metadata.stealth`); they
    stand in for the text chunks a site stripped, and never replace a chunk that is there."""
    try:
        found = read_stealth(path)
    except StealthError as exc:
        raw.issues.append(str(exc))
        return
    except Exception as exc:  # undecodable pixels: the metadata read so far is kept
        log.debug("no stealth metadata read from %s: %s", path, exc)
        return
    if found is None:
        return
    raw.markers["stealth"] = found.signature.encode("ascii")
    for key, text in stealth_fields(found).items():
        raw.add(key, text)


def _c2pa(path: Path, image_format: str | None, raw: RawMetadata) -> None:
    """The C2PA manifest store of a file that has one, as JSON (read by c2pa-python)."""
    try:
        store = read_manifest_store(path, image_format)
    except ManifestError as exc:
        raw.issues.append(str(exc))
        return
    if store is not None:
        raw.add(MANIFEST_KEY, store)


def _webp_c2pa(path: Path, raw: RawMetadata) -> None:
    """The ``C2PA`` chunk of a WebP's RIFF container (C2PA 2.1, Embedding manifests: WebP)."""
    try:
        with open(path, "rb") as fp:
            header = fp.read(12)
            if header[:4] != b"RIFF" or header[8:12] != b"WEBP":
                return
            for _ in range(MAX_RIFF_CHUNKS):
                chunk = fp.read(8)
                if len(chunk) < 8:
                    return
                kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if kind == b"C2PA":
                    if size <= MAX_C2PA_BYTES:
                        raw.markers["c2pa"] = fp.read(size)
                    return
                fp.seek(size + (size & 1), 1)
    except OSError as exc:
        log.debug("cannot read %s: %s", path, exc)


def _safely(
    reader: Callable[[Image.Image, RawMetadata], None], img: Image.Image, raw: RawMetadata
) -> None:
    try:
        reader(img, raw)
    except TextDecodeError as exc:
        raw.issues.append(str(exc))
    except Exception as exc:  # broken metadata must never fail the image
        log.debug("%s: unreadable metadata: %s", reader.__name__, exc)


# Fields that never hold a prompt: text that does not decode there is not worth a report.
_UNREPORTED = {"exif:Make", "exif:Model", "exif:Software"}


def _decoded(raw: RawMetadata, key: str, decode: Callable[[], str]) -> None:
    try:
        raw.add(key, decode())
    except TextDecodeError as exc:
        if key in _UNREPORTED:
            log.debug("%s", exc)
        else:
            raw.issues.append(str(exc))


def _exif_texts(img: Image.Image, raw: RawMetadata) -> None:
    exif = img.getexif()
    if not exif:
        return
    byte_order = getattr(exif, "endian", None)
    for tag, key in _ASCII_TAGS.items():
        if (value := exif.get(tag)) is not None:
            _decoded(raw, key, lambda v=value, k=key: decode_exif_ascii(v, k.replace(":", " ")))
    for tag, key in _XP_TAGS.items():
        if (value := exif.get(tag)) is not None:
            _decoded(raw, key, lambda v=value, k=key: decode_xp(v, k.replace(":", " ")))
    comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT) or exif.get(_USER_COMMENT)
    if comment is not None:
        _decoded(raw, "exif:UserComment", lambda: decode_user_comment(comment, byte_order))
    for key in ("exif:Model", "exif:Make", "exif:ImageDescription"):
        name, colon, graph = raw.texts.get(key, "").partition(":")
        if colon and name.lower() in ("prompt", "workflow") and graph.lstrip().startswith("{"):
            raw.add(name.lower(), graph)  # ComfyUI's WebP: "prompt:{...}" in Model, and so on


def _xmp(img: Image.Image, raw: RawMetadata) -> None:
    packet: Any = img.info.get("xmp") or raw.texts.get("XML:com.adobe.xmp")
    tags = getattr(img, "tag_v2", None)
    if packet is None and tags is not None:
        packet = tags.get(_XMP_TIFF_TAG)
    if packet is None:
        return
    try:
        text = decode_xmp_packet(packet)
    except UnicodeDecodeError:
        raw.issues.append("XMP packet: not valid UTF-8/UTF-16 (not stored)")
        return
    for key, value in xmp_texts(text).items():
        raw.add(key, value)


def _iptc(img: Image.Image, raw: RawMetadata) -> None:
    if img.format not in ("JPEG", "TIFF"):
        return
    from PIL import IptcImagePlugin

    iptc = IptcImagePlugin.getiptcinfo(img) or {}
    caption = iptc.get(_IPTC_CAPTION)
    if isinstance(caption, list):
        caption = caption[0]
    if not isinstance(caption, bytes):
        return
    # UTF-8 when valid (whether or not record 1:90 declares it with ESC % G), else detected
    _decoded(raw, "iptc:caption", lambda: decode_legacy(caption, "IPTC caption"))


def _comments(img: Image.Image, raw: RawMetadata) -> None:
    comment = img.info.get("comment")
    if isinstance(comment, bytes):
        _decoded(raw, "jpeg:comment", lambda: decode_legacy(comment, "image comment"))
    elif isinstance(comment, str):
        _decoded(raw, "jpeg:comment", lambda: decode_latin1_field(comment, "image comment"))


def _app_markers(img: Image.Image, raw: RawMetadata) -> None:
    """JPEG APP11 JUMBF boxes: a C2PA manifest (content credentials of DALL-E, Firefly...)."""
    for marker, data in getattr(img, "applist", []) or []:
        if marker == "APP11" and b"c2pa" in data[: 64 * 1024]:
            raw.markers["c2pa"] = raw.markers.get("c2pa", b"") + data[: 1024 * 1024]


def sidecar_text(path: Path, raw: RawMetadata) -> str | None:
    """The text of the first sidecar next to the image: ``<stem>.txt``, ``<name>.txt``,
    ``<stem>.caption``, ``<name>.caption``; an undecodable one is reported in ``raw.issues``."""
    for suffix in SIDECAR_SUFFIXES:
        for candidate in (path.with_suffix(suffix), path.with_name(path.name + suffix)):
            if candidate == path or not candidate.is_file():
                continue
            try:
                with candidate.open("rb") as fp:
                    data = fp.read(MAX_SIDECAR_BYTES)
            except OSError as exc:
                log.debug("cannot read sidecar %s: %s", candidate, exc)
                continue
            try:
                text = decode_sidecar(data, f"sidecar {candidate.name}")
            except TextDecodeError as exc:
                raw.issues.append(str(exc))
                continue
            if text:
                return text
    return None
