"""The Duplicates tab: near-duplicate groups in three tiers, keep decisions, their export, the
nearest-neighbour histogram and prompt agreement."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from cdir.app.handlers import AppActions
from cdir.app.tabs import SETTING_MIN_WIDTH, Page, Stale
from cdir.app.views import semantic_label
from cdir.app.wrappers import on

TIERS = ["exact", "perceptual", "semantic"]


@dataclass
class DuplicatesTab:
    tab: gr.Tab
    tiers: gr.CheckboxGroup
    perceptual: gr.Slider
    semantic: gr.Number
    find: gr.Button
    summary: gr.Markdown
    groups: gr.HTML
    exports: dict[str, gr.Button]  # by format: csv, json, sh
    export_file: gr.File
    hist_tier: gr.Radio
    hist_btn: gr.Button
    hist_plot: gr.Plot
    hist_examples: gr.HTML
    drift_btn: gr.Button
    drift_table: gr.Dataframe
    dupe_click: gr.Textbox  # the page writes a chosen keep here (#dupe-click)
    groups_state: gr.State  # the groups shown, with their decisions

    def settings(self) -> list:
        return [self.tiers, self.perceptual, self.semantic]

    def stale(self) -> Stale:
        return [
            (self.summary, ""),
            (self.groups, ""),
            (self.groups_state, []),
            (self.export_file, None),
            (self.hist_plot, None),
            (self.hist_examples, ""),
            (self.drift_table, []),
        ]


def build(trained: bool) -> DuplicatesTab:
    with gr.Tab("Duplicates", id="duplicates") as tab:
        with gr.Row():
            tiers = gr.CheckboxGroup(
                TIERS,
                value=TIERS if trained else TIERS[:2],
                label="Tiers" if trained else "Tiers (semantic needs trained models)",
                min_width=SETTING_MIN_WIDTH,
            )
            perceptual = gr.Slider(
                0,
                20,
                value=8,
                step=2,
                elem_id="dupes-perceptual",
                min_width=SETTING_MIN_WIDTH,
                label="perceptual: most differing pHash bits",
            )
            # empty: the threshold calibrated for the collection (as the CLI and the API use)
            semantic = gr.Number(
                None,
                step=0.005,
                label=semantic_label(trained),
                interactive=trained,
                elem_id="dupes-semantic",
                min_width=SETTING_MIN_WIDTH,
            )
            find = gr.Button("Find near-duplicates", variant="primary", elem_id="find-dupes")
        summary = gr.Markdown("", elem_id="dupes-summary")
        groups = gr.HTML("", elem_id="dupe-groups")
        with gr.Row():
            exports = {
                "csv": gr.Button("Export decisions as CSV"),
                "json": gr.Button("Export decisions as JSON"),
                "sh": gr.Button("Export the removal list (.sh)"),
            }
            export_file = gr.File(
                label="Decisions (the app never deletes or moves files)", interactive=False
            )
        with gr.Accordion("Set the threshold by looking: nearest-neighbour histogram", open=False):
            with gr.Row():
                hist_tier = gr.Radio(["perceptual", "semantic"], value="perceptual", label="Tier")
                hist_btn = gr.Button("Show the histogram")
            hist_plot = gr.Plot()
            hist_examples = gr.HTML("")
        with gr.Accordion(
            "Prompt agreement: generated images that drifted from their prompt", open=False
        ):
            drift_btn = gr.Button("Compare prompts with images and captions")
            drift_table = gr.Dataframe(
                headers=["id", "file", "prompt", "caption", "prompt ↔ image", "prompt ↔ caption"],
                wrap=True,
                interactive=False,
            )
        dupe_click = gr.Textbox(visible="hidden", elem_id="dupe-click")
        groups_state = gr.State([])
    return DuplicatesTab(
        tab,
        tiers,
        perceptual,
        semantic,
        find,
        summary,
        groups,
        exports,
        export_file,
        hist_tier,
        hist_btn,
        hist_plot,
        hist_examples,
        drift_btn,
        drift_table,
        dupe_click,
        groups_state,
    )


def wire(ui: DuplicatesTab, actions: AppActions, page: Page) -> None:
    store, groups = page.store, ui.groups_state
    settings = ui.settings()
    shown = [ui.summary, ui.groups, groups]
    on(ui.find.click, actions.find_dupes, [store, *settings], shown, heavy=True)
    on(ui.dupe_click.change, actions.choose_keep, [store, ui.dupe_click, groups, *settings], shown)
    for fmt, button in ui.exports.items():
        on(
            button.click,
            functools.partial(actions.export_dupes, fmt=fmt),
            [store, groups],
            [ui.export_file],
        )
    on(
        ui.hist_btn.click,
        actions.dupes_histogram,
        [store, ui.hist_tier],
        [ui.hist_plot, ui.hist_examples],
    )
    on(ui.drift_btn.click, actions.prompt_drift, [store], [ui.drift_table])
