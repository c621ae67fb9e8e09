"""The app's refusals for what gradio's widgets hand over (no gradio import here)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

QUERY_FORMATS = "a JPEG, PNG, WebP or GIF image"


@dataclass(frozen=True)
class UnreadableFile:
    """What a query-image widget hands to its handler when the upload is no image."""

    message: str


def bad_image_message(name: str | None) -> str:
    """The one line for a query file that cannot be read as an image (no server path)."""
    shown = PurePath(name).name if name else "That file"
    return f"{shown} is not an image cdir can read: drop {QUERY_FORMATS} as the query."


def refuse_unreadable(image_widget: Any) -> Any:
    """Make a ``gr.Image`` hand an ``UnreadableFile`` to its handlers when the upload is no
    image (a text file renamed ``.png``): gradio would otherwise fail before the handler runs
    and show a bare "Error". Returns the widget."""
    preprocess: Callable[[Any], Any] = image_widget.preprocess

    @functools.wraps(preprocess)
    def checked(payload: Any) -> Any:
        from PIL import UnidentifiedImageError
        from PIL.Image import DecompressionBombError

        try:
            return preprocess(payload)
        except DecompressionBombError:
            shown = getattr(payload, "orig_name", None) or "This file"
            return UnreadableFile(
                f"{shown} has too many pixels to be a query: scale it down "
                "below 40 megapixels and drop it again."
            )
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return UnreadableFile(bad_image_message(getattr(payload, "orig_name", None)))

    image_widget.preprocess = checked
    return image_widget


def gradio_progress(progress: Any, unit: str = "images") -> Callable[[int, int, str], None]:
    """A ``progress(done, total, stage)`` callback that drives a ``gr.Progress``: the page shows
    the stage and ``done / total``, and an API caller reads them from ``Job.status()``.

    Test ``progress is not None``, never ``if progress``: a ``gr.Progress`` is falsy."""

    def report(done: int, total: int, stage: str) -> None:
        progress((done, total or None), desc=stage, unit=unit)

    return report


def _clicked_id(clicked: str | None) -> int | None:
    """The item id in a map click ("<id>:<nonce>"; the nonce makes repeated clicks distinct)."""
    head = str(clicked or "").split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None
