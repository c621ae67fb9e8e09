"""The Evaluate tab: the paper's protocol on the open collection, and the report's download."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from cdir.app.handlers import AppActions
from cdir.app.tabs import Downloads, Page, Stale, downloads_row, offered
from cdir.app.wrappers import on

INTRO = (
    "The paper's protocol on the open collection: for every ordered pair of domains A → B, "
    "each image of A queries the images of B, and a hit is an image of the same class. "
    "Precision@k (denominator min(k, number of relevant images)) and mAP for every mode, "
    "with and without style words, plus how often each mode's top 10 stays in the query's "
    "own domain. Needs domain and class labels (folders `<domain>/<class>/` or a CSV "
    "manifest)."
)


@dataclass
class EvaluateTab:
    tab: gr.Tab
    run: gr.Button
    report: gr.Markdown
    kept: gr.State  # the last report, for its download
    downloads: Downloads

    def stale(self) -> Stale:
        return [(self.report, ""), (self.downloads.file, Downloads.emptied()), (self.kept, None)]


def build() -> EvaluateTab:
    with gr.Tab("Evaluate", id="evaluate") as tab:
        gr.Markdown(INTRO)
        run = gr.Button("Evaluate this collection", variant="primary", elem_id="run-eval")
        report = gr.Markdown("", elem_id="eval-report")
        kept = gr.State(None)
        downloads = downloads_row(
            "eval",
            [("report", "Download the report (Markdown and CSV)")],
            "The evaluation report",
            multiple=True,
        )
    return EvaluateTab(tab, run, report, kept, downloads)


def wire(ui: EvaluateTab, actions: AppActions, page: Page) -> None:
    def evaluate(store_path: str, progress: gr.Progress = gr.Progress()) -> tuple:
        return actions.evaluate_and_keep(store_path, progress)

    on(ui.run.click, evaluate, [page.store], [ui.report, ui.kept], heavy=True)


def wire_downloads(ui: EvaluateTab, actions: AppActions, page: Page) -> None:
    on(
        ui.downloads.buttons["report"].click,
        offered(actions.download_eval),
        [page.store, ui.kept],
        [ui.downloads.file],
    )
