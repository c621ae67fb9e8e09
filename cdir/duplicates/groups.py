"""The one duplicates path: groups of the chosen tiers, rewritten by the saved decisions, each
with its suggested keep. Every surface (the Duplicates tab, the Browse decisions panel, the API
endpoints, every form of ``cdir dupes``, every export) takes its groups from
:func:`find_duplicates` and holds them between calls as :func:`groups_to_state`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdir.duplicates.decisions import (
    Decision,
    apply_relations,
    load_decided,
    rescore,
    split_apart,
)
from cdir.duplicates.families import protected
from cdir.duplicates.finder import TIERS, DedupConfig, DupGroup, find_groups
from cdir.duplicates.item_columns import Columns
from cdir.duplicates.keep import choose_keep
from cdir.duplicates.semantic_threshold import Embed, semantic_plan

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)


def find_duplicates(
    store: Store,
    config: DedupConfig | None = None,
    decided: dict[int, Decision] | None = None,
    embed: Callable[[], Embed] | None = None,
) -> list[DupGroup]:
    """Near-duplicate groups of ``config``'s tiers (:func:`cdir.duplicates.finder.find_groups`)
    with the saved decisions applied (:func:`cdir.duplicates.decisions.apply_relations`;
    ``decided``: those of the collection when None) and the keep set on each group: the member
    the user marked keep, else :func:`cdir.duplicates.keep.choose_keep`'s suggestion. Largest
    groups first. The semantic tier runs only for a trained embedder, at the threshold
    calibrated on the collection unless one was set
    (:func:`cdir.duplicates.semantic_threshold.semantic_plan`; ``embed`` gives the embedder to
    calibrate with)."""
    decided = load_decided(store.root) if decided is None else decided
    planned, words = semantic_plan(store, config or DedupConfig(), embed)
    if words:
        log.info("%s", words)
    if planned is None:
        return []
    key = cache_key(store, planned)
    tiers, keeps = load_cached(store, key)
    before = (len(tiers), len(keeps))
    groups = find_groups(
        store, planned, split=lambda found: split_apart(store, found, decided), tier_groups=tiers
    )
    groups = apply_relations(store, groups, decided)
    groups = sorted(groups, key=lambda g: (-len(g), TIERS.index(g.tier), g.representative))
    cols = Columns.of(store) if len(keeps) < len(groups) else None
    groups = [with_keep(store, g, decided, cols, keeps) for g in groups]
    if (len(tiers), len(keeps)) != before:
        save_cached(store, key, tiers, keeps)
    return groups


# ------------------------------------------------------------------------------------ cache
CACHE_FILE = Path("dupes") / "groups-cache.json"


def cache_key(store: Store, config: DedupConfig) -> str | None:
    """What each tier's groups and the keep suggestions depend on: the collection's items and
    the config (not the decisions, applied on top at every run); None for a store that is not
    a saved collection (a folder's, in memory)."""
    import hashlib

    if not (store.root / "meta.json").is_file():
        return None
    parts = [
        store.meta.get("revision"),
        len(store.items),
        repr(config.tiers),
        config.perceptual_max_distance,
        config.semantic_min_similarity,
        config.k,
        config.mirror,
        config.centre,
        repr(config.low_info),
        2,
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


Keeps = dict[str, dict[str, Any]]  # a suggestion by its group's tier and members


def load_cached(store: Store, key: str | None) -> tuple[dict[str, list[DupGroup]], Keeps]:
    """(each tier's groups, the keep suggestions) the collection keeps for ``key``, else empty."""
    import json

    if key is None:
        return {}, {}
    try:
        saved = json.loads((store.root / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    if not isinstance(saved, dict) or saved.get("key") != key:
        return {}, {}
    return (
        {t: groups_from_state(g) for t, g in saved.get("tiers", {}).items()},
        dict(saved.get("keeps", {})),
    )


def save_cached(
    store: Store, key: str | None, tiers: dict[str, list[DupGroup]], keeps: Keeps
) -> None:
    """Keep each tier's groups and the suggestions in the collection, so the review opens at
    once the next time, also after a decision."""
    from cdir.store.collection import atomic_write_json

    if key is None:
        return
    try:
        atomic_write_json(
            store.root / CACHE_FILE,
            {
                "key": key,
                "tiers": {t: groups_to_state(g) for t, g in tiers.items()},
                "keeps": keeps,
            },
        )
    except OSError as exc:  # a read-only collection: just no cache
        log.debug("duplicate groups not cached: %s", exc)


def warm_cache(store: Store, config: DedupConfig | None = None) -> int:
    """Find the groups of ``config`` (default: exact and perceptual) once, so that opening the
    review reads them (run at the end of an ingest); how many groups."""
    return len(find_duplicates(store, config or DedupConfig(tiers=("exact", "perceptual"))))


def with_keep(
    store: Store,
    group: DupGroup,
    decided: dict[int, Decision],
    cols: Columns | None = None,
    keeps: Keeps | None = None,
) -> DupGroup:
    """``group`` with its keep (the member marked keep, else the suggestion, with its reason)
    leading it as its representative, the scores measured against it. ``keeps``: suggestions
    made before, by group (read, and filled in)."""
    chosen = next(
        (m for m in group.members if m in decided and decided[m].decision == "keep"), None
    )
    mark = f"{group.tier}:{','.join(map(str, group.members))}"
    if chosen is None and keeps is not None and mark in keeps:
        return groups_from_state([keeps[mark]])[0]
    cols = cols or Columns.of(store)
    if chosen is not None:
        keep, reason = chosen, "your choice"
    else:
        suggestion = choose_keep(store, group.tier, group.members, columns=cols)
        keep, reason = suggestion.item, suggestion.reason
    if keep != group.representative:
        members = [keep, *(m for m in group.members if m != keep)]
        group = DupGroup(group.tier, members, keep, rescore(store, group.tier, members))
    others = protected(store, group.members, keep, cols)
    alternates = tuple(m for m in group.members if m in others)
    group = replace(group, keep=keep, keep_reason=reason, alternates=alternates)
    if chosen is None and keeps is not None:
        keeps[mark] = groups_to_state([group])[0]
    return group


def groups_to_state(groups: Sequence[DupGroup]) -> list[dict[str, Any]]:
    """Groups as JSON-able dicts, the one form a page holds them in between calls."""
    return [
        {
            "tier": g.tier,
            "members": [int(m) for m in g.members],
            "representative": int(g.representative),
            "scores": {str(k): float(v) for k, v in g.scores.items()},
            "keep": None if g.keep is None else int(g.keep),
            "keep_reason": g.keep_reason,
            "alternates": [int(m) for m in g.alternates],
        }
        for g in groups
    ]


def groups_from_state(state: Sequence[dict[str, Any]] | None) -> list[DupGroup]:
    """The groups :func:`groups_to_state` wrote."""
    return [
        DupGroup(
            g["tier"],
            [int(m) for m in g["members"]],
            int(g["representative"]),
            {int(k): float(v) for k, v in g["scores"].items()},
            None if g.get("keep") is None else int(g["keep"]),
            str(g.get("keep_reason", "")),
            tuple(int(m) for m in g.get("alternates", ())),
        )
        for g in state or []
    ]
