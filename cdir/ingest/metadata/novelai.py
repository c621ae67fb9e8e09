"""NovelAI PNGs: ``Software`` = ``NovelAI``, ``Description`` = the prompt, ``Comment`` = JSON of
the generation (``prompt``, ``uc`` = the negative prompt ("undesired content"), ``steps``,
``scale``, ``seed``, ``sampler``; V4 adds ``v4_prompt`` / ``v4_negative_prompt`` captions)."""

from __future__ import annotations

import json
from typing import Any

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_SETTING_KEYS = (
    "steps",
    "scale",
    "seed",
    "sampler",
    "strength",
    "noise",
    "width",
    "height",
    "cfg_rescale",
    "noise_schedule",
    "request_type",
)


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    software = raw.get("Software", "exif:Software") or ""
    comment = raw.get("Comment", "exif:UserComment") or ""
    if "novelai" not in software.lower() and '"uc"' not in comment:
        return None
    data: dict[str, Any] = {}
    if comment.lstrip().startswith("{"):
        try:
            loaded = json.loads(comment)
            data = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError:
            raw.issues.append("NovelAI Comment: damaged JSON (not read)")
    prompt = _caption(data.get("v4_prompt")) or data.get("prompt") or raw.get("Description")
    negative = _caption(data.get("v4_negative_prompt")) or data.get("uc")
    settings = {k: data[k] for k in _SETTING_KEYS if isinstance(data.get(k), str | int | float)}
    if source := raw.get("Source"):
        settings["model"] = source
    result = GenerationMetadata(
        prompt if isinstance(prompt, str) else None,
        negative if isinstance(negative, str) else None,
        "NovelAI",
        settings,
    )
    result.source = "Comment" if data else "Description"
    return result


def _caption(value: Any) -> str | None:
    """V4's ``{"caption": {"base_caption": "..."}}``."""
    if isinstance(value, dict) and isinstance(value.get("caption"), dict):
        text = value["caption"].get("base_caption")
        return text if isinstance(text, str) and text.strip() else None
    return None
