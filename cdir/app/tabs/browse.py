"""The Browse panel's layout and wiring: the filtered grid, the map's box/lasso selection, one item,
tags, and the tools of :mod:`cdir.app.tabs.browse_tools` (saved views, downloads, a diverse subset,
the large viewer). Handlers live in :mod:`cdir.app.browse`; the Collection tab
(:mod:`cdir.app.tabs.collection`) adds the panel with one call to :func:`build_browse_tab`.

Duplicates are reviewed in one place, the Duplicates tab: the panel's "review its duplicates"
button opens that tab at the group of the item opened here (wired in :mod:`cdir.app.main`, see
:func:`cdir.app.tabs.duplicates.link_review`).

Clicks that gradio components cannot report go through hidden textboxes, as in ``app.js``: a
card (``#browse-click``), a region drawn on the map (``#browse-region``: the plotly
``range``/``lassoPoints`` as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdir import api
from cdir.app.browse import (
    PROMPT_CHOICES,
    SORT_CHOICES,
    STATUS_CHOICES,
    BrowseActions,
)
from cdir.app.browse_tools import BrowseTools
from cdir.app.tabs.browse_script import JS, STYLE
from cdir.app.tabs.browse_tools import BrowseToolsUI, build_tools, wire_tools

if TYPE_CHECKING:
    import gradio as gr

    from cdir.app.handlers import AppActions

# The panel's events are page wiring, kept off the API page (cdir.app.endpoints is the API).
PRIVATE = {
    "api_name": False,
    "api_visibility": "private",
    "concurrency_id": "light",
    "concurrency_limit": 2,
}


@dataclass
class BrowseMap:
    """The panel's map: drawn on demand, a box or lasso on it selects the grid's items."""

    method: gr.Radio
    vectors: gr.Radio
    color: gr.Radio
    named: gr.Checkbox
    draw: gr.Button
    clear: gr.Button
    sel_md: gr.Markdown
    caption: gr.Markdown  # what the drawn map shows, in one plain sentence
    plot: gr.Plot


@dataclass
class BrowseTab:
    """The Browse panel's widgets. It clears no view of its own when another collection opens:
    its facets and grid are drawn again for the new one (``store.change``)."""

    tab: gr.Accordion
    domains: gr.Dropdown
    classes: gr.Dropdown
    sources: gr.Dropdown
    tags: gr.Dropdown
    text: gr.Textbox
    prompt: gr.Radio
    status: gr.Radio
    sort: gr.Dropdown
    descending: gr.Checkbox
    similar: gr.Textbox
    page: gr.Number
    prev: gr.Button
    next: gr.Button
    page_md: gr.Markdown
    grid: gr.HTML
    item_image: gr.Image
    item_md: gr.Markdown
    tag: gr.Textbox
    scope: gr.Radio
    tag_add: gr.Button
    tag_remove: gr.Button
    tag_md: gr.Markdown
    item_html: gr.HTML
    view_large: gr.Button  # opens the large viewer at the item
    review_dupes: gr.Button  # opens the Duplicates tab at the item's group
    map: BrowseMap
    click: gr.Textbox  # a clicked card (#browse-click)
    region: gr.Textbox  # a region drawn on the map (#browse-region)
    selection: gr.State  # the ids selected on the map (None: every item)
    drawn: gr.State  # (method, vectors) of the map on screen
    tools: BrowseToolsUI  # saved views, downloads, diverse subset, the viewer

    def filters(self) -> list:
        """The grid's filter widgets, in ``BrowseActions.grid`` order."""
        return [
            self.domains,
            self.classes,
            self.sources,
            self.prompt,
            self.status,
            self.text,
            self.tags,
            self.sort,
            self.descending,
            self.similar,
        ]

    def facets(self) -> list:
        return [self.domains, self.classes, self.sources, self.tags]

    def stale(self) -> list[tuple[Any, Any]]:
        return []


