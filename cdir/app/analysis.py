"""The handlers of captions on demand, the Map and the Evaluate tabs (a part of ``AppActions``).

Lazy captions are made when something needs them: evaluation and the caption map make them
first, with progress; caption → caption and fusion searches start the collection's background
captioning job and say so in one line (the status line then follows it).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views
from cdir.app.widgets import _clicked_id, gradio_progress


class AnalysisActions:
    """Mixed into ``AppActions``, which provides ``jobs``, ``_session`` and ``_clicked_id``."""

    jobs: api.CaptionJobs

    def _session(self, store: str | None) -> api.Session:  # pragma: no cover - AppActions's
        raise NotImplementedError

    def make_captions(self, store: str | None) -> str:
        """Start making the captions a collection lacks (in the background, one job per
        collection); returns the line that says so, or "" when every image has its caption."""
        session = self._session(store)
        counts = session.store.counts()
        missing = counts["n_ok"] - counts["n_captioned"]
        if missing <= 0:
            return ""
        job = self.jobs.status(session.store.root)
        if job is None or job.finished:
            job = self.jobs.start(session.store.root, session.models)
        done = f" ({job.done} / {job.total} so far)" if job.total else ""
        return (
            f"Captions are being made now for the {missing} images that have none{done}; "
            "the status line shows the progress."
        )

    def caption_now(self, store: str | None, progress: Any = None) -> None:
        """Make the captions a collection lacks and wait for them, reporting ``captioning:
        done / total`` to ``progress`` (a ``gr.Progress`` or None). Raises ValueError when
        captioning fails."""
        import time

        session = self._session(store)
        counts = session.store.counts()
        if counts["n_ok"] <= counts["n_captioned"]:
            return
        job = self.jobs.status(session.store.root)
        if job is None or job.finished:
            job = self.jobs.start(session.store.root, session.models)
        while not job.finished:
            if progress is not None:
                progress((job.done, job.total or None), desc="captioning", unit="images")
            time.sleep(0.5)
        if job.error:
            raise ValueError(f"Captioning failed ({job.error}); try again.")

    def _needs_captions(self, store: str | None, what: str) -> None:
        """When ``what`` needs gallery captions that are missing: start making them and say
        so in one line (ValueError)."""
        note = self.make_captions(store)
        if note:
            raise ValueError(
                f"{note} {what} works once they are ready; meanwhile use caption "
                "matching (CM) or image → image."
            )

    # ---------------------------------------------------------------------------- evaluate
    def evaluate(self, store: str | None, progress: Any = None) -> str:
        """The paper's protocol on the open collection (needs domain and class labels)."""
        report, header = self.evaluate_report(store, progress)
        return views.without_paths(api.report_page(report, header))

    def evaluate_report(
        self, store: str | None, progress: Any = None
    ) -> tuple[Any, dict[str, str]]:
        """(EvalReport, its header) of the paper's protocol on the open collection; the header
        names the collection, never a server path."""
        session = self._session(store)
        # every variant but image → image reads the gallery's captions: make them first
        self.caption_now(store, progress)
        session = self._session(store)  # re-opened with the captions
        report_progress = gradio_progress(progress, "pairs") if progress is not None else None
        # the report names the collection, never a server path
        return api.evaluate(session, api.EvalConfig(), progress=report_progress)

    # --------------------------------------------------------------------------------- map
    def draw_map(
        self,
        store: str | None,
        method: str,
        vectors: str,
        color_by: str,
        progress: Any = None,
        highlight: int | None = None,
    ) -> Any:
        session = self._session(store)
        if vectors == "caption":
            self.caption_now(store, progress)
            session = self._session(store)
        report = (lambda msg: progress(None, desc=msg)) if progress is not None else None
        return api.draw_map(
            session, method, vectors, color_by, highlight=highlight, progress=report
        )

    def map_point(
        self, store: str | None, clicked: str, method: str, vectors: str, color_by: str
    ) -> tuple[Any, ...]:
        """A click on a map point: ``show_point`` and the map again with that point
        highlighted (the projection comes from the cache)."""
        item_id = _clicked_id(clicked)
        shown = self.show_point(store, clicked)
        if item_id is None:
            return (*shown, gr.update())
        return (*shown, self.draw_map(store, method, vectors, color_by, highlight=item_id))

    def show_point(self, store: str | None, clicked: str, settings_k: int = 8) -> tuple[Any, ...]:
        """The clicked map point: its image, caption, and its caption-matching neighbours."""
        item_id = _clicked_id(clicked)
        if item_id is None:
            return gr.update(), gr.update(), gr.update()
        session = self._session(store)
        result = api.search(session, item_id=item_id, options=api.SearchOptions(k=int(settings_k)))
        row = session.store.items.iloc[item_id]
        thumb = str(session.store.thumb_path(str(row["sha256"])))
        text = views.query_markdown(result)
        generation = views.generation_markdown(
            {k: row[k] for k in ("generator", "prompt", "negative_prompt")}
        )
        text = f"{text}  \n{generation}" if generation else text
        return thumb, text, views.cards_row("Its caption-matching neighbours", result.hits)
