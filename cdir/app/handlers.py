"""The web app's event handlers: each takes widget values and returns widget values.

``app.py`` lays out the widgets and wires them to these methods; every decision lives here, in
``cdir.api`` or below, so it is testable by calling the methods directly, without a browser.
Browser-session state holds only the path of the open collection, never models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views
from cdir.app.workspace import Workspace, copy_uploads
from cdir.ingest.jobs import CaptionJobs
from cdir.ingest.pipeline import IngestConfig
from cdir.models.presets import get_preset
from cdir.retrieval.search import SearchOptions

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
CAPTION_CHOICES = [("in the background (searchable at once)", "background"),
                   ("now, before searching (slow)", "all"),
                   ("only when needed (lazy)", "lazy")]
MODE_CHOICES = [("Caption matching (CM)", "caption"), ("Image → image", "image"),
                ("Caption → caption", "caption-caption"), ("Fusion", "fusion")]


def user_errors() -> tuple[type[BaseException], ...]:
    from cdir.cli import _user_errors

    return (*_user_errors(), ValueError)


def as_gr_error(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into a readable message in the page instead of a stack trace."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except gr.Error:
            raise
        except user_errors() as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            log.exception("handler %s failed", func.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}). "
                           "Nothing was lost; try again or check the server log.") from exc

    return wrapper


def gradio_progress(progress: Any, unit: str = "images") -> Callable[[int, int, str], None]:
    """A ``progress(done, total, stage)`` callback that drives a ``gr.Progress``: the page shows
    the stage and ``done / total``, and an API caller reads them from ``Job.status()``.

    Test ``progress is not None``, never ``if progress``: a ``gr.Progress`` is falsy."""

    def report(done: int, total: int, stage: str) -> None:
        progress((done, total or None), desc=stage, unit=unit)

    return report


@dataclass
class SearchSettings:
    """The search controls' values."""

    mode: str = "caption"
    k: int = 12
    cross_domain: bool = False
    domains: Sequence[str] = ()
    neutralise: bool = False
    style_words: str = ""
    weights: tuple[float, float, float] = (0.5, 1.0, 0.5)

    @classmethod
    def from_widgets(cls, mode: str, k: int, cross: bool, domains: Sequence[str],
                     neutral: bool, words: str, w_image: float, w_caption: float,
                     w_cc: float) -> SearchSettings:
        return cls(mode, k, cross, domains, neutral, words, (w_image, w_caption, w_cc))

    def options(self) -> SearchOptions:
        from cdir.models.style_words import Neutraliser

        words = Neutraliser.from_text(self.style_words).words if self.style_words.strip() else None
        fusion = dict(zip(("image", "caption", "caption-caption"), self.weights, strict=True))
        return SearchOptions(mode=self.mode, k=int(self.k), domains=tuple(self.domains or ()),
                             neutralise=bool(self.neutralise), style_words=words,
                             fusion=fusion if self.mode == "fusion" else None)


