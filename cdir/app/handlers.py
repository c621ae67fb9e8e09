"""The web app's event handlers: each takes widget values and returns widget values.

``app.py`` lays out the widgets and wires them to these methods; every decision lives here, in
``cdir.api`` or below, so it is testable by calling the methods directly, without a browser.
Browser-session state holds only the path of the open collection, never models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views
from cdir.app.analysis import AnalysisActions
from cdir.app.building import BuildActions
from cdir.app.downloads import DownloadActions
from cdir.app.dupes import DuplicateActions
from cdir.app.links import LinkActions
from cdir.app.media import EXAMPLES_DIR
from cdir.app.queries import SearchSettings, query_of, sketch_image
from cdir.app.widgets import _clicked_id
from cdir.app.workspace import Workspace, new_owner_key

log = logging.getLogger(__name__)

CAPTION_CHOICES = [
    ("in the background (searchable at once)", "background"),
    ("now, before searching (slow)", "all"),
    ("only when needed (lazy)", "lazy"),
]
STAGED_KINDS = ("image", "sketch", "url")  # queries by a picture: answered in stages in CM
MODE_CHOICES = [
    ("Caption matching (CM)", "caption"),
    ("Image → image", "image"),
    ("Caption → caption", "caption-caption"),
    ("Fusion", "fusion"),
]


def shared_server_config() -> api.IngestConfig:
    """Ingest settings of the web app, a server many visitors share: an upload unpacks to at
    most ``$CDIR_MAX_UNPACKED_MB`` (default 2048 MB) in at most 20,000 entries, whatever the
    entries' sizes (the CLI, run by the operator, keeps the larger defaults of ArchiveLimits)."""
    import os

    total = int(float(os.environ.get("CDIR_MAX_UNPACKED_MB", "2048") or 2048) * 2**20)
    return api.IngestConfig(
        archive_limits=api.ArchiveLimits(max_members=20_000, max_total_bytes=total)
    )


