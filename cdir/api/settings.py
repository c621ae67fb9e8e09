"""The settings a user chooses before any collection: presets, quantization, the device, the
search modes, the style words; and the warm-ups a server runs at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdir.models.device import DEVICE_CHOICES as DEVICE_CHOICES  # the choices of --device
from cdir.models.quantize import QUANTIZE_MODES as QUANTIZE_MODES  # the choices of --quantize
from cdir.retrieval.scoring import MODES as MODES  # the search modes (--mode)


def preset_names() -> list[str]:
    """The names of the presets known here (shipped, and those registered from preset files)."""
    from cdir.models.presets import list_presets

    return list_presets()


def preset_info(name: str) -> Any:
    """The preset ``name`` (or a preset file's path): its ``name``, ``trained``, ``description``…
    Raises UnknownPresetError (one line listing the valid names) for an unknown one."""
    from cdir.models.presets import get_preset

    return get_preset(name)


def quantize_mode(explicit: str | None = None) -> str:
    """The quantization in force (``explicit``, else ``$CDIR_QUANTIZE``, else none); a bad value
    raises ValueError naming the valid ones."""
    from cdir.models.quantize import quantize_mode as mode

    return mode(explicit)


def set_quantize_mode(mode: str | None) -> str | None:
    """Quantize the models loaded from now on (``none`` / ``int8``; None: the environment's);
    returns the previous setting."""
    from cdir.models.quantize import set_quantize_mode as set_mode

    return set_mode(mode)


def set_query_quantize_default(mode: str) -> str:
    """This process's default for queries' captions, ``int8`` or ``none`` (the CLI: ``none``, one
    query per process does not pay back quantising; ``$CDIR_QUERY_QUANTIZE`` still wins); returns
    the previous default (:mod:`cdir.models.quantize`)."""
    from cdir.models.quantize import set_query_quantize_default as set_default

    return set_default(mode)


def set_device_choice(choice: str | None) -> str | None:
    """Run the models loaded from now on on ``auto`` / ``cpu`` / ``cuda`` (None: the
    environment's); returns the previous setting."""
    from cdir.models.device import set_device_choice as set_choice

    return set_choice(choice)


def default_batch_sizes() -> tuple[int, int]:
    """(images per embedding batch, per caption batch) for the device the models run on."""
    from cdir.models.device import default_batch_sizes as sizes
    from cdir.models.loaded import pick_device

    return sizes(pick_device())


def save_models(preset_name: str, out: str | Path, model_root: str | Path | None = None) -> Path:
    """Save the weights of ``preset_name`` to ``out`` (for a machine without internet: its
    ``--model-dir``); returns the folder written."""
    from cdir.models.loaded import get_models
    from cdir.models.loaded import save_models as save

    return save(get_models(preset_name, model_root), out)


def demo_note() -> str:
    """What the offline ``demo`` preset's results are worth, in one or two sentences."""
    from cdir.models.weights import DEMO_NOTE

    return DEMO_NOTE


def default_style_words() -> str:
    """The style words removed from captions by default, one per line (the page's text box)."""
    from cdir.models.style_words import Neutraliser

    return Neutraliser().to_text()


def style_words(text: str) -> tuple[str, ...]:
    """The style words of a text box (one per line or comma-separated), normalised."""
    from cdir.models.style_words import Neutraliser

    return Neutraliser.from_text(text).words


def column_overrides(text: str | None) -> dict[str, str]:
    """``--columns domain=style,class=label`` as {role: column}; SourceError (one line) for an
    unknown role."""
    from cdir.ingest.dataset_columns import parse_column_overrides

    return parse_column_overrides(text)


def warm_up_maps() -> float:
    """Compile the map projection (UMAP) once, so that the first map is drawn fast; returns the
    seconds it took."""
    from cdir.maps.projection import warm_up_umap

    return warm_up_umap()
