"""One writer at a time per collection, across threads and processes.

Two processes ingesting into one collection (the app and the CLI, two CLIs), or an ingest and a
background captioning job, would otherwise each write the table they read and lose the other's
rows or captions. ``collection_lock(root)`` guards a collection with an inter-process file lock
(``filelock``, on ``<collection>/.lock``) held under a per-collection thread lock: exclusive
between processes and between threads, re-entrant within one thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"

_registry_lock = threading.Lock()
_locks: dict[str, tuple[threading.RLock, object]] = {}


def _locks_for(root: Path) -> tuple[threading.RLock, object]:
    from filelock import FileLock

    key = str(root.resolve())
    with _registry_lock:
        if key not in _locks:
            # thread_local=False: the thread lock above already makes it one thread at a time;
            # the file lock's own counter then makes nesting in that thread re-entrant
            _locks[key] = (threading.RLock(), FileLock(str(root / LOCK_NAME), thread_local=False))
        return _locks[key]


@contextmanager
def collection_lock(root: str | Path, timeout: float = -1, create: bool = True) -> Iterator[None]:
    """Hold the collection at ``root`` for writing. ``timeout`` in seconds (-1: wait as long as
    it takes); raises ``filelock.Timeout`` when it runs out. ``create``: make ``root`` when it is
    missing (a new collection); with False a missing ``root`` raises FileNotFoundError, so a
    writer of an existing collection (background captions) never brings a deleted one back."""
    root = Path(root)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    elif not root.is_dir():
        raise FileNotFoundError(f"the collection {root.name!r} no longer exists")
    thread_lock, file_lock = _locks_for(root)
    if not thread_lock.acquire(timeout=timeout):
        from filelock import Timeout

        raise Timeout(str(root / LOCK_NAME))
    try:
        with file_lock.acquire(timeout=timeout):  # type: ignore[attr-defined]
            yield
    finally:
        thread_lock.release()
