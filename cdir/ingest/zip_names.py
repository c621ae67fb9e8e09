"""Entry names of a zip archive as the person who made it wrote them.

A zip entry's name is UTF-8 when flag bit 11 is set; otherwise it is bytes in whatever code page
the zipping tool used: CP437 by the specification, but in practice the OEM or ANSI code page of
the Windows that made it (CP932 Shift-JIS, GBK, CP1251, CP866, ...), or UTF-8 without the flag
(macOS, many Linux tools). :func:`name_decoder` decides once per archive, from all its names
together: an Info-ZIP Unicode Path extra field (0x7075) wins for its entry; else UTF-8 when every
name is valid UTF-8; else the legacy code page that charset-normalizer
(https://github.com/jawah/charset_normalizer) accepts and that reads as the most plausible names.
Names are decoded from their bytes before they are split into folders, so a 0x5C byte inside a
multibyte character (``表`` is ``95 5C`` in CP932) is never taken for a backslash separator.
"""

from __future__ import annotations

import logging
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

UTF8 = "utf-8"
# Code pages zip tools write names in, most likely first (CP437 is the specification's default):
# the OEM code pages Windows' own zip and 7-Zip/WinRAR use, then the ANSI code pages some tools
# use instead. The order breaks ties between equally plausible readings.
LEGACY_ENCODINGS: tuple[str, ...] = (
    "cp437",
    "cp850",
    "cp866",
    "cp1251",
    "cp932",
    "gb18030",
    "cp949",
    "big5",
    "cp852",
    "cp1250",
    "cp1252",
    "cp737",
    "cp1253",
    "cp857",
    "cp1254",
    "cp775",
    "cp1257",
    "cp862",
    "cp1255",
    "cp874",
    "cp1256",
    "cp855",
    "cp869",
)
_UNICODE_PATH_EXTRA = 0x7075
_UTF8_FLAG = 0x800
_SCRIPTS = (
    "LATIN",
    "CYRILLIC",
    "GREEK",
    "HEBREW",
    "ARABIC",
    "THAI",
    "HANGUL",
    "CJK",
    "HIRAGANA",
    "KATAKANA",
)


@dataclass(frozen=True)
class NameDecoding:
    """How the names of one archive are read: ``encoding`` is the code page assumed for names
    without the UTF-8 flag (``"utf-8"`` when they all are valid UTF-8)."""

    encoding: str

    @property
    def legacy(self) -> bool:
        """True when a legacy code page (not UTF-8) was assumed: the ingest report says so."""
        return self.encoding != UTF8


def raw_name(info: zipfile.ZipInfo) -> bytes:
    """The entry's name exactly as stored in the archive (zipfile decodes it as CP437 or UTF-8)."""
    if info.flag_bits & _UTF8_FLAG:
        return info.orig_filename.encode(UTF8)
    return info.orig_filename.encode("cp437")


def name_decoder(
    infos: list[zipfile.ZipInfo],
) -> tuple[NameDecoding, Callable[[zipfile.ZipInfo], str]]:
    """Decide how the archive's names are read and return a function giving each entry's name,
    with ``\\`` (a real backslash character, written by Windows tools) turned into ``/``."""
    legacy = [
        raw_name(info)
        for info in infos
        if not info.flag_bits & _UTF8_FLAG and _unicode_path(info) is None
    ]
    decoding = NameDecoding(detect_encoding([raw for raw in legacy if not raw.isascii()]))

    def decode(info: zipfile.ZipInfo) -> str:
        if info.flag_bits & _UTF8_FLAG:
            name = info.orig_filename
        else:
            name = _unicode_path(info) or raw_name(info).decode(decoding.encoding, "replace")
        return name.replace("\\", "/")

    return decoding, decode


