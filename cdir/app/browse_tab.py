"""The Browse panel's layout and wiring: the filtered grid, the map's box/lasso selection, one item,
tags, and duplicate decisions. Handlers live in :mod:`cdir.app.browse` and
:mod:`cdir.app.browse_dupes`; ``app.py`` adds the tab with one call to :func:`build_browse_tab`.

Clicks that gradio components cannot report go through hidden textboxes, as in ``app.js``: a
card (``#browse-click``), a region drawn on the map (``#browse-region``: the plotly
``range``/``lassoPoints`` as JSON), a decision button (``#browse-decide``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cdir.app.browse import (
    PROMPT_CHOICES,
    SORT_CHOICES,
    STATUS_CHOICES,
    BrowseActions,
)
from cdir.app.browse_dupes import DupeActions
from cdir.app.views import semantic_label

if TYPE_CHECKING:
    from cdir.app.handlers import AppActions

STYLE = """<style>
.cdir-browse-grid { grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); }
.cdir-card .file { padding: 0 6px; color: #6b7280; font-size: 0.92em; overflow-wrap: anywhere; }
.cdir-card .badge.tag { background: #fef3c7; color: #92400e; }
.cdir-groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr));
  gap: 12px; }
.cdir-group { border: 1px solid #e5e7eb; border-radius: 10px; padding: 6px; }
.cdir-group-members { display: grid; grid-template-columns: repeat(auto-fill, minmax(100px, 1fr));
  gap: 6px; }
.cdir-member.remove { opacity: 0.55; } .cdir-member.not_duplicate { border-color: #0ea5e9; }
.cdir-member .decision { padding: 0 6px; font-size: 0.9em; }
.cdir-member .buttons { display: flex; flex-wrap: wrap; gap: 3px; padding: 4px 6px 6px 6px; }
#browse-groups button.cdir-decide { border: 1px solid #cbd5e1 !important; border-radius: 6px;
  padding: 1px 5px !important; font-size: 0.8em !important; font-weight: 500; line-height: 1.4;
  background: white; cursor: pointer; min-width: 0 !important; width: auto !important; }
#browse-groups button.cdir-decide.on { background: #6366f1 !important; color: white;
  border-color: #6366f1 !important; }
.cdir-hover-thumb { position: fixed; z-index: 1000; max-width: 160px; max-height: 160px;
  border: 2px solid #6366f1; border-radius: 6px; background: white; pointer-events: none;
  display: none; }
</style>"""

JS = """
if (!window._cdirBrowse) {
  window._cdirBrowse = true;
  const send = (target, value) => {
    const box = document.querySelector(target + " textarea, " + target + " input");
    if (!box) return;
    box.value = value;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-decide]");
    if (button) { send("#browse-decide", button.dataset.decide + ":" + Date.now()); return; }
    const card = event.target.closest && event.target.closest(".cdir-card[data-browse-id]");
    if (card) send("#browse-click", card.dataset.browseId + ":" + Date.now());
  });
  // duplicate review by keyboard, on the focused member card: k keep, r remove, a alternate,
  // n not a duplicate, u undo; j / arrow down: next group, arrow up: previous group
  const DECISION_KEYS = { k: "keep", r: "remove", a: "alternate", n: "not_duplicate", u: "undo" };
  let refocus = null;
  document.addEventListener("keydown", (event) => {
    const member = document.activeElement && document.activeElement.closest
      && document.activeElement.closest("#browse-groups .cdir-member");
    if (!member || event.ctrlKey || event.metaKey || event.altKey) return;
    const button = member.querySelector("button[data-decide]");
    const decision = DECISION_KEYS[event.key];
    if (decision && button) {
      const [group, id] = button.dataset.decide.split("|");
      refocus = id;
      send("#browse-decide", group + "|" + id + "|" + decision + ":" + Date.now());
      event.preventDefault();
      return;
    }
    const step = { j: 1, ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (step) {
      const groups = [...document.querySelectorAll("#browse-groups .cdir-group")];
      const next = groups[groups.indexOf(member.closest(".cdir-group")) + step];
      const card = next && next.querySelector(".cdir-member");
      if (card) { card.focus(); card.scrollIntoView({ block: "nearest" }); }
      event.preventDefault();
    }
  });
  new MutationObserver(() => {  // after a decision the groups are drawn again: keep the place
    if (refocus === null) return;
    const card = document.querySelector(
      '#browse-groups .cdir-member[data-member="' + refocus + '"]');
    if (card) { card.focus(); refocus = null; }
  }).observe(document.body, { childList: true, subtree: true });
  let tip = null;
  const bind = () => {
    const plot = document.querySelector("#browse-map .js-plotly-plot");
    if (!plot || plot._cdirBrowse || typeof plot.on !== "function") return;
    plot._cdirBrowse = true;
    plot.on("plotly_selected", (event) => {
      if (!event) return;
      const region = event.lassoPoints ? { lassoPoints: event.lassoPoints }
        : (event.range ? { range: event.range } : {});
      send("#browse-region", JSON.stringify(region) + "|" + Date.now());
    });
    plot.on("plotly_deselect", () => send("#browse-region", "|" + Date.now()));
    plot.on("plotly_click", (event) => {
      const point = event && event.points && event.points[0];
      if (point && Array.isArray(point.customdata)) {
        send("#browse-click", point.customdata[0] + ":" + Date.now());
      }
    });
    plot.on("plotly_hover", (event) => {
      const point = event && event.points && event.points[0];
      const url = point && Array.isArray(point.customdata) && point.customdata[5];
      if (!url) return;
      if (!tip) {
        tip = document.createElement("img");
        tip.className = "cdir-hover-thumb";
        document.body.appendChild(tip);
      }
      tip.src = url;
      tip.style.display = "block";
      tip.style.left = (event.event.clientX + 18) + "px";
      tip.style.top = (event.event.clientY + 18) + "px";
    });
    plot.on("plotly_unhover", () => { if (tip) tip.style.display = "none"; });
  };
  setInterval(bind, 500);
}
"""


# The panel's events are page wiring, kept off the API page (cdir.app.endpoints is the API).
PRIVATE = {"api_name": False, "api_visibility": "private", "concurrency_id": "light",
           "concurrency_limit": 2}


def build_browse_tab(actions: AppActions, store: Any) -> Any:
    """Lay out the Browse panel (an accordion, opened on demand, placed in the Collection tab so
    the tab bar keeps its width) and wire it; ``store`` is the app's ``gr.State`` holding the
    open collection's path. Returns the accordion."""
    import gradio as gr

    browse = BrowseActions(actions)
    ui: dict[str, Any] = {}
    with gr.Accordion("Browse the whole collection: filter, select on the map, tag, decide on "
                      "duplicates", open=False, elem_id="browse-panel") as tab:
        gr.HTML(STYLE, js_on_load=JS, elem_id="browse-js")
        with gr.Row():
            for key, label in (("domains", "Domain"), ("classes", "Class"),
                               ("sources", "Label source"), ("tags", "Tag")):
                ui[key] = gr.Dropdown([], multiselect=True, label=label,
                                      elem_id=f"browse-{key}")
        with gr.Row():
            ui["text"] = gr.Textbox(label="Words in file name, caption or prompt (Enter)",
                                    elem_id="browse-text", scale=2)
            ui["prompt"] = gr.Radio(PROMPT_CHOICES, value="any", label="Prompt")
            ui["status"] = gr.Radio(STATUS_CHOICES, value="any", label="Status")
        with gr.Row():
            ui["sort"] = gr.Dropdown(SORT_CHOICES, value="name", label="Sort by")
            ui["descending"] = gr.Checkbox(label="Descending")
            ui["similar"] = gr.Textbox(label="Similar to: an item id or words",
                                       elem_id="browse-similar")
            ui["page"] = gr.Number(value=1, precision=0, minimum=1, label="Page",
                                   elem_id="browse-page-number")
            ui["prev"] = gr.Button("◀ previous", elem_id="browse-prev")
            ui["next"] = gr.Button("next ▶", elem_id="browse-next")
        with gr.Row():
            with gr.Column(scale=3):
                ui["page_md"] = gr.Markdown("", elem_id="browse-page")
                ui["grid"] = gr.HTML("", elem_id="browse-grid")
            with gr.Column(scale=2):
                ui["item_image"] = gr.Image(label="The item", interactive=False, height=260)
                ui["item_md"] = gr.Markdown("Click a card to open it.", elem_id="browse-item")
                with gr.Row():
                    ui["tag"] = gr.Textbox(label="Tag", elem_id="browse-tag")
                    ui["scope"] = gr.Radio([("this item", "item"), ("this page", "page"),
                                            ("every matching item", "matching")],
                                           value="matching", label="Tag what",
                                           elem_id="browse-scope")
                with gr.Row():
                    ui["tag_add"] = gr.Button("Add tag", elem_id="browse-tag-add")
                    ui["tag_remove"] = gr.Button("Remove tag", elem_id="browse-tag-remove")
                ui["tag_md"] = gr.Markdown("", elem_id="browse-tag-result")
                ui["item_html"] = gr.HTML("", elem_id="browse-item-neighbours")
        _map_panel(ui)
        _dupes_panel(ui, _trained(actions))
        for key in ("click", "region", "decide"):
            ui[key] = gr.Textbox(visible="hidden", elem_id=f"browse-{key}")
    ui["selection"], ui["groups"], ui["drawn"] = gr.State(None), gr.State([]), gr.State(None)
    _wire(browse, ui, store, tab)
    _wire_dupes(DupeActions(browse), ui, store)
    return tab