@dataclass
class AppActions:
    workspace: Workspace
    preset: str
    model_root: str | None = None
    jobs: CaptionJobs = field(default_factory=CaptionJobs)
    config: IngestConfig = field(default_factory=IngestConfig)  # decode and archive limits

    # ------------------------------------------------------------------------- collections
    def load_examples(self, preset: str, progress: Any = None) -> tuple[Any, ...]:
        preset = preset or self.preset
        return self._ingest([EXAMPLES_DIR], self.workspace.examples_dir(preset), preset,
                            "background", progress)

    def build(self, files: Sequence[str] | None, name: str, preset: str, captions: str,
              progress: Any = None) -> tuple[Any, ...]:
        if not files:
            raise gr.Error("Drop some images or a zip file into the upload box first.")
        get_preset(preset or self.preset)  # an unknown preset fails before anything is copied
        collection = self.workspace.new_collection(name)
        try:
            uploads = copy_uploads([_upload_path(f) for f in files], collection)
            return self._ingest(uploads, collection, preset or self.preset, captions, progress)
        except BaseException:
            self.workspace.discard_if_unusable(collection)  # a refused zip leaves nothing behind
            raise

    def _ingest(self, sources: Sequence[Path], store: Path, preset: str, captions: str,
                progress: Any) -> tuple[Any, ...]:
        config = replace(self.config, captions="lazy" if captions == "background" else captions)
        report = api.ingest(sources, store, preset, config, self.model_root,
                            gradio_progress(progress) if progress is not None else None)
        if captions == "background":
            self.jobs.start(store, api.get_models(preset, self.model_root))
        return self.collection_view(str(store), report.rejected)

    def open_saved(self, name: str) -> tuple[Any, ...]:
        if not name:
            raise gr.Error("Choose a saved collection first.")
        return self.collection_view(str(self.workspace.path(name)))

    def collection_view(self, store: str, rejected: Sequence[dict[str, str]] = ()
                        ) -> tuple[Any, ...]:
        """(state, summary, preview, status, domain choices, collection choices, timer)."""
        info = api.info(store)
        summary = views.collection_summary(info) + views.rejected_markdown(rejected)
        session = api.session_for(store, self.model_root)
        preview = "".join(views.cards_row(f"{domain} (first {len(hits)})", hits, clickable=False,
                                          strip=True) for domain, hits in api.preview(session))
        job = self.jobs.status(Path(store))
        running = job is not None and not job.finished
        return (store, summary, preview,
                views.status_line(info, job.describe() if job else None),
                gr.update(choices=sorted(info["domains"]), value=[]),
                gr.update(choices=self.workspace.collections(), value=info["name"]),
                gr.Timer(active=running))

    def tick(self, store: str | None) -> tuple[Any, Any]:
        """Periodic status while captions are computed in the background."""
        if not store:
            return views.status_line(None, None), gr.Timer(active=False)
        job = self.jobs.status(Path(store))
        running = job is not None and not job.finished
        return (views.status_line(api.info(store), job.describe() if job else None),
                gr.Timer(active=running))

    def saved_choices(self) -> Any:
        """The saved collections, newest first and preselected (refreshed on every page load)."""
        names = self.workspace.collections()
        return gr.update(choices=names, value=names[0] if names else None)

    # ------------------------------------------------------------------------------ search
    def search(self, store: str | None, query: dict[str, Any], settings: SearchSettings
               ) -> tuple[str, str, list[list[Any]]]:
        """(query markdown, results HTML, score table)."""
        session = self._session(store)
        options = settings.options()
        if settings.cross_domain:
            rows = api.search_per_domain(session, options=options, **query)
            if not rows:
                raise gr.Error("This collection has no domain labels to split the results by.")
            titled = [(f"{d}: top {len(r.hits)}", r) for d, r in rows]
        else:
            result = api.search(session, options=options, **query)
            titled = [(f"Top {len(result.hits)} results (click one for more like it)", result)]
        results = [r for _, r in titled]
        return (views.query_markdown(results[0]), views.results_html(titled),
                views.hits_table(results))

    def search_image(self, store: str | None, image: str | None, *settings: Any
                     ) -> tuple[Any, ...]:
        if not image:
            raise gr.Error("Drop or paste a query image first.")
        return self.search(store, {"image": image}, SearchSettings.from_widgets(*settings))

    def search_sketch(self, store: str | None, sketch: Any, *settings: Any) -> tuple[Any, ...]:
        picture = _sketch_image(sketch)
        if picture is None:
            raise gr.Error("Draw something on the sketchpad first.")
        return self.search(store, {"image": picture}, SearchSettings.from_widgets(*settings))

    def search_text(self, store: str | None, text: str, *settings: Any) -> tuple[Any, ...]:
        return self.search(store, {"text": text}, SearchSettings.from_widgets(*settings))

    def on_result_click(self, store: str | None, clicked: str, *settings: Any
                        ) -> tuple[Any, ...]:
        """A click on a result card: search for more like it."""
        item_id = _clicked_id(clicked)
        if item_id is None:
            return gr.update(), gr.update(), gr.update()
        return self.search(store, {"item_id": item_id}, SearchSettings.from_widgets(*settings))

    # -------------------------------------------------------------------------- duplicates
    def find_dupes(self, store: str | None, tiers: Sequence[str], perceptual: float,
                   semantic: float) -> tuple[str, str, list[dict[str, Any]], dict[int, int]]:
        """(summary, groups HTML, groups state, keep choices) for the chosen tiers."""
        from cdir.duplicates.finder import DedupConfig, find_groups

        session = self._session(store)
        if not tiers:
            raise gr.Error("Tick at least one tier (exact, perceptual or semantic).")
        config = DedupConfig(tiers=tuple(tiers), perceptual_max_distance=int(perceptual),
                             semantic_min_similarity=float(semantic))
        groups = find_groups(session.store, config)
        state = [{"tier": g.tier, "members": list(map(int, g.members)),
                  "representative": int(g.representative),
                  "scores": {int(k): float(v) for k, v in g.scores.items()}} for g in groups]
        return (views.dupes_summary(groups), self._groups_html(session, state, {}), state, {})

    def choose_keep(self, store: str | None, clicked: str, state: list[dict[str, Any]],
                    keeps: dict[int, int]) -> tuple[Any, Any]:
        """A click on a member card makes it the one to keep in its group."""
        group_no, item_id = _clicked_pair(clicked)
        if group_no is None or not 0 <= group_no < len(state):
            return gr.update(), gr.update()
        keeps = {**keeps, group_no: item_id}
        return self._groups_html(self._session(store), state, keeps), keeps

    def export_dupes(self, store: str | None, state: list[dict[str, Any]],
                     keeps: dict[int, int], fmt: str) -> str:
        """Write the decisions inside the store (never touching the images); returns the file."""
        from cdir.duplicates.review import decision_rows, decisions_path, export_decisions

        if not state:
            raise gr.Error("Find near-duplicates first.")
        session = self._session(store)
        rows = decision_rows(session.store, _dup_groups(state), keeps)
        return str(export_decisions(rows, decisions_path(session.store, fmt), fmt))

    def dupes_histogram(self, store: str | None, tier: str) -> tuple[Any, str]:
        """The nearest-neighbour histogram of a tier, and example pairs near its threshold."""
        from cdir.duplicates.calibration import similarity_histogram
        from cdir.maps.plots import histogram_figure

        session = self._session(store)
        hist = similarity_histogram(session.store, tier)
        x_title = ("cosine similarity to the nearest other image" if tier == "semantic"
                   else "differing pHash bits to the nearest other image")
        figure = histogram_figure(hist.edges, hist.counts, hist.threshold,
                                  f"{tier}: how close is each image's nearest neighbour?", x_title)
        hit = session.searcher.hit
        examples = [(f"{hist.edges[b]:.3g} – {hist.edges[b + 1]:.3g}",
                     [(hit(0, a, v), hit(0, c, v)) for a, c, v in pairs])
                    for b, pairs in sorted(hist.examples.items()) if pairs]
        return figure, views.histogram_examples_html(examples)

    def prompt_drift(self, store: str | None) -> list[list[Any]]:
        """Images with an embedded prompt, those that drifted furthest from it first."""
        from cdir.duplicates.prompt_agreement import prompt_agreement
        from cdir.store.cache import Cache

        session = self._session(store)
        cache = Cache.for_store(session.store.root)
        try:
            table = prompt_agreement(session.store, session.models, cache)
        finally:
            cache.close()
        if table.empty:
            raise gr.Error("No image in this collection carries a generation prompt.")
        return table.round(3).values.tolist()

    def _groups_html(self, session: api.Session, state: list[dict[str, Any]],
                     keeps: dict[int, int]) -> str:
        from cdir.duplicates.review import review_table

        tables = [(g.tier, review_table(session.store, g, keeps.get(n)))
                  for n, g in enumerate(_dup_groups(state))]
        return views.groups_html(tables)

    # ---------------------------------------------------------------------------- evaluate
    def evaluate(self, store: str | None, progress: Any = None) -> str:
        """The paper's protocol on the open collection (needs domain and class labels)."""
        from cdir.evaluation.evaluate_store import eval_header, evaluate_collection
        from cdir.evaluation.protocol import EvalConfig

        session = self._session(store)
        config = EvalConfig()
        report_progress = gradio_progress(progress, "pairs") if progress is not None else None
        report = evaluate_collection(session.store, session.models, config,
                                     progress=report_progress)
        header = eval_header(session.models, session.store.root.name, session.store.root,
                             session.store.root, config)
        return report.to_markdown(header)

    def _session(self, store: str | None) -> api.Session:
        if not store:
            raise gr.Error("Open a collection first: load the example collection or upload "
                           "images on the Collection tab.")
        return api.session_for(store, self.model_root)

    # --------------------------------------------------------------------------------- map
    def draw_map(self, store: str | None, method: str, vectors: str, color_by: str,
                 progress: Any = None) -> Any:
        from cdir.maps.collection_map import collection_map

        session = self._session(store)
        report = (lambda msg: progress(None, desc=msg)) if progress is not None else None
        return collection_map(session.store, method, vectors, color_by, progress=report)

    def show_point(self, store: str | None, clicked: str, settings_k: int = 8
                   ) -> tuple[Any, ...]:
        """The clicked map point: its image, caption, and its caption-matching neighbours."""
        item_id = _clicked_id(clicked)
        if item_id is None:
            return gr.update(), gr.update(), gr.update()
        session = self._session(store)
        result = api.search(session, item_id=item_id, options=SearchOptions(k=int(settings_k)))
        row = session.store.items.iloc[item_id]
        thumb = str(session.store.thumb_path(str(row["sha256"])))
        text = views.query_markdown(result)
        return thumb, text, views.cards_row("Its caption-matching neighbours", result.hits)


