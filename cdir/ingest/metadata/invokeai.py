"""InvokeAI: ``invokeai_metadata`` (v3+, JSON with ``positive_prompt`` / ``negative_prompt``),
``sd-metadata`` (v2, JSON whose ``image.prompt`` is a string or a list of weighted prompts, the
negative part in ``[brackets]``) and ``Dream`` (v1, ``"prompt [negative]" -s 50 -S 42 ...``)."""

from __future__ import annotations

import json
import re
from typing import Any

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

MAX_DREAM_CHARS = 64 * 1024
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_SETTING_KEYS = (
    "seed",
    "steps",
    "cfg_scale",
    "scheduler",
    "sampler",
    "width",
    "height",
    "generation_mode",
    "model",
    "model_weights",
    "app_version",
    "strength",
    "rand_device",
)


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    for key, reader in (("invokeai_metadata", _v3), ("sd-metadata", _v2), ("Dream", _dream)):
        text = raw.texts.get(key)
        if not text:
            continue
        try:
            result = reader(text)
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            raw.issues.append(f"InvokeAI {key}: not readable ({type(exc).__name__})")
            continue
        if result is not None:
            result.source = key
            return result
    return None


def _settings(data: dict[str, Any]) -> dict[str, Any]:
    settings = {}
    for key in _SETTING_KEYS:
        value = data.get(key)
        if isinstance(value, dict):  # v3 models: {"name": ..., "base": ...}
            value = value.get("name") or value.get("model_name")
        if isinstance(value, str | int | float):
            settings[key] = value
    return settings


def _v3(text: str) -> GenerationMetadata | None:
    data = json.loads(text)
    if not isinstance(data, dict):
        return None
    return GenerationMetadata(
        _str(data.get("positive_prompt")),
        _str(data.get("negative_prompt")),
        "InvokeAI",
        _settings(data),
    )


def _v2(text: str) -> GenerationMetadata | None:
    data = json.loads(text)
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, dict):
        return None
    prompt = image.get("prompt")
    if isinstance(prompt, list):  # [{"prompt": "...", "weight": 1.0}, ...]
        prompt = " ".join(p.get("prompt", "") for p in prompt if isinstance(p, dict))
    positive, negative = split_brackets(_str(prompt) or "")
    settings = _settings(image) | _settings(data)
    return GenerationMetadata(positive, negative, "InvokeAI", settings)


def _dream(text: str) -> GenerationMetadata:
    text = text[:MAX_DREAM_CHARS]
    match = re.match(r'\s*"(.*?)"(\s+-|\s*$)', text, re.S)
    prompt = match.group(1) if match else re.split(r"\s+-[A-Za-z]\b", text, maxsplit=1)[0]
    options = text[match.end(1) + 1 :] if match else text[len(prompt) :]
    positive, negative = split_brackets(prompt)
    settings = dict(re.findall(r"-([A-Za-z]+)\s+(\S+)", options))
    return GenerationMetadata(positive, negative, "InvokeAI", settings)


def split_brackets(prompt: str) -> tuple[str | None, str | None]:
    """InvokeAI's legacy syntax: text in ``[square brackets]`` is the negative prompt."""
    negative = ", ".join(p.strip() for p in _BRACKETS.findall(prompt) if p.strip())
    positive = re.sub(r"\s{2,}", " ", _BRACKETS.sub("", prompt)).strip(" ,")
    return positive or None, negative or None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
