"""What is read from an image's metadata: the raw texts of its containers, and the parsed result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Values cameras and editors write by default: they describe nothing.
PLACEHOLDERS = frozenset(
    {
        "olympus digital camera",
        "sony dsc",
        "default",
        "image",
        "picture",
        "untitled",
        "ascii",
        "unicode",
        "samsung",
        "digital camera",
        "camera",
        "photo",
    }
)

# The item-table fields a GenerationMetadata fills (all text or None).
FIELDS = ("prompt", "negative_prompt", "generator", "generation_settings", "metadata_issue")


@dataclass
class RawMetadata:
    """Decoded text of every metadata field found, keyed by where it came from: PNG keywords as
    written (``parameters``, ``prompt``, ``workflow``, ``Comment``...), ``exif:<Tag>``,
    ``xmp:<property>``, ``iptc:caption``, ``jpeg:comment``, ``sidecar``. ``markers`` names
    containers seen without text (``c2pa``); ``issues`` gives reasons for text not decoded."""

    texts: dict[str, str] = field(default_factory=dict)
    markers: dict[str, bytes] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def add(self, key: str, text: str | None) -> None:
        """Keep the first non-empty text per key."""
        if text and text.strip() and key not in self.texts:
            self.texts[key] = text

    def get(self, *keys: str) -> str | None:
        """The first present text among ``keys``."""
        return next((self.texts[k] for k in keys if k in self.texts), None)

    def json_object(self, key: str, tool: str | None = None) -> dict[str, Any] | None:
        """The JSON object in the text of ``key``; None when the text is absent, does not start
        with ``{``, is not an object, or does not parse. Damaged JSON is recorded in ``issues``
        ("<tool> <key>: damaged JSON (not read)") when ``tool`` is given."""
        text = self.texts.get(key)
        if not text or not text.lstrip().startswith("{"):
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            if tool is not None:
                self.issues.append(f"{tool} {key}: damaged JSON (not read)")
            return None
        return data if isinstance(data, dict) else None


@dataclass
class GenerationMetadata:
    """The generation record of one image: positive prompt, negative prompt, tool and settings.

    ``prompt`` is the positive prompt only (what prompt agreement and search use);
    ``settings`` holds the tool's other parameters (sampler, steps, seed, model, job id...).
    """

    prompt: str | None = None
    negative_prompt: str | None = None
    generator: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # where the prompt was read: a RawMetadata key
    issues: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prompt = clean(self.prompt)
        self.negative_prompt = clean(self.negative_prompt, placeholders=False)

    def refuse_broken_text(self) -> None:
        """Drop a prompt or negative prompt that holds U+FFFD replacement marks or NULs (text
        already damaged by the tool that wrote it), with the reason in ``issues``."""
        for name in ("prompt", "negative_prompt"):
            text = getattr(self, name)
            if text and ("\ufffd" in text or "\x00" in text):
                setattr(self, name, None)
                where = f" ({self.source})" if self.source else ""
                self.issues.append(
                    f"{name.replace('_', ' ')}{where}: holds replacement marks "
                    "from a broken encoding (not stored)"
                )

    def fields(self) -> dict[str, str | None]:
        """The item-table fields (see :data:`FIELDS`); settings as JSON text."""
        settings = {k: v for k, v in self.settings.items() if v not in (None, "", [], {})}
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "generator": self.generator,
            "generation_settings": (
                json.dumps(settings, ensure_ascii=False, sort_keys=True, default=str)
                if settings
                else None
            ),
            "metadata_issue": "; ".join(dict.fromkeys(self.issues)) or None,
        }


def clean(text: Any, placeholders: bool = True) -> str | None:
    """Stripped text, or None for non-text, empty text and camera placeholders."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or (placeholders and text.lower() in PLACEHOLDERS):
        return None
    return text