WORKED_QUERY = EXAMPLES_DIR / "sketch" / "house" / "sketch_house_01.jpg"


def worked_example(actions: AppActions, progress: Any = None) -> tuple[str, str]:
    """The Method tab's live example: a sketch of a house as the query, its caption, and the top
    results of image → image next to caption matching, with what they show counted."""
    store = actions.workspace.examples_dir(actions.preset)
    if not (store / "meta.json").is_file():
        actions.load_examples(actions.preset, progress)
    session = api.session_for(store, actions.model_root)
    rows = [(mode, api.search(session, image=WORKED_QUERY, options=SearchOptions(mode=mode, k=6)))
            for mode in ("image", "caption")]
    caption = rows[1][1].query.caption or ""
    html = (f'<div class="cdir-worked"><img src="{views.file_url(str(WORKED_QUERY))}" '
            f'alt="query"><div><b>Query:</b> a sketch of a house<br><b>Its caption:</b> '
            f'“{views.esc(caption)}”</div></div>')
    html += "".join(views.cards_row(views.MODE_LABELS[m], r.hits, clickable=False)
                    for m, r in rows)
    return html, views.worked_summary(rows)


def _dup_groups(state: list[dict[str, Any]]) -> list[Any]:
    from cdir.duplicates.finder import DupGroup

    return [DupGroup(g["tier"], list(g["members"]), g["representative"],
                     {int(k): v for k, v in g["scores"].items()}) for g in state]


