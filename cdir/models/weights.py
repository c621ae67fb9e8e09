"""Where model weights come from, in one place.

Order of resolution for a preset's embedder and captioner:
1. a local directory ``<model_dir>/<preset>/embedder`` / ``<model_dir>/<preset>/captioner``, where
   ``model_dir`` is ``--model-dir`` or ``$CDIR_MODEL_DIR`` (written by ``cdir models save``),
   else the same layout under the package's ``cdir/assets/models/`` (:data:`BUNDLED_MODEL_DIR`:
   the ``demo`` preset's weights ship there, read by the same code as a user's model directory);
2. the Hugging Face hub cache (open_clip pretrained tags and transformers hub ids), which honours
   ``HF_HUB_OFFLINE=1`` when the cache is populated;
3. for presets with random weights (``tiny``), a build from the config.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR_ENV = "CDIR_MODEL_DIR"
BUNDLED_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
DEMO_NOTE = (
    "Offline model: the small 'demo' model shipped with the app, trained only on drawn "
    "pictures of six classes (house, tree, car, fish, flower, boat) in six styles (photo, "
    "pencil sketch, oil painting, clipart, 3d render, silhouette). Its captions and rankings mean "
    "something for such drawings only; install or save a real preset for your own images."
)


class ModelUnavailableError(RuntimeError):
    """Weights for a preset cannot be had; the message says how to fix it."""


def model_dir(explicit: str | Path | None = None) -> Path | None:
    """The local model directory: the explicit argument, else ``$CDIR_MODEL_DIR``, else None."""
    value = explicit if explicit is not None else os.environ.get(MODEL_DIR_ENV)
    return Path(value).expanduser() if value else None


def component_dir(root: Path | None, preset: str, component: str) -> Path | None:
    """``<root>/<preset>/<component>`` if it exists, else None."""
    if root is None:
        return None
    path = root / preset / component
    return path if path.is_dir() else None


def local_component(root: Path | None, preset: str, component: str) -> Path | None:
    """The local directory of a preset's component: the user's model directory first, else the
    bundled one (:data:`BUNDLED_MODEL_DIR`); None when neither has it."""
    return component_dir(root, preset, component) or component_dir(
        BUNDLED_MODEL_DIR, preset, component
    )


def hub_offline(*variables: str) -> bool:
    """Whether the user turned the Hugging Face hub off: any of ``variables`` (default
    ``HF_HUB_OFFLINE``) set to 1/true/yes/on, read now rather than when ``huggingface_hub`` was
    imported (huggingface_hub's own convention for these variables)."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in variables or ("HF_HUB_OFFLINE",)
    )


def go_offline() -> None:
    """Switch the Hugging Face hub off for this process (``HF_HUB_OFFLINE=1``): a hub call then
    fails at once instead of ~47 s of retries (152 s for a CLI ingest). huggingface_hub reads
    the variable when imported (transformers asks huggingface_hub), so its flag is set too."""
    import sys

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def unavailable(preset: str, what: str, cause: BaseException) -> ModelUnavailableError:
    """An error that names the preset, what failed, and the ways to fix it."""
    where = "offline (HF_HUB_OFFLINE=1)" if hub_offline() else "from the Hugging Face hub"
    reason = " ".join(str(cause).split())[:200]  # one line, whatever the library said
    return ModelUnavailableError(
        f"cannot load the {what} of preset {preset!r} {where}: {type(cause).__name__}: {reason}. "
        f"Fix: use --preset demo (the offline demo model) or --model-dir DIR (or "
        f"${MODEL_DIR_ENV}) holding weights saved with `python -m cdir models save --preset "
        f"{preset} --model-dir DIR` on a machine that has them."
    )
