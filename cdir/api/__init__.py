"""One function per user action. The CLI and the web app call these and nothing deeper.

A package so that no module passes the line cap: its modules (``errors``, ``sessions``,
``settings``, ``collections``, ``browse``, ``analysis``, ``duplicates``) are re-exported here,
and callers use ``cdir.api.<name>`` only. Besides functions it re-exports a few plain value
types (``SearchOptions``, ``IngestConfig``, ``GridQuery``, ``EvalConfig``…: docs/architecture.md
lists them) and its error family (``CdirError`` and its subclasses)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

# re-exported: the modules of the service layer (ruff: F401 is off for this file)
from cdir.api.analysis import (
    EvalConfig,
    FusionWeights,
    evaluate,
    evaluate_folder,
    report_json,
    report_markdown,
    report_page,
    write_report,
)
from cdir.api.browse import (
    Browser,
    GridQuery,
    add_tags,
    browser,
    draw_map,
    histogram_figure,
    item_image,
    map_caption,
    region_ids,
    remove_tags,
    tag_items,
    text_vector,
)
from cdir.api.builds import BuildJob, BuildJobs
from cdir.api.collections import (
    StoreError,
    collection_preset,
    files_dir,
    is_built,
    is_collection,
    is_searchable,
    shown_name,
)
from cdir.api.curate import (
    SavedView,
    compare_items,
    correct_label,
    delete_view,
    diverse_subset,
    export_selection,
    list_views,
    open_view,
    rename_view,
    save_view,
    zip_folder,
    zoomed,
)
from cdir.api.duplicates import (
    accept,
    decide,
    duplicate_config,
    duplicate_families,
    duplicate_rows,
    duplicates_histogram,
    duplicates_progress,
    duplicates_report,
    export_decisions,
    find_duplicates,
    find_folder_duplicates,
    folder_duplicates_config,
    folder_duplicates_report,
    grouping_rule,
    groups_from_state,
    groups_to_state,
    open_store,
    prompt_agreement,
    semantic_words,
    source_kind,
    undecide,
)
from cdir.api.errors import (
    CdirError,
    CollectionBusyError,
    UsageError,
    UserInputError,
    as_cdir_error,
    user_errors,
)
from cdir.api.layouts import AUTO, Layout, LayoutGuess, guess_layout_of, layout, layout_of
from cdir.api.links import NO_LINK, QueryLink, parse_query_link, query_link
from cdir.api.queries import (
    collapsed,
    collapsed_rows,
    fetch_limits,
    image_from_url,
    mode_note,
    search_groups,
)
from cdir.api.sessions import Session, forget, open_collection, register_store_preset, session_for
from cdir.api.settings import (
    DEVICE_CHOICES,
    MODES,
    QUANTIZE_MODES,
    column_overrides,
    default_batch_sizes,
    default_style_words,
    demo_note,
    preset_info,
    preset_names,
    quantize_mode,
    save_models,
    set_device_choice,
    set_quantize_mode,
    set_query_quantize_default,
    style_words,
    warm_up_maps,
)
from cdir.ingest.archives import ArchiveLimits  # the app sets its own limits
from cdir.ingest.jobs import CaptionJobs  # background captioning, one job per collection
from cdir.ingest.pipeline import IngestConfig, IngestReport, Progress
from cdir.ingest.pipeline import ingest as run_ingest
from cdir.ingest.sources import check_sources
from cdir.models.availability import PresetChoice
from cdir.models.availability import choose_preset as choose
from cdir.models.heavy import heavy_work  # the app's heavy handlers share it
from cdir.models.lazy import LazyModels
from cdir.models.loaded import Models, get_models
from cdir.models.presets import get_preset, list_presets
from cdir.retrieval.search import Hit, SearchOptions, SearchResult
from cdir.retrieval.staged import Stage
from cdir.store.collection import Store, disk_full_error
from cdir.store.locking import collection_lock

log = logging.getLogger(__name__)


def choose_preset(
    preset: str, model_root: str | Path | None = None, timeout: float = 2.0
) -> PresetChoice:
    """The preset to run when ``preset`` is asked for: itself when its weights are here (or the
    hub answers), else the offline ``demo``, else ModelUnavailableError with the one-line fix.
    The one fallback decision of every entry point (:func:`cdir.models.availability.choose_preset`).
    """
    return choose(preset, model_root, timeout)


def presets() -> list[dict[str, Any]]:
    """Every preset: what it is, its licence, what it costs here (seconds per image to embed
    and to caption, measured by bench/bench_preset_costs.py with random weights of the real
    architectures) and what it scores (open_clip's published zero-shot ImageNet, ImageNet-Sketch,
    ImageNet-R and Flickr text -> image R@1: cdir.models.published)."""
    from cdir.models.presets import measured_costs

    costs = measured_costs()
    rows = []
    for p in map(get_preset, list_presets()):
        quality = p.quality
        rows.append(
            {
                "name": p.name,
                "description": p.description,
                "trained": p.trained,
                "needs_gpu": p.needs_gpu,
                "licence": p.licence,
                "research_only": p.research_only,
                "embedder": f"{p.embedder.arch}/{p.embedder.pretrained or 'local'}",
                "captioner": p.captioner.card_id or p.captioner.kind,
                "cost_here": costs.get("presets", {}).get(p.name),
                "cost_measured_on": measured_on() if costs else None,
                "published": None
                if quality is None
                else {
                    "imagenet": quality.imagenet,
                    "imagenet_sketch": quality.imagenet_sketch,
                    "imagenet_r": quality.imagenet_r,
                    "flickr_image_r1": quality.flickr_image_r1,
                    "source": quality.source,
                },
                "captioner_card": p.captioner_card,
            }
        )
    return rows


def measured_on() -> str:
    """Where and how the costs in :func:`presets` were measured, in one line."""
    from cdir.models.presets import measured_costs

    costs = measured_costs()
    if not costs:
        return "costs not measured yet (python bench/bench_preset_costs.py)"
    load = costs.get("load_average_before_after", ["?", "?"])
    return (
        f"costs measured {costs.get('measured')} on {costs.get('cpu')}, load average "
        f"{load[0]} -> {load[1]}: {costs.get('method')}; the CPU seconds of one torch "
        f"thread are shown (the wall seconds, kept beside them, grow with the load)"
    )


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
    dim, choice = None, None
    if Store.exists(Path(store)):
        meta = Store.read_meta(store)
        preset, dim = meta.get("preset") or preset, meta.get("dim")
        register_store_preset(meta)
    else:  # a new collection: the preset that can run here (the same decision as the app's)
        choice = choose_preset(preset, model_root)
        preset = choice.run
    # built only when there is something to embed or caption: a re-run on an unchanged folder
    # imports no model library (cdir.models.lazy)
    models = cast(
        Models,
        LazyModels(preset, model_root, dim, loader=lambda name, root: get_models(name, root)),
    )
    with collection_lock(store):  # one writer per collection, across threads and processes
        try:
            report = run_ingest(sources, store, models, config or IngestConfig(), progress)
            _keep_duplicate_groups(store)
            if choice is not None and choice.fell_back:
                report.notes.insert(0, choice.notice())
            return report
        except (OSError, sqlite3.Error) as exc:  # thumbnails and the cache fill the disk too
            full = disk_full_error(exc, Path(store))
            if full is None:
                raise
            raise full from exc


def ingest_on_ray(
    sources: Sequence[str | Path],
    store: str | Path,
    preset: str = "default",
    config: IngestConfig | None = None,
    address: str | None = None,
    workers: int = 2,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
    *,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
) -> IngestReport:
    """:func:`ingest` with the models on ``workers`` Ray workers (docs/distributed.md);
    ``address``: a Ray cluster (None: Ray started on this machine)."""
    from cdir.ingest.ray_engine import ingest_ray

    return ingest_ray(
        sources,
        store,
        preset,
        config,
        address,
        workers,
        model_root,
        progress,
        num_gpus=gpus_per_worker,
        num_cpus=cpus_per_worker,
    )


def _keep_duplicate_groups(store: str | Path) -> None:
    """Find the exact and perceptual groups once, so opening the review reads them."""
    from cdir.duplicates.groups import warm_cache

    try:
        warm_cache(Store.load(store))
    except Exception as exc:  # noqa: BLE001 - the review finds them itself then
        logging.getLogger(__name__).warning("duplicate groups not kept: %s", exc)


def delete_collection(
    store: str | Path,
    remove: Callable[[Path], None],
    stop_jobs: Callable[[Path], bool] | None = None,
    timeout: float = 10.0,
) -> None:
    """Delete the collection at ``store`` in one step, or nothing at all. First its background
    jobs are stopped (``stop_jobs``: True once none runs); then, holding the collection's write
    lock (so no build or caption checkpoint is under way), ``remove`` takes the directory away
    (the app's workspace renames it out of sight atomically). Raises CollectionBusyError (one
    line; nothing deleted) when a job does not stop or the lock is not free within ``timeout``
    seconds."""
    from filelock import Timeout

    root = Path(store)
    if stop_jobs is not None and not stop_jobs(root):
        raise CollectionBusyError(
            f"Captions of {root.name!r} are still being written; try again "
            "in a minute. Nothing was deleted."
        )
    try:
        with collection_lock(root, timeout=timeout, create=False):
            remove(root)
    except Timeout as exc:
        raise CollectionBusyError(
            f"{root.name!r} is being built right now; delete it once the "
            "build has finished. Nothing was deleted."
        ) from exc
    forget(root)


def search(
    session: Session,
    *,
    image: str | Path | Any = None,
    text: str | None = None,
    item_id: int | None = None,
    options: SearchOptions = SearchOptions(),
) -> SearchResult:
    """Exactly one of ``image`` (a file path or a PIL image), ``text`` or ``item_id`` is the
    query. ``options.collapse_duplicates``: one hit per duplicate group, holding the ids of the
    others in ``near_duplicates`` (:func:`cdir.api.queries.collapsed`)."""
    given = [
        name for name, v in (("image", image), ("text", text), ("id", item_id)) if v is not None
    ]
    if len(given) != 1:
        raise ValueError(f"give exactly one query (an image, a text or an id), not {given or 0}")
    if options.collapse_duplicates:  # one card per duplicate group (cdir.api.queries)
        query = {"image": image, "text": text, "item_id": item_id}
        return collapsed(session, options, lambda deep: search(session, **query, options=deep))
    if image is not None and not isinstance(image, str | Path):
        return session.searcher.by_picture(image, options)
    if image is not None:
        return session.searcher.by_image(image, options)
    if text is not None:
        return session.searcher.by_text(text, options)
    return session.searcher.by_id(int(item_id), options)  # type: ignore[arg-type]


def is_staged(options: SearchOptions) -> bool:
    """True when an image query with ``options`` is answered in two stages (CM mode: image →
    image first, then caption matching once the query's caption is made)."""
    from cdir.retrieval.staged import is_staged as staged

    return staged(options)


def search_per_domain(
    session: Session, *, options: SearchOptions = SearchOptions(), **query: Any
) -> list[tuple[str, SearchResult]]:
    """Cross-domain view: one ranked row per target domain (``options.domains``, or every domain
    of the collection when empty)."""
    domains = options.domains or tuple(domains_of(session.store))
    return [(d, search(session, options=replace(options, domains=(d,)), **query)) for d in domains]


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
    return collapsed_rows(
        session, options, lambda deep: staged_search(session.searcher, image, deep, sha, domains)
    )


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
        "generators": {
            str(k): int(v) for k, v in ok["generator"].dropna().value_counts().sort_index().items()
        },
        "failed": [
            {"id": int(r.id), "file": str(r.rel_path), "reason": str(r.error)}
            for r in items[items["status"] == "failed"].itertuples()
        ],
    }