def _clicked_pair(clicked: str | None) -> tuple[int | None, int]:
    """(group, item) from a member-card click ("<group>-<id>:<nonce>")."""
    head = str(clicked or "").split(":", 1)[0]
    group, _, item = head.partition("-")
    return (int(group), int(item)) if group.isdigit() and item.isdigit() else (None, -1)


def _clicked_id(clicked: str | None) -> int | None:
    """The item id in a map click ("<id>:<nonce>"; the nonce makes repeated clicks distinct)."""
    head = str(clicked or "").split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None


def header_html() -> str:
    return (
        '<div class="cdir-header"><h1>cdir</h1><p>Find the same <b>thing</b> across photos, '
        "sketches, paintings, clipart, 3-D renders and AI art. A captioner describes each image "
        "in words; matching through the words (<i>caption matching</i>) ignores how an image is "
        "drawn and keeps what it shows.</p></div>"
    )


def warm_up() -> None:
    """Compile UMAP's numba code in the background so the first map is quick."""
    try:
        from cdir.maps.projection import warm_up_umap

        seconds = warm_up_umap()
        log.info("UMAP warmed up in %.1f s", seconds)
    except Exception:  # warm-up is an optimisation; a failure only means a slower first map
        log.warning("UMAP warm-up failed", exc_info=True)


def _upload_path(upload: Any) -> str:
    """gradio hands files over as paths (or objects with a ``name``)."""
    return str(getattr(upload, "name", upload))


def _sketch_image(sketch: Any) -> Any:
    """The composite of a sketchpad value as an RGB image on white, or None if blank."""
    from PIL import Image

    if not sketch:
        return None
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        return None
    image = composite if isinstance(composite, Image.Image) else Image.open(composite)
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        canvas = Image.new("RGB", image.size, "white")
        canvas.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = canvas
    image = image.convert("RGB")
    extrema = image.convert("L").getextrema()
    return None if extrema[0] == extrema[1] else image
