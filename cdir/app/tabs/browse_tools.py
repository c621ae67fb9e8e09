"""The Browse panel's tools, laid out under its grid and wired to :mod:`cdir.app.browse_tools`:
saved views, downloads of the current view, a diverse subset, and the large viewer (an overlay
opened from the item column; ← → and j k step through the current view, Esc closes it, the page
script sends those keys through the hidden ``#browse-key`` box).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdir.app.browse_tools import EXPORT_FORMATS, BrowseTools
from cdir.app.tabs import SETTING_MIN_WIDTH

if TYPE_CHECKING:
    import gradio as gr

    from cdir.app.tabs.browse import BrowseTab

PRIVATE = {
    "api_name": False,
    "api_visibility": "private",
    "concurrency_id": "light",
    "concurrency_limit": 2,
}
# downloads and the diverse subset (k-means) queue with the other heavy work, one at a time
HEAVY = {**PRIVATE, "concurrency_id": "heavy", "concurrency_limit": 1}


@dataclass
class Viewer:
    """The large viewer: an overlay over the page."""

    box: gr.Column
    image: gr.Image
    details: gr.HTML
    position: gr.Markdown
    prev: gr.Button
    next: gr.Button
    close: gr.Button
    domain: gr.Dropdown
    cls: gr.Dropdown
    save_label: gr.Button
    label_md: gr.Markdown
    key: gr.Textbox  # a key pressed while it is open (#browse-key)
    current: gr.State  # the id shown


@dataclass
class BrowseToolsUI:
    views: gr.Dropdown
    view_name: gr.Textbox
    view_save: gr.Button
    view_open: gr.Button
    view_rename: gr.Button
    view_delete: gr.Button
    view_md: gr.Markdown
    exports: dict[str, gr.Button]  # by format: csv, zip, datasets
    export_file: gr.File
    export_md: gr.Markdown
    diverse_k: gr.Number
    diverse_seed: gr.Number
    diverse: gr.Button
    diverse_md: gr.Markdown
    viewer: Viewer


def build_tools() -> BrowseToolsUI:
    """Lay out the tools (inside the Browse panel's accordion)."""
    import gradio as gr

    with gr.Accordion(
        "Saved views, downloads and a diverse subset of the current view",
        open=True,
        elem_id="browse-tools",
    ):
        with gr.Row():
            views = gr.Dropdown([], label="Saved views", elem_id="browse-views", scale=2)
            view_name = gr.Textbox(label="Name (to save or rename)", elem_id="browse-view-name")
            view_save = gr.Button("Save this view", elem_id="browse-view-save")
            view_open = gr.Button("Open", elem_id="browse-view-open")
            view_rename = gr.Button("Rename", elem_id="browse-view-rename")
            view_delete = gr.Button("Delete", elem_id="browse-view-delete")
        view_md = gr.Markdown("", elem_id="browse-view-result")
        with gr.Row():
            exports = {
                fmt: gr.Button(f"Download: {label}", elem_id=f"browse-download-{fmt}")
                for fmt, label in EXPORT_FORMATS.items()
            }
            export_file = gr.File(
                label="Every item of the current view",
                interactive=False,
                visible=False,  # shown with its first file
                elem_id="browse-download",
            )
        export_md = gr.Markdown("", elem_id="browse-download-result")
        with gr.Row():
            diverse_k = gr.Number(
                12,
                precision=0,
                minimum=1,
                label="k",
                elem_id="browse-diverse-k",
                min_width=SETTING_MIN_WIDTH,
            )
            diverse_seed = gr.Number(
                0,
                precision=0,
                label="seed",
                elem_id="browse-diverse-seed",
                min_width=SETTING_MIN_WIDTH,
            )
            diverse = gr.Button(
                "Pick k diverse items (cover the embedding space)", elem_id="browse-diverse"
            )
        diverse_md = gr.Markdown("", elem_id="browse-diverse-result")
    viewer = _viewer()
    return BrowseToolsUI(
        views,
        view_name,
        view_save,
        view_open,
        view_rename,
        view_delete,
        view_md,
        exports,
        export_file,
        export_md,
        diverse_k,
        diverse_seed,
        diverse,
        diverse_md,
        viewer,
    )


def _viewer() -> Viewer:
    import gradio as gr

    with gr.Column(visible=False, elem_id="browse-viewer", elem_classes=["cdir-viewer"]) as box:
        with gr.Row():
            prev = gr.Button("← previous", elem_id="viewer-prev", size="sm")
            position = gr.Markdown("", elem_id="viewer-position")
            next_ = gr.Button("next →", elem_id="viewer-next", size="sm")
            close = gr.Button("✕ close (Esc)", elem_id="viewer-close", size="sm")
        with gr.Row():
            image = gr.Image(
                label="The item", interactive=False, height="62vh", elem_id="viewer-image", scale=3
            )
            with gr.Column(scale=1):
                details = gr.HTML("", elem_id="viewer-details")
                domain = gr.Dropdown(
                    [], label="Domain", allow_custom_value=True, elem_id="viewer-domain"
                )
                cls = gr.Dropdown(
                    [], label="Class", allow_custom_value=True, elem_id="viewer-class"
                )
                save_label = gr.Button("Save the label", elem_id="viewer-save-label")
                label_md = gr.Markdown("", elem_id="viewer-label-result")
    key = gr.Textbox(visible="hidden", elem_id="browse-key")
    return Viewer(
        box,
        image,
        details,
        position,
        prev,
        next_,
        close,
        domain,
        cls,
        save_label,
        label_md,
        key,
        gr.State(None),
    )


def wire_tools(tools: BrowseTools, t: BrowseToolsUI, ui: BrowseTab, store: Any) -> None:
    """Wire the tools to the panel ``ui`` (its filters, map selection, grid and facets)."""
    from cdir.app.wrappers import as_gr_error

    filters = [*ui.filters(), ui.page, ui.selection]
    shown = [ui.grid, ui.page_md, ui.page]
    grid = as_gr_error(tools.browse.grid)
    for event in (ui.tab.expand, store.change):
        event(as_gr_error(tools.view_names), [store], [t.views], **PRIVATE)
    t.view_save.click(
        as_gr_error(tools.save_view),
        [store, t.view_name, *filters],
        [t.views, t.view_md],
        **PRIVATE,
    )
    t.view_open.click(
        as_gr_error(tools.open_view), [store, t.views], [*filters, t.view_md], **PRIVATE
    ).then(grid, [store, *filters], shown, **PRIVATE)
    t.view_rename.click(
        as_gr_error(tools.rename_view),
        [store, t.views, t.view_name],
        [t.views, t.view_md],
        **PRIVATE,
    )
    t.view_delete.click(
        as_gr_error(tools.delete_view), [store, t.views], [t.views, t.view_md], **PRIVATE
    )
    for fmt, button in t.exports.items():
        button.click(
            as_gr_error(functools.partial(_export, tools, fmt)),
            [store, *filters],
            [t.export_file, t.export_md],
            **HEAVY,
        )
    t.diverse.click(
        as_gr_error(tools.diverse),
        [store, t.diverse_k, t.diverse_seed, *filters],
        [ui.selection, t.diverse_md],
        **HEAVY,
    ).then(grid, [store, *filters], shown, **PRIVATE)
    v = t.viewer
    viewed = [v.box, v.image, v.details, v.position, v.current, v.domain, v.cls]
    ui.view_large.click(
        as_gr_error(tools.open_large), [store, ui.click, *filters], viewed, **PRIVATE
    )
    for button, step in ((v.prev, -1), (v.next, 1)):
        button.click(
            as_gr_error(functools.partial(_step, tools, step)),
            [store, v.current, *filters],
            viewed,
            **PRIVATE,
        )
    v.close.click(lambda: _hidden(), None, [v.box], **PRIVATE)
    v.key.change(as_gr_error(tools.key), [store, v.key, v.current, *filters], viewed, **PRIVATE)
    v.save_label.click(
        as_gr_error(tools.correct),
        [store, v.current, v.domain, v.cls],
        [v.details, v.label_md],
        **PRIVATE,
    ).then(as_gr_error(tools.browse.facets), [store], ui.facets(), **PRIVATE).then(
        grid, [store, *filters], shown, **PRIVATE
    )


def _export(tools: BrowseTools, fmt: str, store: str | None, *filters: Any) -> tuple[str, str]:
    return tools.export(store, fmt, *filters)


def _step(tools: BrowseTools, step: int, store: str | None, current: Any, *filters: Any) -> Any:
    return tools.view(store, current, step, *filters)


def _hidden() -> Any:
    import gradio as gr

    return gr.update(visible=False)
