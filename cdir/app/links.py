"""A search as a link (``cdir.api.links``): the Search tab's "Link to this search" box, and a page
opened at such a link restoring the collection, the query, the mode and k, then running it.

The link names the collection only; opening it checks the collection as every other open does
(``Workspace.path``), so another visitor's collection gets the same one line as a missing one.
Anyone may open a link to the example collection: it is built first when this server has not
built it yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from cdir import api
from cdir.app.queries import mode_widget
from cdir.app.widgets import _clicked_id

# the script that gives the page's own address (without its query) to the link box's handler
PAGE_URL_JS = "() => window.location.origin + window.location.pathname"


class LinkActions:
    """The link handlers; mixed into ``AppActions`` (its workspace, preset, stale views,
    ``collection_view``, ``load_examples`` and ``ui_search_stages``)."""

    workspace: Any
    preset: str
    stale: tuple[Any, ...]

    def share_link(
        self, store: str | None, query: dict[str, Any] | None, page_url: str, mode: str, k: int
    ) -> Any:
        """The link box after a search: the page's address with the search in its query string,
        or empty with the one line that says why there is none (an upload, a sketch)."""
        if not store or not query:
            return gr.update(value="", placeholder="Search for something to get its link.")
        value = query["value"]
        if query["kind"] == "item":
            value = _clicked_id(value)
            value = "" if value is None else value
        try:
            link = api.query_link(Path(store).name, query["kind"], value, mode, k)
        except api.UserInputError as exc:
            return gr.update(value="", placeholder=str(exc))
        return gr.update(value=f"{page_url or ''}{link.query_string()}")

    def open_link(self, owner: str | None, request: gr.Request) -> tuple[Any, ...]:
        """On page load: when the address names a search (``api.parse_query_link``), open its
        collection (``collection_view``'s outputs), fill the query box, the mode and k, show the
        Search tab and the query's panel, and hand the query to ``run_link``; otherwise change
        nothing. Refuses, in the same words as for a missing one, a collection the visitor may
        not see."""
        params = dict(getattr(request, "query_params", None) or {})
        link = api.parse_query_link(params)
        if link is None:
            return tuple(gr.update() for _ in range(len(self.stale) + 14))
        examples = self.workspace.examples_dir(self.preset)
        if link.collection == examples.name and not api.is_built(examples):
            view = self.load_examples(self.preset, None, owner)  # type: ignore[attr-defined]
        else:
            path = self.workspace.path(link.collection, owner)
            view = self.collection_view(str(path), (), owner)  # type: ignore[attr-defined]
        value = f"{link.value}:link" if link.kind == "item" else link.value
        return (
            *view,
            gr.update(value=link.value) if link.kind == "text" else gr.update(),
            gr.update(value=link.value) if link.kind == "url" else gr.update(),
            gr.update(value=link.mode),
            gr.update(value=link.k),
            gr.Tabs(selected="search"),
            gr.Tabs(selected="image" if link.kind == "url" else "text")
            if link.kind in ("text", "url")
            else gr.update(),
            {"kind": link.kind, "value": value, "mode": link.mode, "k": link.k},
        )

    def run_link(
        self, store: str | None, query: dict[str, Any] | None, *settings: Any
    ) -> Iterator[tuple[Any, ...]]:
        """Run the search a link restored (``ui_search_stages``'s outputs) with the link's mode
        and k (the widgets may not show them yet); nothing without one."""
        if not store or not query:
            yield tuple(gr.update() for _ in range(5))
            return
        chosen = [query.get("mode", settings[0]), query.get("k", settings[1]), *settings[2:]]
        yield from self.ui_search_stages(  # type: ignore[attr-defined]
            query["kind"], store, query["value"], *chosen
        )


def link_mode(query: dict[str, Any] | None) -> Any:
    """The mode radio after a link's query ran (``mode_widget``); unchanged without one."""
    return mode_widget(query["kind"]) if query else gr.update()