def build_browse_tab(actions: AppActions, store: Any) -> BrowseTab:
    """Lay out the Browse panel (an accordion, opened on demand, placed in the Collection tab so
    the tab bar keeps its width) and wire it; ``store`` is the app's ``gr.State`` holding the
    open collection's path. Returns its widgets."""
    import gradio as gr

    browse = BrowseActions(actions)
    with gr.Accordion(
        "Browse the whole collection: filter, select on the map, tag, save views, download",
        open=False,
        elem_id="browse-panel",
    ) as tab:
        gr.HTML(STYLE, js_on_load=JS, elem_id="browse-js")
        with gr.Row():
            facets = [
                gr.Dropdown([], multiselect=True, label=label, elem_id=f"browse-{key}")
                for key, label in (
                    ("domains", "Domain"),
                    ("classes", "Class"),
                    ("sources", "Label source"),
                    ("tags", "Tag"),
                )
            ]
        with gr.Row():
            text = gr.Textbox(
                label="Words in file name, caption or prompt (Enter)",
                elem_id="browse-text",
                scale=2,
            )
            prompt = gr.Radio(PROMPT_CHOICES, value="any", label="Prompt")
            status = gr.Radio(STATUS_CHOICES, value="any", label="Status")
        with gr.Row():
            sort = gr.Dropdown(SORT_CHOICES, value="name", label="Sort by")
            descending = gr.Checkbox(label="Descending")
            similar = gr.Textbox(label="Similar to: an item id or words", elem_id="browse-similar")
            page = gr.Number(
                value=1, precision=0, minimum=1, label="Page", elem_id="browse-page-number"
            )
            prev = gr.Button("◀ previous", elem_id="browse-prev")
            next_ = gr.Button("next ▶", elem_id="browse-next")
        with gr.Row():
            with gr.Column(scale=3):
                page_md = gr.Markdown("", elem_id="browse-page")
                grid = gr.HTML("", elem_id="browse-grid")
            with gr.Column(scale=2):
                item_image = gr.Image(label="The item", interactive=False, height=260)
                item_md = gr.Markdown("Click a card to open it.", elem_id="browse-item")
                view_large = gr.Button(
                    "⤢ View large (← → or j k: previous, next; Esc: close)",
                    elem_id="browse-view-large",
                    size="sm",
                )
                review_dupes = gr.Button(
                    "Review its duplicates (Duplicates tab)",
                    elem_id="browse-review-dupes",
                    size="sm",
                )
                with gr.Row():
                    tag = gr.Textbox(label="Tag", elem_id="browse-tag")
                    scope = gr.Radio(
                        [
                            ("this item", "item"),
                            ("this page", "page"),
                            ("every matching item", "matching"),
                        ],
                        value="matching",
                        label="Tag what",
                        elem_id="browse-scope",
                    )
                with gr.Row():
                    tag_add = gr.Button("Add tag", elem_id="browse-tag-add")
                    tag_remove = gr.Button("Remove tag", elem_id="browse-tag-remove")
                tag_md = gr.Markdown("", elem_id="browse-tag-result")
                item_html = gr.HTML("", elem_id="browse-item-neighbours")
        tools = build_tools()
        map_panel = _map_panel()
        click, region = (
            gr.Textbox(visible="hidden", elem_id=f"browse-{key}") for key in ("click", "region")
        )
    ui = BrowseTab(
        tab,
        *facets,
        text,
        prompt,
        status,
        sort,
        descending,
        similar,
        page,
        prev,
        next_,
        page_md,
        grid,
        item_image,
        item_md,
        tag,
        scope,
        tag_add,
        tag_remove,
        tag_md,
        item_html,
        view_large,
        review_dupes,
        map_panel,
        click,
        region,
        gr.State(None),
        gr.State(None),
        tools,
    )
    _wire(browse, ui, store)
    wire_tools(BrowseTools(browse), tools, ui, store)
    return ui


