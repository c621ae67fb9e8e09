"""PNG text chunks read straight from the file, wherever they are (before or after the image
data), without decoding pixels: ``tEXt`` (Latin-1), ``zTXt`` (compressed Latin-1) and ``iTXt``
(UTF-8, maybe compressed). Also notes a C2PA manifest (``caBX``)."""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cdir.ingest.metadata.text_encodings import TextDecodeError, checked, decode_latin1_field

log = logging.getLogger(__name__)

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_BYTES = 16 * 1024 * 1024  # all text chunks of one file together (ComfyUI graphs: ~1 MB)
MAX_CHUNKS = 100_000
MAX_MARKER_BYTES = 1024 * 1024
_TEXT_TYPES = {b"tEXt", b"zTXt", b"iTXt"}


@dataclass
class PngText:
    keyword: str
    text: str | None
    issue: str | None = None


def read_png_texts(path: Path) -> tuple[list[PngText], dict[str, bytes]]:
    """([PngText], {marker: bytes}) of the PNG at ``path``; ([], {}) for a file that is not a PNG.
    Stops at IEND, at a damaged chunk header or after :data:`MAX_CHUNKS` chunks; never raises
    for bad data (OSError for an unreadable file)."""
    texts: list[PngText] = []
    markers: dict[str, bytes] = {}
    with open(path, "rb") as fp:
        if fp.read(8) != SIGNATURE:
            return texts, markers
        budget = MAX_TEXT_BYTES
        for _ in range(MAX_CHUNKS):
            header = fp.read(8)
            if len(header) < 8:
                break
            length, kind = struct.unpack(">I4s", header)
            if kind == b"IEND":
                break
            if kind in _TEXT_TYPES and length <= budget:
                budget -= length
                data = _read(fp, length)
                if data is None:
                    break
                texts.append(_parse(kind, data, budget))
            elif kind == b"caBX" and length <= MAX_MARKER_BYTES:
                markers["c2pa"] = _read(fp, length) or b""
            else:
                fp.seek(length, 1)
            fp.seek(4, 1)  # CRC
    return texts, markers


def _read(fp: BinaryIO, length: int) -> bytes | None:
    data = fp.read(length)
    return data if len(data) == length else None


def _parse(kind: bytes, data: bytes, budget: int) -> PngText:
    keyword_bytes, _, rest = data.partition(b"\x00")
    keyword = keyword_bytes.decode("latin-1", "replace")
    what = f"PNG {kind.decode()} {keyword!r}"
    try:
        if kind == b"tEXt":
            return PngText(keyword, decode_latin1_field(rest.decode("latin-1"), what))
        if kind == b"zTXt":
            raw = _inflate(rest[1:], budget, what)
            return PngText(keyword, decode_latin1_field(raw.decode("latin-1"), what))
        compressed, rest = rest[:1] == b"\x01", rest[2:]
        _lang, _, rest = rest.partition(b"\x00")
        _translated, _, body = rest.partition(b"\x00")
        if compressed:
            body = _inflate(body, budget, what)
        try:
            return PngText(keyword, checked(body.decode("utf-8"), what))
        except UnicodeDecodeError:
            raise TextDecodeError(f"{what}: not valid UTF-8 (not stored)") from None
    except TextDecodeError as exc:
        return PngText(keyword, None, str(exc))


def _inflate(data: bytes, budget: int, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max(budget, 1))
    except zlib.error:
        raise TextDecodeError(f"{what}: damaged compressed text (not stored)") from None
    if inflater.unconsumed_tail:
        raise TextDecodeError(f"{what}: compressed text larger than the limit (not stored)")
    return out
