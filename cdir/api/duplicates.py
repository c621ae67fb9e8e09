"""The duplicates actions of the service layer: one path (:mod:`cdir.duplicates.groups`) for
every surface: groups from :func:`find_duplicates`, rows from :func:`duplicate_rows`, files from
:func:`export_decisions`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cdir.api.errors import UsageError
from cdir.api.sessions import Session
from cdir.ingest.pipeline import Progress
from cdir.models.loaded import get_models
from cdir.store.collection import Store


def _store_of(store: Store | Session | str | Path) -> Store:
    if isinstance(store, Session):
        return store.store
    return store if isinstance(store, Store) else Store.load(store)


def duplicate_config(
    tiers: Sequence[str] | None = None,
    perceptual: float | None = None,
    semantic: float | None = None,
    threshold: float | None = None,
) -> Any:
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


def find_folder_duplicates(
    sources: Sequence[str | Path],
    config: Any = None,
    store_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Any:
    """Near-duplicate groups of a folder or zip without a collection (exact and perceptual
    tiers; ``config``: a :class:`~cdir.duplicates.folder.FolderConfig`); a FolderResult."""
    from cdir.duplicates.folder import find_folder_groups

    return find_folder_groups(sources, config, Path(store_dir) if store_dir else None, progress)


def folder_duplicates_report(
    result: Any, config: Any, source: str, store_dir: str | Path | None
) -> dict[str, Any]:
    """The JSON report of :func:`find_folder_duplicates`."""
    from cdir.duplicates.folder import folder_report

    return folder_report(result, config, source, Path(store_dir) if store_dir else None)


def duplicates_report(
    store: Store | Session | str | Path, groups: Sequence[Any], config: Any
) -> dict[str, Any]:
    """The JSON report of ``cdir dupes``: thresholds, progress, groups with keep and reason."""
    from cdir.duplicates.rows import groups_report
    from cdir.duplicates.semantic_threshold import semantic_plan

    loaded = _store_of(store)
    planned, words = semantic_plan(loaded, config, None)
    report = groups_report(loaded, groups, planned or config)
    report["semantic"] = words
    return report


def duplicate_rows(
    store: Store | Session | str | Path, groups: Sequence[Any]
) -> list[dict[str, Any]]:
    """One row per member of each group and per item set apart: decision, keep, distance."""
    from cdir.duplicates.rows import decision_rows

    return decision_rows(_store_of(store), groups)


def duplicates_progress(
    store: Store | Session | str | Path, groups: Sequence[Any]
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


def accept(
    store: Store | Session | str | Path, groups: Sequence[Any], tiers: Sequence[str] | None = None
) -> int:
    """Accept the keep of every group of ``tiers`` (default exact and perceptual: the semantic
    tier only when named) for the items not decided yet; returns how many were decided."""
    from cdir.duplicates.decisions import ACCEPT_TIERS, accept_suggestions

    return accept_suggestions(_store_of(store).root, groups, tuple(tiers or ACCEPT_TIERS))


def export_decisions(
    store: Store | Session | str | Path,
    groups: Sequence[Any],
    out: str | Path | None = None,
    fmt: str = "csv",
) -> Path:
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


def duplicate_families(
    store: Store | Session | str | Path, groups: Sequence[Any]
) -> list[tuple[str, list[int]]]:
    """The groups of one job family together, one review row each: (the family in words, e.g.
    "grid → tiles U1 → 1 upscale · variations of job 0f1e2d3c", empty for a group of no family;
    the indices of its groups in ``groups``) (:func:`cdir.duplicates.families.family_rows`)."""
    from cdir.duplicates.families import family_rows

    return family_rows(_store_of(store), groups)


def groups_to_state(groups: Sequence[Any]) -> list[dict[str, Any]]:
    """Groups in the one form a page holds them between calls."""
    from cdir.duplicates.groups import groups_to_state as to_state

    return to_state(groups)


def groups_from_state(state: Sequence[dict[str, Any]] | None) -> list[Any]:
    from cdir.duplicates.groups import groups_from_state as from_state

    return from_state(state)


def folder_duplicates_config(
    tiers: Sequence[str] | None = None, threshold: float | None = None, workers: int = 0
) -> Any:
    """The :class:`~cdir.duplicates.folder.FolderConfig` of ``cdir dupes FOLDER``: ``tiers``
    (default exact and perceptual), ``threshold`` of the one thresholded tier, hashing
    ``workers`` (0: one per CPU)."""
    from cdir.duplicates.folder import FOLDER_TIERS, FolderConfig

    return FolderConfig(
        dedup=duplicate_config(tiers or FOLDER_TIERS, threshold=threshold), workers=workers
    )


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
