"""cdir web app: explore an image collection across visual domains by caption matching.

    cdir app [--preset default] [--store ./stores] [--host 127.0.0.1] [--port 7860]
    python app.py [the same options]     (from a clone; the Space's entry point)

The page assembled from its tabs (``cdir.app.tabs``: one module each, with its layout and its
wiring), the launch options and ``main``; every handler lives in ``cdir.app.handlers``.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from cdir import api
from cdir.app import endpoints
from cdir.app import handlers as webui
from cdir.app.building import upload_path
from cdir.app.first_run import startup_preset
from cdir.app.guards import DiskFullAnswer
from cdir.app.handlers import AppActions
from cdir.app.media import media_routes
from cdir.app.tabs import Page
from cdir.app.tabs import collection as collection_tab
from cdir.app.tabs import duplicates as duplicates_tab
from cdir.app.tabs import evaluate as evaluate_tab
from cdir.app.tabs import map as map_tab
from cdir.app.tabs import method as method_tab
from cdir.app.tabs import search as search_tab
from cdir.app.warm_up import warm_up
from cdir.app.workspace import Workspace, default_store, storage_note
from cdir.app.wrappers import as_gr_error, concurrency, on, one_at_a_time

STATIC = Path(__file__).resolve().parent / "static"
APP_JS = (STATIC / "app.js").read_text(encoding="utf-8")
CSS = (STATIC / "app.css").read_text(encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--preset",
        default=os.environ.get("CDIR_PRESET", "default"),
        help=f"model preset: {', '.join(api.preset_names())}",
    )
    p.add_argument(
        "--store",
        default=str(default_store()),
        help="workspace directory holding the collections ($CDIR_STORE; default "
        "/data/cdir-stores when persistent storage is attached, else stores)",
    )
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--model-dir", default=None, help="local model directory ($CDIR_MODEL_DIR)")
    p.add_argument(
        "--quantize",
        choices=api.QUANTIZE_MODES,
        default=None,
        help="int8: caption faster on a CPU at a small cost in agreement "
        "($CDIR_QUANTIZE; default none)",
    )
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument(
        "--shared-workspace",
        action="store_true",
        default=os.environ.get("CDIR_SHARED_WORKSPACE", "") not in ("", "0"),
        help="every visitor sees every collection (a private deployment); by "
        "default a visitor sees the examples and the collections they built",
    )
    return p.parse_args(argv)


def build_app(actions: AppActions) -> gr.Blocks:
    """The page: the header and banners, the status line, the tabs (``cdir.app.tabs``, each
    laid out and wired by its own module) and the documented API."""
    preset = api.preset_info(actions.preset)
    # delete_cache: gradio's copies of uploads (already copied into a collection) go after a day
    with gr.Blocks(title="cdir · cross-domain image retrieval", delete_cache=(3600, 86400)) as demo:
        store = gr.State(None)
        gr.HTML(webui.header_html())
        gr.HTML(actions.notice or webui.views.banner_html(preset.trained, preset.name))
        note = storage_note(actions.workspace.root)
        if note:
            gr.HTML(f'<div class="cdir-banner" id="storage-note">{note}</div>')
        status = gr.Markdown(webui.views.status_line(None, None), elem_id="status")
        timer = gr.Timer(3.0, active=False)
        with gr.Tabs() as tabs:
            collection = collection_tab.build(actions, store)
            search = search_tab.build()
            map_ = map_tab.build()
            dupes = duplicates_tab.build(preset.trained)
            evaluation = evaluate_tab.build()
            method = method_tab.build()
        result_click = gr.Textbox(visible="hidden", elem_id="result-click")
        page = Page(
            store, status, timer, gr.BrowserState("", storage_key="cdir-owner"), result_click
        )
        # the views every tab empties when another collection opens, with their empty values
        stale = [
            pair
            for tab in (search, dupes, map_, evaluation, method, collection)
            for pair in tab.stale()
        ]
        actions.stale = tuple(empty for _, empty in stale)
        loaded = collection_tab.wire(
            collection, actions, page, search.domains, [view for view, _ in stale]
        )
        search_tab.wire(search, actions, page)
        method_tab.wire(method, actions, page)
        evaluate_tab.wire(evaluation, actions, page)
        map_tab.wire(map_, actions, page)
        for module, tab in (
            (search_tab, search),
            (map_tab, map_),
            (evaluate_tab, evaluation),
            (collection_tab, collection),
        ):
            module.wire_downloads(tab, actions, page)
        duplicates_tab.wire(dupes, actions, page)
        browse = collection.browse  # its duplicates are reviewed in the Duplicates tab
        duplicates_tab.link_review(dupes, actions, page, browse.review_dupes, browse.click, tabs)
        greeted = on(demo.load, actions.greet, [page.owner], [page.owner, collection.saved])
        search_tab.wire_link(search, actions, page, greeted, loaded, tabs)
        collection_tab.wire_reconnect(
            collection, actions, page, search.domains, [view for view, _ in stale], demo.load
        )
        _api(endpoints.Endpoints(actions))
    return demo


def _api(calls: endpoints.Endpoints) -> None:
    """The documented API (``cdir.app.endpoints``): hidden inputs named as the parameters, one
    JSON output, one named event per call. Nothing on the page shows them."""
    with gr.Group(visible=False):
        c = dict(
            collection=gr.Textbox(label="collection"),
            name=gr.Textbox(label="name"),
            owner=gr.Textbox("", label="owner"),
            files=gr.File(file_count="multiple", label="files"),
            preset=gr.Textbox("", label="preset"),
            captions=gr.Textbox("background", label="captions"),
            if_exists=gr.Textbox("new", label="if_exists"),
            # a file, not gr.Image: gradio would decode it before cdir's checks
            image=gr.File(type="filepath", label="image"),
            text=gr.Textbox(label="text"),
            item_id=gr.Number(0, precision=0, label="item_id"),
            mode=gr.Textbox("caption", label="mode"),
            k=gr.Number(12, precision=0, label="k"),
            domains=gr.Dropdown(
                [], value=[], multiselect=True, allow_custom_value=True, label="domains"
            ),
            tiers=gr.Dropdown(
                list(endpoints.TIERS),
                value=["exact", "perceptual"],
                multiselect=True,
                label="tiers",
            ),
            show_duplicates=gr.Checkbox(False, label="show_duplicates"),
            perceptual=gr.Number(8, label="perceptual"),
            semantic=gr.Number(None, label="semantic (empty: calibrated)"),
        )
        out, trigger = gr.JSON(), gr.Button()

    def build_collection(
        files: list,
        name: str,
        preset: str,
        captions: str,
        owner: str,
        if_exists: str,
        progress: gr.Progress = gr.Progress(),
    ) -> dict:
        return as_gr_error(calls.build_collection)(
            [upload_path(f) for f in files or []],
            name,
            preset,
            captions,
            owner,
            if_exists,
            progress,
        )

    build_collection.__doc__ = calls.build_collection.__doc__
    api = [
        (calls.list_collections, ["owner"]),
        (calls.open_collection, ["name", "owner"]),
        (build_collection, ["files", "name", "preset", "captions", "owner", "if_exists"]),
        (
            calls.search_image_stages,
            ["collection", "image", "mode", "k", "domains", "owner", "show_duplicates"],
        ),
        (
            calls.search_text,
            ["collection", "text", "mode", "k", "domains", "owner", "show_duplicates"],
        ),
        (
            calls.search_item,
            ["collection", "item_id", "mode", "k", "domains", "owner", "show_duplicates"],
        ),
        (calls.find_duplicates, ["collection", "tiers", "perceptual", "semantic", "owner"]),
        (calls.delete_collection, ["name", "owner"]),
    ]
    for fn, params in api:
        wrapped = fn if fn is build_collection else as_gr_error(fn)
        heavy = fn.__name__ in ("build_collection", "find_duplicates")
        trigger.click(
            one_at_a_time(wrapped) if heavy else wrapped,
            [c[p] for p in params],
            out,
            api_name=fn.__name__.removesuffix("_stages"),  # answers in stages
            api_description=(fn.__doc__ or "").split("\n\n")[0],
            **concurrency(heavy),
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader's lines are noise here
    api.preset_info(args.preset)  # an unknown preset stops here, with the list of valid ones
    api.set_quantize_mode(args.quantize)
    api.quantize_mode()  # a bad $CDIR_QUANTIZE stops here, not at the first caption
    workspace = Workspace(Path(args.store), shared=args.shared_workspace)
    workspace.sweep()  # deletions and builds that a crash left half-done
    keep_uploads_in(workspace)
    try:  # a few seconds at most; the CLI and the API decide the same way (api.choose_preset)
        preset, notice = startup_preset(args.preset, args.model_dir)
    except api.user_errors() as exc:
        raise SystemExit(f"error: {exc}") from None
    actions = AppActions(workspace, preset, args.model_dir, notice=notice)
    threading.Thread(
        target=warm_up, args=(preset, args.model_dir), name="cdir-warm-up", daemon=True
    ).start()
    demo = build_app(actions)
    demo.queue(**QUEUE_OPTIONS)
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, **launch_options(workspace)
    )


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
    return dict(
        allowed_paths=[],
        max_file_size="500mb",
        app_kwargs={
            "routes": media_routes(workspace.root),
            "middleware": [Middleware(DiskFullAnswer)],
        },
        theme=gr.themes.Soft(primary_hue="indigo"),
        css=CSS,
        head=f"<script>{APP_JS}</script>",
    )


if __name__ == "__main__":
    main()
