"""Reviewing near-duplicate groups and exporting the decisions (no UI code here).

cdir never deletes or moves a user's file: a review ends in a decisions file (CSV or JSON, one row
per member: which group, which file, keep or not) that the user applies with their own tools. By
default it is written inside the store directory (:func:`decisions_path`), atomically.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdir.duplicates.finder import DupGroup, suggest_keep
from cdir.store.collection import atomic_write_bytes

if TYPE_CHECKING:
    import pandas as pd

    from cdir.store.collection import Store

FORMATS = ("csv", "json")
DECISIONS_DIR = "dupes"
_BOOL_FIELDS = ("keep", "representative")
_INT_FIELDS = ("group", "id")


def review_table(store: Store, group: DupGroup, keep: int | None = None) -> list[dict[str, Any]]:
    """One row per member, in the group's order: id, file, resolution, file size, domain,
    caption, score against the representative, thumbnail path, and the keep flag (``keep``, or
    the suggestion: highest resolution, then largest file)."""
    keep = suggest_keep(store, group.members) if keep is None else keep
    if keep not in group.members:
        raise ValueError(f"item {keep} is not a member of this group ({group.members})")
    items = store.items.set_index("id", drop=False)
    return [_member_row(store, items.loc[m], group, keep) for m in group.members]


def _member_row(store: Store, row: pd.Series, group: DupGroup, keep: int) -> dict[str, Any]:
    item_id = int(row["id"])
    width, height, size = int(row["width"]), int(row["height"]), int(row["file_size"])
    return {"id": item_id, "file": _text(row["rel_path"]), "resolution": f"{width}x{height}",
            "width": width, "height": height, "file_size": size if size >= 0 else None,
            "domain": _text(row["domain"]), "caption": _text(row["caption"]),
            "score": group.scores.get(item_id), "representative": item_id == group.representative,
            "keep": item_id == keep, "thumb": str(store.thumb_path(str(row["sha256"])))}


def _text(value: Any) -> str | None:
    import pandas as pd

    return None if pd.isna(value) else str(value)


def decision_rows(store: Store, groups: Sequence[DupGroup], keeps: dict[int, int] | None = None
                  ) -> list[dict[str, Any]]:
    """The decisions of a review: one row per member of each group, groups numbered from 1 as
    the app shows them, keeping ``keeps[position of the group, from 0]`` or else the
    suggestion."""
    keeps = keeps or {}
    rows = []
    for n, group in enumerate(groups):
        for member in review_table(store, group, keeps.get(n)):
            rows.append({"group": n + 1, "tier": group.tier, "id": member["id"],
                         "file": member["file"], "keep": member["keep"],
                         "representative": member["representative"]})
    return rows


def decisions_path(store: Store, fmt: str = "csv") -> Path:
    """Where the review of ``store`` is saved by default: inside the store directory."""
    return store.root / DECISIONS_DIR / f"decisions.{_check_format(fmt)}"


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def export_decisions(decisions: list[dict[str, Any]], out: Path, fmt: str | None = None) -> Path:
    """Write ``decisions`` to ``out`` as CSV or JSON (``fmt``, else from the suffix), atomically.

    The suffix must match the format, so a decisions file can never be written over an image."""
    out = Path(out)
    fmt = _check_format(fmt or out.suffix.lstrip(".").lower())
    if out.suffix.lower() != f".{fmt}":
        raise ValueError(f"{out.name}: a {fmt.upper()} decisions file must end in .{fmt}")
    data = _to_json(decisions) if fmt == "json" else _to_csv(decisions)
    atomic_write_bytes(out, data.encode("utf-8"))
    return out


def _to_json(decisions: list[dict[str, Any]]) -> str:
    return json.dumps(decisions, indent=2, ensure_ascii=False) + "\n"


def _to_csv(decisions: list[dict[str, Any]]) -> str:
    fields = list(dict.fromkeys(key for row in decisions for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in decisions:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def load_decisions(path: Path) -> list[dict[str, Any]]:
    """Read a decisions file written by :func:`export_decisions` (types restored for CSV)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return list(json.loads(text))
    return [_typed(row) for row in csv.DictReader(io.StringIO(text))]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = dict(row)
    for key in _BOOL_FIELDS:
        if key in typed:
            typed[key] = typed[key] == "true"
    for key in _INT_FIELDS:
        if typed.get(key, "") != "":
            typed[key] = int(typed[key])
    return typed
