"""Fooocus: its own JSON in ``parameters`` (PNG) or EXIF UserComment (JPEG, WebP) - the old
layout with ``Prompt`` / ``Negative Prompt`` / ``Version: Fooocus v2...`` keys, the newer
``metadata_scheme: fooocus`` one with ``prompt`` / ``negative_prompt`` / ``full_prompt``. Its
A1111-scheme infotext is read by the A1111 parser (generator from ``Version``)."""

from __future__ import annotations

from typing import Any

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_KEYS = ("parameters", "exif:UserComment", "fooocus_scheme")
_SETTING_KEYS = (
    "styles",
    "performance",
    "resolution",
    "sharpness",
    "guidance_scale",
    "adm_guidance",
    "base_model",
    "refiner_model",
    "sampler",
    "scheduler",
    "seed",
    "steps",
    "version",
    "fooocus_v2_expansion",
)


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    for key in _KEYS:
        data = raw.json_object(key)
        if data is None:
            continue
        norm = {str(k).strip().lower().replace(" ", "_"): v for k, v in data.items()}
        if (
            "fooocus" not in str(norm.get("version", "")).lower()
            and norm.get("metadata_scheme") != "fooocus"
        ):
            continue
        settings = {k: _plain(norm[k]) for k in _SETTING_KEYS if k in norm}
        result = GenerationMetadata(
            _text(norm.get("prompt")),
            _text(norm.get("negative_prompt")),
            "Fooocus",
            settings,
            source=key,
        )
        return result
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ", ".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else None


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | list) else str(value)
