"""Midjourney: the prompt with its ``--`` parameters and ``Job ID: <uuid>`` in the PNG
``Description`` chunk, or in XMP ``dc:description`` / IPTC caption of JPEG and WebP downloads
(the job id also as ``iptcExt:DigImageGUID``). Image-prompt URLs at the start and the ``--``
parameters are settings, not the prompt."""

from __future__ import annotations

import re

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_KEYS = ("Description", "xmp:description", "iptc:caption", "exif:ImageDescription", "Comment")
_JOB = re.compile(r"\s*Job ID:\s*([0-9a-fA-F-]{36})\s*$")
_URL = re.compile(r"^\s*(?:<?https?://\S+>?\s+)+")


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    guid = raw.get("xmp:DigImageGUID")
    author = (raw.get("Author", "exif:Artist") or "").strip()
    for key in _KEYS:
        text = raw.texts.get(key)
        if not text:
            continue
        job = _JOB.search(text)
        if not job and not guid:
            continue
        result = parse_description(text[: job.start()] if job else text)
        result.settings["job_id"] = job.group(1) if job else guid
        if author:
            result.settings["author"] = author
        result.source = key
        return result
    return None


def parse_description(text: str) -> GenerationMetadata:
    """The prompt without its image URLs and ``--`` parameters (kept as settings)."""
    settings: dict[str, object] = {}
    urls = _URL.match(text)
    if urls:
        settings["image_prompts"] = urls.group(0).split()
        text = text[urls.end() :]
    first = re.search(r"(^|\s)--[a-z]", text, re.I)
    if first:
        flags, text = text[first.start() :], text[: first.start()]
        for part in re.split(r"\s+--", " " + flags.strip())[1:]:
            name, _, value = part.partition(" ")
            settings[name] = value.strip() or True
    return GenerationMetadata(text.strip(), None, "Midjourney", settings)
