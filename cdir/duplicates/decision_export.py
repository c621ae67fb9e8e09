"""Exporting duplicate decisions: CSV, JSON, or a shell script listing the files to remove.

cdir never deletes a file. The ``.sh`` export is a list for the user to read and run: one
``rm -- 'path'`` line per file marked remove, each path quoted with :func:`shlex.quote` so a
name with spaces, quotes, ``$`` or a leading ``-`` can neither break the line nor run anything.
A file is left out (with a comment saying why) when it is a tile of a grid image (not a file of
its own), when it is also the file of an item marked keep, or when it is gone.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdir.duplicates.review import export_decisions
from cdir.names import has_unsafe, shown_name
from cdir.store.collection import atomic_write_bytes

if TYPE_CHECKING:
    from cdir.store.collection import Store

EXPORT_SUFFIXES = (".csv", ".json", ".sh")


def export(store: Store, rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Write :func:`cdir.duplicates.decisions.decision_rows` to ``out``: ``.csv``, ``.json`` or
    ``.sh`` (the removal list), atomically. ValueError for another suffix."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"{out.name}: export decisions to a .csv, .json or .sh file")
    if suffix == ".sh":
        atomic_write_bytes(out, removal_script(store, rows).encode("utf-8"))
        return out
    if suffix == ".csv":  # one cell per list
        rows = [{k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in r.items()}
                for r in rows]
    return export_decisions(list(rows), out)


def removal_script(store: Store, rows: Sequence[dict[str, Any]]) -> str:
    """A POSIX shell script of ``rm -- <quoted path>`` lines for the items marked remove."""
    items = store.items
    kept_paths = {str(store.item_path(int(r["id"]))) for r in rows if r["decision"] == "keep"}
    lines = ["#!/bin/sh",
             f"# Files marked 'remove' in the duplicate review of {store.root.name}, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             "# cdir deleted nothing. Read the list, then run it yourself: sh this-file.sh",
             "set -e"]
    seen: set[str] = set()
    for item in _removed(rows):
        path = store.item_path(item)
        if int(items.at[item, "tile"]) > 0:
            lines.append(f"# item {item} is a tile of a grid image, not a file of its own")
        elif str(path) in kept_paths:
            lines.append(f"# item {item}: its file also holds an item marked keep")
        elif not path.is_file():
            lines.append(f"# item {item}: its file is already gone")
        elif str(path) not in seen:
            seen.add(str(path))
            if has_unsafe(path):  # the quoted path is right, but would print over lines
                lines.append(f"# the next path holds control characters: {shown_name(path)}")
            lines.append(f"rm -- {shlex.quote(str(path))}")
    for group in _all_removed_groups(rows):
        lines.append(f"# warning: every member of group {group} is marked remove")
    return "\n".join(lines) + "\n"


def _removed(rows: Sequence[dict[str, Any]]) -> list[int]:
    return list(dict.fromkeys(int(r["id"]) for r in rows if r["decision"] == "remove"))


def _all_removed_groups(rows: Sequence[dict[str, Any]]) -> list[int]:
    by_group: dict[int, list[str]] = {}
    for r in rows:
        if r.get("group") is not None:
            by_group.setdefault(int(r["group"]), []).append(str(r["decision"]))
    return [g for g, d in by_group.items() if all(x == "remove" for x in d)]
