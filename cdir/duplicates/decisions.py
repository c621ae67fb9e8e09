"""Duplicate decisions that stay with the collection: keep / remove / not a duplicate, per item.

Stored in ``<store>/dupes/decided.json``, written atomically
(:func:`cdir.store.collection.atomic_write_json`)::

    {"version": 1, "items": {"<id>": {"decision": "remove", "tier": "perceptual",
                                      "apart_from": [], "at": "2026-01-01T00:00:00Z"}}}

"not a duplicate" remembers the other members of the group the item was in (``apart_from``);
:func:`split_hook` gives :func:`cdir.duplicates.finder.find_groups` a ``split`` step that takes
such an item out of any later group holding one of them, whatever the thresholds of that run, so
the finder never regroups it with them. Keep and remove belong to the item, so they survive a
re-run that forms the groups differently. cdir never deletes a file: :mod:`.decision_export`
writes the decisions and a shell-safe list of the files marked remove, for the user to run.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.duplicates.finder import (
    DupGroup,
    centre_hashes,
    hamming_metric,
    hex_to_uint64,
    suggest_keep,
)
from cdir.store.collection import StoreError, atomic_write_json

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

DECISIONS: tuple[str, ...] = ("keep", "remove", "not_duplicate")
DECIDED_FILE = Path("dupes") / "decided.json"
VERSION = 1
_LOCK = threading.Lock()
# "x_copy.png", "x copy 2.png", "x-copy.png", "Copy of x.png", "x (1).png"
COPY_NAME = re.compile(r"(?i)(?:[ _-]copy(?:[ _-]?\d+)?$|^copy of |\(\d+\)$)")


@dataclass(frozen=True)
class Decision:
    """One item's decision; ``apart_from`` (not_duplicate only): the item ids it is not a
    duplicate of; ``tier``: the tier of the group it was decided in; ``at``: UTC time."""

    decision: str
    tier: str | None = None
    apart_from: tuple[int, ...] = ()
    at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, not "
                             f"{self.decision!r}")


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
        return {int(k): Decision(v["decision"], v.get("tier"),
                                 tuple(int(i) for i in v.get("apart_from", ())), v.get("at", ""))
                for k, v in dict(data["items"]).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"the saved duplicate decisions of this collection are damaged ({exc});"
                         " move dupes/decided.json away to start the review afresh") from exc


def _save(root: Path | str, decided: dict[int, Decision]) -> None:
    items = {str(k): {**asdict(d), "apart_from": list(d.apart_from)}
             for k, d in sorted(decided.items())}
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
    """Record ``decision`` for ``item_id``, a member of ``group``; "not_duplicate" remembers the
    other members. Raises ValueError for an unknown decision or an item not in the group."""
    if item_id not in group.members:
        raise ValueError(f"item {item_id} is not in this group ({group.members})")
    apart = (tuple(sorted(m for m in group.members if m != item_id))
             if decision == "not_duplicate" else ())
    made = Decision(decision, group.tier, apart)

    def change(decided: dict[int, Decision]) -> int:
        decided[int(item_id)] = made
        return 1

    _update(root, change)
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


def accept_suggestions(store: Store, groups: Sequence[DupGroup], tier: str | None = None,
                       overwrite: bool = False) -> int:
    """Bulk: in every group (of ``tier`` only, if given) keep the suggested member (or the member
    already marked keep) and remove the others. Items already decided keep their decision unless
    ``overwrite``. Returns how many items were decided."""
    chosen = [g for g in groups if tier is None or g.tier == tier]

    def change(decided: dict[int, Decision]) -> int:
        plan = {}
        for group in chosen:
            keep = suggested_keep(store, group)
            if not overwrite:  # a member the user chose to keep leads the group's decisions
                keep = next((m for m in group.members if m in decided
                             and decided[m].decision == "keep"), keep)
            plan.update({m: Decision("keep" if m == keep else "remove", group.tier)
                         for m in group.members})
        fresh = {m: d for m, d in plan.items() if overwrite or m not in decided}
        decided.update(fresh)
        return len(fresh)

    return _update(store.root, change)


# ------------------------------------------------------------------------- the finder's hook
def split_hook(store: Store, decided: dict[int, Decision] | None = None
               ) -> Callable[[list[DupGroup]], list[DupGroup]]:
    """The ``split`` step for :func:`~cdir.duplicates.finder.find_groups`: each group loses the
    members marked "not a duplicate" of another member; groups left with one member go. A group
    that loses its representative is led by its next member, the scores measured again against
    it (differing pHash bits, cosine), so every score shown stays true."""
    decided = load_decided(store.root) if decided is None else decided
    apart = {i: set(d.apart_from) for i, d in decided.items() if d.decision == "not_duplicate"}

    def split(groups: list[DupGroup]) -> list[DupGroup]:
        kept = []
        for group in groups:
            members = [m for m in group.members
                       if not (apart.get(m, set()) & (set(group.members) - {m}))]
            if len(members) < 2:
                continue
            if members != group.members:
                group = _regroup(store, group, members)
            kept.append(group)
        return kept

    return split


def _regroup(store: Store, group: DupGroup, members: list[int]) -> DupGroup:
    if members[0] == group.representative:
        return replace(group, members=members, scores={m: group.scores[m] for m in members})
    return DupGroup(group.tier, members, members[0], _rescore(store, group.tier, members))


def _rescore(store: Store, tier: str, members: list[int]) -> dict[int, float]:
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


# --------------------------------------------------------------------------- what to show
def looks_like_copy(name: str) -> bool:
    """Whether a file name says it is a copy ("x_copy.png", "Copy of x", "x (1).jpg")."""
    stem = Path(str(name)).stem
    return bool(COPY_NAME.search(stem))


def suggested_keep(store: Store, group: DupGroup) -> int:
    """The member to keep. Exact copies (identical pixels): a file before a tile of a grid image,
    then a name that does not say copy, then the earliest file (modification time), then the
    shortest name, then the lowest id. Other tiers: highest resolution, then largest file
    (:func:`cdir.duplicates.finder.suggest_keep`)."""
    if group.tier != "exact":
        return suggest_keep(store, group.members)
    items = store.items
    keys = []
    for member in group.members:
        name = Path(str(items.at[member, "rel_path"])).name
        keys.append((int(items.at[member, "tile"]) > 0, looks_like_copy(name),
                     _mtime(store, member), len(name), name, member))
    return int(min(keys)[-1])


def _mtime(store: Store, row: int) -> float:
    try:
        return store.item_path(row).stat().st_mtime
    except OSError:
        return float("inf")


def distance_words(group: DupGroup, member: int) -> str:
    """How close ``member`` is to the group's representative, in words: "identical pixels",
    "pHash 2 bits apart", "cosine 0.97"; "representative" for the representative itself."""
    if member == group.representative:
        return "representative"
    score = group.scores.get(member)
    if group.tier == "exact" or score is None:
        return "identical pixels"
    if group.tier == "perceptual":
        bits = int(round(score))
        return f"pHash {bits} bit{'' if bits == 1 else 's'} apart"
    return f"cosine {score:.2f}"


def decision_rows(store: Store, groups: Sequence[DupGroup],
                  decided: dict[int, Decision] | None = None) -> list[dict[str, Any]]:
    """One row per member of each group (groups numbered from 0), then one per item split out as
    "not a duplicate" (group None): id, file, tier, decision, whether it was ``decided`` or is the
    suggestion, the suggested keep, distance in words, score, caption and prompt."""
    decided = load_decided(store.root) if decided is None else decided
    rows: list[dict[str, Any]] = []
    shown: set[int] = set()
    for n, group in enumerate(groups):
        keep = suggested_keep(store, group)
        for member in group.members:
            made = decided.get(member)
            rows.append(_row(store, member, n, group.tier, made, keep == member,
                             distance_words(group, member), group.scores.get(member)))
            shown.add(member)
    for member, made in sorted(decided.items()):
        if member not in shown and 0 <= member < len(store.items):
            rows.append(_row(store, member, None, made.tier, made, False, "", None))
    return rows


def _row(store: Store, item: int, group: int | None, tier: str | None, made: Decision | None,
         suggested: bool, distance: str, score: float | None) -> dict[str, Any]:
    items = store.items
    suggestion = "keep" if suggested else "remove"
    return {"group": group, "tier": tier, "id": int(item),
            "file": _text(items.at[item, "rel_path"]),
            "decision": made.decision if made else suggestion, "decided": made is not None,
            "suggested_keep": suggested, "distance": distance, "score": score,
            "apart_from": list(made.apart_from) if made else [],
            "caption": _text(items.at[item, "caption"]), "prompt": _text(items.at[item, "prompt"])}


def _text(value: Any) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)


def find_decided_groups(store: Store, config: Any = None) -> list[DupGroup]:
    """:func:`cdir.duplicates.finder.find_groups` with the saved "not a duplicate" decisions
    honoured (``config``: a :class:`~cdir.duplicates.finder.DedupConfig`, default thresholds)."""
    from cdir.duplicates.finder import find_groups

    return find_groups(store, config, split=split_hook(store))
