"""The Browse panel's stylesheet and page script (:mod:`cdir.app.tabs.browse` loads them with the
panel): the grid's columns, the large viewer's overlay and keys, and the clicks that gradio
components cannot report (a card, a region drawn on the map) written into the panel's hidden
textboxes, as in ``app.js``.
"""

STYLE = """<style>
.cdir-browse-grid { grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); }
.cdir-card .file { padding: 0 6px; color: #6b7280; font-size: 0.92em; overflow-wrap: anywhere; }
.cdir-card .badge.tag { background: #fef3c7; color: #92400e; }
.cdir-viewer { position: fixed !important; inset: 2vh 2vw; z-index: 900; background: white;
  width: auto !important; min-width: 0 !important; box-sizing: border-box;
  border: 2px solid #6366f1; border-radius: 12px; padding: 10px; overflow: auto;
  box-shadow: 0 10px 40px rgba(0,0,0,0.35); }
.cdir-viewer-details > div { margin: 4px 0; overflow-wrap: anywhere; }
.cdir-viewer-details .src { color: #6b7280; font-size: 0.9em; }
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
    const card = event.target.closest && event.target.closest(".cdir-card[data-browse-id]");
    if (card) send("#browse-click", card.dataset.browseId + ":" + Date.now());
  });
  // the large viewer: arrow keys and j / k step through the current view, Esc closes it
  // (not while typing in one of its fields)
  const VIEWER_KEYS = { ArrowRight: "next", j: "next", ArrowLeft: "prev", k: "prev",
    Escape: "close" };
  document.addEventListener("keydown", (event) => {
    const viewer = document.querySelector("#browse-viewer");
    if (!viewer || !viewer.getClientRects().length || !VIEWER_KEYS[event.key]) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target && event.target.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || event.target.isContentEditable) return;
    send("#browse-key", VIEWER_KEYS[event.key] + ":" + Date.now());
    event.preventDefault();
    event.stopPropagation();
  }, true);
  let tip = null;
  const bind = () => {
    const plot = document.querySelector("#browse-map .js-plotly-plot");
    if (!plot || plot._cdirBrowse || typeof plot.on !== "function") return;
    plot._cdirBrowse = true;
    // a mark in the page that the listeners below are attached (tests wait for it)
    plot.dataset.cdirBound = "1";
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
