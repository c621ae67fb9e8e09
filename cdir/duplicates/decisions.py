"""Duplicate decisions that stay with the collection, as relations between items.

Stored in ``<store>/dupes/decided.json``, written atomically
(:func:`cdir.store.collection.atomic_write_json`)::

    {"version": 2, "items": {"<id>": {"decision": "remove", "tier": "perceptual",
                                      "apart_from": [], "with_": [3, 7], "distance": "...",
                                      "at": "2026-01-01T00:00:00Z"}}}

Four decisions, each made in a group and remembering its other members (``with_``):

- ``keep`` / ``remove``: the item is a duplicate of the others (they belong together);
- ``not_duplicate``: the item is not a duplicate of them (``apart_from``);
- ``alternate``: same job or subject, worth keeping beside them: never in a removal list.

:func:`apply_relations` rewrites the groups of any run (whatever its thresholds) by these
relations: an item marked apart leaves every group holding one it is apart from; items decided
duplicates of each other stay together, transitively (A with B and B with C: one group of A, B,
C), even when a stricter threshold would have split them. cdir never deletes a file:
:mod:`.export` writes the removal list for the user to run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cdir.duplicates.finder import DupGroup, centre_hashes, hamming_metric, hex_to_uint64
from cdir.store.collection import StoreError, atomic_write_json

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

DECISIONS: tuple[str, ...] = ("keep", "remove", "not_duplicate", "alternate")
SAME = ("keep", "remove")  # decisions that say "a duplicate of the others"
DECIDED_FILE = Path("dupes") / "decided.json"
VERSION = 2
# tiers a bulk accept covers when none is named: never the semantic tier (similar is not same)
ACCEPT_TIERS: tuple[str, ...] = ("exact", "perceptual")
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Decision:
    """One item's decision; ``apart_from`` (not_duplicate only): the item ids it is not a
    duplicate of; ``with_``: the other members of the group it was decided in; ``tier`` and
    ``distance`` (in words): what put it in that group; ``at``: UTC time."""

    decision: str
    tier: str | None = None
    apart_from: tuple[int, ...] = ()
    at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    with_: tuple[int, ...] = ()
    distance: str = ""

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, not {self.decision!r}")


# ---------------------------------------------------------------------------------- storage
def decided_path(root: Path | str) -> Path:
    return Path(root) / DECIDED_FILE


def load_decided(root: Path | str) -> dict[int, Decision]:
    """Item id -> its decision; {} when nothing was decided. StoreError when damaged."""
    import json

    path = decided_path(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            int(k): Decision(
                v["decision"],
                v.get("tier"),
                tuple(int(i) for i in v.get("apart_from", ())),
                v.get("at", ""),
                tuple(int(i) for i in v.get("with_", ())),
                str(v.get("distance", "")),
            )
            for k, v in dict(data["items"]).items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"the saved duplicate decisions of this collection are damaged ({exc});"
            " move dupes/decided.json away to start the review afresh"
        ) from exc


def _save(root: Path | str, decided: dict[int, Decision]) -> None:
    items = {
        str(k): {**asdict(d), "apart_from": list(d.apart_from), "with_": list(d.with_)}
        for k, d in sorted(decided.items())
    }
    atomic_write_json(decided_path(root), {"version": VERSION, "items": items})


def _update(root: Path | str, change: Callable[[dict[int, Decision]], int]) -> int:
    """Load, apply ``change`` (returns how many items changed), save when anything did."""
    with _LOCK:
        decided = load_decided(root)
        changed = change(decided)
        if changed:
            _save(root, decided)
        return changed


def decide(root: Path | str, group: DupGroup, item_id: int, decision: str) -> Decision:
    """Record ``decision`` for ``item_id``, a member of ``group``. Raises ValueError for an
    unknown decision or an item not in the group."""
    if item_id not in group.members:
        raise ValueError(f"item {item_id} is not in this group ({group.members})")
    others = tuple(sorted(m for m in group.members if m != item_id))
    made = Decision(
        decision,
        group.tier,
        others if decision == "not_duplicate" else (),
        with_=others,
        distance=group.distance(item_id),
    )

    def change(decided: dict[int, Decision]) -> int:
        before = decided.get(int(item_id))
        decided[int(item_id)] = _accumulated(made, before)
        if decision == "keep":  # one keep per group: another member marked keep is removed
            for other in others:
                if other in decided and decided[other].decision == "keep":
                    decided[other] = replace(decided[other], decision="remove")
        return 1

    _update(root, change)
    return made


def _accumulated(made: Decision, before: Decision | None) -> Decision:
    """``made``, remembering the items of an earlier decision of the same kind too (an item
    decided a duplicate in two groups is a duplicate of the members of both)."""
    if before is None:
        return made
    same_kind = (made.decision in SAME) == (before.decision in SAME)
    if made.decision == "not_duplicate" and before.decision == "not_duplicate":
        apart = tuple(sorted(set(made.apart_from) | set(before.apart_from)))
        return replace(made, apart_from=apart, with_=apart)
    if same_kind and made.decision in SAME:
        return replace(made, with_=tuple(sorted(set(made.with_) | set(before.with_))))
    return made


def forget(root: Path | str, ids: Iterable[int]) -> int:
    """Drop the decisions of ``ids`` (back to the suggestion); returns how many there were."""
    wanted = {int(i) for i in ids}

    def change(decided: dict[int, Decision]) -> int:
        gone = wanted & decided.keys()
        for item in gone:
            del decided[item]
        return len(gone)

    return _update(root, change)


def accept_suggestions(
    root: Path | str,
    groups: Sequence[DupGroup],
    tiers: Sequence[str] = ACCEPT_TIERS,
    overwrite: bool = False,
) -> int:
    """Bulk: in every group of ``tiers`` keep the suggested member (``group.keep``, or the
    member already marked keep) and remove the others. Items already decided keep their decision
    unless ``overwrite``; an alternate is never turned into a removal, and a member the group
    names an alternate (another generation, :mod:`cdir.duplicates.families`) is accepted as
    one. Returns how many items were decided."""
    chosen = [g for g in groups if g.tier in tiers]

    def change(decided: dict[int, Decision]) -> int:
        plan: dict[int, Decision] = {}
        for group in chosen:
            keep = group.keep if group.keep is not None else group.representative
            if not overwrite:  # a member the user chose to keep leads the group's decisions
                keep = next(
                    (m for m in group.members if m in decided and decided[m].decision == "keep"),
                    keep,
                )
            for m in group.members:
                if m in decided and decided[m].decision == "alternate":
                    continue
                others = tuple(sorted(o for o in group.members if o != m))
                kind = "keep" if m == keep else "alternate" if m in group.alternates else "remove"
                plan[m] = Decision(kind, group.tier, with_=others, distance=group.distance(m))
        fresh = {
            m: _accumulated(d, decided.get(m))
            for m, d in plan.items()
            if overwrite or m not in decided
        }
        decided.update(fresh)
        return len(fresh)

    return _update(root, change)


# ----------------------------------------------------------------------- groups by relations
def apply_relations(
    store: Store, groups: list[DupGroup], decided: dict[int, Decision]
) -> list[DupGroup]:
    """``groups`` rewritten by the saved relations (see the module docstring): members apart
    from another member leave; groups holding items decided duplicates of each other merge,
    and such items missing at this run's thresholds join them."""
    groups = split_apart(store, groups, decided)
    return join_decided(store, groups, decided)


