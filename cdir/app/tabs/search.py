"""The Search tab: a query (an image, a sketch, a text or a clicked result), the search settings,
the results as cards and as a table, and their download."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import handlers as webui
from cdir.app.handlers import AppActions
from cdir.app.links import PAGE_URL_JS, link_mode
from cdir.app.queries import MODE_INFO, mode_widget
from cdir.app.tabs import Downloads, Page, Stale, downloads_row, offered
from cdir.app.widgets import refuse_unreadable
from cdir.app.wrappers import concurrency, on


@dataclass
class SearchTab:
    tab: gr.Tab
    query_tabs: gr.Tabs  # image (and image URL), sketch, text
    q_image: gr.Image
    img_btn: gr.Button
    q_url: gr.Textbox
    url_btn: gr.Button
    sketch: gr.Sketchpad
    sketch_btn: gr.Button
    q_text: gr.Textbox
    text_btn: gr.Button
    current: gr.Image
    mode: gr.Radio
    k: gr.Slider
    cross: gr.Checkbox
    domains: gr.CheckboxGroup
    neutral: gr.Checkbox
    words: gr.Textbox
    w_img: gr.Slider
    w_cap: gr.Slider
    w_cc: gr.Slider
    show_dupes: gr.Checkbox
    query_md: gr.Markdown
    results: gr.HTML
    table: gr.Dataframe
    downloads: Downloads
    link: gr.Textbox  # the link to the current search (cdir.app.links)
    page_url: gr.Textbox  # the page's own address, from the browser
    query: gr.State  # the current query, re-run when a setting changes
    link_query: gr.State  # the query a page opened at a search link runs

    def settings(self) -> list:
        """The search settings, in ``SearchSettings.from_widgets`` order."""
        return [
            self.mode,
            self.k,
            self.cross,
            self.domains,
            self.neutral,
            self.words,
            self.w_img,
            self.w_cap,
            self.w_cc,
            self.show_dupes,
        ]

    def stale(self) -> Stale:
        return [
            (
                self.query_md,
                "Choose a query on the left. Click any result to search for more like it.",
            ),
            (self.results, '<div class="cdir-empty">Results appear here.</div>'),
            (self.table, []),
            (self.query, None),
            (self.current, None),
            (self.downloads.file, Downloads.emptied()),
            (self.link, ""),
        ]


def build() -> SearchTab:
    with gr.Tab("Search", id="search") as tab, gr.Row():
        with gr.Column(scale=1, min_width=340):
            with gr.Tabs() as query_tabs:
                with gr.Tab("Image", id="image"):
                    q_image = refuse_unreadable(
                        gr.Image(
                            type="filepath",
                            sources=["upload", "clipboard"],
                            height=240,
                            label="Query image: drop, paste or click",
                            elem_id="query-image",
                        )
                    )
                    img_btn = gr.Button("Search with this image", variant="primary")
                    q_url = gr.Textbox(
                        label="…or the address of an image (http or https)",
                        placeholder="https://example.org/picture.jpg",
                        elem_id="query-url",
                    )
                    url_btn = gr.Button("Search with this URL", elem_id="search-url")
                with gr.Tab("Sketch", id="sketch"):
                    sketch = gr.Sketchpad(
                        type="pil",
                        canvas_size=(384, 384),
                        label="Draw a query",
                        elem_id="query-sketch",
                        brush=gr.Brush(
                            default_size=3,
                            colors=["#000000"],
                            default_color="#000000",
                            color_mode="fixed",
                        ),
                    )
                    sketch_btn = gr.Button("Search with this sketch", variant="primary")
                with gr.Tab("Text", id="text"):
                    q_text = gr.Textbox(
                        label="Describe what you are looking for",
                        placeholder="a red boat",
                        elem_id="query-text",
                    )
                    text_btn = gr.Button("Search with this text", variant="primary")
            current = gr.Image(
                label="Current query",
                interactive=False,
                height=150,
                elem_id="current-query",
                show_label=True,
            )
            mode = gr.Radio(
                webui.MODE_CHOICES,
                value="caption",
                label="Retrieval mode",
                info=MODE_INFO,
                elem_id="mode",
            )
            k = gr.Slider(1, 48, value=12, step=1, label="Results (k)", elem_id="results-k")
            cross = gr.Checkbox(
                label="Cross-domain view: one row per target domain", elem_id="cross-domain"
            )
            show_dupes = gr.Checkbox(
                False,
                label="Show near-duplicates as their own results (off: one card per group)",
                elem_id="show-duplicates",
            )
            domains = gr.CheckboxGroup([], label="Target domains (none ticked = all)")
            with gr.Accordion("Style words and fusion weights", open=False):
                # on by default: the measured-best variant (docs/reproducing.md)
                neutral = gr.Checkbox(
                    True,
                    label="Remove style words from captions before "
                    "matching ('a sketch of', 'painting', ...)",
                    elem_id="neutral-words",
                )
                words = gr.Textbox(
                    api.default_style_words(), lines=6, label="Style words (one per line)"
                )
                w_img = gr.Slider(0, 2, value=0.5, step=0.1, label="fusion: image → image")
                w_cap = gr.Slider(0, 2, value=1.0, step=0.1, label="fusion: caption → image")
                w_cc = gr.Slider(0, 2, value=0.5, step=0.1, label="fusion: caption → caption")
        with gr.Column(scale=2):
            query_md = gr.Markdown(
                "Choose a query on the left. Click any result to search for more like it.",
                elem_id="query-info",
            )
            results = gr.HTML(
                '<div class="cdir-empty">Results appear here.</div>', elem_id="results"
            )
            link = gr.Textbox(
                "",
                label="Link to this search (copy it to share; it names the collection, the "
                "query, the mode and k)",
                placeholder="Search for something to get its link.",
                interactive=False,
                buttons=["copy"],
                elem_id="share-link",
            )
            page_url = gr.Textbox("", visible="hidden", elem_id="page-url")
            with gr.Accordion("Scores as a table", open=False):
                table = gr.Dataframe(headers=webui.views.HITS_HEADERS, wrap=True, interactive=False)
            downloads = downloads_row(
                "search",
                [("json", "Download results (JSON)"), ("csv", "Download results (CSV)")],
                "Results with their scores",
            )
        query = gr.State(None)
        link_query = gr.State(None)
    return SearchTab(
        tab,
        query_tabs,
        q_image,
        img_btn,
        q_url,
        url_btn,
        sketch,
        sketch_btn,
        q_text,
        text_btn,
        current,
        mode,
        k,
        cross,
        domains,
        neutral,
        words,
        w_img,
        w_cap,
        w_cc,
        show_dupes,
        query_md,
        results,
        table,
        downloads,
        link,
        page_url,
        query,
        link_query,
    )


def wire(ui: SearchTab, actions: AppActions, page: Page) -> None:
    settings = ui.settings()
    results = [ui.query_md, ui.results, ui.table]
    searched = [*results, ui.query, ui.current]
    shared = [page.store, ui.query, ui.page_url, ui.mode, ui.k]  # the link's inputs
    for event, kind, value in (
        (ui.img_btn.click, "image", ui.q_image),
        (ui.q_image.upload, "image", ui.q_image),
        (ui.url_btn.click, "url", ui.q_url),
        (ui.q_url.submit, "url", ui.q_url),
        (ui.sketch_btn.click, "sketch", ui.sketch),
        (ui.text_btn.click, "text", ui.q_text),
        (ui.q_text.submit, "text", ui.q_text),
        (page.result_click.change, "item", page.result_click),
    ):
        # a query dropped while the previous one is still captioned runs after it, not never
        ran = on(
            event,
            functools.partial(actions.ui_search_stages, kind),
            [page.store, value, *settings],
            searched,
            trigger_mode="always_last",
        )
        on(ran.then, actions.share_link, shared, [ui.link])
        # a text query greys the modes out, saying why; any other query makes them usable
        on(event, functools.partial(mode_widget, kind), None, [ui.mode])
    # any option change re-runs the current query with the new options
    # mode and k on the visitor's input only (a link restoring them runs its own search): k
    # typed in its number box or dragged (the last value wins while a search runs)
    for widget, trigger in (
        (ui.mode, "input"),
        (ui.k, "input"),
        (ui.cross, "change"),
        (ui.domains, "change"),
        (ui.neutral, "change"),
        (ui.words, "blur"),
        (ui.w_img, "release"),
        (ui.w_cap, "release"),
        (ui.w_cc, "release"),
        (ui.show_dupes, "change"),
    ):
        ran = on(
            getattr(widget, trigger),
            actions.rerun_stages,
            [page.store, ui.query, *settings],
            results,
            trigger_mode="always_last",
        )
        on(ran.then, actions.share_link, shared, [ui.link])


def wire_downloads(ui: SearchTab, actions: AppActions, page: Page) -> None:
    for fmt, button in ui.downloads.buttons.items():
        on(
            button.click,
            offered(functools.partial(actions.download_search, fmt)),
            [page.store, ui.query, *ui.settings()],
            [ui.downloads.file],
        )


def wire_link(
    ui: SearchTab, actions: AppActions, page: Page, greeted: Any, loaded: list, tabs: gr.Tabs
) -> None:
    """A page opened at a search link (``cdir.app.links``), once the visitor's owner key is
    known (``greeted``: the page-load event that reads it): open the collection (``loaded``:
    the outputs of opening one), restore the query, mode and k, show this tab, run the query,
    and show its link."""
    greeted.then(
        None,
        None,
        [ui.page_url],
        js=PAGE_URL_JS,
        api_name=False,
        api_visibility="private",
        **concurrency(False),  # in the light queue group, as every page event
    )
    restored = [ui.q_text, ui.q_url, ui.mode, ui.k, tabs, ui.query_tabs, ui.link_query]
    opened = on(greeted.then, actions.open_link, [page.owner], [*loaded, *restored])
    searched = [ui.query_md, ui.results, ui.table, ui.query, ui.current]
    ran = on(opened.then, actions.run_link, [page.store, ui.link_query, *ui.settings()], searched)
    shown = on(ran.then, link_mode, [ui.link_query], [ui.mode])
    on(
        shown.then,
        actions.share_link,
        [page.store, ui.query, ui.page_url, ui.mode, ui.k],
        [ui.link],
    )
