"""cdir web app: explore an image collection across visual domains by caption matching.

    cdir app [--preset default] [--store ./stores] [--host 127.0.0.1] [--port 7860]
    python app.py [the same options]     (from a clone; the Space's entry point)

Layout and event wiring only; every handler lives in ``cdir.app.handlers``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from cdir import api
from cdir.app import endpoints
from cdir.app import handlers as webui
from cdir.app.browse_tab import build_browse_tab
from cdir.app.first_run import startup_preset
from cdir.app.guards import DiskFullAnswer
from cdir.app.handlers import AppActions
from cdir.app.media import media_routes
from cdir.app.widgets import refuse_unreadable
from cdir.app.workspace import Workspace, default_store, storage_note
from cdir.app.wrappers import as_gr_error, concurrency, on, one_at_a_time
from cdir.models.presets import get_preset, list_presets
from cdir.models.quantize import QUANTIZE_MODES, quantize_mode, set_quantize_mode
from cdir.models.style_words import Neutraliser

STATIC = Path(__file__).resolve().parent / "static"
APP_JS = (STATIC / "app.js").read_text(encoding="utf-8")
CSS = (STATIC / "app.css").read_text(encoding="utf-8")
METHOD_HTML = (STATIC / "method.html").read_text(encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default=os.environ.get("CDIR_PRESET", "default"),
                   help=f"model preset: {', '.join(list_presets())}")
    p.add_argument("--store", default=str(default_store()),
                   help="workspace directory holding the collections ($CDIR_STORE; default "
                        "/data/cdir-stores when persistent storage is attached, else stores)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--model-dir", default=None, help="local model directory ($CDIR_MODEL_DIR)")
    p.add_argument("--quantize", choices=QUANTIZE_MODES, default=None,
                   help="int8: caption faster on a CPU at a small cost in agreement "
                        "($CDIR_QUANTIZE; default none)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--shared-workspace", action="store_true",
                   default=os.environ.get("CDIR_SHARED_WORKSPACE", "") not in ("", "0"),
                   help="every visitor sees every collection (a private deployment); by "
                        "default a visitor sees the examples and the collections they built")
    return p.parse_args(argv)


def _collection_tab(actions: AppActions, ui: dict) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            gr.Markdown("#### Try it in one click")
            ui["examples"] = gr.Button("Load the example collection", variant="primary",
                                       elem_id="load-examples")
            gr.Markdown("#### Or bring your own images")
            ui["files"] = gr.File(file_count="multiple", file_types=["image", ".zip"],
                                  label="Drop images or a zip — folders <domain>/<class>/ "
                                        "give labels", elem_id="upload-files")
            ui["name"] = gr.Textbox(label="Collection name", placeholder="my-collection")
            ui["preset"] = gr.Dropdown(list_presets(), value=actions.preset, label="Model preset")
            ui["captions"] = gr.Radio(webui.CAPTION_CHOICES, value="background",
                                      label="Captions")
            ui["build"] = gr.Button("Build the collection", elem_id="build-collection")
            with gr.Group(visible=False, elem_id="name-taken") as ui["taken_row"]:
                gr.Markdown("A collection of that name exists already. Add these files to it, "
                            "or make a new collection?")
                with gr.Row():
                    ui["build_add"] = gr.Button("Add to it", elem_id="build-add")
                    ui["build_new"] = gr.Button("Make a new collection", elem_id="build-new")
            gr.Markdown("#### Saved collections")
            ui["saved"] = gr.Dropdown([], label="Open a saved collection",
                                      allow_custom_value=False, elem_id="saved")
            with gr.Row():
                ui["open"] = gr.Button("Open", elem_id="open-saved")
                ui["delete"] = gr.Button("Delete…", variant="stop", elem_id="delete-saved")
            with gr.Group(visible=False, elem_id="confirm-delete") as ui["delete_row"]:
                ui["delete_md"] = gr.Markdown("")
                with gr.Row():
                    ui["delete_yes"] = gr.Button("Yes, delete it", variant="stop",
                                                 elem_id="delete-yes")
                    ui["delete_no"] = gr.Button("Cancel", elem_id="delete-no")
        with gr.Column(scale=2):
            ui["summary"] = gr.Markdown("Nothing loaded yet.", elem_id="collection-summary")
            ui["preview"] = gr.HTML("", elem_id="collection-preview")
            _downloads(ui, "collection", [("datasets", "Download as a 🤗 dataset (zip)"),
                                          ("parquet", "Download as Parquet")],
                       "The collection: images, labels, captions, prompts, embeddings")


def _search_tab(ui: dict) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            with gr.Tabs():
                with gr.Tab("Image"):
                    ui["q_image"] = refuse_unreadable(gr.Image(
                        type="filepath", sources=["upload", "clipboard"], height=240,
                        label="Query image: drop, paste or click", elem_id="query-image"))
                    ui["img_btn"] = gr.Button("Search with this image", variant="primary")
                with gr.Tab("Sketch"):
                    ui["sketch"] = gr.Sketchpad(
                        type="pil", canvas_size=(384, 384), label="Draw a query",
                        elem_id="query-sketch",
                        brush=gr.Brush(default_size=3, colors=["#000000"],
                                       default_color="#000000", color_mode="fixed"))
                    ui["sketch_btn"] = gr.Button("Search with this sketch", variant="primary")
                with gr.Tab("Text"):
                    ui["q_text"] = gr.Textbox(label="Describe what you are looking for",
                                              placeholder="a red boat")
                    ui["text_btn"] = gr.Button("Search with this text", variant="primary")
            ui["current"] = gr.Image(label="Current query", interactive=False, height=150,
                                     elem_id="current-query", show_label=True)
            ui["mode"] = gr.Radio(webui.MODE_CHOICES, value="caption", label="Retrieval mode",
                                  elem_id="mode")
            ui["k"] = gr.Slider(1, 48, value=12, step=1, label="Results (k)")
            ui["cross"] = gr.Checkbox(label="Cross-domain view: one row per target domain",
                                      elem_id="cross-domain")
            ui["domains"] = gr.CheckboxGroup([], label="Target domains (none ticked = all)")
            with gr.Accordion("Style words and fusion weights", open=False):
                ui["neutral"] = gr.Checkbox(label="Remove style words from captions before "
                                                  "matching ('a sketch of', 'painting', ...)")
                ui["words"] = gr.Textbox(Neutraliser().to_text(), lines=6,
                                         label="Style words (one per line)")
                ui["w_img"] = gr.Slider(0, 2, value=0.5, step=0.1, label="fusion: image → image")
                ui["w_cap"] = gr.Slider(0, 2, value=1.0, step=0.1, label="fusion: caption → image")
                ui["w_cc"] = gr.Slider(0, 2, value=0.5, step=0.1,
                                       label="fusion: caption → caption")
        with gr.Column(scale=2):
            ui["query_md"] = gr.Markdown("Choose a query on the left. Click any result to search "
                                         "for more like it.", elem_id="query-info")
            ui["results"] = gr.HTML('<div class="cdir-empty">Results appear here.</div>',
                                    elem_id="results")
            with gr.Accordion("Scores as a table", open=False):
                ui["table"] = gr.Dataframe(headers=webui.views.HITS_HEADERS, wrap=True,
                                           interactive=False)
            _downloads(ui, "search", [("json", "Download results (JSON)"),
                                      ("csv", "Download results (CSV)")],
                       "Results with their scores")


def _map_tab(ui: dict) -> None:
    with gr.Row():
        ui["method"] = gr.Radio([("UMAP", "umap"), ("t-SNE", "tsne"), ("PCA", "pca")],
                                value="umap", label="Projection")
        ui["vectors"] = gr.Radio([("image embeddings", "image"), ("caption embeddings",
                                                                  "caption")],
                                 value="image", label="Embeddings")
        ui["color"] = gr.Radio(["domain", "class"], value="domain", label="Colour by")
        ui["draw"] = gr.Button("Draw the map", variant="primary", elem_id="draw-map")
    with gr.Row():
        with gr.Column(scale=3):
            ui["plot"] = gr.Plot(elem_id="cdir-map", label="Click a point to see the image")
        with gr.Column(scale=2):
            ui["sel_image"] = gr.Image(label="Selected image", interactive=False, height=220,
                                       elem_id="map-selected-image")
            ui["sel_md"] = gr.Markdown("Click a point on the map.", elem_id="map-selected")
            ui["sel_cards"] = gr.HTML("", elem_id="map-neighbours")
            _downloads(ui, "map", [("html", "Download the map (interactive HTML)")],
                       "The map: open it in a browser; its camera button saves a PNG")
    ui["map_click"] = gr.Textbox(visible="hidden", elem_id="map-click")


def _downloads(ui: dict, name: str, buttons: list[tuple[str, str]], label: str,
               multiple: bool = False) -> None:
    """A row of download buttons (``ui["<name>_<key>"]``, ``#download-<name>-<key>``) and the
    file they give (``ui["<name>_file"]``, ``#<name>-file``)."""
    with gr.Row(elem_classes="cdir-downloads"):
        for key, text in buttons:
            ui[f"{name}_{key}"] = gr.Button(text, size="sm", elem_id=f"download-{name}-{key}")
    ui[f"{name}_file"] = gr.File(label=label, interactive=False, elem_id=f"{name}-file",
                                 file_count="multiple" if multiple else "single", height=90)


def _dupes_tab(ui: dict, trained: bool) -> None:
    tiers = ["exact", "perceptual", "semantic"]
    with gr.Row():
        ui["tiers"] = gr.CheckboxGroup(tiers, value=tiers if trained else tiers[:2],
                                       label="Tiers" if trained else "Tiers (semantic needs "
                                       "trained models)")
        ui["perceptual"] = gr.Slider(0, 20, value=8, step=2,
                                     label="perceptual: most differing pHash bits")
        ui["semantic"] = gr.Number(None, step=0.005,
                                   label=webui.views.semantic_label(trained),
                                   interactive=trained, elem_id="dupes-semantic")
        ui["find"] = gr.Button("Find near-duplicates", variant="primary", elem_id="find-dupes")
    ui["dupes_md"] = gr.Markdown("", elem_id="dupes-summary")
    ui["groups"] = gr.HTML("", elem_id="dupe-groups")
    with gr.Row():
        ui["export_csv"] = gr.Button("Export decisions as CSV")
        ui["export_json"] = gr.Button("Export decisions as JSON")
        ui["export_sh"] = gr.Button("Export the removal list (.sh)")
        ui["export_file"] = gr.File(label="Decisions (the app never deletes or moves files)",
                                    interactive=False)
    with gr.Accordion("Set the threshold by looking: nearest-neighbour histogram", open=False):
        with gr.Row():
            ui["hist_tier"] = gr.Radio(["perceptual", "semantic"], value="perceptual",
                                       label="Tier")
            ui["hist_btn"] = gr.Button("Show the histogram")
        ui["hist_plot"] = gr.Plot()
        ui["hist_examples"] = gr.HTML("")
    with gr.Accordion("Prompt agreement: generated images that drifted from their prompt",
                      open=False):
        ui["drift_btn"] = gr.Button("Compare prompts with images and captions")
        ui["drift_table"] = gr.Dataframe(
            headers=["id", "file", "prompt", "caption", "prompt ↔ image", "prompt ↔ caption"],
            wrap=True, interactive=False)
    ui["dupe_click"] = gr.Textbox(visible="hidden", elem_id="dupe-click")


def build_app(actions: AppActions) -> gr.Blocks:
    preset = get_preset(actions.preset)
    ui: dict = {}
    # delete_cache: gradio's copies of uploads (already copied into a collection) go after a day
    with gr.Blocks(title="cdir · cross-domain image retrieval",
                   delete_cache=(3600, 86400)) as demo:
        store = gr.State(None)
        gr.HTML(webui.header_html())
        gr.HTML(actions.notice or webui.views.banner_html(preset.trained, preset.name))
        note = storage_note(actions.workspace.root)
        if note:
            gr.HTML(f'<div class="cdir-banner" id="storage-note">{note}</div>')
        status = gr.Markdown(webui.views.status_line(None, None), elem_id="status")
        timer = gr.Timer(3.0, active=False)
        with gr.Tabs():
            with gr.Tab("Collection", id="collection"):
                _collection_tab(actions, ui)
                build_browse_tab(actions, store)
            with gr.Tab("Search", id="search"):
                _search_tab(ui)
            with gr.Tab("Map", id="map") as map_tab:
                _map_tab(ui)
            with gr.Tab("Duplicates", id="duplicates"):
                _dupes_tab(ui, preset.trained)
            with gr.Tab("Evaluate", id="evaluate"):
                gr.Markdown("The paper's protocol on the open collection: for every ordered pair "
                            "of domains A → B, each image of A queries the images of B, and a hit "
                            "is an image of the same class. Precision@k (denominator min(k, number "
                            "of relevant images)) and mAP for every mode, with and without style "
                            "words, plus how often each mode's top 10 stays in the query's own "
                            "domain. Needs domain and class labels (folders "
                            "`<domain>/<class>/` or a CSV manifest).")
                ui["eval_btn"] = gr.Button("Evaluate this collection", variant="primary",
                                           elem_id="run-eval")
                ui["eval_md"] = gr.Markdown("", elem_id="eval-report")
                ui["eval_state"] = gr.State(None)
                _downloads(ui, "eval", [("report", "Download the report (Markdown and CSV)")],
                           "The evaluation report", multiple=True)
            with gr.Tab("How it works", id="method"):
                gr.HTML(METHOD_HTML)
                ui["worked_btn"] = gr.Button("Run the worked example on the example collection",
                                             variant="primary", elem_id="worked-example")
                ui["worked_html"] = gr.HTML("", elem_id="worked-html")
                ui["worked_md"] = gr.Markdown("", elem_id="worked-summary")
        ui["result_click"] = gr.Textbox(visible="hidden", elem_id="result-click")
        owner = gr.BrowserState("", storage_key="cdir-owner")
        ui["groups_state"] = gr.State([])
        ui["query"] = gr.State(None)
        _wire(actions, ui, store, status, timer, map_tab, owner)
        _wire_dupes(actions, ui, store)
        on(demo.load, actions.greet, [owner], [owner, ui["saved"]])
        _api(endpoints.Endpoints(actions))
    return demo


def _api(calls: endpoints.Endpoints) -> None:
    """The documented API (``cdir.app.endpoints``): hidden inputs named as the parameters, one
    JSON output, one named event per call. Nothing on the page shows them."""
    with gr.Group(visible=False):
        c = dict(collection=gr.Textbox(label="collection"), name=gr.Textbox(label="name"),
                 owner=gr.Textbox("", label="owner"),
                 files=gr.File(file_count="multiple", label="files"),
                 preset=gr.Textbox("", label="preset"),
                 captions=gr.Textbox("background", label="captions"),
                 if_exists=gr.Textbox("new", label="if_exists"),
                 # a file, not gr.Image: gradio would decode it before cdir's checks
                 image=gr.File(type="filepath", label="image"), text=gr.Textbox(label="text"),
                 item_id=gr.Number(0, precision=0, label="item_id"),
                 mode=gr.Textbox("caption", label="mode"),
                 k=gr.Number(12, precision=0, label="k"),
                 domains=gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True,
                                     label="domains"),
                 tiers=gr.Dropdown(list(endpoints.TIERS), value=["exact", "perceptual"],
                                   multiselect=True, label="tiers"),
                 perceptual=gr.Number(8, label="perceptual"),
                 semantic=gr.Number(None, label="semantic (empty: calibrated)"))
        out, trigger = gr.JSON(), gr.Button()

    def build_collection(files: list, name: str, preset: str, captions: str, owner: str,
                         if_exists: str, progress: gr.Progress = gr.Progress()) -> dict:
        return as_gr_error(calls.build_collection)(
            [webui._upload_path(f) for f in files or []], name, preset, captions, owner,
            if_exists, progress)

    build_collection.__doc__ = calls.build_collection.__doc__
    api = [(calls.list_collections, ["owner"]), (calls.open_collection, ["name", "owner"]),
           (build_collection, ["files", "name", "preset", "captions", "owner", "if_exists"]),
           (calls.search_image_stages, ["collection", "image", "mode", "k", "domains", "owner"]),
           (calls.search_text, ["collection", "text", "mode", "k", "domains", "owner"]),
           (calls.search_item, ["collection", "item_id", "mode", "k", "domains", "owner"]),
           (calls.find_duplicates, ["collection", "tiers", "perceptual", "semantic", "owner"]),
           (calls.delete_collection, ["name", "owner"])]
    for fn, params in api:
        wrapped = fn if fn is build_collection else as_gr_error(fn)
        heavy = fn.__name__ in ("build_collection", "find_duplicates")
        trigger.click(one_at_a_time(wrapped) if heavy else wrapped,
                      [c[p] for p in params], out,
                      api_name=fn.__name__.removesuffix("_stages"),  # answers in stages
                      api_description=(fn.__doc__ or "").split("\n\n")[0],
                      **concurrency(heavy))


def _wire(actions: AppActions, ui: dict, store: gr.State, status: gr.Markdown, timer: gr.Timer,
          map_tab: gr.Tab, owner: gr.BrowserState) -> None:
    stale = [ui[n] for n in webui.STALE_VIEWS]
    loaded = [store, ui["summary"], ui["preview"], status, ui["domains"], ui["saved"], timer,
              *stale]

    def load_examples(preset: str, owner_key: str, progress: gr.Progress = gr.Progress()
                      ) -> tuple:
        return actions.load_examples(preset, progress, owner_key)

    def build_as(add: bool | None) -> Callable[..., tuple]:
        def build(files: list, name: str, preset: str, captions: str, owner_key: str,
                  progress: gr.Progress = gr.Progress()) -> tuple:
            return actions.build_or_ask(files, name, preset, captions, progress, owner_key, add)
        return build

    build_inputs = [ui["files"], ui["name"], ui["preset"], ui["captions"], owner]
    built = [*loaded, ui["taken_row"], owner]
    on(ui["examples"].click, load_examples, [ui["preset"], owner], loaded, heavy=True)
    on(ui["build"].click, build_as(None), build_inputs, built, heavy=True)
    on(ui["build_add"].click, build_as(True), build_inputs, built, heavy=True)
    on(ui["build_new"].click, build_as(False), build_inputs, built, heavy=True)
    on(ui["open"].click, actions.open_saved, [ui["saved"], owner], loaded)
    on(ui["delete"].click, actions.ask_delete, [ui["saved"], owner],
       [ui["delete_row"], ui["delete_md"]])
    on(ui["delete_no"].click, lambda: gr.update(visible=False), None, [ui["delete_row"]])
    on(ui["delete_yes"].click, actions.delete_and_close, [ui["saved"], store, owner],
       [ui["saved"], ui["delete_row"], *loaded[:4], *stale])
    on(timer.tick, actions.tick, [store], [status, timer])

    settings = [ui[n] for n in ("mode", "k", "cross", "domains", "neutral", "words", "w_img",
                                "w_cap", "w_cc")]
    results = [ui["query_md"], ui["results"], ui["table"]]
    searched = [*results, ui["query"], ui["current"]]
    for event, kind, value in ((ui["img_btn"].click, "image", "q_image"),
                               (ui["q_image"].upload, "image", "q_image"),
                               (ui["sketch_btn"].click, "sketch", "sketch"),
                               (ui["text_btn"].click, "text", "q_text"),
                               (ui["q_text"].submit, "text", "q_text"),
                               (ui["result_click"].change, "item", "result_click")):
        # a query dropped while the previous one is still captioned runs after it, not never
        on(event, functools.partial(actions.ui_search_stages, kind),
           [store, ui[value], *settings], searched, trigger_mode="always_last")
    # any option change re-runs the current query with the new options
    for name, trigger in (("mode", "change"), ("k", "release"), ("cross", "change"),
                          ("domains", "change"), ("neutral", "change"), ("words", "blur"),
                          ("w_img", "release"), ("w_cap", "release"), ("w_cc", "release")):
        on(getattr(ui[name], trigger), actions.rerun_stages, [store, ui["query"], *settings],
           results)

    def draw(store_path: str, method: str, vectors: str, color: str,
             progress: gr.Progress = gr.Progress()) -> object:
        return actions.draw_map(store_path, method, vectors, color, progress)

    def worked(progress: gr.Progress = gr.Progress()) -> tuple:
        return webui.worked_example(actions, progress)

    on(ui["worked_btn"].click, worked, None, [ui["worked_html"], ui["worked_md"]], heavy=True)

    def evaluate(store_path: str, progress: gr.Progress = gr.Progress()) -> tuple:
        return actions.evaluate_and_keep(store_path, progress)

    on(ui["eval_btn"].click, evaluate, [store], [ui["eval_md"], ui["eval_state"]], heavy=True)
    map_inputs = [store, ui["method"], ui["vectors"], ui["color"]]
    on(ui["draw"].click, draw, map_inputs, [ui["plot"]], heavy=True)
    on(map_tab.select, draw, map_inputs, [ui["plot"]], heavy=True)
    point = [ui["sel_image"], ui["sel_md"], ui["sel_cards"]]
    on(ui["map_click"].change, actions.map_point, [store, ui["map_click"], *map_inputs[1:]],
       [*point, ui["plot"]])
    _wire_downloads(actions, ui, store, [ui["query"], *settings], map_inputs)


def _wire_downloads(actions: AppActions, ui: dict, store: gr.State, searched: list,
                    map_inputs: list) -> None:
    """The download buttons: each writes into the open collection's exports/ folder."""
    for fmt in ("json", "csv"):
        on(ui[f"search_{fmt}"].click, functools.partial(actions.download_search, fmt),
           [store, *searched], [ui["search_file"]])

    def map_file(store_path: str, method: str, vectors: str, color: str,
                 progress: gr.Progress = gr.Progress()) -> str:
        return actions.download_map(store_path, method, vectors, color, progress)

    on(ui["map_html"].click, map_file, map_inputs, [ui["map_file"]], heavy=True)
    on(ui["eval_report"].click, actions.download_eval, [store, ui["eval_state"]],
       [ui["eval_file"]])
    for fmt in ("datasets", "parquet"):
        on(ui[f"collection_{fmt}"].click, functools.partial(actions.download_collection, fmt),
           [store], [ui["collection_file"]], heavy=True)


def _wire_dupes(actions: AppActions, ui: dict, store: gr.State) -> None:
    groups = ui["groups_state"]
    settings = [ui["tiers"], ui["perceptual"], ui["semantic"]]
    shown = [ui["dupes_md"], ui["groups"], groups]
    on(ui["find"].click, actions.find_dupes, [store, *settings], shown, heavy=True)
    on(ui["dupe_click"].change, actions.choose_keep, [store, ui["dupe_click"], groups, *settings],
       shown)
    for fmt in ("csv", "json", "sh"):
        on(ui[f"export_{fmt}"].click, functools.partial(actions.export_dupes, fmt=fmt),
           [store, groups], [ui["export_file"]])
    on(ui["hist_btn"].click, actions.dupes_histogram, [store, ui["hist_tier"]],
       [ui["hist_plot"], ui["hist_examples"]])
    on(ui["drift_btn"].click, actions.prompt_drift, [store], [ui["drift_table"]])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader's lines are noise here
    get_preset(args.preset)  # an unknown preset stops here, with the list of valid ones
    set_quantize_mode(args.quantize)
    quantize_mode()  # a bad $CDIR_QUANTIZE stops here, not at the first caption
    workspace = Workspace(Path(args.store), shared=args.shared_workspace)
    workspace.sweep()  # deletions and builds that a crash left half-done
    keep_uploads_in(workspace)
    try:  # a few seconds at most; the CLI and the API decide the same way (api.choose_preset)
        preset, notice = startup_preset(args.preset, args.model_dir)
    except api.user_errors() as exc:
        raise SystemExit(f"error: {exc}") from None
    actions = AppActions(workspace, preset, args.model_dir, notice=notice)
    threading.Thread(target=webui.warm_up, args=(preset, args.model_dir), name="cdir-warm-up",
                     daemon=True).start()
    demo = build_app(actions)
    demo.queue(**QUEUE_OPTIONS)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                **launch_options(workspace))


