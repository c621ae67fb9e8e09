"""Corrected labels: a person sets an item's domain or class by hand.

The correction is written into the collection's item table (``items.parquet``, its
``label_source`` set to ``corrected``), so every reader of the collection sees the same label:
the grid and its facets, search hits, maps, exports and the evaluation (which counts a
corrected label as given, as it does a folder's or a manifest's). The write holds the
collection's lock (:func:`cdir.store.locking.collection_lock`), so it does not race an ingest or
a background captioning job, and bumps the collection's revision, so open sessions re-read it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from cdir.store.collection import Store
from cdir.store.locking import collection_lock

log = logging.getLogger(__name__)

CORRECTED = "corrected"
MAX_LABEL_LENGTH = 100
LOCK_TIMEOUT_S = 10.0  # a build holds the collection for minutes: say so rather than hang


def clean_label(value: str | None, what: str) -> str | None:
    """``value`` with spaces trimmed (None or "" leave the label as it is). ValueError for a
    label over :data:`MAX_LABEL_LENGTH` characters or one holding a line break."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_LABEL_LENGTH or "\n" in text or "\r" in text:
        raise ValueError(f"a {what} is one line of at most {MAX_LABEL_LENGTH} characters")
    return text


def correct_labels(
    root: Path | str,
    ids: Iterable[int],
    domain: str | None = None,
    cls: str | None = None,
) -> int:
    """Set the ``domain`` and/or class ``cls`` of the items ``ids`` (None or "": keep that one);
    returns how many items changed. ValueError for an unknown id, for nothing to set, or a bad
    label, and when the collection stays busy (a build) for :data:`LOCK_TIMEOUT_S` seconds;
    nothing is written then."""
    from filelock import Timeout

    domain, cls = clean_label(domain, "domain"), clean_label(cls, "class")
    if domain is None and cls is None:
        raise ValueError("type the corrected domain or class (or both)")
    try:
        with collection_lock(root, timeout=LOCK_TIMEOUT_S, create=False):
            return _write(root, ids, domain, cls)
    except Timeout:
        raise ValueError(
            "the collection is being built or captioned: correct the label when that is done"
        ) from None


def _write(root: Path | str, ids: Iterable[int], domain: str | None, cls: str | None) -> int:
    """Under the lock: apply the labels to the table read now, write it if anything changed."""
    store = Store.load(root)
    items = store.items
    rows = [int(i) for i in ids]
    bad = [i for i in rows if not 0 <= i < len(items)]
    if bad:
        raise ValueError(f"no item with id {bad[0]} (ids run 0..{len(items) - 1})")
    changed = 0
    for row in dict.fromkeys(rows):
        new = {
            key: value
            for key, value in (("domain", domain), ("class", cls))
            if value is not None and items.at[row, key] != value
        }
        if not new:
            continue
        for key, value in new.items():
            items.at[row, key] = value
        items.at[row, "label_source"] = CORRECTED
        changed += 1
    if changed:
        store.write(matrices=False)  # the embeddings did not change
    log.info("corrected the labels of %d items", changed)
    return changed
