"""Free tags on a collection's items, kept in ``<store>/tags.json``.

```
{"version": 1, "tags": {"<item id>": ["tag", ...], ...}}
```
A tag is any short text (surrounding spaces dropped, inner runs of spaces made one, at most
:data:`MAX_TAG_LENGTH` characters); tags compare exactly (case kept). The file is written to a
temporary name and renamed over the old one (:func:`cdir.store.collection.atomic_write_json`), so a
reader never sees half a file; changes in one process are serialised by a lock.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cdir.store.collection import StoreError, atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)

TAGS_FILE = "tags.json"
TAGS_VERSION = 1
MAX_TAG_LENGTH = 64
EXPORT_FORMATS = ("csv", "json")
_LOCK = threading.Lock()


def normalise_tag(tag: str) -> str:
    """``tag`` with surrounding spaces dropped and inner runs made one space.

    Raises ValueError (saying what to type instead) for an empty or over-long tag."""
    text = " ".join(str(tag).split())
    if not text:
        raise ValueError("a tag cannot be empty: type a word such as 'keep' or 'reviewed'")
    if len(text) > MAX_TAG_LENGTH:
        raise ValueError(
            f"a tag has at most {MAX_TAG_LENGTH} characters; {text[:20]!r}... has {len(text)}"
        )
    return text


def tags_path(root: Path | str) -> Path:
    return Path(root) / TAGS_FILE


def load_tags(root: Path | str) -> dict[int, list[str]]:
    """Item id -> its tags (in the order added); {} when nothing is tagged yet.

    Raises StoreError when the file is damaged (the message says how to recover)."""
    path = tags_path(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {int(k): [str(t) for t in v] for k, v in dict(data.get("tags", {})).items() if v}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"{TAGS_FILE} of this collection is damaged ({exc}); move it away to "
            "start the tags afresh"
        ) from exc


def _save(root: Path | str, tags: dict[int, list[str]]) -> None:
    body = {str(k): v for k, v in sorted(tags.items()) if v}
    atomic_write_json(tags_path(root), {"version": TAGS_VERSION, "tags": body})


def _check_ids(ids: Iterable[int], n_items: int | None) -> list[int]:
    ids = [int(i) for i in ids]
    if n_items is not None:
        bad = [i for i in ids if not 0 <= i < n_items]
        if bad:
            raise ValueError(f"no item with id {bad[0]} (ids run 0..{n_items - 1})")
    return list(dict.fromkeys(ids))


def add_tags(
    root: Path | str, ids: Iterable[int], tags: Iterable[str], n_items: int | None = None
) -> int:
    """Add ``tags`` to every item of ``ids``; returns how many (item, tag) pairs were new.

    ``n_items`` (the collection's size) makes an unknown id a ValueError; nothing is written then.
    """
    names = [normalise_tag(t) for t in tags]
    ids = _check_ids(ids, n_items)
    with _LOCK:
        current = load_tags(root)
        added = 0
        for item in ids:
            have = current.setdefault(item, [])
            for name in names:
                if name not in have:
                    have.append(name)
                    added += 1
        if added:
            _save(root, current)
    log.info("tagged %d items: %d new tags", len(ids), added)
    return added


def remove_tags(root: Path | str, ids: Iterable[int] | None, tags: Iterable[str]) -> int:
    """Remove ``tags`` from the items ``ids`` (None: from every item); returns how many
    (item, tag) pairs went."""
    names = {normalise_tag(t) for t in tags}
    with _LOCK:
        current = load_tags(root)
        chosen = current.keys() if ids is None else {int(i) for i in ids}
        removed = 0
        for item in list(chosen):
            have = current.get(item, [])
            kept = [t for t in have if t not in names]
            removed += len(have) - len(kept)
            if item in current:
                current[item] = kept
        if removed:
            _save(root, current)
    return removed


def tag_counts(tags: dict[int, list[str]]) -> dict[str, int]:
    """Tag -> number of items holding it, most used first (then by name)."""
    counts: dict[str, int] = {}
    for names in tags.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def tagged_mask(
    tags: dict[int, list[str]], wanted: Iterable[str], n_items: int, match_all: bool = False
) -> np.ndarray:
    """(n_items,) bool: items holding any of ``wanted`` (all of them with ``match_all``).
    Item ids are table rows (as in :class:`cdir.store.collection.Store`)."""
    wanted = {normalise_tag(t) for t in wanted}
    mask = np.zeros(n_items, dtype=bool)
    for item, names in tags.items():
        have = wanted.intersection(names)
        if 0 <= item < n_items and (have == wanted if match_all else have):
            mask[item] = True
    return mask


def tag_rows(
    tags: dict[int, list[str]], files: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """One row per (item, tag): id, file (from ``files``, else empty) and tag, by id."""
    files = files or {}
    return [
        {"id": item, "file": files.get(item, ""), "tag": name}
        for item in sorted(tags)
        for name in tags[item]
    ]


def export_tags(rows: list[dict[str, Any]], out: Path) -> Path:
    """Write :func:`tag_rows` to ``out`` as CSV or JSON (by its suffix), atomically."""
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"{out.name}: export tags to a .csv or a .json file")
    if fmt == "json":
        data = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "file", "tag"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        data = buffer.getvalue()
    atomic_write_bytes(out, data.encode("utf-8"))
    return out
