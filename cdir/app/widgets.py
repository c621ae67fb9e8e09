"""gradio widgets with the app's own refusals (the page shows them as one-line messages)."""

from __future__ import annotations

from typing import Any

import gradio as gr

QUERY_FORMATS = "a JPEG, PNG, WebP or GIF image"


class QueryImage(gr.Image):
    """``gr.Image`` whose upload of a file that is no image (a text file renamed ``.png``) gives
    "<name> is not an image ...: drop <formats>" instead of gradio's bare "Error"."""

    def get_block_name(self) -> str:
        return "image"  # the same widget in the page

    def preprocess(self, payload: Any) -> Any:
        from PIL import UnidentifiedImageError

        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise gr.Error(bad_image_message(getattr(payload, "orig_name", None))) from exc


def bad_image_message(name: str | None) -> str:
    """The one line for a query file that cannot be read as an image (no server path)."""
    from pathlib import PurePath

    shown = PurePath(name).name if name else "That file"
    return f"{shown} is not an image cdir can read: drop {QUERY_FORMATS} as the query."
