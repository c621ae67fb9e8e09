"""Text encodings of metadata fields: bytes in, text or a :class:`TextDecodeError` out.

Every decoder is strict: text is never returned with NUL characters or U+FFFD replacement marks.
Byte-order marks decide first; then the encoding the format prescribes (EXIF UserComment header,
PNG chunk type); legacy encodings without a declaration are detected with ``charset-normalizer``.
"""

from __future__ import annotations

import codecs
import logging

log = logging.getLogger(__name__)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UTF16 = {"<": "utf-16-le", ">": "utf-16-be"}
_JIS_CODECS = ("iso2022_jp", "shift_jis", "euc_jp", "cp932")


class TextDecodeError(ValueError):
    """Bytes that decode to no trustworthy text; the message is the reason (no file paths)."""


def checked(text: str, what: str) -> str:
    """``text`` without trailing NULs (C strings) and outer white space; raises
    :class:`TextDecodeError` when NUL characters remain inside (text read in the wrong encoding,
    UTF-16 read as bytes). Decoding here is always strict, so a U+FFFD replacement mark can only
    come from the file itself; prompt fields holding one are refused in ``result``."""
    text = text.rstrip("\x00").strip()
    if "\x00" in text:
        raise TextDecodeError(f"{what}: the text does not decode cleanly (not stored)")
    return text


def strip_bom(data: bytes) -> tuple[bytes, str | None]:
    """(data without its byte-order mark, the encoding the mark names) or (data, None)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :], encoding
    return data, None


def decode_utf16(body: bytes, byte_order: str | None, what: str) -> str:
    """UTF-16 text of either byte order. A BOM decides; else the order whose strict decoding
    ``charset-normalizer`` finds least chaotic; on a tie an all-ASCII reading wins (ASCII read in
    the wrong order gives only U+xx00 characters), then ``byte_order`` ("<" or ">": the TIFF
    header's order, as the EXIF standard says), then big-endian (RFC 2781)."""
    body, bom = strip_bom(body)
    if bom:
        return checked(_strict(body, bom, what), what)
    if len(body) % 2:
        body = body[:-1] if body.endswith(b"\x00") else body + b"\x00"
    readings: dict[str, str] = {}
    for encoding in ("utf-16-be", "utf-16-le"):
        try:
            readings[encoding] = body.decode(encoding)
        except UnicodeDecodeError:
            continue
    if not readings:
        raise TextDecodeError(f"{what}: not valid UTF-16 in either byte order (not stored)")
    if len(readings) == 1:
        return checked(next(iter(readings.values())), what)
    preferred = _least_chaotic(body)
    if preferred is None:
        ascii_ = [e for e, t in readings.items() if t.rstrip("\x00").isascii()]
        if len(ascii_) == 1:
            preferred = ascii_[0]
    preferred = preferred or _UTF16.get(byte_order or "", "utf-16-be")
    return checked(readings[preferred], what)


def _least_chaotic(body: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body, cp_isolation=["utf_16_be", "utf_16_le"]))
    if not matches:
        return None
    chaos = sorted((m.chaos, m.encoding) for m in matches)
    if len(chaos) > 1 and chaos[0][0] == chaos[1][0]:
        return None
    return chaos[0][1].replace("_", "-")