def _map_panel(ui: dict[str, Any]) -> None:
    import gradio as gr

    with gr.Accordion("Map: draw a box or a lasso to show those items in the grid", open=False,
                      elem_id="browse-map-panel"):
        with gr.Row():
            ui["method"] = gr.Radio([("UMAP", "umap"), ("t-SNE", "tsne"), ("PCA", "pca")],
                                    value="umap", label="Projection", elem_id="browse-method")
            ui["vectors"] = gr.Radio(["image", "caption"], value="image", label="Embeddings")
            ui["color"] = gr.Radio(["domain", "class"], value="domain", label="Colour by")
            ui["named"] = gr.Checkbox(label="Name the clusters from the captions",
                                      elem_id="browse-named")
        with gr.Row():
            ui["draw"] = gr.Button("Draw the map", variant="primary", elem_id="browse-draw")
            ui["clear"] = gr.Button("Clear the selection", elem_id="browse-clear")
        ui["sel_md"] = gr.Markdown("", elem_id="browse-selection")
        ui["plot"] = gr.Plot(elem_id="browse-map")


def _trained(actions: Any) -> bool:
    from cdir import api

    try:
        return bool(api.get_preset(actions.preset).trained)
    except Exception:  # an unknown preset: leave the field as it is
        return True


def _dupes_panel(ui: dict[str, Any], trained: bool = True) -> None:
    import gradio as gr

    tiers = ["exact", "perceptual", "semantic"]
    with gr.Accordion("Duplicate decisions (saved in the collection)", open=False,
                      elem_id="browse-dupes-panel"):
        with gr.Row():
            ui["tiers"] = gr.CheckboxGroup(tiers, value=tiers[:2], label="Tiers",
                                           elem_id="browse-tiers")
            ui["perceptual"] = gr.Slider(0, 20, value=8, step=2, elem_id="browse-perceptual",
                                         label="perceptual: most differing pHash bits")
            ui["semantic"] = gr.Number(None, step=0.005,
                                       label=semantic_label(trained), interactive=trained,
                                       elem_id="browse-semantic")
            ui["find"] = gr.Button("Find near-duplicates", variant="primary",
                                   elem_id="browse-find")
        ui["dupes_md"] = gr.Markdown("", elem_id="browse-dupes-summary")
        ui["groups_html"] = gr.HTML("", elem_id="browse-groups")
        with gr.Row():
            ui["accept_tier"] = gr.Radio(["all", *tiers], value="all",
                                         label="Accept suggestions of")
            ui["accept"] = gr.Button("Accept the suggestions", elem_id="browse-accept")
        with gr.Row():
            for fmt, label in (("csv", "CSV"), ("json", "JSON"), ("sh", "removal list (.sh)")):
                ui[f"export_{fmt}"] = gr.Button(f"Export {label}", elem_id=f"browse-export-{fmt}")
            ui["export_file"] = gr.File(label="Decisions (cdir never deletes or moves files)",
                                        interactive=False, elem_id="browse-export-file")


