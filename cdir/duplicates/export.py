"""The one exporter of duplicate decisions: CSV, JSON, or a shell script of the removals.

cdir never deletes a file. The ``.sh`` export is a list for the user to read and run inside the
folder (or the unpacked zip) they gave: one ``rm -- 'path'`` line per file *the user decided*
to remove (by hand or by accepting suggestions), never a bare suggestion, each path relative to
that folder (never a path on the server) and quoted with :func:`shlex.quote`, so a name with
spaces, quotes, ``$`` or a leading ``-`` can neither break the line nor run anything. Each line
says which group, tier and distance put the file there and which file is kept. A file is left
out (with a comment saying why) when it is a tile of a grid image (not a file of its own), when
it is also the file of an item marked keep, or when it is gone.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdir.names import has_unsafe, shown_name
from cdir.store.collection import atomic_write_bytes

if TYPE_CHECKING:
    from cdir.store.collection import Store

EXPORT_SUFFIXES = (".csv", ".json", ".sh")
FORMATS = tuple(s.lstrip(".") for s in EXPORT_SUFFIXES)
EXPORT_DIR = Path("dupes") / "exports"


def export_path(store: Store, fmt: str) -> Path:
    """Where the app writes an export of ``store``: inside the collection."""
    if fmt not in FORMATS:
        raise ValueError(f"export decisions as one of {', '.join(FORMATS)}, not {fmt!r}")
    return store.root / EXPORT_DIR / f"duplicate-decisions.{fmt}"


def export(store: Store, rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Write :func:`cdir.duplicates.rows.decision_rows` to ``out``: ``.csv``, ``.json`` or
    ``.sh`` (the removal list), atomically. ValueError for another suffix, so an export can
    never be written over an image."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"{out.name}: export decisions to a .csv, .json or .sh file")
    if suffix == ".sh":
        text = removal_script(store, rows)
    elif suffix == ".json":
        text = json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n"
    else:
        text = _to_csv(rows)
    atomic_write_bytes(out, text.encode("utf-8"))
    return out


def _to_csv(rows: Sequence[dict[str, Any]]) -> str:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return "" if value is None else value


def removal_script(store: Store, rows: Sequence[dict[str, Any]]) -> str:
    """A POSIX shell script of ``rm -- <quoted relative path>`` lines for the items the user
    decided to remove."""
    items = store.items
    kept = {_rel(store, int(r["id"])) for r in rows if r["decision"] == "keep"}
    lines = [
        "#!/bin/sh",
        f"# Files you decided to remove in the duplicate review of {store.root.name}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "# Paths are relative to the folder (or unpacked zip) you gave: run this inside it.",
        "# cdir deleted nothing. Read the list, then run it yourself: sh this-file.sh",
        "set -e",
    ]
    seen: set[str] = set()
    for row in _removed(rows):
        item = int(row["id"])
        rel = _rel(store, item)
        why = (
            f"group {row.get('group')}, {row.get('tier')}, {row.get('distance') or '?'}"
            f"; keep: {row.get('keep_file') or '?'}"
        )
        if int(items.at[item, "tile"]) > 0:
            lines.append(f"# item {item} is a tile of a grid image, not a file of its own")
        elif rel in kept:
            lines.append(f"# item {item}: its file also holds an item marked keep")
        elif not _exists(store, item):
            lines.append(f"# item {item}: its file is already gone")
        elif rel not in seen:
            seen.add(rel)
            if has_unsafe(rel):  # the quoted path is right, but would print over lines
                lines.append(f"# the next path holds control characters: {shown_name(rel)}")
            lines.append(f"rm -- {shlex.quote(rel)}  # {_comment(why)}")
    for group in _all_removed_groups(rows):
        lines.append(f"# warning: every member of group {group} is marked remove")
    return "\n".join(lines) + "\n"


def _rel(store: Store, item: int) -> str:
    rel = str(store.items.at[item, "rel_path"]).lstrip("/")
    return rel if not rel.startswith("-") else f"./{rel}"


def _exists(store: Store, item: int) -> bool:
    try:
        return store.item_path(item).is_file()
    except (OSError, ValueError):
        return False


def _comment(text: str) -> str:
    """``text`` safe after a ``#`` on one shell line (control and bidi characters escaped)."""
    return shown_name(text)


def _removed(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["decision"] == "remove" and r.get("decided", True):
            out.setdefault(int(r["id"]), r)
    return list(out.values())


def _all_removed_groups(rows: Sequence[dict[str, Any]]) -> list[int]:
    by_group: dict[int, list[str]] = {}
    for r in rows:
        if r.get("group") is not None:
            by_group.setdefault(int(r["group"]), []).append(str(r["decision"]))
    return [g for g, d in by_group.items() if all(x == "remove" for x in d)]
