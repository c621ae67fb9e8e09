"""Downloads of results, written into the store's ``exports/`` folder for the app to offer.

- search results as JSON (the query, the options and every hit with its score) or CSV (one row
  per hit: rank, score, id, domain, class, file, caption, prompt, and the query it answers);
- the collection map as interactive HTML (plotly's own ``write_html``, plotly.js inlined so it
  opens offline; its toolbar's camera button saves a PNG in the browser), or as PNG on the server
  when plotly's image engine (kaleido) is installed;
- the evaluation report as Markdown, CSV and JSON (:func:`cdir.evaluation.report.write_report`).

Nothing is written outside ``<store>/exports/``; file names carry the time (UTC, to the
second) and a number when two downloads fall in the same second, so none is overwritten. Server
paths (the ``path`` and ``thumb`` of hits) are left out of the files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdir.store.collection import atomic_write_bytes

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
SEARCH_FORMATS = ("json", "csv")
HIT_COLUMNS = (
    "target_domain",
    "rank",
    "score",
    "id",
    "domain",
    "class",
    "rel_path",
    "caption",
    "prompt",
    "width",
    "height",
)
QUERY_COLUMNS = ("kind", "id", "text", "caption", "caption_used", "domain", "class")
_PRIVATE = ("path", "thumb", "vectors", "pixel_sha256")


class DownloadError(ValueError):
    """A download that cannot be made; the message says what to do."""


def exports_dir(store_root: str | Path) -> Path:
    """``<store>/exports``, created if needed."""
    folder = Path(store_root) / EXPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_quota_bytes() -> int:
    """How much a collection's ``exports/`` may hold: ``$CDIR_EXPORT_QUOTA_MB`` (default 256 MB).
    Older downloads are removed to make room (the page has handed them out already)."""
    return int(float(os.environ.get("CDIR_EXPORT_QUOTA_MB", "256") or 256) * 2**20)


EXPORT_MAX_AGE_SECONDS = 24 * 3600  # downloads older than a day are removed


def _entry_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def prune_exports(store_root: str | Path, room: int = 0, now: float | None = None) -> list[str]:
    """Remove the oldest downloads of ``<store>/exports/`` until it holds at most the quota
    less ``room`` bytes, and every download older than a day; returns the names removed."""
    folder = Path(store_root) / EXPORTS_DIR
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)
    sizes = {p: _entry_size(p) for p in entries}
    total, removed = sum(sizes.values()), []
    for path in entries:
        too_old = now - path.stat().st_mtime > EXPORT_MAX_AGE_SECONDS
        if not too_old and total + room <= export_quota_bytes():
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        total -= sizes[path]
        removed.append(path.name)
    if removed:
        log.info("removed %d old downloads of %s", len(removed), Path(store_root).name)
    return removed


def new_export_path(store_root: str | Path, stem: str, suffix: str) -> Path:
    """A new name ``<store>/exports/<stem>-<UTC time>[-n].<suffix>`` not yet taken (no suffix:
    a folder name). Old downloads are pruned first (:func:`prune_exports`)."""
    prune_exports(store_root)
    folder = exports_dir(store_root)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    end = f".{suffix}" if suffix else ""
    path, number = folder / f"{stem}-{stamp}{end}", 2
    while path.exists():
        path, number = folder / f"{stem}-{stamp}-{number}{end}", number + 1
    return path


# --- search results ------------------------------------------------------------------------------


def search_results_file(store_root: str | Path, results: Any, fmt: str = "json") -> Path:
    """Write search results to ``<store>/exports/search-<time>.json|csv``; returns the path.

    ``results``: a ``SearchResult`` (or its ``to_dict()``), or the cross-domain view's list of
    ``(target domain, SearchResult)`` pairs. Raises :class:`DownloadError` for another ``fmt``."""
    if fmt not in SEARCH_FORMATS:
        raise DownloadError(
            f"search results download as {' or '.join(SEARCH_FORMATS)}, not {fmt!r}"
        )
    groups = _result_groups(results)
    path = new_export_path(store_root, "search", fmt)
    if fmt == "json":
        payload: Any = (
            groups[0][1]
            if len(groups) == 1 and groups[0][0] is None
            else [{"target_domain": domain, **result} for domain, result in groups]
        )
        data = json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"
    else:
        data = _search_csv(groups)
    atomic_write_bytes(path, data.encode("utf-8"))
    return path


def _result_groups(results: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """[(target domain or None, result dict without server paths)]."""
    if isinstance(results, Sequence) and not isinstance(results, str | Mapping):
        return [(str(domain), _clean(result)) for domain, result in results]
    return [(None, _clean(results))]


def _clean(result: Any) -> dict[str, Any]:
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    query = {k: v for k, v in (data.get("query") or {}).items() if k not in _PRIVATE}
    hits = [{k: v for k, v in hit.items() if k not in _PRIVATE} for hit in data.get("hits", [])]
    return {"query": query, "hits": hits, "options": data.get("options", {})}


def _search_csv(groups: list[tuple[str | None, dict[str, Any]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*HIT_COLUMNS, *(f"query_{c}" for c in QUERY_COLUMNS), "mode"])
    for domain, result in groups:
        query, mode = result["query"], result["options"].get("mode")
        for hit in result["hits"]:
            row = {**hit, "target_domain": domain}
            writer.writerow(
                [_cell(row.get(c)) for c in HIT_COLUMNS]
                + [_cell(query.get(c)) for c in QUERY_COLUMNS]
                + [_cell(mode)]
            )
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


# --- the map -------------------------------------------------------------------------------------


def map_html_file(store_root: str | Path, figure: Any, stem: str = "map") -> Path:
    """The plotly ``figure`` as a self-contained interactive HTML page in ``<store>/exports/``
    (plotly.js inlined: it opens offline; the toolbar's camera button saves a PNG)."""
    path = new_export_path(store_root, stem, "html")
    buffer = io.StringIO()
    figure.write_html(
        buffer,
        include_plotlyjs=True,
        full_html=True,
        config={
            "displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": path.stem, "scale": 2},
        },
    )
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    return path


def map_png_file(
    store_root: str | Path, figure: Any, stem: str = "map", width: int = 1200, height: int = 900
) -> Path:
    """The plotly ``figure`` as a PNG (``width`` x ``height`` pixels) in ``<store>/exports/``.
    Raises :class:`DownloadError` when plotly's image engine (kaleido) is not installed: the
    HTML download's camera button makes the PNG in the browser instead."""
    try:
        data = figure.to_image(format="png", width=width, height=height)
    except (ImportError, ValueError, RuntimeError) as exc:
        raise DownloadError(
            "a PNG of the map needs kaleido on the server (pip install kaleido); "
            "download the HTML map and use its camera button instead"
        ) from exc
    path = new_export_path(store_root, stem, "png")
    atomic_write_bytes(path, data)
    return path


# --- the evaluation report -----------------------------------------------------------------------


def evaluation_report_files(
    store_root: str | Path, report: Any, header: Mapping[str, str] | None = None
) -> dict[str, Path]:
    """The evaluation ``report`` (an ``EvalReport``) as ``report.md``, ``report.csv`` and
    ``report.json`` in a new ``<store>/exports/eval-<time>/`` folder; returns
    ``{"md": path, "csv": path, "json": path}``."""
    from cdir.evaluation.report import write_report

    return write_report(report, new_export_path(store_root, "eval", ""), header)
