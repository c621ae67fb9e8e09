"""The How-it-works tab: the method explained, and the worked example run on the examples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views
from cdir.app.handlers import AppActions
from cdir.app.media import EXAMPLES_DIR
from cdir.app.tabs import Page, Stale
from cdir.app.wrappers import on

METHOD_HTML = (Path(__file__).resolve().parents[1] / "static" / "method.html").read_text(
    encoding="utf-8"
)


@dataclass
class MethodTab:
    tab: gr.Tab
    worked_btn: gr.Button
    worked_html: gr.HTML
    worked_md: gr.Markdown

    def stale(self) -> Stale:
        return [(self.worked_html, ""), (self.worked_md, "")]


def build() -> MethodTab:
    with gr.Tab("How it works", id="method") as tab:
        gr.HTML(METHOD_HTML)
        worked_btn = gr.Button(
            "Run the worked example on the example collection",
            variant="primary",
            elem_id="worked-example",
        )
        worked_html = gr.HTML("", elem_id="worked-html")
        worked_md = gr.Markdown("", elem_id="worked-summary")
    return MethodTab(tab, worked_btn, worked_html, worked_md)


def wire(ui: MethodTab, actions: AppActions, page: Page) -> None:
    def worked(progress: gr.Progress = gr.Progress()) -> tuple:
        return worked_example(actions, progress)

    on(ui.worked_btn.click, worked, None, [ui.worked_html, ui.worked_md], heavy=True)


WORKED_QUERY = EXAMPLES_DIR / "sketch" / "house" / "sketch_house_01.jpg"


def worked_example(actions: AppActions, progress: Any = None) -> tuple[str, str]:
    """The Method tab's live example: a sketch of a house as the query, its caption, and the top
    results of image → image next to caption matching, with what they show counted."""
    store = actions.workspace.examples_dir(actions.preset)
    if not (store / "meta.json").is_file():
        actions.load_examples(actions.preset, progress)
    session = api.session_for(store, actions.model_root)
    # across domains, as the method is meant: the sketch's matches among the other styles; CM
    # with its style words removed, the variant measured best (docs/reproducing.md)
    others = tuple(d for d in api.domains_of(session.store) if d != "sketch")
    rows = [
        (
            mode,
            api.search(
                session,
                image=WORKED_QUERY,
                options=api.SearchOptions(
                    mode=mode, k=6, domains=others, neutralise=mode == "caption"
                ),
            ),
        )
        for mode in ("image", "caption")
    ]
    caption = rows[1][1].query.caption or ""
    html = (
        f'<div class="cdir-worked"><img src="{views.file_url(str(WORKED_QUERY))}" '
        f'alt="query"><div><b>Query:</b> a sketch of a house<br><b>Its caption:</b> '
        f"“{views.esc(caption)}”</div></div>"
    )
    html += "".join(
        views.cards_row(views.worked_label(m), r.hits, clickable=False) for m, r in rows
    )
    return html, views.worked_summary(rows)
