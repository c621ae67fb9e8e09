"""The Collection tab: load the examples, build a collection from uploads, open or delete a saved
one, its summary and preview, downloading it; the Browse panel below (:mod:`.browse`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import handlers as webui
from cdir.app.handlers import AppActions
from cdir.app.tabs import Downloads, Page, Stale, downloads_row, offered
from cdir.app.tabs.browse import BrowseTab, build_browse_tab
from cdir.app.wrappers import on


@dataclass
class CollectionTab:
    tab: gr.Tab
    examples: gr.Button
    files: gr.File
    layout_box: gr.Group
    layout: gr.Markdown
    domain_level: gr.Dropdown
    class_level: gr.Dropdown
    name: gr.Textbox
    preset: gr.Dropdown
    captions: gr.Radio
    build: gr.Button
    taken_row: gr.Group
    build_add: gr.Button
    build_new: gr.Button
    saved: gr.Dropdown
    open: gr.Button
    delete: gr.Button
    delete_row: gr.Group
    delete_md: gr.Markdown
    delete_yes: gr.Button
    delete_no: gr.Button
    summary: gr.Markdown
    preview: gr.HTML
    downloads: Downloads
    browse: BrowseTab  # the Browse panel, below

    def stale(self) -> Stale:
        return [(self.downloads.file, Downloads.emptied()), *self.browse.stale()]


def build(actions: AppActions, store: gr.State) -> CollectionTab:
    with gr.Tab("Collection", id="collection") as tab:
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                gr.Markdown("#### Try it in one click")
                examples = gr.Button(
                    "Load the example collection", variant="primary", elem_id="load-examples"
                )
                gr.Markdown("#### Or bring your own images")
                files = gr.File(
                    file_count="multiple",
                    file_types=["image", ".zip"],
                    label="Drop images or a zip — folders <domain>/<class>/ give labels",
                    elem_id="upload-files",
                )
                with gr.Group(visible=False, elem_id="layout-box") as layout_box:
                    layout = gr.Markdown("", elem_id="layout-preview")
                    with gr.Row():
                        level_choices = [("guess", "auto"), ("none", "none")]
                        domain_level = gr.Dropdown(
                            level_choices, value="auto", label="Domain from", elem_id="domain-level"
                        )
                        class_level = gr.Dropdown(
                            level_choices, value="auto", label="Class from", elem_id="class-level"
                        )
                name = gr.Textbox(label="Collection name", placeholder="my-collection")
                preset = gr.Dropdown(api.preset_names(), value=actions.preset, label="Model preset")
                captions = gr.Radio(webui.CAPTION_CHOICES, value="background", label="Captions")
                build_btn = gr.Button("Build the collection", elem_id="build-collection")
                with gr.Group(visible=False, elem_id="name-taken") as taken_row:
                    gr.Markdown(
                        "A collection of that name exists already. Add these files to "
                        "it, or make a new collection?"
                    )
                    with gr.Row():
                        build_add = gr.Button("Add to it", elem_id="build-add")
                        build_new = gr.Button("Make a new collection", elem_id="build-new")
                gr.Markdown("#### Saved collections")
                saved = gr.Dropdown(
                    [], label="Open a saved collection", allow_custom_value=False, elem_id="saved"
                )
                with gr.Row():
                    open_btn = gr.Button("Open", elem_id="open-saved")
                    delete = gr.Button("Delete…", variant="stop", elem_id="delete-saved")
                with gr.Group(visible=False, elem_id="confirm-delete") as delete_row:
                    delete_md = gr.Markdown("")
                    with gr.Row():
                        delete_yes = gr.Button(
                            "Yes, delete it", variant="stop", elem_id="delete-yes"
                        )
                        delete_no = gr.Button("Cancel", elem_id="delete-no")
            with gr.Column(scale=2):
                summary = gr.Markdown("Nothing loaded yet.", elem_id="collection-summary")
                preview = gr.HTML("", elem_id="collection-preview")
                downloads = downloads_row(
                    "collection",
                    [
                        ("datasets", "Download as a 🤗 dataset (zip)"),
                        ("parquet", "Download as Parquet"),
                    ],
                    "The collection: images, labels, captions, prompts, embeddings",
                )
        browse = build_browse_tab(actions, store)
    return CollectionTab(
        tab,
        examples,
        files,
        layout_box,
        layout,
        domain_level,
        class_level,
        name,
        preset,
        captions,
        build_btn,
        taken_row,
        build_add,
        build_new,
        saved,
        open_btn,
        delete,
        delete_row,
        delete_md,
        delete_yes,
        delete_no,
        summary,
        preview,
        downloads,
        browse,
    )


def wire(
    ui: CollectionTab,
    actions: AppActions,
    page: Page,
    domains: gr.CheckboxGroup,
    stale: Sequence[Any],
) -> list[Any]:
    """``domains``: the Search tab's target domains (a new collection gives their choices);
    ``stale``: every tab's views that an opened, built or deleted collection empties. Returns
    the outputs of opening a collection (``AppActions.collection_view``'s)."""
    store, owner = page.store, page.owner
    loaded = _loaded(ui, page, domains, stale)

    def load_examples(preset: str, owner_key: str, progress: gr.Progress = gr.Progress()) -> tuple:
        return actions.load_examples(preset, progress, owner_key)

    def build_as(add: bool | None) -> Callable[..., tuple]:
        def build(
            files: list,
            name: str,
            preset: str,
            captions: str,
            owner_key: str,
            domain: str,
            cls: str,
            progress: gr.Progress = gr.Progress(),
        ) -> tuple:
            return actions.build_or_ask(
                files, name, preset, captions, progress, owner_key, add, (domain, cls)
            )

        return build

    build_inputs = [
        ui.files,
        ui.name,
        ui.preset,
        ui.captions,
        owner,
        ui.domain_level,
        ui.class_level,
    ]
    guessed = [ui.layout_box, ui.layout, ui.domain_level, ui.class_level]
    on(ui.files.change, actions.layout_preview, [ui.files], guessed)
    for level in (ui.domain_level, ui.class_level):
        on(
            level.input,
            actions.layout_preview,
            [ui.files, ui.domain_level, ui.class_level],
            guessed,
        )
    built = [*loaded, ui.taken_row, owner, ui.files]
    on(ui.examples.click, load_examples, [ui.preset, owner], loaded, heavy=True)
    # a build runs as a job holding the heavy slot itself; the page follows it, and a reloaded
    # page of the same visitor follows it again
    on(ui.build.click, build_as(None), build_inputs, built, follows=True)
    on(ui.build_add.click, build_as(True), build_inputs, built, follows=True)
    on(ui.build_new.click, build_as(False), build_inputs, built, follows=True)
    on(ui.open.click, actions.open_saved, [ui.saved, owner], loaded)
    on(ui.delete.click, actions.ask_delete, [ui.saved, owner], [ui.delete_row, ui.delete_md])
    on(ui.delete_no.click, lambda: gr.update(visible=False), None, [ui.delete_row])
    on(
        ui.delete_yes.click,
        actions.delete_and_close,
        [ui.saved, store, owner],
        [ui.saved, ui.delete_row, *loaded[:4], *stale],
    )
    on(page.timer.tick, actions.tick, [store], [page.status, page.timer])
    return loaded


def _loaded(ui: CollectionTab, page: Page, domains: Any, stale: Sequence[Any]) -> list[Any]:
    """The views a collection opened (or built) fills: ``AppActions.collection_view``'s."""
    return [page.store, ui.summary, ui.preview, page.status, domains, ui.saved, page.timer, *stale]


def wire_reconnect(
    ui: CollectionTab,
    actions: AppActions,
    page: Page,
    domains: gr.CheckboxGroup,
    stale: Sequence[Any],
    load: Any,
) -> None:
    """``load`` (the page's load event): a build of this visitor still running shows its
    progress again, then its collection (``AppActions.reconnect``)."""

    def reconnect(owner_key: str, progress: gr.Progress = gr.Progress()) -> tuple:
        return actions.reconnect(owner_key, progress)

    on(load, reconnect, [page.owner], _loaded(ui, page, domains, stale), follows=True)


def wire_downloads(ui: CollectionTab, actions: AppActions, page: Page) -> None:
    for fmt, button in ui.downloads.buttons.items():
        on(
            button.click,
            offered(functools.partial(actions.download_collection, fmt)),
            [page.store],
            [ui.downloads.file],
            heavy=True,
        )
