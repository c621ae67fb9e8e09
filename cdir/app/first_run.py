"""The first run on a machine without the chosen preset's weights: the decision is
``cdir.api.choose_preset`` (the CLI's too); this module only words it as a banner (no gradio)."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from cdir import api

log = logging.getLogger(__name__)


def startup_preset(
    preset: str, model_root: str | Path | None = None, timeout: float = 2.0
) -> tuple[str, str]:
    """(the preset to run, the banner HTML: empty when ``preset`` can run). Takes at most
    about ``timeout`` seconds plus the look into the caches; never downloads. Raises
    ModelUnavailableError (one line naming --preset demo and --model-dir) when nothing can run."""
    choice = api.choose_preset(preset, model_root, timeout)
    if not choice.fell_back:
        return choice.run, ""
    return choice.run, offline_banner(choice.requested, choice.cause, choice.run)


def offline_banner(preset: str, cause: str, fallback: str) -> str:
    """The banner: one short line (which preset runs: it fits a phone's width), and, opened
    with a click, why the chosen preset cannot run, what the fallback's results are worth and
    the fixes."""
    p, f = html.escape(preset), html.escape(fallback)
    return (
        '<div class="cdir-banner" id="offline-banner"><details><summary><b>Offline: the '
        f'<code>{f}</code> model</b> <span class="cdir-more">why?</span></summary>'
        f"The <code>{p}</code> preset cannot run here: "
        f"{html.escape(cause)}. {_what_it_knows(fallback)} To get real results: point "
        "<code>--model-dir</code> (or <code>CDIR_MODEL_DIR</code>) at weights saved with "
        f" <code>python -m cdir models save --preset {p} --model-dir DIR"
        "</code> on a machine that has internet access, or connect this machine once."
        "</details></div>"
    )


def _what_it_knows(fallback: str) -> str:
    """What the fallback's results are worth, in one or two sentences (HTML-escaped)."""
    if fallback == "demo":
        return html.escape(api.demo_note())
    if not api.preset_info(fallback).trained:
        return (
            f"The bundled examples work with <code>{html.escape(fallback)}</code>, but its "
            "random weights make results mean nothing (<code>--preset tiny</code> silences "
            "this note)."
        )
    return ""