def export(
    store: str | Path, out: str | Path, fmt: str = "datasets", push: str | None = None
) -> Any:
    """The collection as a 🤗 dataset or Parquet at ``out`` (see
    :func:`cdir.export.datasets_out.export_store`); returns its ExportReport."""
    from cdir.export.datasets_out import export_store

    return export_store(store, out, fmt, push)


def download_search(store: str | Path, results: Any, fmt: str = "json") -> Path:
    """Search results (a SearchResult, or search_per_domain's list) as a JSON or CSV file in
    ``<store>/exports/``; returns its path (cdir.export.downloads)."""
    from cdir.export.downloads import search_results_file

    return search_results_file(store, results, fmt)


def export_path(store: str | Path, stem: str, suffix: str) -> Path:
    """A new file name ``<stem>-<time>.<suffix>`` in ``<store>/exports/`` (old exports pruned to
    the quota first), for a download written by the caller."""
    from cdir.export.downloads import new_export_path

    return new_export_path(store, stem, suffix)


def download_map(store: str | Path, figure: Any, fmt: str = "html") -> Path:
    """The map's plotly figure as interactive HTML (or PNG, with kaleido) in
    ``<store>/exports/``; returns its path."""
    from cdir.export.downloads import DownloadError, map_html_file, map_png_file

    if fmt not in ("html", "png"):
        raise DownloadError(f"the map downloads as html or png, not {fmt!r}")
    return map_html_file(store, figure) if fmt == "html" else map_png_file(store, figure)


def download_eval_report(
    store: str | Path, report: Any, header: dict[str, str] | None = None
) -> dict[str, Path]:
    """An EvalReport as report.md/.csv/.json in a new ``<store>/exports/eval-<time>/`` folder."""
    from cdir.export.downloads import evaluation_report_files

    return evaluation_report_files(store, report, header)


def with_options(options: SearchOptions, **changes: Any) -> SearchOptions:
    return replace(options, **changes)
