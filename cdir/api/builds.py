"""Builds that outlive the page that started them: one job per build, found again by its owner.

A build runs in a thread of its own (holding the server's heavy-work slot while it works), its
progress kept in its :class:`BuildJob`; the page that started it follows it, and a page of the
same visitor that comes back (a reload, a new tab with the same owner key) finds it with
:meth:`BuildJobs.running` and follows it to its end. Nothing here knows about gradio."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cdir.api.errors import CollectionBusyError
from cdir.models.heavy import heavy_work

log = logging.getLogger(__name__)

WAITING = "waiting for the server's other work"
KEEP_SECONDS = 3600.0  # finished jobs are forgotten after an hour
MAX_RUNNING = 64  # builds waiting or running on the server at once (the queue's max_size)


def _digest(owner: str) -> str:
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


@dataclass
class BuildJob:
    """One build: who started it (the owner key's SHA-256), the name asked for, its progress
    (``done`` of ``total`` in ``stage``) and, once ``finished``, its result or error."""

    id: str
    owner: str
    name: str
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    stage: str = WAITING
    finished: bool = False
    ended: float = 0.0
    result: Any = None
    error: BaseException | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def report(self, done: int, total: int, stage: str) -> None:
        """The build's progress callback: ``done`` of ``total`` (0: unknown) in ``stage``."""
        with self._changed:
            self.done, self.total, self.stage = int(done), int(total or 0), str(stage)
            self._changed.notify_all()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for progress or the end; True once finished."""
        with self._changed:
            if not self.finished:
                self._changed.wait(timeout)
            return self.finished

    def outcome(self) -> Any:
        """The build's result; raises its error. Only once finished."""
        if self.error is not None:
            raise self.error
        return self.result

    def _end(self, result: Any, error: BaseException | None) -> None:
        with self._changed:
            self.result, self.error = result, error
            self.finished, self.ended = True, time.monotonic()
            self._changed.notify_all()


class BuildJobs:
    """The builds of every visitor, by owner. Thread-safe."""

    def __init__(self) -> None:
        self._jobs: dict[str, BuildJob] = {}
        self._lock = threading.Lock()

    def start(
        self, owner: str, name: str, work: Callable[[BuildJob], Any], heavy: bool = True
    ) -> BuildJob:
        """Run ``work(job)`` in a new thread (holding the heavy-work slot when ``heavy``; it
        reports through ``job.report``) and return the job at once. Raises
        CollectionBusyError when ``owner`` has a build running already, or the server has
        :data:`MAX_RUNNING`."""
        job = BuildJob(secrets.token_hex(8), _digest(owner), name)
        with self._lock:
            self._prune()
            running = [j for j in self._jobs.values() if not j.finished]
            if any(j.owner == job.owner for j in running):
                raise CollectionBusyError(
                    "A build of yours is still running: wait for it to finish (its progress "
                    "shows here), then build again."
                )
            if len(running) >= MAX_RUNNING:
                raise CollectionBusyError(
                    f"The server is busy with {len(running)} builds: try again in a few minutes."
                )
            self._jobs[job.id] = job

        def run() -> None:
            result, error = None, None
            try:
                if heavy:
                    with heavy_work():
                        result = work(job)
                else:
                    result = work(job)
            except BaseException as exc:  # handed to whoever follows the job
                error = exc
            job._end(result, error)
            log.info("build %s of %r %s", job.id, name, "failed" if error else "finished")

        threading.Thread(target=run, name=f"build-{job.id}", daemon=True).start()
        return job

    def running(self, owner: str | None) -> BuildJob | None:
        """The newest unfinished build of ``owner`` (None without one, or without a key)."""
        if not owner:
            return None
        digest = _digest(owner)
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == digest and not j.finished]
        return max(mine, key=lambda j: j.started) if mine else None

    def get(self, job_id: str, owner: str | None) -> BuildJob | None:
        """The job ``job_id`` when ``owner`` started it, else None."""
        job = self._jobs.get(job_id)
        return job if job is not None and owner and job.owner == _digest(owner) else None

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [
            k for k, j in self._jobs.items() if j.finished and now - j.ended > KEEP_SECONDS
        ]:
            del self._jobs[key]