def _strict(data: bytes, encoding: str, what: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise TextDecodeError(f"{what}: not valid {encoding} text (not stored)") from exc


def decode_user_comment(value: bytes | str, byte_order: str | None = None) -> str:
    """EXIF UserComment (0x9286): an 8-byte character-code header then the text.

    ``UNICODE\\0``: UTF-16 (see :func:`decode_utf16`); ``ASCII\\0\\0\\0``: ASCII, in practice
    often UTF-8 or a legacy code page; ``JIS\\0\\0\\0\\0\\0``: JIS X 0208 (ISO-2022-JP,
    Shift-JIS or EUC-JP); eight zero bytes (undefined): detected. Raises :class:`TextDecodeError`.
    """
    what = "EXIF UserComment"
    if isinstance(value, str):
        return checked(value, what)
    header, body = bytes(value[:8]), bytes(value[8:])
    if header.startswith(b"UNICODE"):
        if body and b"\x00" not in body.rstrip(b"\x00") and _is_utf8(body.rstrip(b"\x00")):
            # UTF-16 of ASCII always holds zero bytes and UTF-16 of other scripts is almost never
            # valid UTF-8: this is a writer that put UTF-8 behind the UNICODE header
            return checked(body.rstrip(b"\x00").decode("utf-8"), what)
        return decode_utf16(body, byte_order, what)
    if header.startswith(b"JIS"):
        return decode_jis(body, what)
    if header.startswith(b"ASCII") or header == b"\x00" * 8:
        return decode_legacy(body, what)
    return decode_legacy(bytes(value), what)  # no header: some writers store bare text


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_jis(body: bytes, what: str) -> str:
    """Japanese text in the encodings EXIF's ``JIS`` header is found with."""
    for encoding in _JIS_CODECS:
        try:
            return checked(body.decode(encoding), what)
        except (UnicodeDecodeError, TextDecodeError):
            continue
    raise TextDecodeError(f"{what}: JIS text that decodes in no Japanese encoding (not stored)")


def decode_legacy(data: bytes, what: str) -> str:
    """Text in an undeclared encoding: a BOM decides; else UTF-8 when valid; else the encoding
    ``charset-normalizer`` detects. Raises :class:`TextDecodeError` when nothing fits."""
    body, bom = strip_bom(data)
    if bom:
        return checked(_strict(body, bom, what), what)
    if b"\x00" not in body.rstrip(b"\x00"):  # C strings end in NULs; UTF-16 has them inside
        body = body.rstrip(b"\x00")
        try:
            return checked(body.decode("utf-8"), what)
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        raise TextDecodeError(
            f"{what}: text in an encoding that could not be recognised (not stored)"
        )
    log.debug("%s decoded as %s", what, best.encoding)
    return checked(str(best), what)


def decode_latin1_field(text: str, what: str) -> str:
    """A field a reader decoded as Latin-1 (Pillow does so for PNG ``tEXt``/``zTXt`` and EXIF
    ASCII fields) that may hold UTF-8 bytes: re-read as UTF-8 when the bytes are valid UTF-8;
    else Latin-1 (what the PNG standard prescribes), or Windows-1252 when the text holds C1
    control characters (0x80-0x9F: Windows' quotes, dashes and ellipsis)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return checked(text, what)  # already real Unicode
    try:
        return checked(raw.decode("utf-8"), what)
    except UnicodeDecodeError:
        pass
    if any(0x80 <= byte <= 0x9F for byte in raw):
        try:
            return checked(raw.decode("cp1252"), what)
        except UnicodeDecodeError:
            pass
    return checked(text, what)


def decode_exif_ascii(value: bytes | str, what: str) -> str:
    """An EXIF ASCII-typed field (ImageDescription, Artist, Software): ASCII by the standard,
    UTF-8 or a legacy code page in practice."""
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            return checked(value, what)
    return decode_legacy(bytes(value), what)


def decode_xp(value: bytes | tuple[int, ...] | str, what: str) -> str:
    """Windows XP tags (XPTitle 0x9C9B, XPComment 0x9C9C, XPKeywords, XPSubject): UTF-16LE."""
    if isinstance(value, str):
        return checked(value, what)
    data = bytes(value)
    if len(data) % 2:
        data = data[:-1]
    return checked(_strict(data, "utf-16-le", what).lstrip("\ufeff"), what)


def decode_sidecar(data: bytes, what: str) -> str:
    """A sidecar ``.txt`` / ``.caption`` file: UTF-8/UTF-16/UTF-32 by BOM, else UTF-8 when valid,
    else the legacy encoding ``charset-normalizer`` detects (UTF-16 without BOM included)."""
    return decode_legacy(data, what)


def decode_xmp_packet(value: bytes | str) -> str:
    """An XMP packet: UTF-8, UTF-16 or UTF-32 (XMP allows all three; a BOM or the zero bytes of
    ``<?xpacket`` tell which)."""
    if isinstance(value, str):
        return value
    data, bom = strip_bom(bytes(value))
    if bom is None:
        for encoding, start in (("utf-16-be", b"\x00<"), ("utf-16-le", b"<\x00")):
            if data.startswith(start):
                bom = encoding
        bom = bom or "utf-8"
    return data.decode(bom, errors="strict")
