"""The Duplicates tab: near-duplicate groups in three tiers, keep decisions, their export, the
nearest-neighbour histogram and prompt agreement."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from cdir.app.compare import compare_view
from cdir.app.handlers import AppActions
from cdir.app.tabs import SETTING_MIN_WIDTH, Page, Stale
from cdir.app.views import semantic_label
from cdir.app.wrappers import as_message, concurrency, on, one_at_a_time

TIERS = ["exact", "perceptual", "semantic"]


@dataclass
class Compare:
    """Two members of a group side by side, at one zoom, with their metadata diff."""

    panel: gr.Accordion
    group: gr.Number
    ids: gr.Textbox
    zoom: gr.Slider
    run: gr.Button
    left: gr.Image
    right: gr.Image
    table: gr.HTML
    click: gr.Textbox  # a card pressed with c (#compare-click)


@dataclass
class DuplicatesTab:
    tab: gr.Tab
    tiers: gr.CheckboxGroup
    perceptual: gr.Slider
    semantic: gr.Number
    find: gr.Button
    summary: gr.Markdown
    groups: gr.HTML
    accept_tier: gr.Radio
    accept: gr.Button
    exports: dict[str, gr.Button]  # by format: csv, json, sh
    export_file: gr.File
    hist_tier: gr.Radio
    hist_btn: gr.Button
    hist_plot: gr.Plot
    hist_examples: gr.HTML
    drift_btn: gr.Button
    drift_table: gr.Dataframe
    compare: Compare
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
            accept_tier = gr.Radio(
                [("exact and perceptual", "all"), *((f"{t} only", t) for t in TIERS)],
                value="all",
                label="Accept suggestions of",
                elem_id="dupes-accept-tier",
            )
            accept = gr.Button("Accept the suggested keeps", elem_id="dupes-accept")
        with gr.Row():
            exports = {
                "csv": gr.Button("Export decisions as CSV", elem_id="dupes-export-csv"),
                "json": gr.Button("Export decisions as JSON"),
                "sh": gr.Button("Export the removal list (.sh)"),
            }
            export_file = gr.File(
                label="Decisions (the app never deletes or moves files)",
                interactive=False,
                elem_id="dupes-export-file",
            )
        compare = _compare()
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
        accept_tier,
        accept,
        exports,
        export_file,
        hist_tier,
        hist_btn,
        hist_plot,
        hist_examples,
        drift_btn,
        drift_table,
        compare,
        dupe_click,
        groups_state,
    )


def _compare() -> Compare:
    with gr.Accordion(
        "Compare two members side by side (or press c on a card: it and its group's keep)",
        open=False,
        elem_id="compare-panel",
    ) as panel:
        with gr.Row():
            group = gr.Number(
                1,
                precision=0,
                minimum=1,
                label="Group",
                elem_id="compare-group",
                min_width=SETTING_MIN_WIDTH,
            )
            ids = gr.Textbox(
                label="or two item ids, e.g. 12 40",
                elem_id="compare-ids",
                min_width=SETTING_MIN_WIDTH,
            )
            zoom = gr.Slider(
                1,
                8,
                value=1,
                step=0.5,
                label="Zoom (centre)",
                elem_id="compare-zoom",
                min_width=SETTING_MIN_WIDTH,
            )
            run = gr.Button("Compare", variant="primary", elem_id="compare-run")
        with gr.Row():
            left = gr.Image(label="left", interactive=False, height=360, elem_id="compare-left")
            right = gr.Image(label="right", interactive=False, height=360, elem_id="compare-right")
        table = gr.HTML("", elem_id="compare-table")
    click = gr.Textbox(visible="hidden", elem_id="compare-click")  # outside: always in the page
    return Compare(panel, group, ids, zoom, run, left, right, table, click)


FOCUS_ITEM = """(clicked) => {
  const id = String(clicked || "").split(":")[0];
  let tries = 0;
  const timer = setInterval(() => {
    const card = document.querySelector('#dupe-groups .cdir-card[data-id="' + id + '"]');
    if (card || ++tries > 600) {
      clearInterval(timer);
      if (card) { card.focus(); card.scrollIntoView({ block: "center" }); }
    }
  }, 100);
  return [];
}"""


def link_review(
    ui: DuplicatesTab,
    actions: AppActions,
    page: Page,
    button: gr.Button,
    clicked: gr.Textbox,
    tabs: gr.Tabs,
) -> None:
    """The Browse panel's "review its duplicates": this tab opens at the group of the item
    opened in the panel (``clicked``), its card focused for the review keys."""
    shown = [ui.summary, ui.groups, ui.groups_state]
    button.click(
        lambda: gr.Tabs(selected="duplicates"),
        None,
        [tabs],
        api_name=False,
        api_visibility="private",
        **concurrency(False),
    ).then(
        as_message(one_at_a_time(actions.review_item), len(shown)),
        [page.store, clicked, *ui.settings()],
        shown,
        api_name=False,
        api_visibility="private",
        **concurrency(True),
    ).then(
        None,
        [clicked],
        None,
        js=FOCUS_ITEM,
        api_name=False,
        api_visibility="private",
        **concurrency(False),
    )


def wire(ui: DuplicatesTab, actions: AppActions, page: Page) -> None:
    store, groups = page.store, ui.groups_state
    settings = ui.settings()
    shown = [ui.summary, ui.groups, groups]
    on(ui.find.click, actions.find_dupes, [store, *settings], shown, heavy=True)
    on(ui.dupe_click.change, actions.choose_keep, [store, ui.dupe_click, groups, *settings], shown)
    on(
        ui.accept.click,
        actions.accept_dupes,
        [store, ui.accept_tier, groups, *settings],
        shown,
    )
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
    c = ui.compare
    shown = [c.left, c.right, c.table]
    inputs = [store, groups, c.group, c.ids]
    on(c.run.click, functools.partial(_compare_view, actions, ""), [*inputs, c.zoom], shown)
    on(c.zoom.release, functools.partial(_compare_view, actions, ""), [*inputs, c.zoom], shown)
    on(
        c.click.change,
        functools.partial(_pressed, actions),
        [*inputs, c.click, c.zoom],
        [c.panel, *shown],
    )


def _compare_view(actions: AppActions, clicked: str, store: str | None, *values: Any) -> Any:
    state, group, ids, zoom = values
    return compare_view(actions._session(store), state, group, ids, clicked, zoom)


def _pressed(actions: AppActions, store: str | None, *values: Any) -> Any:
    state, group, _, clicked, zoom = values
    view = compare_view(actions._session(store), state, group, "", clicked, zoom)
    return (gr.Accordion(open=True), *view)
