"""The page's tabs, one module each: its widgets as a small dataclass, its layout (``build``),
its wiring (``wire``) and the views it clears when another collection opens (``stale``: each
view with its empty value). ``cdir.app.main`` assembles them.

``Page`` holds the widgets every tab shares; ``downloads_row`` lays out a row of download
buttons and the file they give."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

# (widget, its empty value): a view a tab empties when another collection opens
Stale = list[tuple[Any, Any]]

# the narrowest a setting (a slider, a number, a group of ticks) sits in a row, in px: a slider
# with its label, number box, reset button and min / max labels fits without clipping, and a
# narrow window wraps the row instead of squeezing it
SETTING_MIN_WIDTH = 240


@dataclass
class Page:
    """The widgets the tabs share: the open collection's path, the status line and the timer
    that refreshes it, the visitor's owner key, and the hidden box a click on a result card
    writes (``#result-click``, any tab)."""

    store: gr.State
    status: gr.Markdown
    timer: gr.Timer
    owner: gr.BrowserState
    result_click: gr.Textbox


@dataclass
class Downloads:
    """A row of download buttons (by format) and the file they give: the file box is hidden
    until a download made something (an empty box before anything exists only takes room)."""

    buttons: dict[str, gr.Button]
    file: gr.File

    @staticmethod
    def emptied() -> dict[str, Any]:
        """The file box's value when another collection opens: empty, hidden again."""
        return gr.update(value=None, visible=False)


def offered(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A download handler (returning the made file's path, or paths) whose answer also shows
    the file box."""

    @functools.wraps(handler)
    def shown(*args: Any, **kwargs: Any) -> Any:
        return gr.update(value=handler(*args, **kwargs), visible=True)

    return shown


def downloads_row(
    name: str, buttons: Sequence[tuple[str, str]], label: str, multiple: bool = False
) -> Downloads:
    """Download buttons ``#download-<name>-<format>`` in a row, and the file they give
    (``#<name>-file``)."""
    with gr.Row(elem_classes="cdir-downloads"):
        made = {
            key: gr.Button(text, size="sm", elem_id=f"download-{name}-{key}")
            for key, text in buttons
        }
    file = gr.File(
        label=label,
        interactive=False,
        elem_id=f"{name}-file",
        file_count="multiple" if multiple else "single",
        height=90,
        visible=False,
    )
    return Downloads(made, file)
