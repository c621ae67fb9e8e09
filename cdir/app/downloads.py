"""The download buttons' handlers (a part of ``AppActions``): every result on the page as a file.

- Search: the current query's results as JSON or CSV with scores (the query is run again with
  the page's options; its vectors come from the cache, so this is quick);
- Map: the current map as interactive HTML (plotly's own export; its camera button saves a PNG
  in the browser; the projection comes from the cache);
- Evaluate: the last evaluation's report as Markdown and CSV (kept in the page's state, as
  evaluating again would take minutes);
- Collection: the whole collection as a 🤗 dataset (``save_to_disk`` folder, zipped) or Parquet.

Every file is written inside ``<store>/exports/`` of the open collection and nowhere else; each
handler returns its path(s) for a ``gr.File``. Errors are ValueError (``DownloadError``,
``ExportError``) or gr.Error with a one-line message.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

import gradio as gr

from cdir import api
from cdir.app.queries import SearchSettings, query_of

log = logging.getLogger(__name__)

COLLECTION_FORMATS = ("datasets", "parquet")


class DownloadActions:
    """Mixed into ``AppActions``, which provides ``_session`` and ``ranked``, and with
    ``AnalysisActions``, which provides ``draw_map`` and ``evaluate_report`` (not declared here:
    a stub would hide them)."""

    def _session(self, store: str | None) -> api.Session:  # pragma: no cover - AppActions's
        raise NotImplementedError

    def ranked(
        self, store: str | None, query: dict[str, Any], settings: Any
    ) -> list[tuple[str | None, Any]]:  # pragma: no cover - AppActions's
        raise NotImplementedError

    # ------------------------------------------------------------------------------ search
    def download_search(
        self, fmt: str, store: str | None, query: dict[str, Any] | None, *settings: Any
    ) -> str:
        """The current search's results (``query``: the page's query state, ``settings``: the
        search controls' values) as ``<store>/exports/search-<time>.json|csv``; returns its
        path. With the cross-domain view, one block (JSON) or rows (CSV) per target domain."""
        session = self._session(store)
        if not query:
            raise gr.Error("Search for something first: the download holds the results shown.")
        ranked = self.ranked(
            store, query_of(query["kind"], query["value"]), SearchSettings.from_widgets(*settings)
        )
        results: Any = ranked[0][1] if ranked[0][0] is None else ranked
        return str(api.download_search(session.store.root, results, fmt))

    # --------------------------------------------------------------------------------- map
    def download_map(
        self, store: str | None, method: str, vectors: str, color_by: str, progress: Any = None
    ) -> str:
        """The map drawn with these settings as ``<store>/exports/map-<time>.html``
        (interactive, plotly.js inlined; its camera button saves a PNG); returns its path."""
        session = self._session(store)
        figure = self.draw_map(store, method, vectors, color_by, progress)
        return str(api.download_map(session.store.root, figure, "html"))

    # ---------------------------------------------------------------------------- evaluate
    def evaluate_and_keep(
        self, store: str | None, progress: Any = None
    ) -> tuple[str, dict[str, Any]]:
        """(the report as Markdown for the page, the state the report download reads)."""
        from cdir.app import views

        report, header = self.evaluate_report(store, progress)
        kept = {"store": str(self._session(store).store.root), "report": report, "header": header}
        return views.without_paths(api.report_page(report, header)), kept

    def download_eval(self, store: str | None, kept: dict[str, Any] | None) -> list[str]:
        """The last evaluation of the open collection as ``report.md`` and ``report.csv`` (with
        ``report.json``) in ``<store>/exports/eval-<time>/``; returns the Markdown and CSV
        paths. Raises gr.Error when this collection has not been evaluated on this page."""
        session = self._session(store)
        root = session.store.root
        if not kept or kept.get("store") != str(root):
            raise gr.Error("Evaluate this collection first: the download holds its report.")
        paths = api.download_eval_report(root, kept["report"], kept["header"])
        return [str(paths["md"]), str(paths["csv"])]

    # -------------------------------------------------------------------------- collection
    def download_collection(self, fmt: str, store: str | None) -> str:
        """The open collection as a 🤗 dataset (``fmt`` "datasets": a ``save_to_disk`` folder,
        zipped as ``<store>/exports/collection-r<version>.zip``, one file per version of the
        collection; unzipped,
        ``datasets.load_from_disk`` opens its folder) or as Parquet
        (``collection-r<version>.parquet``); returns the file's path. Images whose file is gone
        since ingest are left out, and a warning says how many."""
        if fmt not in COLLECTION_FORMATS:
            raise ValueError(
                f"the collection downloads as {' or '.join(COLLECTION_FORMATS)}, not {fmt!r}"
            )
        session = self._session(store)
        root = session.store.root
        # one file per version of the collection: asking again (any visitor, on the shared
        # examples too) hands out the same file instead of writing another
        stem = f"collection-r{session.store.meta.get('revision', 0)}"
        same = root / "exports" / f"{stem}.{'parquet' if fmt == 'parquet' else 'zip'}"
        if same.is_file():
            return str(same)
        if fmt == "parquet":  # written under a new name, renamed once whole
            part = api.export_path(root, f"{stem}-part", "parquet")
            report = api.export(root, part, "parquet")
            out = part.replace(same)
        else:
            folder = api.export_path(root, stem, "").with_name(stem)
            shutil.rmtree(folder, ignore_errors=True)  # what an interrupted one left
            try:
                report = api.export(root, folder, "datasets")
                out = api.zip_folder(folder)  # <stem>.zip, renamed into place once whole
            finally:
                shutil.rmtree(folder, ignore_errors=True)  # the zip is the download
        if report.skipped:
            gr.Warning(
                f"{len(report.skipped)} images were left out: their files changed or "
                "went since the collection was built."
            )
        return str(out)