@dataclass
class AppActions(BuildActions, DuplicateActions, AnalysisActions, DownloadActions, LinkActions):
    workspace: Workspace
    preset: str
    model_root: str | None = None
    jobs: api.CaptionJobs = field(default_factory=api.CaptionJobs)
    builds: api.BuildJobs = field(default_factory=api.BuildJobs)  # builds, found again by owner
    config: api.IngestConfig = field(default_factory=lambda: shared_server_config())
    notice: str = ""  # a banner for the page (the first-run offline note), HTML
    # the empty values of the views that show items of the open collection, emptied on every
    # switch: each tab's ``stale`` list, in the order build_app wires them (cdir.app.tabs)
    stale: tuple[Any, ...] = ()

    # ------------------------------------------------------------------------- collections
    def load_examples(
        self, preset: str, progress: Any = None, owner: str | None = None
    ) -> tuple[Any, ...]:
        preset = preset or self.preset
        store = self.workspace.examples_dir(preset)
        report = self._ingest([EXAMPLES_DIR], store, preset, "background", progress)
        self._caption_in_background(store, preset, "background")
        return self.collection_view(str(store), report.rejected, owner)

    def open_saved(self, name: str, owner: str | None = None) -> tuple[Any, ...]:
        """Open a collection the visitor may see; background captions that a stopped server
        left unfinished start again."""
        if not name:
            raise ValueError("Choose a saved collection first.")
        path = self.workspace.path(name, owner)
        if self.jobs.pending(path) and not self.jobs.running(path):
            self._caption_in_background(path, self.preset, "background")
        return self.collection_view(str(path), (), owner)

    def delete(self, name: str, owner: str | None = None) -> Any:
        """Delete a collection the caller built; returns the refreshed saved-collections list."""
        if not name:
            raise ValueError("Choose the collection to delete first.")
        self.delete_collection(name, owner)
        return self.saved_choices(owner)

    def delete_collection(self, name: str, owner: str | None) -> None:
        """Delete ``name`` if ``owner`` built it: its background captions are stopped first, then
        the whole directory goes in one step (or nothing does, with a one-line reason)."""
        path = self.workspace.check_deletable(name, owner)
        api.delete_collection(
            path, self.workspace.remove, stop_jobs=lambda root: self.jobs.stop(root, timeout=60.0)
        )

    def ask_delete(self, name: str, owner: str | None = None) -> tuple[Any, str]:
        """The confirmation row for deleting ``name`` (refused at once if the caller may not)."""
        if not name:
            raise ValueError("Choose the collection to delete first.")
        path = self.workspace.path(name, owner)
        info = api.info(path)
        return (
            gr.update(visible=True),
            f"Delete **{views.esc(name)}** ({info['n_ok']} images) "
            "and the files copied into it? This cannot be undone.",
        )

    def delete_and_close(
        self, name: str, store: str | None, owner: str | None = None
    ) -> tuple[Any, ...]:
        """Delete ``name``; when it is the open collection, close it as well."""
        choices = self.delete(name, owner)
        closing = bool(store) and Path(store).name == name
        if not closing:
            return (choices, gr.update(visible=False), *[gr.update()] * (4 + len(self.stale)))
        return (
            choices,
            gr.update(visible=False),
            None,
            f"Deleted **{views.esc(name)}**.",
            "",
            views.status_line(None, None),
            *self.cleared_views(),
        )

    def greet(self, owner: str | None) -> tuple[str, Any]:
        """On page load: the visitor's owner key (a new one on a first visit) and the
        collections the visitor may open."""
        owner = owner or new_owner_key()
        return owner, self.saved_choices(owner)

    def cleared_views(self, store: str | None = None) -> tuple[Any, ...]:
        """Every view that shows items of a collection, emptied (in ``stale`` order):
        after opening, building or deleting a collection nothing of the previous one stays.
        Updates are copied: gradio consumes the dict it is handed."""
        return tuple(dict(v) if isinstance(v, dict) else v for v in self.stale)

    def collection_view(
        self,
        store: str,
        rejected: Sequence[dict[str, str]] = (),
        owner: str | None = None,
        note: str = "",
    ) -> tuple[Any, ...]:
        """(state, summary, preview, status, domain choices, collection choices, timer, then
        every view of ``stale`` emptied: nothing of the previous collection stays). ``note``: a
        line shown above the summary (under which name a build was saved)."""
        info = api.info(store)
        summary = views.collection_summary(info, note) + views.rejected_markdown(rejected)
        session = api.session_for(store, self.model_root)
        preview = "".join(
            views.cards_row(
                f"{domain} (first {len(hits)})", hits, clickable=False, strip=True, score=False
            )
            for domain, hits in api.preview(session)
        )
        job = self.jobs.status(Path(store))
        running = job is not None and not job.finished
        return (
            store,
            summary,
            preview,
            views.status_line(info, job.describe() if job else None),
            gr.update(choices=sorted(info["domains"]), value=[]),
            gr.update(choices=self.workspace.collections(owner), value=info["name"]),
            gr.Timer(active=running),
            *self.cleared_views(),
        )

    def tick(self, store: str | None) -> tuple[Any, Any]:
        """Periodic status while captions are computed in the background."""
        if not store:
            return views.status_line(None, None), gr.Timer(active=False)
        job = self.jobs.status(Path(store))
        running = job is not None and not job.finished
        return (
            views.status_line(api.info(store), job.describe() if job else None),
            gr.Timer(active=running),
        )

    def saved_choices(self, owner: str | None = None) -> Any:
        """The collections this visitor may open, newest first, none preselected (refreshed on
        every page load: a preselected name could be one the visitor never chose)."""
        return gr.update(choices=self.workspace.collections(owner), value=None)

    # ------------------------------------------------------------------------------ search
    def search(
        self, store: str | None, query: dict[str, Any], settings: SearchSettings
    ) -> tuple[str, str, list[list[Any]]]:
        """(query markdown, results HTML, score table). A mode that reads the gallery's
        captions (caption → caption, fusion) starts making missing ones first."""
        ranked = self.ranked(store, query, settings)
        results = [r for _, r in ranked]
        return (
            views.query_markdown(results[0]),
            views.results_html(_titled(ranked)),
            views.hits_table(results),
        )

    def ranked(
        self, store: str | None, query: dict[str, Any], settings: SearchSettings
    ) -> list[tuple[str | None, Any]]:
        """The search behind the page: [(None, SearchResult)], or with the cross-domain view
        [(target domain, SearchResult)] per domain."""
        session = self._session(store)
        options = settings.options()
        if options.mode in ("caption-caption", "fusion") and not session.store.caption_mask().any():
            self._needs_captions(store, views.MODE_LABELS[options.mode].split(":")[0])
        if settings.cross_domain:
            rows = api.search_per_domain(session, options=options, **query)
            if not rows:
                raise gr.Error("This collection has no domain labels to split the results by.")
            return [(str(d), r) for d, r in rows]
        return [(None, api.search(session, options=options, **query))]

    def search_image(self, store: str | None, image: str | None, *settings: Any) -> tuple[Any, ...]:
        return self.search(store, query_of("image", image), SearchSettings.from_widgets(*settings))

    def search_sketch(self, store: str | None, sketch: Any, *settings: Any) -> tuple[Any, ...]:
        return self.search(
            store, query_of("sketch", sketch), SearchSettings.from_widgets(*settings)
        )

    def search_url(self, store: str | None, url: str, *settings: Any) -> tuple[Any, ...]:
        return self.search(store, query_of("url", url), SearchSettings.from_widgets(*settings))

    def search_text(self, store: str | None, text: str, *settings: Any) -> tuple[Any, ...]:
        return self.search(store, query_of("text", text), SearchSettings.from_widgets(*settings))

    def on_result_click(self, store: str | None, clicked: str, *settings: Any) -> tuple[Any, ...]:
        """A click on a result card: search for more like it."""
        if _clicked_id(clicked) is None:
            return gr.update(), gr.update(), gr.update()
        return self.search(store, query_of("item", clicked), SearchSettings.from_widgets(*settings))

    def ui_search(
        self, kind: str, store: str | None, value: Any, *settings: Any
    ) -> tuple[Any, ...]:
        """A search from the page: (query markdown, results, table, the query to re-run when an
        option changes, the picture of the current query for the left panel). ``kind``:
        image, sketch, text or item (a click on a result, ``value`` "<id>:<nonce>")."""
        out = self._searches()[kind](store, value, *settings)
        if kind == "item" and _clicked_id(value) is None:
            return (*out, gr.update(), gr.update())
        return (*out, {"kind": kind, "value": value}, self._query_picture(store, kind, value))

    def ui_search_stages(
        self, kind: str, store: str | None, value: Any, *settings: Any
    ) -> Iterator[tuple[Any, ...]]:
        """``ui_search`` for the page, in stages: a dropped image or a drawn sketch in CM mode
        first shows its image → image results (labelled "image match — caption matching in
        progress…") as soon as its embedding is ready, then the CM results once its caption
        is; a caption that fails keeps the image results with a one-line message. Any other
        query or mode: one update, exactly ``ui_search``'s. An image URL (``kind`` url) is a
        dropped image fetched first."""
        chosen = SearchSettings.from_widgets(*settings)
        if kind not in STAGED_KINDS or not api.is_staged(chosen.options()):
            yield self.ui_search(kind, store, value, *settings)
            return
        query = query_of(kind, value)
        picture = query["image"] if kind == "url" else self._query_picture(store, kind, value)
        for shown in self.search_stages(store, query, chosen):
            yield (*shown, {"kind": kind, "value": value}, picture)

    def rerun_stages(
        self, store: str | None, query: dict[str, Any] | None, *settings: Any
    ) -> Iterator[tuple[Any, ...]]:
        """``rerun`` in stages, as ``ui_search_stages``: switching an image or sketch query to
        CM shows its image match first."""
        chosen = SearchSettings.from_widgets(*settings)
        if (
            not query
            or not store
            or query["kind"] not in STAGED_KINDS
            or not api.is_staged(chosen.options())
        ):
            yield self.rerun(store, query, *settings)
            return
        yield from self.search_stages(store, query_of(query["kind"], query["value"]), chosen)

    def search_stages(
        self, store: str | None, query: dict[str, Any], settings: SearchSettings
    ) -> Iterator[tuple[str, str, list[list[Any]]]]:
        """(query markdown, results HTML, score table) per stage of an image query
        (``api.search_staged``); a failed caption also shows its message as a warning."""
        session = self._session(store)
        options = settings.options()
        if settings.cross_domain and not (options.domains or api.domains_of(session.store)):
            raise gr.Error("This collection has no domain labels to split the results by.")
        for stage in api.search_staged(
            session, image=query["image"], options=options, per_domain=settings.cross_domain
        ):
            if stage.caption_error:
                gr.Warning(stage.caption_error)
            yield (
                views.stage_markdown(stage),
                views.results_html(_titled(stage.rows)),
                views.hits_table([r for _, r in stage.rows]),
            )

    def rerun(
        self, store: str | None, query: dict[str, Any] | None, *settings: Any
    ) -> tuple[Any, ...]:
        """An option changed: run the current query again with the new options (nothing when
        there is no query or no collection yet)."""
        if not query or not store:
            return gr.update(), gr.update(), gr.update()
        return self._searches()[query["kind"]](store, query["value"], *settings)

    def _searches(self) -> dict[str, Callable[..., tuple[Any, ...]]]:
        return {
            "image": self.search_image,
            "sketch": self.search_sketch,
            "text": self.search_text,
            "url": self.search_url,
            "item": self.on_result_click,
        }

    def _query_picture(self, store: str | None, kind: str, value: Any) -> Any:
        if kind == "image":
            return value
        if kind == "sketch":
            return sketch_image(value)
        if kind == "url":
            return query_of(kind, value)["image"]
        if kind == "item" and store:
            session = self._session(store)
            row = session.store.items.iloc[int(_clicked_id(value))]
            return str(session.store.thumb_path(str(row["sha256"])))
        return None

    def _session(self, store: str | None) -> api.Session:
        if not store:
            raise gr.Error(
                "Open a collection first: load the example collection or upload "
                "images on the Collection tab."
            )
        return api.session_for(store, self.model_root)


def header_html() -> str:
    return (
        '<div class="cdir-header"><h1>cdir</h1><p>Find the same <b>thing</b> across photos, '
        "sketches, paintings, clipart, 3-D renders and AI art. A captioner describes each image "
        "in words; matching through the words (<i>caption matching</i>) ignores how an image is "
        "drawn and keeps what it shows.</p></div>"
    )


def _titled(rows: Sequence[tuple[str | None, Any]]) -> list[tuple[str, Any]]:
    """Result rows with their titles: one per target domain, or the single row's."""
    return [
        (
            f"{d}: top {len(r.hits)}"
            if d is not None
            else f"Top {len(r.hits)} results (click one for more like it)",
            r,
        )
        for d, r in rows
    ]
