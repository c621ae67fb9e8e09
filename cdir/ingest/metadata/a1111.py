"""AUTOMATIC1111 / Forge / SD.Next "infotext" (the ``parameters`` PNG chunk, or EXIF UserComment
in JPEG and WebP): the positive prompt, a ``Negative prompt:`` section, then a settings line
``Steps: 20, Sampler: Euler a, CFG scale: 7, ...``.

Parsed the way A1111's ``parse_generation_parameters`` does (modules/infotext_utils.py): the
settings line is the first line, after the prompt, holding at least three ``Key: value`` pairs
that starts with a known key; lines after it (``Template:`` of extensions) are kept as settings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_NEGATIVE = "Negative prompt:"
_UNESCAPE = re.compile(r'\\(["\\])')
_SETTINGS_START = ("Steps:", "Sampler:", "Seed:", "CFG scale:", "Size:", "Model:")
# Where A1111-style infotext is found, in order.
KEYS = (
    "parameters",
    "exif:UserComment",
    "xmp:UserComment",
    "jpeg:comment",
    "iptc:caption",
    "exif:ImageDescription",
    "Description",
    "Comment",
    "xmp:description",
    "exif:XPComment",
)


MAX_SETTINGS_LINE = 16 * 1024  # real ones are a few KiB (LoRA hashes); bounds regex time


def is_settings_line(line: str) -> bool:
    return (
        len(line) <= MAX_SETTINGS_LINE
        and line.lstrip().startswith(_SETTINGS_START)
        and len(_PARAM.findall(line)) >= 3
    )


def looks_like_infotext(text: str) -> bool:
    """Whether ``text`` has an A1111 settings line or a ``Negative prompt:`` line."""
    lines = text.splitlines()
    return any(is_settings_line(line) or line.lstrip().startswith(_NEGATIVE) for line in lines)


def parse_infotext(text: str) -> GenerationMetadata:
    """Positive prompt, negative prompt and settings of an infotext; the generator named by its
    ``Version`` / ``App`` settings (Forge, SD.Next, Fooocus), else ``A1111``."""
    prompt: list[str] = []
    negative: list[str] = []
    settings: dict[str, Any] = {}
    extra: list[str] = []
    section = prompt
    for line in text.strip().splitlines():
        if section is extra:
            extra.append(line)
        elif is_settings_line(line):
            settings = parse_settings(line)
            section = extra
        elif line.lstrip().startswith(_NEGATIVE):
            section = negative
            negative.append(line.lstrip()[len(_NEGATIVE) :])
        else:
            section.append(line)
    if extra:
        settings["extra"] = "\n".join(extra).strip()
    return GenerationMetadata(
        "\n".join(prompt).strip(), "\n".join(negative).strip(), generator_of(settings), settings
    )


def parse_settings(line: str) -> dict[str, Any]:
    """``Key: value, Key: "quoted, value"`` -> {key: value} (quotes removed)."""
    settings: dict[str, Any] = {}
    for key, value in _PARAM.findall(line):
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:  # quoted by hand: only \" and \\ are escapes
                value = _UNESCAPE.sub(r"\1", value[1:-1])
        settings[key.strip()] = value
    return settings


def generator_of(settings: dict[str, Any]) -> str:
    version = str(settings.get("Version", ""))
    app = str(settings.get("App", ""))
    if "SD.Next" in app or "SD.Next" in version:
        return "SD.Next"
    if "Fooocus" in version:
        return "Fooocus"
    if re.match(r"f\d", version) or "forge" in version.lower():
        return "Forge"
    return "A1111"


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    """A1111-family metadata of an image: the ``parameters`` chunk (always infotext), or another
    field that looks like infotext."""
    for key in KEYS:
        text = raw.texts.get(key)
        if text is None or text.lstrip().startswith("{"):
            continue
        if key == "parameters" or looks_like_infotext(text):
            result = parse_infotext(text)
            result.source = key
            return result
    return None
