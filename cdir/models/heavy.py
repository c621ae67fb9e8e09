"""One process-wide slot for heavy model work: building a collection, captioning, maps,
evaluation and exports take turns, so a shared server never runs two of them at once on its
cores (each already uses every core) and never holds two collections' worth of decoded images.

Re-entrant within a thread: a build that captions (``captions="all"``) holds the slot once.
Background captioning takes it per batch (seconds), so a build waits at most one batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()
_slots = threading.BoundedSemaphore(max(1, int(os.environ.get("CDIR_HEAVY_JOBS", "1") or 1)))


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold the heavy-work slot for the ``with`` block (waiting for it if another thread has
    it); nested use in the same thread does not wait. ``$CDIR_HEAVY_JOBS`` sets how many slots
    there are (default 1)."""
    depth = getattr(_local, "depth", 0)
    if depth:
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth = depth
        return
    _slots.acquire()
    _local.depth = 1
    try:
        yield
    finally:
        _local.depth = 0
        _slots.release()
