"""The How-it-works tab: the method explained, and the worked example run on the examples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from cdir.app import handlers as webui
from cdir.app.handlers import AppActions
from cdir.app.tabs import Page, Stale
from cdir.app.wrappers import on

METHOD_HTML = (Path(__file__).resolve().parents[1] / "static" / "method.html").read_text(
    encoding="utf-8")


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
        worked_btn = gr.Button("Run the worked example on the example collection",
                               variant="primary", elem_id="worked-example")
        worked_html = gr.HTML("", elem_id="worked-html")
        worked_md = gr.Markdown("", elem_id="worked-summary")
    return MethodTab(tab, worked_btn, worked_html, worked_md)


def wire(ui: MethodTab, actions: AppActions, page: Page) -> None:
    def worked(progress: gr.Progress = gr.Progress()) -> tuple:
        return webui.worked_example(actions, progress)

    on(ui.worked_btn.click, worked, None, [ui.worked_html, ui.worked_md], heavy=True)