# Every event belongs to one of two queue groups (``concurrency``): one heavy job and two light
# requests at a time for all visitors together (two CPU cores; every session shares the same
# models), and at most 64 waiting: further requests are refused at once ("queue full") instead of
# piling up in memory.
QUEUE_OPTIONS = dict(default_concurrency_limit=2, max_size=64)


def keep_uploads_in(workspace: Workspace) -> None:
    """gradio saves every upload in its cache folder before a handler sees it: keep that folder
    inside the workspace (``.gradio``, never listed as a collection), so uploads live nowhere
    else. Call it before ``build_app``; an explicit $GRADIO_TEMP_DIR wins."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workspace.root / ".gradio"))


def launch_options(workspace: Workspace) -> dict:
    """What every launch needs: no allowed path (gradio serves only the files it cached for a
    response), thumbnails through signed URLs and the bundled examples through their public
    route (``cdir.app.media``), the upload limit, theme, CSS, and the script that turns clicks on
    result cards and map points into events."""
    return dict(allowed_paths=[], max_file_size="500mb",
                app_kwargs={"routes": media_routes(workspace.root),
                            "middleware": [Middleware(DiskFullAnswer)]},
                theme=gr.themes.Soft(primary_hue="indigo"), css=CSS,
                head=f"<script>{APP_JS}</script>")


if __name__ == "__main__":
    main()
