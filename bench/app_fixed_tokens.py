"""Run ``app.py`` with the ``default`` preset's BLIP captions at a fixed length.

    python bench/app_fixed_tokens.py TOKENS [app.py arguments ...]

Random weights never emit the end token, so a random BLIP writes ``max_new_tokens`` (30 in the
preset) every time, where a real BLIP base caption stops after 10-15. Issue #17 measures
captions at 15 new tokens; this runs the real app with only that number changed (the caption
cache keys on it, so nothing is mixed with 30-token captions).
"""

from __future__ import annotations

import dataclasses
import runpy
import sys

from common import REPO


def fix_caption_tokens(tokens: int, preset: str = "default") -> None:
    """Re-register ``preset`` in this process with its captioner's ``max_new_tokens`` set."""
    from cdir.models.presets import get_preset, register_preset

    found = get_preset(preset)
    register_preset(
        dataclasses.replace(
            found, captioner=dataclasses.replace(found.captioner, max_new_tokens=tokens)
        )
    )


if __name__ == "__main__":
    fix_caption_tokens(int(sys.argv[1]))
    sys.argv = [str(REPO / "app.py"), *sys.argv[2:]]
    runpy.run_path(str(REPO / "app.py"), run_name="__main__")
