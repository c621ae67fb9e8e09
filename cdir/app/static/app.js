// Clicks that gradio components cannot report are handed to hidden textboxes, whose input event
// runs the Python handler: a click on a result card (-> #result-click, "more like this"), a click
// on a map point or on a neighbour card under the map (-> #map-click), on a near-duplicate
// (-> #dupe-click, "<group>-<id>": keep this one). "<id>:<time>" makes a
// second click on the same item a new value.
(function () {
  function send(target, id) {
    const box = document.querySelector(target + " textarea, " + target + " input");
    if (!box) return;
    box.value = id + ":" + Date.now();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function activate(card) {
    if (card.dataset.group !== undefined) {
      send("#dupe-click", card.dataset.group + "-" + card.dataset.id);
    } else {
      send(card.closest("#map-neighbours") ? "#map-click" : "#result-click", card.dataset.id);
    }
  }
  document.addEventListener("click", function (event) {
    const card = event.target.closest && event.target.closest(".cdir-card[data-id]");
    if (card) activate(card);
  });
  // cards are focusable (tabindex=0): Enter or Space does what a click does; on a
  // near-duplicate, k keep, r remove, a alternate, n not a duplicate, u undo, c compare with
  // its group's keep; j / arrow down: next group,
  // arrow up: previous group
  const DUPE_KEYS = { k: "keep", r: "remove", a: "alternate", n: "not_duplicate", u: "undo" };
  let refocus = null, pressedOn = null;
  document.addEventListener("keydown", function (event) {
    const card = event.target.closest && event.target.closest(".cdir-card[data-id]");
    if (!card || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      activate(card);
      return;
    }
    if (card.dataset.group === undefined) return;
    if (event.key === "c") {  // compare this card with its group's keep
      send("#compare-click", card.dataset.group + "-" + card.dataset.id);
      const panel = document.querySelector("#compare-panel");
      if (panel) panel.scrollIntoView({ block: "start" });
      event.preventDefault();
      return;
    }
    if (DUPE_KEYS[event.key]) {
      refocus = card.dataset.id;
      pressedOn = card;
      send("#dupe-click", card.dataset.group + "-" + card.dataset.id + "-" + DUPE_KEYS[event.key]);
      event.preventDefault();
      return;
    }
    const step = { j: 1, ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (step) {
      const rows = [...document.querySelectorAll("#dupe-groups .cdir-row")];
      const next = rows[rows.indexOf(card.closest(".cdir-row")) + step];
      const first = next && next.querySelector(".cdir-card[data-id]");
      if (first) { first.focus(); first.scrollIntoView({ block: "nearest" }); }
      event.preventDefault();
    }
  });
  new MutationObserver(function () {  // the groups are drawn again after a decision
    if (refocus === null) return;
    const again = document.querySelector('#dupe-groups .cdir-card[data-id="' + refocus + '"]');
    if (again && again !== pressedOn) { again.focus(); refocus = pressedOn = null; }
  }).observe(document.body, { childList: true, subtree: true });
  function bindMap() {
    const plot = document.querySelector("#cdir-map .js-plotly-plot");
    if (!plot || plot._cdirBound || typeof plot.on !== "function") return;
    plot._cdirBound = true;
    plot.dataset.cdirBound = "1";  // a mark in the page that the click is bound (tests wait for it)
    plot.on("plotly_click", function (event) {
      const point = event && event.points && event.points[0];
      if (!point || point.customdata === undefined) return;
      send("#map-click", Array.isArray(point.customdata) ? point.customdata[0] : point.customdata);
    });
  }
  // the sketchpad starts with its brush (thin, black) selected: dragging draws at once
  function selectBrush() {
    const pad = document.querySelector("#query-sketch");
    if (!pad || pad._cdirBrush || pad.offsetParent === null) return;
    const brush = pad.querySelector('button[aria-label="Brush"]');
    if (!brush) return;
    pad._cdirBrush = true;
    brush.click();
  }
  setInterval(function () { bindMap(); selectBrush(); }, 500);
})();
