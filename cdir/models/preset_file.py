"""A user's own preset, in a small TOML or JSON file, accepted wherever a preset name is
(``--preset path/to/mine.toml`` on the command line, ``python app.py --preset mine.toml``)::

    name = "my-siglip"                      # required: collections and --model-dir use it
    description = "SigLIP + Florence-2"      # optional
    licence = "Apache-2.0 / MIT"             # optional; research_only = true keeps it no default

    [embedder]                               # an open_clip model
    arch = "ViT-B-16-SigLIP"                 # required: an open_clip architecture ...
    pretrained = "webli"                     # ... and its pretrained tag, or:
    # weights = "/models/mine/embedder"      # a folder in open_clip's local-dir layout

    [captioner]                              # optional (default: none)
    kind = "florence2"                       # blip | blip2 | florence2 | coca | none
    hub_id = "microsoft/Florence-2-base"     # a hub id or a save_pretrained folder
    task_prompt = "<CAPTION>"                # Florence-2's task (BLIP: a text prefix)
    max_new_tokens = 30                      # token limit
    num_beams = 1

Every mistake is reported in one line naming the file and the key (:class:`PresetFileError`).
Relative ``weights`` / ``hub_id`` folders are read relative to the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cdir.models.captioner_kinds import CAPTIONER_KINDS, captioner_kind
from cdir.models.presets import CaptionerSpec, EmbedderSpec, Preset, UnknownPresetError

_TOP = {"name", "description", "licence", "research_only", "needs_gpu", "embedder", "captioner"}
_EMBEDDER = {"arch", "pretrained", "weights"}
_CAPTIONER = {
    "kind",
    "hub_id",
    "task_prompt",
    "max_new_tokens",
    "num_beams",
    "repetition_penalty",
    "arch",
    "pretrained",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class PresetFileError(UnknownPresetError):
    """A preset file that cannot be read or is not a valid preset (one line)."""


def load_preset_file(path: Path) -> Preset:
    """The :class:`Preset` a TOML / JSON file describes (see the module docstring)."""
    data = _read(path)
    where = path.name

    def fail(message: str) -> PresetFileError:
        return PresetFileError(f"preset file {where}: {message}")

    _only(data, _TOP, "", fail)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail("'name' must be a short name of letters, digits, '.', '_' or '-'")
    embedder = _table(data, "embedder", fail, required=True)
    _only(embedder, _EMBEDDER, "embedder.", fail)
    arch = _text(embedder, "arch", "embedder.", fail, required=True)
    pretrained = _text(embedder, "pretrained", "embedder.", fail)
    weights = _folder(embedder.get("weights"), path, "embedder.weights", fail)
    if (pretrained is None) == (weights is None):
        raise fail(
            "give exactly one of embedder.pretrained (an open_clip tag) and "
            "embedder.weights (a folder)"
        )
    if pretrained is not None:
        _check_open_clip(arch, pretrained, fail)
    captioner = _table(data, "captioner", fail) or {"kind": "none"}
    _only(captioner, _CAPTIONER, "captioner.", fail)
    kind = captioner.get("kind", "none")
    if kind not in CAPTIONER_KINDS:
        raise fail(f"captioner.kind must be one of {', '.join(CAPTIONER_KINDS)}, not {kind!r}")
    hub_id = _text(captioner, "hub_id", "captioner.", fail)
    if hub_id and (path.parent / hub_id).is_dir():
        hub_id = str((path.parent / hub_id).resolve())
    row = captioner_kind(kind)
    if row.transformers_classes is not None and not hub_id:
        raise fail(f"captioner.hub_id is needed for a {kind} captioner")
    prompt = _text(captioner, "task_prompt", "captioner.", fail)
    if row.task_prompt and not prompt:
        raise fail(f'a {kind} captioner needs captioner.task_prompt, e.g. "<CAPTION>"')
    if row.from_embedder and not captioner.get("pretrained") and not arch.startswith("coca"):
        raise fail("a coca captioner needs a CoCa embedder or captioner.arch + .pretrained")
    limits = {
        k: _int(captioner, k, lo, hi, fail)
        for k, lo, hi in (("max_new_tokens", 1, 512), ("num_beams", 1, 16))
        if k in captioner
    }
    penalty = captioner.get("repetition_penalty", 1.0)
    if not isinstance(penalty, int | float) or penalty <= 0:
        raise fail("captioner.repetition_penalty must be a positive number")
    flags = {k: data.get(k, False) for k in ("research_only", "needs_gpu")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise fail(f"'{key}' must be true or false")
    return Preset(
        name=name,
        description=str(data.get("description") or f"user preset from {path.name}"),
        embedder=EmbedderSpec(arch, pretrained, weights=weights),
        captioner=CaptionerSpec(
            kind,
            hub_id,
            task_prompt=prompt,
            repetition_penalty=float(penalty),
            arch=_text(captioner, "arch", "captioner.", fail),
            pretrained=_text(captioner, "pretrained", "captioner.", fail),
            **limits,
        ),
        licence=str(data.get("licence", "")),
        source_file=str(path.resolve()),
        **flags,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetFileError(f"cannot read preset file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and tomllib.TOMLDecodeError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PresetFileError(
            f"preset file {path.name} is not valid {path.suffix.lstrip('.').upper()}: {first}"
        ) from None
    if not isinstance(data, dict):
        raise PresetFileError(f"preset file {path.name}: the top level must be a table / object")
    return data


def _only(table: dict[str, Any], allowed: set[str], prefix: str, fail: Any) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise fail(f"unknown key {prefix}{unknown[0]} (known: {', '.join(sorted(allowed))})")


def _table(
    data: dict[str, Any], key: str, fail: Any, required: bool = False
) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise fail(f"[{key}] must be a table (object)" + (" and is required" if required else ""))
    return value


def _text(
    table: dict[str, Any], key: str, prefix: str, fail: Any, required: bool = False
) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{prefix}{key} must be a non-empty string")
    return value.strip()


def _int(table: dict[str, Any], key: str, lo: int, hi: int, fail: Any) -> int:
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise fail(f"captioner.{key} must be a whole number from {lo} to {hi}")
    return value


def _folder(value: Any, path: Path, key: str, fail: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key} must be a folder path")
    folder = path.parent / Path(value).expanduser()
    if not folder.is_dir():
        raise fail(f"{key}: no folder {value!r} (relative paths start at the file's folder)")
    return str(folder.resolve())


def _check_open_clip(arch: str, tag: str, fail: Any) -> None:
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise fail(
            f"embedder.arch {arch!r} is not an open_clip architecture "
            "(open_clip.list_models() names them)"
        )
    if not open_clip.get_pretrained_cfg(arch, tag):
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise fail(f"embedder.pretrained {tag!r} is not a tag of {arch} (its tags: {tags})")
