"""Can a preset run here, now, without waiting on downloads? Answered in a few seconds at start.

A preset can run when each component is built from a config (``tiny``), saved in the local model
directory (``--model-dir``), in the Hugging Face hub cache, or downloadable (the hub answers).

:func:`choose_preset` is THE fallback decision every entry point uses (CLI, API, app, and through
the app a gradio_client call, all via ``cdir.api.choose_preset``): the chosen preset when it can
run; else ``demo`` (trained on drawn domains, shipped in ``cdir/assets/models``) when its weights
are here, with the hub switched off for the rest of the process
(:func:`cdir.models.weights.go_offline`: no retry storm); else a
:class:`~cdir.models.weights.ModelUnavailableError` whose one line names
``--preset demo`` and ``--model-dir``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.presets import Preset, get_preset
from cdir.models.weights import (
    ModelUnavailableError,
    go_offline,
    hub_offline,
    local_component,
    model_dir,
)

log = logging.getLogger(__name__)

FALLBACK_PRESET = "demo"
FALLBACK_PRESETS: tuple[str, ...] = (FALLBACK_PRESET, "tiny")  # offline_fallback's order

# open_clip's hub repositories of the presets' pretrained tags, so the start-up check need not
# import open_clip (and torch: 10-20 s on a busy 2-core machine). Others are asked from open_clip.
EMBEDDER_REPOS: dict[tuple[str, str], str] = {
    ("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ("ViT-L-14", "datacomp_xl_s13b_b90k"): "laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K",
    ("ViT-L-14", "openai"): "timm/vit_large_patch14_clip_224.openai",
    ("ViT-L-14-quickgelu", "openai"): "timm/vit_large_patch14_clip_224.openai",
    (
        "coca_ViT-B-32",
        "mscoco_finetuned_laion2b_s13b_b90k",
    ): "laion/mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k",
    ("coca_ViT-B-32", "laion2b_s13b_b90k"): "laion/CoCa-ViT-B-32-laion2B-s13B-b90k",
    ("ViT-B-32-256", "datacomp_s34b_b86k"): "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K",
    ("ViT-B-16-SigLIP", "webli"): "timm/ViT-B-16-SigLIP",
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
        where = (
            "the hub is switched off (HF_HUB_OFFLINE=1)"
            if hub_offline()
            else "the Hugging Face hub cannot be reached"
        )
        return (
            f"the weights of its {' and '.join(self.missing)} are not on this machine and {where}"
        )


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _cached(repo_id: str) -> bool:
    """True when the hub cache holds a snapshot of ``repo_id`` (a model repository)."""
    folder = hub_cache_dir() / f"models--{repo_id.strip('/').replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any(folder.iterdir())


def open_clip_repo(arch: str, tag: str | None) -> str | None:
    """The hub repository of an open_clip pretrained tag (None when open_clip names none)."""
    known = EMBEDDER_REPOS.get((arch, tag or ""))
    if known:
        return known
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag or "") or {}
    return (cfg.get("hf_hub") or "").strip("/") or None


def _embedder_repo(preset: Preset) -> str | None:
    return open_clip_repo(preset.embedder.arch, preset.embedder.pretrained)


def _local_folder(path: str | None) -> bool:
    return bool(path) and Path(str(path)).expanduser().is_dir()


def _missing(preset: Preset, root: Path | None) -> tuple[str, ...]:
    missing = []
    captioner = preset.captioner
    kind = captioner_kind(captioner.kind)
    if kind.from_embedder and captioner.pretrained:  # a CoCa checkpoint of its own
        repo = open_clip_repo(captioner.arch or preset.embedder.arch, captioner.pretrained)
        if local_component(root, preset.name, "captioner") is None and not (repo and _cached(repo)):
            missing.append("captioner")
    elif (
        kind.own_weights
        and captioner.config is None
        and local_component(root, preset.name, "captioner") is None
        and not _local_folder(captioner.hub_id)
        and not (captioner.hub_id and _cached(captioner.hub_id))
    ):
        missing.append("captioner")
    embedder = preset.embedder
    if (
        embedder.config is None
        and local_component(root, preset.name, "embedder") is None
        and not _local_folder(embedder.weights)
    ):
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
        with socket.create_connection(
            (url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)),
            timeout=timeout,
        ):
            return True
    except (OSError, RuntimeError):  # RuntimeError: a sandbox that forbids the network
        return False


def _uses_hub_cache(preset: Preset, root: Path | None) -> bool:
    """Whether a component of ``preset`` loads from the hub cache (not a folder, not a config),
    where transformers and open_clip would ask the hub for newer files first."""
    embedder, captioner = preset.embedder, preset.captioner
    from_hub = (
        embedder.config is None
        and not _local_folder(embedder.weights)
        and local_component(root, preset.name, "embedder") is None
    )
    if captioner_kind(captioner.kind).own_weights or captioner.pretrained:
        from_hub = from_hub or (
            captioner.config is None
            and not _local_folder(captioner.hub_id)
            and local_component(root, preset.name, "captioner") is None
        )
    return from_hub


def check_weights(
    preset: str, model_root: str | Path | None = None, timeout: float = 2.0
) -> WeightsCheck:
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


@dataclass(frozen=True)
class PresetChoice:
    """What :func:`choose_preset` decided: ``run`` is the preset to run (``requested`` or the
    fallback), ``cause`` why ``requested`` cannot run ('' when it can)."""

    requested: str
    run: str
    cause: str = ""
    seconds: float = 0.0

    @property
    def fell_back(self) -> bool:
        return self.run != self.requested

    def notice(self) -> str:
        """One line for logs and reports ('' when nothing fell back)."""
        if not self.fell_back:
            return ""
        return (
            f"preset {self.requested!r} cannot run here ({self.cause}): running the offline "
            f"{self.run!r} preset instead. {fix_line(self.requested)}"
        )


def fix_line(preset: str) -> str:
    """The fix, in one sentence: ``--model-dir`` with saved weights, or ``--preset demo``."""
    return (
        f"For real results: --model-dir DIR holding weights saved with `python -m cdir "
        f"models save --preset {preset} --model-dir DIR` on a machine with internet access "
        f"(or connect this one once); --preset {FALLBACK_PRESET} runs the bundled offline "
        "demo model."
    )


def choose_preset(
    preset: str, model_root: str | Path | None = None, timeout: float = 2.0
) -> PresetChoice:
    """The preset to run for a request of ``preset`` (see the module docstring). Takes at most
    about ``timeout`` seconds (one TCP connect, only when weights are missing) plus a look into
    the caches; never downloads. Raises ModelUnavailableError when neither can run."""
    clock = time.monotonic()
    check = check_weights(preset, model_root, timeout)
    if (
        check.usable
        and check.hub_reachable is None
        and _uses_hub_cache(get_preset(preset), model_dir(model_root))
        and not hub_reachable(timeout)
    ):
        go_offline()  # cached weights, no hub: loading them must not wait on retries either
    if check.usable:
        log.info(
            "preset %s can run here (decided in %.2f s)", check.preset, time.monotonic() - clock
        )
        return PresetChoice(check.preset, check.preset, "", time.monotonic() - clock)
    cause = check.cause()
    go_offline()  # the hub does not answer: later hub calls fail at once instead of retrying
    if check.preset != FALLBACK_PRESET and available_offline(FALLBACK_PRESET, model_root):
        choice = PresetChoice(check.preset, FALLBACK_PRESET, cause, time.monotonic() - clock)
        log.warning("%s (decided in %.2f s)", choice.notice(), choice.seconds)
        return choice
    raise ModelUnavailableError(
        f"preset {check.preset!r} cannot run here: {cause}. Fix: use --preset {FALLBACK_PRESET} "
        f"(the offline demo model shipped in the package) or --model-dir DIR holding weights "
        f"saved with `python -m cdir models save --preset {check.preset} --model-dir DIR`."
    )
