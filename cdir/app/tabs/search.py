"""The Search tab: a query (an image, a sketch, a text or a clicked result), the search settings,
the results as cards and as a table, and their download."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from cdir import api
from cdir.app import handlers as webui
from cdir.app.handlers import AppActions
from cdir.app.tabs import Downloads, Page, Stale, downloads_row, offered
from cdir.app.widgets import refuse_unreadable
from cdir.app.wrappers import on


@dataclass
class SearchTab:
    tab: gr.Tab
    q_image: gr.Image
    img_btn: gr.Button
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
    query_md: gr.Markdown
    results: gr.HTML
    table: gr.Dataframe
    downloads: Downloads
    query: gr.State  # the current query, re-run when a setting changes

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
        ]


def build() -> SearchTab:
    with gr.Tab("Search", id="search") as tab, gr.Row():
        with gr.Column(scale=1, min_width=340):
            with gr.Tabs():
                with gr.Tab("Image"):
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
                with gr.Tab("Sketch"):
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
                with gr.Tab("Text"):
                    q_text = gr.Textbox(
                        label="Describe what you are looking for", placeholder="a red boat"
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
                webui.MODE_CHOICES, value="caption", label="Retrieval mode", elem_id="mode"
            )
            k = gr.Slider(1, 48, value=12, step=1, label="Results (k)")
            cross = gr.Checkbox(
                label="Cross-domain view: one row per target domain", elem_id="cross-domain"
            )
            domains = gr.CheckboxGroup([], label="Target domains (none ticked = all)")
            with gr.Accordion("Style words and fusion weights", open=False):
                # on by default: the measured-best variant (docs/reproducing.md)
                neutral = gr.Checkbox(
                    True,
                    label="Remove style words from captions before "
                    "matching ('a sketch of', 'painting', ...)",
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
            with gr.Accordion("Scores as a table", open=False):
                table = gr.Dataframe(headers=webui.views.HITS_HEADERS, wrap=True, interactive=False)
            downloads = downloads_row(
                "search",
                [("json", "Download results (JSON)"), ("csv", "Download results (CSV)")],
                "Results with their scores",
            )
        query = gr.State(None)
    return SearchTab(
        tab,
        q_image,
        img_btn,
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
        query_md,
        results,
        table,
        downloads,
        query,
    )


def wire(ui: SearchTab, actions: AppActions, page: Page) -> None:
    settings = ui.settings()
    results = [ui.query_md, ui.results, ui.table]
    searched = [*results, ui.query, ui.current]
    for event, kind, value in (
        (ui.img_btn.click, "image", ui.q_image),
        (ui.q_image.upload, "image", ui.q_image),
        (ui.sketch_btn.click, "sketch", ui.sketch),
        (ui.text_btn.click, "text", ui.q_text),
        (ui.q_text.submit, "text", ui.q_text),
        (page.result_click.change, "item", page.result_click),
    ):
        # a query dropped while the previous one is still captioned runs after it, not never
        on(
            event,
            functools.partial(actions.ui_search_stages, kind),
            [page.store, value, *settings],
            searched,
            trigger_mode="always_last",
        )
    # any option change re-runs the current query with the new options
    for widget, trigger in (
        (ui.mode, "change"),
        (ui.k, "release"),
        (ui.cross, "change"),
        (ui.domains, "change"),
        (ui.neutral, "change"),
        (ui.words, "blur"),
        (ui.w_img, "release"),
        (ui.w_cap, "release"),
        (ui.w_cc, "release"),
    ):
        on(
            getattr(widget, trigger),
            actions.rerun_stages,
            [page.store, ui.query, *settings],
            results,
        )


def wire_downloads(ui: SearchTab, actions: AppActions, page: Page) -> None:
    for fmt, button in ui.downloads.buttons.items():
        on(
            button.click,
            offered(functools.partial(actions.download_search, fmt)),
            [page.store, ui.query, *ui.settings()],
            [ui.downloads.file],
        )