def detect_encoding(names: list[bytes]) -> str:
    """The encoding of these raw names, taken together: UTF-8 when they all decode as UTF-8,
    else the most plausible of :data:`LEGACY_ENCODINGS` (CP437 when nothing says otherwise)."""
    if not names:
        return UTF8
    try:
        for raw in names:
            raw.decode(UTF8)
        return UTF8
    except UnicodeDecodeError:
        pass
    readings = _candidates(b"\n".join(names))
    if not readings:
        return "cp437"
    best = min(
        readings,
        key=lambda enc: (_implausibility(names, enc), readings[enc], LEGACY_ENCODINGS.index(enc)),
    )
    log.debug("zip names read as %s (candidates %s)", best, readings)
    return best


def _candidates(data: bytes) -> dict[str, float]:
    """Encoding -> charset-normalizer's chaos (0 = clean) for every legacy code page that
    decodes ``data`` without error."""
    from charset_normalizer import from_bytes

    chaos: dict[str, float] = {}
    for match in from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS), threshold=1.0):
        for encoding in match.could_be_from_charset:
            name = _canonical(encoding)
            if name in LEGACY_ENCODINGS:
                chaos[name] = min(chaos.get(name, 1.0), round(float(match.chaos), 2))
    if "cp437" not in chaos:  # CP437 decodes every byte: always a candidate
        chaos["cp437"] = 1.0
    return chaos


def _canonical(encoding: str) -> str:
    import codecs

    name = codecs.lookup(encoding).name.replace("_", "").replace("-", "")
    aliases = {"shiftjis": "cp932", "gbk": "gb18030", "big5": "big5", "mscp932": "cp932"}
    return aliases.get(name, name)


def _implausibility(names: list[bytes], encoding: str) -> int:
    """How unlike file names written by people the decoded names look: symbols and box-drawing
    characters, words that mix scripts or change case inside, Latin words made mostly of
    accented letters, kana outside Japanese code pages, a backslash right after a non-ASCII
    character."""
    score = 0
    for raw in names:
        text = raw.decode(encoding, "replace")
        for word in _words(text):
            score += _word_penalty(word, encoding)
        score += sum(1 for ch in text if ord(ch) > 127 and not _is_letter(ch))
        # a 0x5C byte right after a non-ASCII character is a multibyte character's second byte
        score += sum(1 for a, b in zip(text, text[1:], strict=False) if b == "\\" and ord(a) > 127)
    return score


def _words(text: str) -> list[str]:
    words, current = [], []
    for ch in text:
        if _is_letter(ch):
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script in _SCRIPTS:
        if name.startswith(script) or f" {script} " in f" {name} ":
            return script
    return "OTHER"


def _word_penalty(word: str, encoding: str) -> int:
    scripts = {_script(ch) for ch in word}
    penalty = 0
    if scripts & {"HIRAGANA", "KATAKANA"} and encoding != "cp932":
        penalty += 1
    if any("\uff61" <= ch <= "\uff9f" for ch in word):  # half-width katakana: rare in names
        penalty += 1
    if (
        len(scripts - {"HIRAGANA", "KATAKANA", "CJK"})
        + bool(scripts & {"HIRAGANA", "KATAKANA", "CJK"})
        > 1
    ):
        penalty += 1  # one word in two scripts
    if scripts == {"LATIN"} and sum(ord(ch) > 127 for ch in word) * 2 > len(word):
        penalty += 1  # Latin words are mostly ASCII letters
    if any(a.islower() and b.isupper() for a, b in zip(word, word[1:], strict=False)):
        penalty += 1
    return penalty


def _unicode_path(info: zipfile.ZipInfo) -> str | None:
    """The UTF-8 name of an Info-ZIP Unicode Path extra field (7-Zip, WinRAR and Info-ZIP write
    it), when its CRC matches the stored name."""
    extra, offset = info.extra, 0
    while offset + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        offset += 4 + size
        if tag != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        (crc,) = struct.unpack_from("<I", body, 1)
        if crc != zlib.crc32(raw_name(info)):
            return None
        try:
            return body[5:].decode(UTF8)
        except UnicodeDecodeError:
            return None
    return None