def split_apart(
    store: Store, groups: list[DupGroup], decided: dict[int, Decision]
) -> list[DupGroup]:
    """Each group loses the members marked "not a duplicate" of another member; groups left
    with one member go. A group that loses its representative is led by its next member, the
    scores measured again against it, so every score shown stays true."""
    apart = {i: set(d.apart_from) for i, d in decided.items() if d.decision == "not_duplicate"}
    kept = []
    for group in groups:
        members = [
            m for m in group.members if not (apart.get(m, set()) & (set(group.members) - {m}))
        ]
        if len(members) < 2:
            continue
        if members != group.members:
            group = _regroup(store, group, members)
        kept.append(group)
    return kept


def _apart(decided: dict[int, Decision]) -> dict[int, set[int]]:
    apart: dict[int, set[int]] = {}
    for item, d in decided.items():
        if d.decision == "not_duplicate":
            for other in d.apart_from:  # symmetric: B is apart from A too
                apart.setdefault(item, set()).add(other)
                apart.setdefault(other, set()).add(item)
    return apart


def same_components(decided: dict[int, Decision]) -> list[set[int]]:
    """Sets of items decided duplicates of each other, transitively (union of keep/remove
    decisions made in one group), never joining two items one of which is apart from the
    other."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    apart = _apart(decided)
    for item, d in decided.items():
        if d.decision not in SAME:
            continue
        for other in d.with_:
            mine = decided.get(other)
            if (
                mine is not None
                and mine.decision in SAME
                and item in mine.with_
                and other not in apart.get(item, set())
            ):
                parent[find(item)] = find(other)
    parts: dict[int, set[int]] = {}
    for x in list(parent):
        parts.setdefault(find(x), set()).add(x)
    return [p for p in parts.values() if len(p) > 1]


def join_decided(
    store: Store, groups: list[DupGroup], decided: dict[int, Decision]
) -> list[DupGroup]:
    """Groups that hold items of one :func:`same_components` set merge into the first of them,
    and the set's items missing from them join it (scores measured again against its
    representative); a set no group holds becomes a group of its own (its decisions' tier)."""
    n_items = len(store.items)
    for part in same_components(decided):
        part = {i for i in part if 0 <= i < n_items}
        if len(part) < 2:
            continue
        touching = [n for n, g in enumerate(groups) if part & set(g.members)]
        if not touching:
            tier = decided[min(part)].tier or "exact"
            members = sorted(part)
            groups.append(DupGroup(tier, members, members[0], rescore(store, tier, members)))
            continue
        head = groups[touching[0]]
        if len(touching) == 1 and part <= set(head.members):
            continue
        members = list(head.members)
        for n in touching[1:]:
            members += [m for m in groups[n].members if m not in members]
        members += sorted(part - set(members))
        merged = DupGroup(head.tier, members, members[0], rescore(store, head.tier, members))
        groups = [g for n, g in enumerate(groups) if n not in touching[1:]]
        groups[touching[0]] = merged
    return groups


def _regroup(store: Store, group: DupGroup, members: list[int]) -> DupGroup:
    if members[0] == group.representative:
        return replace(group, members=members, scores={m: group.scores[m] for m in members})
    return DupGroup(group.tier, members, members[0], rescore(store, group.tier, members))


def rescore(store: Store, tier: str, members: list[int]) -> dict[int, float]:
    """Scores of ``members`` against the first, as the finder measures them (ids are rows)."""
    rows = np.asarray(members, dtype=np.int64)
    if tier == "semantic" and store.image_emb is not None:
        emb = store.image_emb[rows]
        values = emb @ emb[0]
    elif tier == "perceptual":
        items = store.items
        hashes = hex_to_uint64(items["phash"].to_numpy()[rows])
        mirrors = hex_to_uint64(items["phash_mirror"].to_numpy()[rows])
        has_mirror = items["phash_mirror"].notna().to_numpy()[rows]
        mirrors = np.where(has_mirror, mirrors, hashes)
        metric = hamming_metric(hashes, mirrors, 0, centre_hashes(store, rows))
        values = metric.score(0, np.arange(len(rows)))
    else:
        values = np.ones(len(rows))
    return {m: float(v) for m, v in zip(members, values, strict=True)}
