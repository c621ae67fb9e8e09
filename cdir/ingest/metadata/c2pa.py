"""Content credentials: C2PA manifests (PNG ``caBX`` chunk, JPEG APP11 JUMBF segments, WebP RIFF
``C2PA`` chunk), read with the Content Authenticity Initiative's own library, ``c2pa-python``
(contentauth/c2pa-python, bindings of c2pa-rs), as a manifest store in its JSON form.

What a manifest says is labelled as it says it (C2PA 2.1 specification, "Actions" and "Digital
Source Type"; IPTC NewsCodes digitalsourcetype): the source type of the asset's creation
(``digitalSourceType`` of the ``c2pa.actions`` / ``c2pa.actions.v2`` assertion, followed into
the parent ingredient's manifest when the active one is an edit), the tool that acted
(``softwareAgent``) and the claim generator (``claim_generator_info`` / ``claim_generator``).
Only a source type of generative AI (:data:`GENERATED_SOURCE_TYPES`) makes the file *generated*,
with the acting tool as generator; a camera capture or an editor's colour adjustment keeps its
facts as settings and names no generator. C2PA manifests of these tools hold no prompt: a prompt
comes from a description field only. Remote manifests and trust lists are never fetched.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

log = logging.getLogger(__name__)

MANIFEST_KEY = "c2pa:manifest_store"  # RawMetadata text: the manifest store as JSON
# IPTC digital source types of media made by an algorithm (the file is "generated")
GENERATED_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)
MIME_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}
# Reading only: no remote manifest, no OCSP, no trust list (the answer never depends on a network)
READ_SETTINGS = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": False}
}
# a name in the tool's words -> the generator's usual name
_NAMES = (
    ("dall", "DALL-E"),
    ("firefly", "Adobe Firefly"),
    ("imagen", "Google Imagen"),
    ("bing image creator", "Bing Image Creator"),
)
_DESCRIPTION_KEYS = (
    "xmp:description",
    "exif:ImageDescription",
    "Description",
    "iptc:caption",
    "xmp:title",
    "Title",
)
MAX_INGREDIENT_DEPTH = 16


class ManifestError(ValueError):
    """A manifest that is there but cannot be read (the one-line reason)."""


def read_manifest_store(path: Path, image_format: str | None) -> str | None:
    """The C2PA manifest store of the file at ``path`` as JSON text (c2pa-python's
    ``Reader.json()``), or None when it holds none. Raises :class:`ManifestError` when the
    manifest cannot be read, or c2pa-python is not installed."""
    try:
        import c2pa
    except ImportError as exc:
        raise ManifestError("C2PA manifest: not read (c2pa-python is not installed)") from exc
    mime = MIME_TYPES.get(str(image_format))
    if mime is None:
        return None
    try:
        context = c2pa.Context.from_json(json.dumps(READ_SETTINGS))
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=context)
            if reader is None:
                return None
            with reader:
                return str(reader.json())
    except OSError as exc:
        raise ManifestError(f"C2PA manifest: cannot read the file ({exc})") from exc
    except Exception as exc:  # c2pa.C2paError and its kinds: a damaged or remote manifest
        text = " ".join(str(exc).split())[:200]
        raise ManifestError(f"C2PA manifest: not readable ({type(exc).__name__}: {text})") from exc


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    """Generator, tool and source type as the manifest store in ``raw`` says; None without
    one. A manifest that could not be read says only that the file has content credentials."""
    if MANIFEST_KEY not in raw.texts and "c2pa" not in raw.markers:
        return None
    key = next((k for k in _DESCRIPTION_KEYS if k in raw.texts), None)
    description = raw.texts.get(key) if key else None
    store = raw.json_object(MANIFEST_KEY, "C2PA")
    facts = manifest_facts(store) if store is not None else {}
    settings: dict[str, Any] = {"content_credentials": "c2pa" if facts else "c2pa (not read)"}
    settings.update({f"c2pa_{name}": value for name, value in facts.items() if name != "generator"})
    result = GenerationMetadata(description, None, facts.get("generator"), settings)
    result.source = key
    return result


def manifest_facts(store: dict[str, Any]) -> dict[str, Any]:
    """``source_type``, ``tool``, ``claim_generator``, ``actions`` and, for generated media,
    ``generator`` of the active manifest of a manifest store (c2pa-python's JSON)."""
    manifests = store.get("manifests")
    if not isinstance(manifests, dict):
        return {}
    active = manifests.get(store.get("active_manifest"))
    if not isinstance(active, dict):
        return {}
    facts: dict[str, Any] = {"claim_generator": claim_generator(active)}
    actions = _actions(active)
    facts["actions"] = [a["action"] for a in actions if isinstance(a.get("action"), str)]
    typed = _source_typed_action(manifests, active)
    if typed is not None:
        action, tool_manifest = typed
        facts["source_type"] = source_type_name(action.get("digitalSourceType"))
        tool = software_agent(action.get("softwareAgent")) or claim_generator(tool_manifest)
    else:
        tool = next((t for a in actions if (t := software_agent(a.get("softwareAgent")))), None)
    facts["tool"] = tool
    if facts.get("source_type") in GENERATED_SOURCE_TYPES:
        facts["generator"] = generator_name(tool or facts["claim_generator"] or "C2PA")
    return {k: v for k, v in facts.items() if v not in (None, "", [])}


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        if label.split("__")[0] in ("c2pa.actions", "c2pa.actions.v2") and isinstance(data, dict):
            found += [a for a in data.get("actions") or [] if isinstance(a, dict)]
    return found


def _source_typed_action(
    manifests: dict[str, Any], manifest: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The first action with a ``digitalSourceType`` in ``manifest``, else in its parent
    ingredient's manifest (an edit of a generated image), and the manifest it is in."""
    for _ in range(MAX_INGREDIENT_DEPTH):
        action = next((a for a in _actions(manifest) if a.get("digitalSourceType")), None)
        if action is not None:
            return action, manifest
        parent = next(
            (
                i
                for i in manifest.get("ingredients") or []
                if isinstance(i, dict) and i.get("relationship") == "parentOf"
            ),
            None,
        )
        label = parent.get("active_manifest") if parent else None
        manifest = manifests.get(label) if isinstance(label, str) else None
        if not isinstance(manifest, dict):
            return None
    return None


def claim_generator(manifest: dict[str, Any]) -> str | None:
    """The claim generator: ``claim_generator_info``'s first name (and version), else the
    ``claim_generator`` text (C2PA 1.x)."""
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        if isinstance(name, str) and name.strip():
            return f"{name.strip()} {version}".strip() if isinstance(version, str) else name
    text = manifest.get("claim_generator")
    return text.strip() if isinstance(text, str) and text.strip() else None


def software_agent(agent: Any) -> str | None:
    """A ``softwareAgent``: text (actions v1) or ``{"name", "version"}`` (actions v2)."""
    if isinstance(agent, dict):
        name, version = agent.get("name"), agent.get("version")
        if not isinstance(name, str) or not name.strip():
            return None
        return f"{name.strip()} {version}" if isinstance(version, str) else name.strip()
    return agent.strip() if isinstance(agent, str) and agent.strip() else None


def source_type_name(value: Any) -> str | None:
    """``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia`` ->
    ``trainedAlgorithmicMedia``."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def generator_name(tool: str) -> str:
    """The usual name of a generator named ``tool`` by its manifest (``DALL·E 3`` ->
    ``DALL-E``), else ``tool`` as written."""
    lower = tool.lower()
    return next((name for word, name in _NAMES if word in lower), tool)
