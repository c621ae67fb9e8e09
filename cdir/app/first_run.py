"""The first run on a machine without the chosen preset's weights: find out in a few seconds,
run the offline fallback preset instead, and say so in a banner (no gradio here)."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from cdir.models.availability import check_weights, offline_fallback
from cdir.models.presets import get_preset
from cdir.models.weights import DEMO_NOTE

log = logging.getLogger(__name__)


def startup_preset(preset: str, model_root: str | Path | None = None, timeout: float = 2.0
                   ) -> tuple[str, str]:
    """(the preset to run, the banner HTML: empty when ``preset`` can run). Takes at most
    about ``timeout`` seconds plus the look into the caches; never downloads."""
    check = check_weights(preset, model_root, timeout)
    if check.usable:
        return check.preset, ""
    fallback = offline_fallback(model_root)
    log.warning("preset %s cannot run here (%s): running %s", preset, check.cause(), fallback)
    return fallback, offline_banner(check.preset, check.cause(), fallback)


def offline_banner(preset: str, cause: str, fallback: str) -> str:
    """The banner: which preset, why it cannot run, what runs instead, and the fixes."""
    p, f = html.escape(preset), html.escape(fallback)
    return (
        '<div class="cdir-banner" id="offline-banner"><b>Running offline with the '
        f"<code>{f}</code> preset.</b> The <code>{p}</code> preset cannot run here: "
        f"{html.escape(cause)}. {_what_it_knows(fallback)} To get real results: point "
        "<code>--model-dir</code> (or <code>CDIR_MODEL_DIR</code>) at weights saved with "
        f" <code>python -m cdir models save --preset {p} --model-dir DIR"
        "</code> on a machine that has internet access, or connect this machine once.</div>"
    )


def _what_it_knows(fallback: str) -> str:
    """What the fallback's results are worth, in one or two sentences (HTML-escaped)."""
    if fallback == "demo":
        return html.escape(DEMO_NOTE)
    if not get_preset(fallback).trained:
        return (f"The bundled examples work with <code>{html.escape(fallback)}</code>, but its "
                "random weights make results mean nothing (<code>--preset tiny</code> silences "
                "this note).")
    return ""
