"""What the page's search controls and its query widgets mean to :func:`cdir.api.search`: the
settings (mode, k, target domains, style words, fusion weights) as ``SearchOptions``, and a
dropped image, a sketch, a text or a clicked result as the search's keywords."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from cdir import api
from cdir.app.widgets import UnreadableFile, _clicked_id


@dataclass
class SearchSettings:
    """The search controls' values."""

    mode: str = "caption"
    k: int = 12
    cross_domain: bool = False
    domains: Sequence[str] = ()
    neutralise: bool = True  # the measured-best default (docs/reproducing.md)
    style_words: str = ""
    weights: tuple[float, float, float] = (0.5, 1.0, 0.5)
    show_duplicates: bool = False  # False: one card per duplicate group

    @classmethod
    def from_widgets(
        cls,
        mode: str,
        k: int,
        cross: bool,
        domains: Sequence[str],
        neutral: bool,
        words: str,
        w_image: float,
        w_caption: float,
        w_cc: float,
        show_duplicates: bool = False,
    ) -> SearchSettings:
        return cls(
            mode,
            k,
            cross,
            domains,
            neutral,
            words,
            (w_image, w_caption, w_cc),
            bool(show_duplicates),
        )

    def options(self) -> api.SearchOptions:
        words = api.style_words(self.style_words) if self.style_words.strip() else None
        fusion = dict(zip(("image", "caption", "caption-caption"), self.weights, strict=True))
        return api.SearchOptions(
            mode=self.mode,
            k=int(self.k),
            domains=tuple(self.domains or ()),
            neutralise=bool(self.neutralise),
            style_words=words,
            fusion=fusion if self.mode == "fusion" else None,
            collapse_duplicates=not self.show_duplicates,
        )


def query_of(kind: str, value: Any) -> dict[str, Any]:
    """The ``api.search`` keywords of a page query: ``kind`` image (a file path), sketch (a
    sketchpad value), url (the http(s) address of an image), text, or item (a click on a
    result, "<id>:<nonce>"). Raises gr.Error, ValueError or UserInputError, saying what to do,
    for an empty or unreadable query."""
    if kind == "image":
        if isinstance(value, UnreadableFile):
            raise ValueError(value.message)
        if not value:
            raise gr.Error("Drop or paste a query image first.")
        return {"image": value}
    if kind == "sketch":
        picture = sketch_image(value)
        if picture is None:
            raise gr.Error("Draw something on the sketchpad first.")
        return {"image": picture}
    if kind == "url":  # fetched with strict limits, decoded as a dropped file (api)
        return {"image": api.image_from_url(value)}
    if kind == "item":
        item_id = _clicked_id(value)
        if item_id is None:
            raise gr.Error("Search for something first.")
        return {"item_id": item_id}
    return {"text": value}


MODE_INFO = "How the query is matched with the collection."


def mode_widget(kind: str) -> Any:
    """The retrieval-mode radio after a query of ``kind``: greyed out with the one line that
    says why (``api.mode_note``) when the mode does nothing for it (a text query), else usable
    with its usual line."""
    note = api.mode_note(kind)
    return gr.update(interactive=not note, info=note or MODE_INFO)


def sketch_image(sketch: Any) -> Any:
    """The composite of a sketchpad value as an RGB image on white, or None if blank."""
    from PIL import Image

    if not sketch:
        return None
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        return None
    image = composite if isinstance(composite, Image.Image) else Image.open(composite)
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        canvas = Image.new("RGB", image.size, "white")
        canvas.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = canvas
    image = image.convert("RGB")
    extrema = image.convert("L").getextrema()
    return None if extrema[0] == extrema[1] else image
