"""Can a preset run here, now, without waiting on downloads? Answered in a few seconds at start.

A preset can run when each component is built from a config (``tiny``), saved in the local model
directory (``--model-dir``), in the Hugging Face hub cache, or downloadable (the hub answers).
``offline_fallback()`` names the preset to run when the chosen one cannot: the first of
``FALLBACK_PRESETS`` whose weights are here: ``demo`` (trained on drawn domains, shipped in
``assets/models``), else ``tiny`` (random, built from a config).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.presets import Preset, get_preset
from cdir.models.weights import hub_offline, local_component, model_dir

log = logging.getLogger(__name__)

FALLBACK_PRESETS: tuple[str, ...] = ("demo", "tiny")

# open_clip's hub repositories of the presets' pretrained tags, so the start-up check need not
# import open_clip (and torch: 10-20 s on a busy 2-core machine). Others are asked from open_clip.
EMBEDDER_REPOS: dict[tuple[str, str], str] = {
    ("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ("ViT-L-14", "datacomp_xl_s13b_b90k"): "laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K",
    ("ViT-L-14", "openai"): "timm/vit_large_patch14_clip_224.openai",
    ("ViT-L-14-quickgelu", "openai"): "timm/vit_large_patch14_clip_224.openai",
    ("coca_ViT-B-32", "mscoco_finetuned_laion2b_s13b_b90k"):
        "laion/mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k",
}


@dataclass(frozen=True)
class WeightsCheck:
    """What the start-up check found for one preset."""

    preset: str
    missing: tuple[str, ...]  # components whose weights are not on this machine
    hub_reachable: bool | None  # None: not asked (nothing missing)

    @property
    def usable(self) -> bool:
        return not self.missing or bool(self.hub_reachable)

    def cause(self) -> str:
        """One line: why the preset cannot run (empty when it can)."""
        if self.usable:
            return ""
        where = ("the hub is switched off (HF_HUB_OFFLINE=1)" if hub_offline()
                 else "the Hugging Face hub cannot be reached")
        return (f"the weights of its {' and '.join(self.missing)} are not on this machine and "
                f"{where}")


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _cached(repo_id: str) -> bool:
    """True when the hub cache holds a snapshot of ``repo_id`` (a model repository)."""
    folder = hub_cache_dir() / f"models--{repo_id.strip('/').replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any(folder.iterdir())


def _embedder_repo(preset: Preset) -> str | None:
    """The hub repository of an open_clip pretrained tag (None when open_clip names none)."""
    spec = preset.embedder
    known = EMBEDDER_REPOS.get((spec.arch, spec.pretrained or ""))
    if known:
        return known
    import open_clip

    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.pretrained or "") or {}
    return cfg.get("hf_hub") or None


def _missing(preset: Preset, root: Path | None) -> tuple[str, ...]:
    missing = []
    captioner = preset.captioner
    if (captioner_kind(captioner.kind).own_weights and captioner.config is None
            and local_component(root, preset.name, "captioner") is None
            and not (captioner.hub_id and _cached(captioner.hub_id))):
        missing.append("captioner")
    embedder = preset.embedder
    if embedder.config is None and local_component(root, preset.name, "embedder") is None:
        repo = _embedder_repo(preset)
        if repo is None or not _cached(repo):
            missing.insert(0, "embedder")
    return tuple(missing)


def hub_reachable(timeout: float = 2.0) -> bool:
    """True when the hub's host accepts a TCP connection within ``timeout`` seconds (and
    ``HF_HUB_OFFLINE`` is not set)."""
    if hub_offline():
        return False
    from huggingface_hub import constants

    url = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname or "huggingface.co",
                                       url.port or (443 if url.scheme == "https" else 80)),
                                      timeout=timeout):
            return True
    except (OSError, RuntimeError):  # RuntimeError: a sandbox that forbids the network
        return False


def check_weights(preset: str, model_root: str | Path | None = None,
                  timeout: float = 2.0) -> WeightsCheck:
    """Whether ``preset`` can run here: which components' weights are missing and, only when
    some are, whether the hub answers within ``timeout`` seconds. Never downloads."""
    spec = get_preset(preset)
    missing = _missing(spec, model_dir(model_root))
    return WeightsCheck(spec.name, missing, hub_reachable(timeout) if missing else None)


def available_offline(preset: str, model_root: str | Path | None = None) -> bool:
    """True when every component of ``preset`` is built from a config or saved on this machine
    (local model directory or hub cache)."""
    return not _missing(get_preset(preset), model_dir(model_root))


def offline_fallback(model_root: str | Path | None = None) -> str:
    """The preset to run when the chosen one cannot: the first of ``FALLBACK_PRESETS`` that is
    available offline."""
    for name in FALLBACK_PRESETS:
        if available_offline(name, model_root):
            return name
    return FALLBACK_PRESETS[-1]