def _map_panel() -> BrowseMap:
    import gradio as gr

    with gr.Accordion(
        "Map: draw a box or a lasso to show those items in the grid",
        open=False,
        elem_id="browse-map-panel",
    ):
        with gr.Row():
            method = gr.Radio(
                [("UMAP", "umap"), ("t-SNE", "tsne"), ("PCA", "pca")],
                value="umap",
                label="Projection",
                elem_id="browse-method",
            )
            vectors = gr.Radio(["image", "caption"], value="image", label="Embeddings")
            color = gr.Radio(["domain", "class", "cluster"], value="domain", label="Colour by")
            named = gr.Checkbox(label="Name the clusters from the captions", elem_id="browse-named")
        with gr.Row():
            draw = gr.Button("Draw the map", variant="primary", elem_id="browse-draw")
            clear = gr.Button("Clear the selection", elem_id="browse-clear")
        sel_md = gr.Markdown("", elem_id="browse-selection")
        caption = gr.Markdown("", elem_id="browse-map-caption")
        plot = gr.Plot(elem_id="browse-map")
    return BrowseMap(method, vectors, color, named, draw, clear, sel_md, caption, plot)


def _wire(browse: BrowseActions, ui: BrowseTab, store: Any) -> None:
    import functools

    from cdir.app.wrappers import as_gr_error

    filters = ui.filters()
    shown = [ui.grid, ui.page_md, ui.page]

    def first_page(store_path: str | None, *values: Any) -> tuple[str, str, int]:
        return browse.grid(store_path, *values[:10], 1, values[10])

    def step(delta: int, store_path: str | None, *values: Any) -> tuple[str, str, int]:
        page = max(1, int(values[10] or 1) + delta)
        return browse.grid(store_path, *values[:10], page, values[11])

    refresh = as_gr_error(first_page)
    inputs = [store, *filters, ui.selection]
    for widget in filters:
        if widget in (ui.text, ui.similar):
            widget.submit(refresh, inputs, shown, **PRIVATE)
        else:
            widget.change(refresh, inputs, shown, **PRIVATE)
    paged = [store, *filters, ui.page, ui.selection]
    ui.page.submit(as_gr_error(browse.grid), paged, shown, **PRIVATE)
    ui.prev.click(as_gr_error(functools.partial(step, -1)), paged, shown, **PRIVATE)
    ui.next.click(as_gr_error(functools.partial(step, 1)), paged, shown, **PRIVATE)
    facet_widgets = ui.facets()
    for event in (ui.tab.expand, store.change):  # opened, or another collection opened
        event(as_gr_error(browse.facets), [store], facet_widgets, **PRIVATE).then(
            refresh, inputs, shown, **PRIVATE
        )
    ui.click.change(
        as_gr_error(browse.open_item),
        [store, ui.click],
        [ui.item_image, ui.item_md, ui.item_html],
        **PRIVATE,
    )
    for action, button in (("add", ui.tag_add), ("remove", ui.tag_remove)):
        button.click(
            as_gr_error(functools.partial(_tag, browse, action)),
            [store, ui.tag, ui.scope, ui.click, *paged[1:]],
            [ui.tag_md],
            **PRIVATE,
        ).then(as_gr_error(browse.facets), [store], facet_widgets, **PRIVATE).then(
            as_gr_error(browse.grid), paged, shown, **PRIVATE
        )
    m = ui.map
    map_inputs = [store, m.method, m.vectors, m.color, m.named]

    def draw(
        store_path: str | None, method: str, vectors: str, color: str, named: bool
    ) -> tuple[Any, str, list]:
        figure = browse.draw_map(store_path, method, vectors, color, named)
        return figure, api.map_caption(method, vectors, color, named), [method, vectors]

    def select(store_path: str | None, drawn: list | None, region: str) -> tuple[Any, str]:
        method, vectors = drawn or ("umap", "image")  # the projection on screen
        return browse.select_region(store_path, method, vectors, region)

    m.draw.click(as_gr_error(draw), map_inputs, [m.plot, m.caption, ui.drawn], **PRIVATE)
    ui.region.change(
        as_gr_error(select), [store, ui.drawn, ui.region], [ui.selection, m.sel_md], **PRIVATE
    ).then(refresh, inputs, shown, **PRIVATE)
    m.clear.click(
        lambda: (None, "Selection cleared: the grid shows every item."),
        None,
        [ui.selection, m.sel_md],
        **PRIVATE,
    ).then(refresh, inputs, shown, **PRIVATE)


def _tag(
    browse: BrowseActions,
    action: str,
    store: str | None,
    tag: str,
    scope: str,
    item: str,
    *filters: Any,
) -> str:
    return browse.tag(store, action, tag, scope, item, *filters)
