"""The Map tab: the collection projected in 2-D, a clicked point with its neighbours, and the
map's download."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.tabs import Downloads, Page, Stale, downloads_row, offered
from cdir.app.wrappers import on


@dataclass
class MapTab:
    tab: gr.Tab
    method: gr.Radio
    vectors: gr.Radio
    color: gr.Radio
    draw: gr.Button
    caption: gr.Markdown  # what the drawn map shows, in one plain sentence (#map-caption)
    plot: gr.Plot
    sel_image: gr.Image
    sel_md: gr.Markdown
    sel_cards: gr.HTML
    downloads: Downloads
    map_click: gr.Textbox  # the page writes a clicked point's id here (#map-click)

    def stale(self) -> Stale:
        return [
            (self.plot, None),
            (self.sel_image, None),
            (self.sel_md, "Click a point on the map."),
            (self.sel_cards, ""),
            (self.downloads.file, Downloads.emptied()),
        ]


def build() -> MapTab:
    with gr.Tab("Map", id="map") as tab:
        with gr.Row():
            method = gr.Radio(
                [("UMAP", "umap"), ("t-SNE", "tsne"), ("PCA", "pca")],
                value="umap",
                label="Projection",
                elem_id="map-method",
            )
            vectors = gr.Radio(
                [("image embeddings", "image"), ("caption embeddings", "caption")],
                value="image",
                label="Embeddings",
            )
            color = gr.Radio(
                ["domain", "class", "cluster"],
                value="domain",
                label="Colour by",
                elem_id="map-color",
            )
            draw = gr.Button("Draw the map", variant="primary", elem_id="draw-map")
        with gr.Row():
            with gr.Column(scale=3):
                caption = gr.Markdown(api.map_caption("umap"), elem_id="map-caption")
                plot = gr.Plot(elem_id="cdir-map", label="Click a point to see the image")
            with gr.Column(scale=2):
                sel_image = gr.Image(
                    label="Selected image",
                    interactive=False,
                    height=220,
                    elem_id="map-selected-image",
                )
                sel_md = gr.Markdown("Click a point on the map.", elem_id="map-selected")
                sel_cards = gr.HTML("", elem_id="map-neighbours")
                downloads = downloads_row(
                    "map",
                    [("html", "Download the map (interactive HTML)")],
                    "The map: open it in a browser; its camera button saves a PNG",
                )
        map_click = gr.Textbox(visible="hidden", elem_id="map-click")
    return MapTab(
        tab,
        method,
        vectors,
        color,
        draw,
        caption,
        plot,
        sel_image,
        sel_md,
        sel_cards,
        downloads,
        map_click,
    )


def wire(ui: MapTab, actions: AppActions, page: Page) -> None:
    def draw(
        store_path: str,
        method: str,
        vectors: str,
        color: str,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[object, str]:
        # the sentence changes with the map it describes, never before it is drawn
        figure = actions.draw_map(store_path, method, vectors, color, progress)
        return figure, api.map_caption(method, vectors, color)

    map_inputs = [page.store, ui.method, ui.vectors, ui.color]
    on(ui.draw.click, draw, map_inputs, [ui.plot, ui.caption], heavy=True)
    on(ui.tab.select, draw, map_inputs, [ui.plot, ui.caption], heavy=True)
    point = [ui.sel_image, ui.sel_md, ui.sel_cards]
    on(
        ui.map_click.change,
        actions.map_point,
        [page.store, ui.map_click, *map_inputs[1:]],
        [*point, ui.plot],
    )


def wire_downloads(ui: MapTab, actions: AppActions, page: Page) -> None:
    def map_file(
        store_path: str,
        method: str,
        vectors: str,
        color: str,
        progress: gr.Progress = gr.Progress(),
    ) -> str:
        return actions.download_map(store_path, method, vectors, color, progress)

    on(
        ui.downloads.buttons["html"].click,
        offered(map_file),
        [page.store, ui.method, ui.vectors, ui.color],
        [ui.downloads.file],
        heavy=True,
    )
