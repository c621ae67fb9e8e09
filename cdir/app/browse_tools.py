"""The Browse panel's tools: saved views, downloads of the current view, a diverse subset, and
the large viewer (arrow keys, label correction). Handlers only: the layout is
:mod:`cdir.app.tabs.browse_tools`; the work is done through :mod:`cdir.api`.

``filters`` below are the grid's widget values as :meth:`BrowseActions.grid` takes them:
domains .. similar (10 values), then the page and the map selection (12 values in all).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cdir import api
from cdir.app.browse import BrowseActions
from cdir.app.views import esc, esc_name

log = logging.getLogger(__name__)

EXPORT_FORMATS = {
    "csv": "file list (CSV)",
    "zip": "originals (zip)",
    "datasets": "Hugging Face dataset",
}


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message)


def _update(**kwargs: Any) -> Any:
    import gradio as gr

    return gr.update(**kwargs)


@dataclass
class BrowseTools:
    browse: BrowseActions

    # ---------------------------------------------------------------------------- saved views
    def view_names(self, store: str | None, chosen: str | None = None) -> Any:
        """The saved views' dropdown: their names, ``chosen`` selected if saved."""
        if not store:
            return _update(choices=[], value=None)
        names = [v.name for v in api.list_views(self.browse.session(store))]
        return _update(choices=names, value=chosen if chosen in names else None)

    def save_view(self, store: str | None, name: str, *filters: Any) -> tuple[Any, str]:
        """Save the grid's filters, sort and map selection as ``name``; (dropdown, message)."""
        session = self.browse.writable_session(store)
        query = self.browse.query(*filters[:9], 1, filters[11])
        view = api.save_view(session, name, query, str(filters[9] or ""), filters[11])
        return self.view_names(store, view.name), f"View **{esc(view.name)}** saved."

    def open_view(self, store: str | None, name: str | None) -> tuple[Any, ...]:
        """The grid's widget values of a saved view: domains, classes, sources, prompt, status,
        text, tags, sort, descending, similar, page (1), selection, and a message."""
        if not name:
            raise _error("Choose a saved view first.")
        view = api.open_view(self.browse.session(store), name)
        q = view.query
        prompt = "any" if q.has_prompt is None else ("yes" if q.has_prompt else "no")
        return (
            list(q.domains),
            list(q.classes),
            list(q.label_sources),
            prompt,
            q.status or "any",
            q.text,
            list(q.tags),
            q.sort,
            q.descending,
            view.similar,
            1,
            None if view.selection is None else list(view.selection),
            f"View **{esc(view.name)}** opened"
            + (f" · {len(view.selection)} items selected" if view.selection is not None else ""),
        )

    def rename_view(self, store: str | None, old: str | None, new: str) -> tuple[Any, str]:
        if not old:
            raise _error("Choose the saved view to rename, and type its new name.")
        view = api.rename_view(self.browse.writable_session(store), old, new)
        return self.view_names(store, view.name), f"View renamed **{esc(view.name)}**."

    def delete_view(self, store: str | None, name: str | None) -> tuple[Any, str]:
        if not name:
            raise _error("Choose the saved view to delete.")
        api.delete_view(self.browse.writable_session(store), name)
        return self.view_names(store), f"View **{esc(name)}** deleted."

    # ------------------------------------------------------------------------------ downloads
    def export(self, store: str | None, fmt: str, *filters: Any) -> tuple[Any, str]:
        """Every item of the current view (filters and map selection) as ``fmt``
        (:data:`EXPORT_FORMATS`), written in the collection's ``exports/``: (the download
        widget showing its path, message)."""
        if fmt not in EXPORT_FORMATS:
            raise _error(f"Download as one of {', '.join(EXPORT_FORMATS)}.")
        session = self.browse.session(store)
        ids = self.browse.matching_ids(store, *filters)
        if not ids:
            raise _error("No item matches these filters: change them, then download.")
        done = api.export_selection(session, ids, fmt, stem="browse")
        left = f" · {len(done.skipped)} left out (file gone or unreadable)" if done.skipped else ""
        message = f"{done.rows} items as a {EXPORT_FORMATS[fmt]}{left}."
        return _update(value=str(done.path), visible=True), message

    # ------------------------------------------------------------------------ diverse subset
    def diverse(
        self, store: str | None, k: float | None, seed: float | None, *filters: Any
    ) -> tuple[list[int], str]:
        """(the grid's new selection, message): ``k`` items of the current view that cover its
        embedding space; the grid then shows them and the downloads take them."""
        session = self.browse.session(store)
        pool = self.browse.matching_ids(store, *filters)
        chosen = api.diverse_subset(session, int(k or 0), int(seed or 0), pool)
        return chosen, (
            f"{len(chosen)} diverse items of {len(pool)} (k-means, seed {int(seed or 0)}): the "
            "grid shows them; the downloads take them; clear the selection to see every item."
        )

    # --------------------------------------------------------------------------------- viewer
    def view(
        self, store: str | None, current: int | None, step: int, *filters: Any
    ) -> tuple[Any, ...]:
        """The viewer at the item ``step`` places from ``current`` in the current view (0: that
        item; one not in the view: the view's first): (viewer shown, image, details HTML,
        position line, id, domain choice, class choice)."""
        ids = self.browse.matching_ids(store, *filters)
        if not ids:
            raise _error("No item matches these filters: nothing to show.")
        at = ids.index(current) if current in ids else 0
        at = min(max(at + (step if current in ids else 0), 0), len(ids) - 1)
        item = ids[at]
        session = self.browse.session(store)
        row = session.store.items.iloc[item]
        facets = self.browse.browser(store).facets()
        position = f"item {at + 1} of {len(ids)} · ← → or j k to move · Esc to close"
        return (
            _update(visible=True),
            api.item_image(session, row),
            details_html(row),
            position,
            item,
            _update(choices=list(facets["domains"]), value=_value(row["domain"])),
            _update(choices=list(facets["classes"]), value=_value(row["class"])),
        )

    def open_large(self, store: str | None, clicked: str, *filters: Any) -> tuple[Any, ...]:
        """The viewer at the item opened in the panel (or the view's first)."""
        text = (clicked or "").split(":", 1)[0].strip()
        return self.view(store, int(text) if text.isdigit() else None, 0, *filters)

    def key(self, store: str | None, pressed: str, current: int | None, *filters: Any) -> Any:
        """A key in the viewer (``next``, ``prev`` or ``close``, then ``:<time>``)."""
        name = (pressed or "").split(":", 1)[0]
        if name == "close" or current is None:
            import gradio as gr

            return (_update(visible=False),) + (gr.update(),) * 6
        return self.view(store, current, 1 if name == "next" else -1, *filters)

    def correct(
        self, store: str | None, current: int | None, domain: str | None, cls: str | None
    ) -> tuple[str, str]:
        """Save the viewer's domain and class for its item: (details HTML, message)."""
        if current is None:
            raise _error("Open an item in the viewer first.")
        session = self.browse.writable_session(store)
        changed = api.correct_label(session, [int(current)], domain or None, cls or None)
        row = session.store.items.iloc[int(current)]
        message = "Label corrected and saved." if changed else "The label was already so."
        return details_html(row), message


def _value(value: Any) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)


def details_html(row: Any) -> str:
    """What the viewer shows of an item: file name, id, domain, class (and where the labels
    came from), caption and prompt; every text escaped, a file name through ``shown_name``."""

    def text(key: str) -> str:
        value = _value(row[key])
        if not value:
            return "—"
        return esc_name(value) if key in ("domain", "class") else esc(value)

    name = _value(row["rel_path"]) or ""
    return (
        '<div class="cdir-viewer-details">'
        f'<div class="file"><b>{esc_name(name)}</b> · id {int(row["id"])}</div>'
        f'<div><span class="badge dom">{text("domain")}</span> '
        f'<span class="badge cls">{text("class")}</span> '
        f'<span class="src">labels: {text("label_source")}</span></div>'
        f'<div class="cap"><b>caption</b> {text("caption")}</div>'
        f'<div class="prompt"><b>prompt</b> {text("prompt")}</div></div>'
    )
