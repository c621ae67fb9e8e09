"""The one set of decision rows (what every listing, panel and export shows) and the JSON
report of ``cdir dupes``, both from the groups of :func:`cdir.duplicates.groups.find_duplicates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cdir.duplicates.decisions import Decision, load_decided
from cdir.duplicates.finder import GROUPING_RULE, DedupConfig, DupGroup
from cdir.duplicates.item_columns import Columns

if TYPE_CHECKING:
    from cdir.store.collection import Store


def decision_rows(
    store: Store, groups: Sequence[DupGroup], decided: dict[int, Decision] | None = None
) -> list[dict[str, Any]]:
    """One row per member of each group (groups numbered from 1, as on screen), then one per
    item split out as "not a duplicate" (group None): id, file, tier, decision, whether it was
    ``decided`` or is the suggestion, whether it is the group's keep and why, distance in words,
    score, resolution, size, caption and prompt."""
    decided = load_decided(store.root) if decided is None else decided
    cols = Columns.of(store)
    rows: list[dict[str, Any]] = []
    shown: set[int] = set()
    for n, group in enumerate(groups, start=1):
        keep_file = cols.get("rel_path", group.keep) if group.keep is not None else None
        for member in group.members:
            made = decided.get(member)
            rows.append(
                {
                    **_row(
                        cols,
                        member,
                        n,
                        group.tier,
                        made,
                        member == group.keep,
                        group.distance(member),
                        group.scores.get(member),
                        member in group.alternates,
                    ),
                    "keep_reason": group.keep_reason if member == group.keep else "",
                    "keep_file": keep_file,
                    "representative": member == group.representative,
                }
            )
            shown.add(member)
    for member, made in sorted(decided.items()):
        if (
            member not in shown
            and 0 <= member < len(store.items)
            and made.decision in ("not_duplicate", "alternate")
        ):
            rows.append(
                {
                    **_row(cols, member, None, made.tier, made, False, made.distance, None),
                    "keep_reason": "",
                    "keep_file": None,
                    "representative": False,
                }
            )
    return rows


def _row(
    cols: Columns,
    item: int,
    group: int | None,
    tier: str | None,
    made: Decision | None,
    keep: bool,
    distance: str,
    score: float | None,
    alternate: bool = False,
) -> dict[str, Any]:
    size = int(cols.file_size[item])
    return {
        "group": group,
        "tier": tier,
        "id": int(item),
        "file": cols.get("rel_path", item),
        "decision": made.decision
        if made
        else ("keep" if keep else "alternate" if alternate else "remove"),
        "decided": made is not None,
        "keep": keep,
        "distance": distance,
        "score": score,
        "resolution": f"{int(cols.width[item])}x{int(cols.height[item])}",
        "file_size": size if size >= 0 else None,
        "apart_from": list(made.apart_from) if made else [],
        "caption": cols.get("caption", item),
        "prompt": cols.get("prompt", item),
    }


def progress(groups: Sequence[DupGroup], decided: dict[int, Decision]) -> tuple[int, int]:
    """(groups every member of which is decided, groups)."""
    done = sum(all(m in decided for m in g.members) for g in groups)
    return done, len(groups)


def groups_report(
    store: Store,
    groups: Sequence[DupGroup],
    config: DedupConfig,
    decided: dict[int, Decision] | None = None,
) -> dict[str, Any]:
    """A JSON-able summary: tiers, thresholds, the grouping rule, progress, and every group with
    its members (id, file, score, distance, decision), representative, keep and its reason."""
    decided = load_decided(store.root) if decided is None else decided
    files = dict(
        zip(store.items["id"].astype(int), store.items["rel_path"].astype(str), strict=True)
    )
    done, total = progress(groups, decided)
    return {
        "store": str(store.root),
        "tiers": list(config.tiers),
        "thresholds": {t: config.threshold(t) for t in config.tiers if t != "exact"},
        "grouping_rule": GROUPING_RULE,
        "n_groups": len(groups),
        "decided_groups": done,
        "groups": [
            {
                "tier": g.tier,
                "size": len(g),
                "representative": g.representative,
                "keep": g.keep,
                "keep_reason": g.keep_reason,
                "members": [
                    {
                        "id": m,
                        "file": files.get(m, ""),
                        "score": g.scores.get(m),
                        "distance": g.distance(m),
                        "decision": decided[m].decision if m in decided else None,
                    }
                    for m in g.members
                ],
            }
            for g in groups
        ],
    }
