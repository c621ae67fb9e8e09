"""One function per user action. The CLI and the web app call these and nothing deeper."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from cdir.ingest.pipeline import IngestConfig, IngestReport, Progress
from cdir.ingest.pipeline import ingest as run_ingest
from cdir.ingest.sources import check_sources
from cdir.models.lazy import LazyModels
from cdir.models.loaded import Models, get_models
from cdir.models.presets import get_preset, list_presets
from cdir.retrieval.search import Searcher, SearchOptions, SearchResult
from cdir.retrieval.staged import Stage
from cdir.store.collection import Store, disk_full_error
from cdir.store.locking import collection_lock

log = logging.getLogger(__name__)

class UsageError(ValueError):
    """Bad arguments or bad input: exit status 2 in the CLI, a message in the app."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the input or the setup is wrong, not cdir: shown to the user as
    their one-line message (the CLI exits with status 2)."""
    from cdir.export.datasets_out import ExportError
    from cdir.export.downloads import DownloadError
    from cdir.ingest.source_files import SourceError
    from cdir.models.presets import UnknownPresetError
    from cdir.models.weights import ModelUnavailableError
    from cdir.retrieval.scoring import ModeError
    from cdir.retrieval.search import QueryError
    from cdir.store.collection import StoreError

    return (UsageError, SourceError, StoreError, QueryError, ModeError, UnknownPresetError,
            ModelUnavailableError, FileNotFoundError, ExportError, DownloadError)

def presets() -> list[dict[str, Any]]:
    return [{"name": p.name, "description": p.description, "trained": p.trained,
             "needs_gpu": p.needs_gpu} for p in map(get_preset, list_presets())]


def ingest(
    sources: Sequence[str | Path],
    store: str | Path,
    preset: str = "default",
    config: IngestConfig | None = None,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Add images (folders, zips, files) to the collection at ``store``."""
    check_sources(sources)  # fail on a mistyped path before spending seconds loading models
    dim = None
    if Store.exists(Path(store)):
        meta = Store.read_meta(store)
        preset, dim = meta.get("preset") or preset, meta.get("dim")
    # built only when there is something to embed or caption: a re-run on an unchanged folder
    # imports no model library (cdir.models.lazy)
    models = cast(Models, LazyModels(preset, model_root, dim,
                                     loader=lambda name, root: get_models(name, root)))
    with collection_lock(store):  # one writer per collection, across threads and processes
        try:
            return run_ingest(sources, store, models, config or IngestConfig(), progress)
        except (OSError, sqlite3.Error) as exc:  # thumbnails and the cache fill the disk too
            full = disk_full_error(exc, Path(store))
            if full is None:
                raise
            raise full from exc


@dataclass
class Session:
    """An open collection with its models and searcher."""

    store: Store
    models: Models
    searcher: Searcher

    def reload(self) -> None:
        """Re-read the store after an ingest or caption update."""
        self.store = Store.load(self.store.root)
        self.searcher = Searcher(self.store, self.models)


def open_collection(store: str | Path, model_root: str | Path | None = None) -> Session:
    loaded = Store.load(store)
    models = get_models(loaded.preset, model_root)
    return Session(loaded, models, Searcher(loaded, models))


_sessions_lock = threading.Lock()
_sessions: dict[str, Session] = {}


def session_for(store: str | Path, model_root: str | Path | None = None) -> Session:
    """A shared open session for ``store``, re-opened when the store changed on disk (captions
    written by a background job, images added). Sessions hold models and indexes; UI state holds
    only the store path."""
    key = str(Path(store).resolve())
    revision = Store.read_meta(key).get("revision")
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None or session.store.meta.get("revision") != revision:
            session = _sessions[key] = open_collection(key, model_root)
        return session


def forget(store: str | Path) -> None:
    """Drop the shared session of a collection (after it was deleted)."""
    with _sessions_lock:
        _sessions.pop(str(Path(store).resolve()), None)


