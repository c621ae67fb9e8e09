"""The Browse tab's handlers: the collection grid, map selection, item view, tags and duplicate
decisions. Each takes widget values and returns widget values (no layout here: see
:mod:`cdir.app.tabs.browse`); the work is done through :mod:`cdir.api`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir import api
from cdir.app import views
from cdir.app.views import esc, esc_name, file_url, shorten

if TYPE_CHECKING:
    from cdir.app.handlers import AppActions

log = logging.getLogger(__name__)

PAGE_SIZE = 48
PROMPT_CHOICES = [("any", "any"), ("with a prompt", "yes"), ("without", "no")]
STATUS_CHOICES = [("any", "any"), ("readable", "ok"), ("failed", "failed")]
SORT_CHOICES = [
    ("name", "name"),
    ("file size", "size"),
    ("date", "date"),
    ("similarity to the query below", "similarity"),
]


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message)


@dataclass
class BrowseActions:
    """Handlers bound to the app's actions (for the model root and the open collection)."""

    actions: AppActions

    def session(self, store: str | None) -> api.Session:
        if not store:
            raise _error(
                "Open a collection first: load the example collection or upload images "
                "on the Collection tab."
            )
        return api.session_for(store, self.actions.model_root)

    def writable_session(self, store: str | None) -> api.Session:
        """The session of a collection the visitor may change: tags and duplicate decisions on
        the shared examples are refused with one line (``Workspace.check_writable``)."""
        session = self.session(store)
        self.actions.workspace.check_writable(session.store.root)
        return session

    def browser(self, store: str | None) -> api.Browser:
        """One Browser per collection version (rebuilt when the collection changes)."""
        return api.browser(self.session(store))

    # ----------------------------------------------------------------------------- the grid
    def facets(self, store: str | None) -> tuple[Any, ...]:
        """Choices for the domain, class, label source and tag filters."""
        import gradio as gr

        if not store:
            return (gr.update(),) * 4
        facets = self.browser(store).facets()
        return tuple(
            gr.update(choices=[(f"{k} ({v})", k) for k, v in facets[name].items()])
            for name in ("domains", "classes", "label_sources", "tags")
        )

    def grid(
        self,
        store: str | None,
        domains: Sequence[str] | None,
        classes: Sequence[str] | None,
        sources: Sequence[str] | None,
        prompt: str,
        status: str,
        text: str,
        tags: Sequence[str] | None,
        sort: str,
        descending: bool,
        similar: str,
        page: float | None,
        selection: list[int] | None,
    ) -> tuple[str, str, int]:
        """(grid HTML, page line, page number shown) for the filter widgets' values."""
        if not store:
            return '<div class="cdir-empty">Open a collection first.</div>', "", 1
        browser = self.browser(store)
        query = self.query(
            domains, classes, sources, prompt, status, text, tags, sort, descending, page, selection
        )
        vector = self.similarity_vector(store, similar) if sort == "similarity" else None
        result = browser.query(query, query_vector=vector)
        line = (
            f"**{result.total}** of {browser.n} items · page {result.page + 1} of "
            f"{result.n_pages}"
            + (f" · {len(selection)} selected on the map" if selection is not None else "")
        )
        return grid_html(result.cards), line, result.page + 1

    @staticmethod
    def query(
        domains: Sequence[str] | None,
        classes: Sequence[str] | None,
        sources: Sequence[str] | None,
        prompt: str,
        status: str,
        text: str,
        tags: Sequence[str] | None,
        sort: str,
        descending: bool,
        page: float | None,
        selection: list[int] | None,
    ) -> api.GridQuery:
        return api.GridQuery(
            domains=tuple(domains or ()),
            classes=tuple(classes or ()),
            label_sources=tuple(sources or ()),
            has_prompt=None if prompt in (None, "any") else prompt == "yes",
            status=None if status in (None, "any") else status,
            text=text or "",
            tags=tuple(tags or ()),
            sort=sort or "name",
            descending=bool(descending),
            page=max(0, int(page or 1) - 1),
            page_size=PAGE_SIZE,
            ids=None if selection is None else tuple(selection),
        )

    def similarity_vector(self, store: str, similar: str) -> np.ndarray:
        """The query for a similarity sort: an item id (its image embedding) or a text (its
        CLIP text embedding, compared with the images)."""
        similar = (similar or "").strip()
        session = self.session(store)
        if not similar:
            raise _error("Sorting by similarity needs a query: type an item id or a few words.")
        if similar.isdigit():
            item = int(similar)
            if not 0 <= item < len(session.store.items) or session.store.image_emb is None:
                raise _error(f"No item {item}: ids run 0..{len(session.store.items) - 1}.")
            return session.store.image_emb[item]
        return api.text_vector(session, similar)

    def matching_ids(self, store: str | None, *filters: Any) -> list[int]:
        """Every item the current filters keep, in the grid's order (for "tag all matching").
        ``filters``: the grid's widgets, domains .. similar, page, selection (12 values)."""
        query = self.query(*filters[:9], 1, filters[11])
        vector = (
            self.similarity_vector(store or "", filters[9]) if query.sort == "similarity" else None
        )
        return self.browser(store).query(query, query_vector=vector).matched.tolist()

    # ------------------------------------------------------------------------------ the map
    def draw_map(
        self,
        store: str | None,
        method: str,
        vectors: str,
        color: str,
        named: bool,
        highlight: str | None = None,
    ) -> Any:
        """The map with box/lasso selection on, thumbnails for hover and, if asked, the
        clusters named from the captions."""
        session = self.session(store)
        fig = api.draw_map(
            session,
            method,
            vectors,
            color,
            named=named,
            thumb_url=lambda sha: file_url(str(session.store.thumb_path(sha))),
        )
        fig.update_layout(dragmode="lasso", clickmode="event+select")
        return fig

    def select_region(
        self, store: str | None, method: str, vectors: str, region: str
    ) -> tuple[list[int] | None, str]:
        """(selected ids, message) of a box or lasso drawn on the map (sent by the page as
        ``{"range": ...}`` or ``{"lassoPoints": ...}``; empty: selection cleared)."""
        body = (region or "").rsplit("|", 1)[0]
        selection = json.loads(body) if body.strip() else {}
        if not selection:
            return None, "Selection cleared: the grid shows every item."
        session = self.session(store)
        ids = api.region_ids(session, method, vectors, selection)
        return ids, f"{len(ids)} items selected on the map: the grid shows them."

    # ---------------------------------------------------------------------------- one item
    def open_item(self, store: str | None, clicked: str) -> tuple[Any, str, str]:
        """(image path, metadata Markdown, neighbours and exact copies HTML) of a clicked card."""
        item = _clicked_id(clicked)
        if item is None:
            return None, "", ""
        session = self.session(store)
        items = session.store.items
        if not 0 <= item < len(items):
            raise _error(f"No item {item} in this collection.")
        row = items.iloc[item]
        image = api.item_image(session, row)
        neighbours = ""
        if row["status"] == "ok":
            result = api.search(session, item_id=item)
            neighbours = views.cards_row("Its caption-matching neighbours", result.hits)
            same = items.index[(items["pixel_sha256"] == row["pixel_sha256"]).fillna(False)]
            copies = [int(i) for i in same if int(i) != item]
            if copies:
                neighbours += f"<p>Exact copies (identical pixels): items {copies}</p>"
        return image, item_markdown(row, self.browser(store).tags.get(item, [])), neighbours

    # -------------------------------------------------------------------------------- tags
    def tag(
        self, store: str | None, action: str, tag: str, scope: str, item: str, *filters: Any
    ) -> str:
        """Add or remove ``tag`` on the opened item, the shown page or every matching item."""
        session = self.writable_session(store)
        if scope == "item":
            chosen = [] if _clicked_id(item) is None else [_clicked_id(item)]
            if not chosen:
                raise _error("Click a card first to open an item, then tag it.")
        else:
            chosen = self.matching_ids(store, *filters)
            if scope == "page":
                page = max(0, int(filters[10] or 1) - 1)
                chosen = chosen[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        if action == "add":
            n = api.add_tags(session, chosen, [tag])
            return f"Tag **{esc(tag)}** added to {n} of {len(chosen)} items."
        n = api.remove_tags(session, chosen, [tag])
        return f"Tag **{esc(tag)}** removed from {n} items."


def _clicked_id(clicked: str | None) -> int | None:
    text = (clicked or "").split(":", 1)[0].strip()
    return int(text) if text.isdigit() else None


# --------------------------------------------------------------------------------- rendering
def grid_html(cards: Sequence[dict[str, Any]]) -> str:
    if not cards:
        return '<div class="cdir-empty">No item matches these filters.</div>'
    return '<div class="cdir-cards cdir-browse-grid">' + "".join(map(card_html, cards)) + "</div>"


def card_html(card: dict[str, Any]) -> str:
    """A grid card: thumbnail, file name, domain and class, caption, prompt, tags."""
    badges = "".join(
        f'<span class="badge {kind}">{esc(card[key])}</span>'
        for kind, key in (("dom", "domain"), ("cls", "class"))
        if card.get(key)
    )
    tags = "".join(f'<span class="badge tag">{esc(t)}</span>' for t in card["tags"])
    score = (
        f'<span class="score">{card["score"]:.3f}</span>'
        if card.get("score") is not None and np.isfinite(card["score"])
        else ""
    )
    prompt = (
        f'<div class="prompt">prompt: {esc(shorten(card["prompt"], 90))}</div>'
        if card.get("prompt")
        else ""
    )
    caption = (
        esc(card["caption"])
        if card.get("caption")
        else (f"<i>{esc(card['error'] or 'failed')}</i>" if card["status"] != "ok" else "")
    )
    image = (
        f'<img src="{file_url(card["thumb"])}" alt="{esc_name(card["file"])}" loading="lazy">'
        if card["status"] == "ok"
        else '<div class="empty">unreadable</div>'
    )
    return (
        f'<div class="cdir-card" data-browse-id="{card["id"]}" '
        f'title="{esc_name(card["file"])}">'
        f'{image}<div class="meta">{score}{badges}{tags}</div>'
        f'<div class="file" title="{esc_name(card["file"])}">{esc_name(card["file"])}</div>'
        f'<div class="cap">{caption}</div>'
        f"{prompt}</div>"
    )


def item_markdown(row: Any, tags: Sequence[str]) -> str:
    import pandas as pd

    def value(key: str) -> str:
        v = row[key]
        return "—" if v is None or pd.isna(v) or str(v) == "" else esc_name(v)

    lines = [
        f"**{value('rel_path')}** · id {int(row['id'])}",
        f"domain **{value('domain')}** · class **{value('class')}** (from "
        f"{value('label_source')}) · {int(row['width'])}×{int(row['height'])} px · "
        f"{int(row['file_size'])} bytes",
        f"**caption** {value('caption')}",
        f"**prompt** {value('prompt')}",
        f"**tags** {', '.join(esc(t) for t in tags) or '—'}",
    ]
    if row["status"] != "ok":
        lines.append(f"**unreadable** {value('error')}")
    return "\n\n".join(lines)
