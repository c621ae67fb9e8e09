"""Background captioning: a collection is searchable as soon as its images are embedded; captions
(the slow part: about 0.5 captions/s for BLIP base on a 2-core CPU) fill in afterwards.

At most one job runs per store. Each job writes the store at checkpoints, so a search session
that reloads sees captions arrive, and a job that dies loses at most one checkpoint of work (the
captions themselves are in the cache already).
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from cdir.ingest.captioning import caption_all
from cdir.ingest.pipeline import IngestConfig
from cdir.models.loaded import Models
from cdir.store.cache import Cache
from cdir.store.collection import Store

log = logging.getLogger(__name__)

PENDING_FILE = ".captions-pending"


@dataclass
class JobStatus:
    done: int = 0
    total: int = 0
    stage: str = "waiting"
    error: str | None = None
    finished: bool = False

    def describe(self) -> str:
        if self.error:
            return f"captioning failed: {self.error}"
        if self.finished:  # total 0: every image had its caption already
            return f"captions ready ({self.total} images)" if self.total else "captions ready"
        if not self.total:
            return "captioning: starting…"
        return f"captioning in the background: {self.done} / {self.total}"


class JobCancelled(Exception):
    """Raised inside a job's progress callback to stop it at the next batch boundary."""


class CaptionJobs:
    """Runs and tracks background captioning, one thread per store.

    At interpreter exit the jobs are stopped at their next batch and joined: a thread still
    inside torch when the interpreter tears down aborts the whole process.
    """

    def __init__(self, config: IngestConfig | None = None) -> None:
        self.config = config or IngestConfig(checkpoint_seconds=10.0)
        self._lock = threading.Lock()
        self._status: dict[str, JobStatus] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._cancelled: set[str] = set()
        atexit.register(self.shutdown)

    def shutdown(self, timeout: float = 120.0) -> None:
        """Stop every job at its next batch (captions made so far stay cached) and wait."""
        self._stop.set()
        for thread in list(self._threads.values()):
            thread.join(timeout)

    @staticmethod
    def pending(store_dir: Path) -> bool:
        """True when background captions were asked for ``store_dir`` and never finished (the
        server stopped or was killed meanwhile): reopening the collection resumes them."""
        return (Path(store_dir) / PENDING_FILE).is_file()

    def start(self, store_dir: Path, models: Models) -> JobStatus:
        """Caption ``store_dir``'s items that lack a caption, in a background thread (one per
        collection; a running job is returned as it is). A marker file says the job is owed
        until it ends (:meth:`pending`)."""
        key = str(Path(store_dir).resolve())
        (Path(key) / PENDING_FILE).touch()
        with self._lock:
            thread = self._threads.get(key)
            if thread is not None and thread.is_alive():
                return self._status[key]
            status = self._status[key] = JobStatus()
            thread = threading.Thread(
                target=self._run,
                args=(key, models, status),
                name=f"cdir-captions-{Path(key).name}",
                daemon=True,
            )
            self._threads[key] = thread
            thread.start()
        return status

    def stop(self, store_dir: Path, timeout: float = 60.0) -> bool:
        """Stop the job of ``store_dir`` at its next batch and wait up to ``timeout`` seconds;
        True when no job runs any more (it ended, or there was none). Used before a collection
        is deleted: a job still writing would bring it back."""
        key = str(Path(store_dir).resolve())
        with self._lock:
            thread = self._threads.get(key)
            if thread is None or not thread.is_alive():
                return True
            self._cancelled.add(key)
        thread.join(timeout)
        with self._lock:
            if not thread.is_alive():
                self._cancelled.discard(key)
                self._threads.pop(key, None)
                self._status.pop(key, None)
        return not thread.is_alive()

    def running(self, store_dir: Path) -> bool:
        """True while a job of ``store_dir`` is running."""
        thread = self._threads.get(str(Path(store_dir).resolve()))
        return thread is not None and thread.is_alive()

    def status(self, store_dir: Path) -> JobStatus | None:
        return self._status.get(str(Path(store_dir).resolve()))

    def wait(self, store_dir: Path, timeout: float | None = None) -> None:
        thread = self._threads.get(str(Path(store_dir).resolve()))
        if thread is not None:
            thread.join(timeout)

    def _run(self, key: str, models: Models, status: JobStatus) -> None:
        def progress(done: int, total: int, stage: str) -> None:
            status.done, status.total, status.stage = done, total, stage
            if self._stop.is_set() or key in self._cancelled:
                raise JobCancelled

        try:
            store = Store.load(key)
            cache = Cache.for_store(store.root, self.config.shared_cache)
            try:
                caption_all(store, models, cache, self.config, progress)
            finally:
                cache.close()
            (Path(key) / PENDING_FILE).unlink(missing_ok=True)
        except JobCancelled:
            status.error = (
                "stopped: the collection is being deleted"
                if key in self._cancelled
                else "stopped: the server is shutting down"
            )
        except FileNotFoundError:  # the collection was deleted under the job: nothing to report
            status.error = "stopped: the collection was deleted"
        except Exception as exc:  # reported in the UI; the store keeps its last checkpoint
            log.exception("background captioning of %s failed", key)
            status.error = f"{type(exc).__name__}: {exc}"
        status.finished = True