def _wire(browse: BrowseActions, ui: dict[str, Any], store: Any, tab: Any) -> None:
    import functools

    from cdir.app.wrappers import as_gr_error

    filters = [ui[k] for k in ("domains", "classes", "sources", "prompt", "status", "text", "tags",
                               "sort", "descending", "similar")]
    shown = [ui["grid"], ui["page_md"], ui["page"]]

    def first_page(store_path: str | None, *values: Any) -> tuple[str, str, int]:
        return browse.grid(store_path, *values[:10], 1, values[10])

    def step(delta: int, store_path: str | None, *values: Any) -> tuple[str, str, int]:
        page = max(1, int(values[10] or 1) + delta)
        return browse.grid(store_path, *values[:10], page, values[11])

    refresh = as_gr_error(first_page)
    inputs = [store, *filters, ui["selection"]]
    for widget in filters:
        if widget in (ui["text"], ui["similar"]):
            widget.submit(refresh, inputs, shown, **PRIVATE)
        else:
            widget.change(refresh, inputs, shown, **PRIVATE)
    paged = [store, *filters, ui["page"], ui["selection"]]
    ui["page"].submit(as_gr_error(browse.grid), paged, shown, **PRIVATE)
    ui["prev"].click(as_gr_error(functools.partial(step, -1)), paged, shown, **PRIVATE)
    ui["next"].click(as_gr_error(functools.partial(step, 1)), paged, shown, **PRIVATE)
    facet_widgets = [ui[k] for k in ("domains", "classes", "sources", "tags")]
    for event in (tab.expand, store.change):  # opened, or another collection opened
        event(as_gr_error(browse.facets), [store], facet_widgets, **PRIVATE).then(
            refresh, inputs, shown, **PRIVATE)
    ui["click"].change(as_gr_error(browse.open_item), [store, ui["click"]],
                       [ui["item_image"], ui["item_md"], ui["item_html"]], **PRIVATE)
    for action in ("add", "remove"):
        ui[f"tag_{action}"].click(
            as_gr_error(functools.partial(_tag, browse, action)),
            [store, ui["tag"], ui["scope"], ui["click"], *paged[1:]], [ui["tag_md"]], **PRIVATE
        ).then(as_gr_error(browse.facets), [store], facet_widgets, **PRIVATE).then(
            as_gr_error(browse.grid), paged, shown, **PRIVATE)
    map_inputs = [store, ui["method"], ui["vectors"], ui["color"], ui["named"]]
    def draw(store_path: str | None, method: str, vectors: str, *rest: Any) -> tuple[Any, list]:
        return browse.draw_map(store_path, method, vectors, *rest), [method, vectors]

    def select(store_path: str | None, drawn: list | None, region: str) -> tuple[Any, str]:
        method, vectors = drawn or ("umap", "image")  # the projection on screen
        return browse.select_region(store_path, method, vectors, region)

    ui["draw"].click(as_gr_error(draw), map_inputs, [ui["plot"], ui["drawn"]], **PRIVATE)
    ui["region"].change(as_gr_error(select), [store, ui["drawn"], ui["region"]],
                        [ui["selection"], ui["sel_md"]], **PRIVATE).then(
        refresh, inputs, shown, **PRIVATE)
    ui["clear"].click(lambda: (None, "Selection cleared: the grid shows every item."), None,
                      [ui["selection"], ui["sel_md"]], **PRIVATE).then(
        refresh, inputs, shown, **PRIVATE)