def search(
    session: Session,
    *,
    image: str | Path | Any = None,
    text: str | None = None,
    item_id: int | None = None,
    options: SearchOptions = SearchOptions(),
) -> SearchResult:
    """Exactly one of ``image`` (a file path or a PIL image), ``text`` or ``item_id`` is the
    query."""
    given = [name for name, v in (("image", image), ("text", text), ("id", item_id))
             if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one query (an image, a text or an id), not {given or 0}")
    if image is not None and not isinstance(image, str | Path):
        return session.searcher.by_picture(image, options)
    if image is not None:
        return session.searcher.by_image(image, options)
    if text is not None:
        return session.searcher.by_text(text, options)
    return session.searcher.by_id(int(item_id), options)  # type: ignore[arg-type]


def search_per_domain(
    session: Session, *, options: SearchOptions = SearchOptions(), **query: Any
) -> list[tuple[str, SearchResult]]:
    """Cross-domain view: one ranked row per target domain (``options.domains``, or every domain
    of the collection when empty)."""
    domains = options.domains or tuple(domains_of(session.store))
    return [(d, search(session, options=replace(options, domains=(d,)), **query))
            for d in domains]


def search_staged(
    session: Session,
    *,
    image: str | Path | Any,
    options: SearchOptions | None = None,
    per_domain: bool = False,
) -> Iterator[Stage]:
    """An image query (a file path or an RGB PIL image) answered in stages
    (:func:`cdir.retrieval.staged.staged_search`): in CM mode first image → image results, as
    soon as the query's embedding is ready, then CM results once its caption is; in other modes
    one stage. ``per_domain``: one row per target domain (``options.domains``, or every domain
    of the collection), as ``search_per_domain``. Raises QueryError for an unreadable file."""
    from cdir.retrieval.staged import staged_search

    options = options or SearchOptions()
    sha = None
    if isinstance(image, str | Path):
        image, sha = session.searcher.load_picture(image)
    domains = list(options.domains or domains_of(session.store)) if per_domain else None
    return staged_search(session.searcher, image, options, sha, domains)


def preview(session: Session, per_domain: int = 6) -> list[tuple[str, list[Any]]]:
    """A few items of every domain, to show what a collection holds."""
    items = session.store.items
    ok = items[items["status"] == "ok"]
    rows = []
    for domain, group in ok.groupby(ok["domain"].fillna("unlabelled"), sort=True):
        hits = [session.searcher.hit(0, int(r), 0.0) for r in group.index[:per_domain]]
        rows.append((str(domain), hits))
    return rows


def domains_of(store: Store) -> list[str]:
    ok = store.items[store.items["status"] == "ok"]
    return sorted(str(d) for d in ok["domain"].dropna().unique())


def info(store: str | Path) -> dict[str, Any]:
    """What a collection holds: counts, domains, classes, preset, failures."""
    loaded = Store.load(store)
    items = loaded.items
    ok = items[items["status"] == "ok"]
    return {
        "store": str(loaded.root),
        "name": loaded.root.name,
        "preset": loaded.preset,
        "format_version": loaded.meta.get("format_version"),
        "dim": loaded.meta.get("dim"),
        "created": loaded.meta.get("created"),
        "updated": loaded.meta.get("updated"),
        **loaded.counts(),
        "domains": {str(k): int(v) for k, v in ok["domain"].value_counts().sort_index().items()},
        "classes": {str(k): int(v) for k, v in ok["class"].value_counts().sort_index().items()},
        "predicted_domains": int((ok["label_source"] == "predicted").sum()),
        "n_tiles": int((ok["parent_id"] >= 0).sum()),  # items cut from grid images
        "with_prompt": int(ok["prompt"].notna().sum()),
        "with_negative_prompt": int(ok["negative_prompt"].notna().sum()),
        "generators": {str(k): int(v) for k, v in
                       ok["generator"].dropna().value_counts().sort_index().items()},
        "failed": [{"id": int(r.id), "file": str(r.rel_path), "reason": str(r.error)}
                   for r in items[items["status"] == "failed"].itertuples()],
    }


def export(store: str | Path, out: str | Path, fmt: str = "datasets",
           push: str | None = None) -> Any:
    """The collection as a 🤗 dataset or Parquet at ``out`` (see
    :func:`cdir.export.datasets_out.export_store`); returns its ExportReport."""
    from cdir.export.datasets_out import export_store

    return export_store(store, out, fmt, push)


def download_search(store: str | Path, results: Any, fmt: str = "json") -> Path:
    """Search results (a SearchResult, or search_per_domain's list) as a JSON or CSV file in
    ``<store>/exports/``; returns its path (cdir.export.downloads)."""
    from cdir.export.downloads import search_results_file

    return search_results_file(store, results, fmt)


def download_map(store: str | Path, figure: Any, fmt: str = "html") -> Path:
    """The map's plotly figure as interactive HTML (or PNG, with kaleido) in
    ``<store>/exports/``; returns its path."""
    from cdir.export.downloads import DownloadError, map_html_file, map_png_file

    if fmt not in ("html", "png"):
        raise DownloadError(f"the map downloads as html or png, not {fmt!r}")
    return map_html_file(store, figure) if fmt == "html" else map_png_file(store, figure)


def download_eval_report(store: str | Path, report: Any,
                         header: dict[str, str] | None = None) -> dict[str, Path]:
    """An EvalReport as report.md/.csv/.json in a new ``<store>/exports/eval-<time>/`` folder."""
    from cdir.export.downloads import evaluation_report_files

    return evaluation_report_files(store, report, header)


def with_options(options: SearchOptions, **changes: Any) -> SearchOptions:
    return replace(options, **changes)


# ------------------------------------------------------------------------------ duplicates
# One path (cdir.duplicates.groups): the groups of every surface come from find_duplicates, the
# rows from duplicate_rows, the files from export_decisions.
def _store_of(store: Store | Session | str | Path) -> Store:
    if isinstance(store, Session):
        return store.store
    return store if isinstance(store, Store) else Store.load(store)


def duplicate_config(tiers: Sequence[str] | None = None, perceptual: float | None = None,
                     semantic: float | None = None, threshold: float | None = None) -> Any:
    """The :class:`~cdir.duplicates.finder.DedupConfig` of a user's choice: ``tiers`` (default
    all), the perceptual (bits) and semantic (cosine) thresholds, or ``threshold`` for the one
    thresholded tier given (the CLI's ``--threshold``). UsageError says what to fix."""
    from cdir.duplicates.finder import TIERS, config_with_threshold, dedup_config

    tiers = tuple(dict.fromkeys(tiers or TIERS))
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown:
        raise UsageError(f"tiers must be some of {', '.join(TIERS)}, not {', '.join(unknown)}")
    try:
        if threshold is not None:
            return config_with_threshold(tiers, threshold)
        return dedup_config(tiers, perceptual, semantic)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def find_duplicates(store: Store | Session | str | Path, config: Any = None) -> list[Any]:
    """Near-duplicate groups of a collection (``config``: :func:`duplicate_config`), its saved
    decisions applied, each with its keep and the reason (``group.keep``, ``keep_reason``)."""
    from cdir.duplicates.groups import find_duplicates as run

    loaded = _store_of(store)

    def embed() -> Any:  # only when the semantic threshold must be calibrated
        models = store.models if isinstance(store, Session) else get_models(loaded.preset)
        return models.embedder.encode_images

    return run(loaded, config, embed=embed)


def semantic_words(store: Store | Session | str | Path, config: Any) -> str:
    """What the semantic tier of ``config`` does on this collection, in words: off for an
    untrained embedder, the threshold set, or the calibrated one and how it was measured."""
    from cdir.duplicates.semantic_threshold import semantic_plan

    return semantic_plan(_store_of(store), config, None)[1]


def find_folder_duplicates(sources: Sequence[str | Path], config: Any = None,
                           store_dir: str | Path | None = None,
                           progress: Progress | None = None) -> Any:
    """Near-duplicate groups of a folder or zip without a collection (exact and perceptual
    tiers; ``config``: a :class:`~cdir.duplicates.folder.FolderConfig`); a FolderResult."""
    from cdir.duplicates.folder import find_folder_groups

    return find_folder_groups(sources, config, Path(store_dir) if store_dir else None,
                              progress)


def folder_duplicates_report(result: Any, config: Any, source: str,
                             store_dir: str | Path | None) -> dict[str, Any]:
    """The JSON report of :func:`find_folder_duplicates`."""
    from cdir.duplicates.folder import folder_report

    return folder_report(result, config, source, Path(store_dir) if store_dir else None)


def duplicates_report(store: Store | Session | str | Path, groups: Sequence[Any],
                      config: Any) -> dict[str, Any]:
    """The JSON report of ``cdir dupes``: thresholds, progress, groups with keep and reason."""
    from cdir.duplicates.rows import groups_report

    from cdir.duplicates.semantic_threshold import semantic_plan

    loaded = _store_of(store)
    planned, words = semantic_plan(loaded, config, None)
    report = groups_report(loaded, groups, planned or config)
    report["semantic"] = words
    return report


def duplicate_rows(store: Store | Session | str | Path, groups: Sequence[Any]
                   ) -> list[dict[str, Any]]:
    """One row per member of each group and per item set apart: decision, keep, distance."""
    from cdir.duplicates.rows import decision_rows

    return decision_rows(_store_of(store), groups)


def duplicates_progress(store: Store | Session | str | Path, groups: Sequence[Any]
                        ) -> tuple[int, int]:
    """(groups decided, groups): every member of a decided group has a saved decision."""
    from cdir.duplicates.decisions import load_decided
    from cdir.duplicates.rows import progress

    return progress(groups, load_decided(_store_of(store).root))


def decide(store: Store | Session | str | Path, group: Any, item_id: int, decision: str) -> Any:
    """Save keep, remove, not_duplicate or alternate for ``item_id`` of ``group``."""
    from cdir.duplicates.decisions import decide as save

    try:
        return save(_store_of(store).root, group, int(item_id), decision)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def accept(store: Store | Session | str | Path, groups: Sequence[Any],
           tiers: Sequence[str] | None = None) -> int:
    """Accept the keep of every group of ``tiers`` (default exact and perceptual: the semantic
    tier only when named) for the items not decided yet; returns how many were decided."""
    from cdir.duplicates.decisions import ACCEPT_TIERS, accept_suggestions

    return accept_suggestions(_store_of(store).root, groups, tuple(tiers or ACCEPT_TIERS))


def export_decisions(store: Store | Session | str | Path, groups: Sequence[Any],
                     out: str | Path | None = None, fmt: str = "csv") -> Path:
    """Write the decisions of ``groups`` to ``out`` (.csv, .json or .sh: the removal list of
    what was decided remove), or inside the collection as ``fmt``; returns the file."""
    from cdir.duplicates.export import export, export_path
    from cdir.duplicates.rows import decision_rows

    loaded = _store_of(store)
    try:
        target = Path(out) if out is not None else export_path(loaded, fmt)
        return export(loaded, decision_rows(loaded, groups), target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def groups_to_state(groups: Sequence[Any]) -> list[dict[str, Any]]:
    """Groups in the one form a page holds them between calls."""
    from cdir.duplicates.groups import groups_to_state as to_state

    return to_state(groups)


def groups_from_state(state: Sequence[dict[str, Any]] | None) -> list[Any]:
    from cdir.duplicates.groups import groups_from_state as from_state

    return from_state(state)


def folder_duplicates_config(tiers: Sequence[str] | None = None, threshold: float | None = None,
                             workers: int = 0) -> Any:
    """The :class:`~cdir.duplicates.folder.FolderConfig` of ``cdir dupes FOLDER``: ``tiers``
    (default exact and perceptual), ``threshold`` of the one thresholded tier, hashing
    ``workers`` (0: one per CPU)."""
    from cdir.duplicates.folder import FOLDER_TIERS, FolderConfig

    return FolderConfig(dedup=duplicate_config(tiers or FOLDER_TIERS, threshold=threshold),
                        workers=workers)


def source_kind(path: str | Path) -> str | None:
    """What ``path`` is to ``cdir dupes``: "collection", "folder", "zip", "file" (something
    else) or None (nothing there)."""
    from cdir.ingest.archives import is_zip_name

    path = Path(path)
    if Store.exists(path):
        return "collection"
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "zip" if is_zip_name(path.name) else "file"
    return None


def open_store(store: str | Path) -> Store:
    """The collection at ``store``, without models (duplicates, decisions, tags)."""
    return Store.load(store)


def duplicates_histogram(store: Store | Session | str | Path, tier: str) -> Any:
    """The nearest-neighbour histogram of ``tier`` (perceptual or semantic) with example pairs
    (:func:`cdir.duplicates.calibration.similarity_histogram`)."""
    from cdir.duplicates.calibration import similarity_histogram

    try:
        return similarity_histogram(_store_of(store), tier)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def prompt_agreement(session: Session) -> Any:
    """Images with an embedded prompt and how far each drifted from it (a DataFrame)."""
    from cdir.duplicates.prompt_agreement import prompt_agreement as agreement
    from cdir.store.cache import Cache

    cache = Cache.for_store(session.store.root)
    try:
        return agreement(session.store, session.models, cache)
    finally:
        cache.close()


def grouping_rule() -> str:
    """How near-duplicate groups are formed, in words."""
    from cdir.duplicates.finder import GROUPING_RULE

    return GROUPING_RULE


def undecide(store: Store | Session | str | Path, item_ids: Sequence[int]) -> int:
    """Drop the saved decisions of ``item_ids`` (back to the suggestion); how many there were."""
    from cdir.duplicates.decisions import forget as drop

    return drop(_store_of(store).root, item_ids)
