"""SwarmUI (StableSwarmUI): JSON in the ``parameters`` chunk (EXIF UserComment in JPEG and WebP)
holding ``sui_image_params`` with ``prompt``, ``negativeprompt`` and the other settings."""

from __future__ import annotations

import json

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_KEYS = ("parameters", "exif:UserComment")


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    for key in _KEYS:
        text = raw.texts.get(key)
        if not text or "sui_image_params" not in text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        params = data.get("sui_image_params") if isinstance(data, dict) else None
        if not isinstance(params, dict):
            continue
        settings = {
            k: v
            for k, v in params.items()
            if k not in ("prompt", "negativeprompt") and isinstance(v, str | int | float)
        }
        prompt, negative = params.get("prompt"), params.get("negativeprompt")
        return GenerationMetadata(
            prompt if isinstance(prompt, str) else None,
            negative if isinstance(negative, str) else None,
            "SwarmUI",
            settings,
            source=key,
        )
    return None
