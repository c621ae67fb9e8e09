"""The generation metadata of an image file: :func:`extract_metadata`.

Reads every metadata container (see :mod:`cdir.ingest.metadata.containers`), then asks the
generator parsers in turn - ComfyUI, InvokeAI, NovelAI, Fooocus, SwarmUI, A1111/Forge/SD.Next,
Easy Diffusion, Midjourney, C2PA (content credentials, read with c2pa-python) - and falls
back to a plain description field (PNG
``Description`` / ``Comment`` / ``Title``, EXIF ImageDescription / UserComment / XPComment /
XPTitle, XMP ``dc:description`` / ``dc:title`` / ``exif:UserComment``, IPTC caption, image
comment). A sidecar ``.txt`` / ``.caption`` next to the image gives the prompt when present (the
embedded record still gives negative prompt, generator and settings). Only metadata is read,
never pixels; nothing here raises for bad data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from cdir.ingest.metadata import (
    a1111,
    c2pa,
    comfyui,
    easydiffusion,
    fooocus,
    invokeai,
    midjourney,
    novelai,
    swarmui,
)
from cdir.ingest.metadata.containers import read_raw_metadata, sidecar_text
from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata, clean
from cdir.names import one_line, shown_name

log = logging.getLogger(__name__)

Parser = Callable[[RawMetadata], GenerationMetadata | None]
# Most specific first: ComfyUI's and InvokeAI's keys are theirs alone; NovelAI and Fooocus before
# A1111 (a Fooocus JSON sits in ``parameters``); Midjourney before the plain description.
PARSERS: tuple[Parser, ...] = (
    comfyui.parse,
    invokeai.parse,
    novelai.parse,
    fooocus.parse,
    swarmui.parse,
    a1111.parse,
    easydiffusion.parse,
    midjourney.parse,
    c2pa.parse,
)
DESCRIPTION_KEYS = (
    "Description",
    "Comment",
    "Title",
    "exif:ImageDescription",
    "exif:UserComment",
    "exif:XPComment",
    "exif:XPTitle",
    "xmp:description",
    "xmp:UserComment",
    "xmp:title",
    "iptc:caption",
    "jpeg:comment",
    "prompt",
)


def extract_metadata(path: Path) -> GenerationMetadata:
    """Prompt, negative prompt, generator and settings of the image at ``path`` (all None when
    absent), with reasons for any text that could not be decoded."""
    path = Path(path)
    raw = read_raw_metadata(path)
    result = parse_raw(raw)
    sidecar = sidecar_text(path, raw)
    if clean(sidecar):
        result.prompt, result.source = clean(sidecar), "sidecar"
    result.issues = raw.issues + result.issues
    result.refuse_broken_text()
    return result


def extract_fields(path: Path) -> dict[str, str | None]:
    """The item-table fields of :func:`extract_metadata`; never raises: a reader's failure on
    this one file leaves the fields empty with its reason in ``metadata_issue``."""
    try:
        return extract_metadata(path).fields()
    except Exception as exc:  # one file's metadata must never fail the collection
        log.warning("%s: metadata not read: %s", shown_name(Path(path).name), one_line(exc))
        return GenerationMetadata(issues=[f"metadata not read: {one_line(exc)}"]).fields()


def extract_prompt(path: Path) -> str | None:
    """The positive prompt of the image at ``path``, or None."""
    return extract_metadata(path).prompt


def parse_raw(raw: RawMetadata) -> GenerationMetadata:
    """The first generator parser's answer with a prompt (or, failing that, with a generator),
    else a plain description field as the prompt."""
    found: GenerationMetadata | None = None
    for parser in PARSERS:
        try:
            result = parser(raw)
        except Exception as exc:  # a parser bug or odd data must never fail the image
            log.debug("%s: unreadable metadata: %s", parser.__module__, exc)
            continue
        if result is None:
            continue
        if result.prompt:
            return result
        found = found or result
    if found is not None and (found.generator or found.settings):
        # a generator without a prompt, or facts without a generator (content credentials of
        # a camera or an editor): the description is the prompt
        if not found.prompt and _description(raw):
            found.prompt, found.source = _description(raw), _description_key(raw)
        return found
    return GenerationMetadata(_description(raw), source=_description_key(raw))


def _description_key(raw: RawMetadata) -> str | None:
    return next((k for k in DESCRIPTION_KEYS if _usable(raw.texts.get(k))), None)


def _description(raw: RawMetadata) -> str | None:
    key = _description_key(raw)
    return clean(raw.texts[key]) if key else None


def _usable(text: str | None) -> bool:
    return bool(clean(text)) and not str(text).lstrip().startswith(("{", "["))