def _tag(browse: BrowseActions, action: str, store: str | None, tag: str, scope: str,
         item: str, *filters: Any) -> str:
    return browse.tag(store, action, tag, scope, item, *filters)


def _wire_dupes(dupes: DupeActions, ui: dict[str, Any], store: Any) -> None:
    import functools

    from cdir.app.wrappers import as_gr_error

    settings = [ui["tiers"], ui["perceptual"], ui["semantic"]]
    shown = [ui["dupes_md"], ui["groups_html"], ui["groups"]]
    ui["find"].click(as_gr_error(dupes.find), [store, *settings], shown, **PRIVATE)
    ui["decide"].change(as_gr_error(dupes.decide), [store, ui["decide"], ui["groups"], *settings],
                        shown, **PRIVATE)
    ui["accept"].click(as_gr_error(dupes.accept),
                       [store, ui["accept_tier"], ui["groups"], *settings], shown, **PRIVATE)
    for fmt in ("csv", "json", "sh"):
        ui[f"export_{fmt}"].click(as_gr_error(functools.partial(_export, dupes, fmt)),
                                  [store, ui["groups"]], [ui["export_file"]], **PRIVATE)


def _export(dupes: DupeActions, fmt: str, store: str | None, state: list[dict[str, Any]]) -> str:
    return dupes.export(store, fmt, state)
