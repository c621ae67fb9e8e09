"""Builds as jobs that outlive their page: the registry below the UI (``api.BuildJobs``), and a
page that comes back (a reload, a new tab with the same owner key) following a running build to
its collection. The build is held at its start by holding the heavy-work slot: no clock."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from tests.drawn import draw_collection


def _until(condition, what: str) -> None:
    """Wait for ``condition()``, checked every 50 ms (a condition, never a fixed sleep)."""
    done = threading.Event()
    for _ in range(20 * 600):  # at most ten minutes on a loaded machine
        if condition():
            return
        done.wait(0.05)
    raise AssertionError(f"never happened: {what}")


def test_a_job_is_found_by_its_owner_only_and_reports_its_end() -> None:
    jobs = api.BuildJobs()
    gate = threading.Event()

    def work(job: api.BuildJob) -> str:
        job.report(3, 10, "embedding images")
        gate.wait()
        return "built"

    job = jobs.start("key-a", "mj-set", work, heavy=False)
    _until(lambda: job.done == 3, "progress reported")
    assert jobs.running("key-a") is job and jobs.get(job.id, "key-a") is job
    assert jobs.running("key-b") is None and jobs.get(job.id, "key-b") is None
    assert jobs.running("") is None
    assert (job.done, job.total, job.stage, job.finished) == (3, 10, "embedding images", False)
    gate.set()
    _until(lambda: job.wait(0.05), "the job ended")
    assert job.outcome() == "built" and jobs.running("key-a") is None

    def fails(job: api.BuildJob) -> None:
        raise api.UsageError("Drop some images first.")

    failed = jobs.start("key-a", "x", fails, heavy=False)
    _until(lambda: failed.wait(0.05), "the failed job ended")
    with pytest.raises(api.UsageError, match="Drop some images first"):
        failed.outcome()


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    made = draw_collection(tmp_path / "src", domains=("sketch",), classes=("cross",), per_class=2)
    return [str(p) for p in made]


class Recorder:
    """A ``gr.Progress`` stand-in: every (done, total, stage) shown."""

    def __init__(self) -> None:
        self.shown: list[tuple[Any, Any, str]] = []

    def __call__(self, value: Any, desc: str | None = None, unit: str = "") -> None:
        done, total = value if isinstance(value, tuple) else (value, None)
        self.shown.append((done, total, desc or ""))


def test_a_reloaded_page_follows_the_running_build_to_its_collection(
    tmp_path: Path, files: list[str]
) -> None:
    actions = AppActions(Workspace(tmp_path / "workspace"), "tiny")
    first: dict[str, Any] = {}
    again: dict[str, Any] = {}
    recorder = Recorder()
    assert all(u == {"__type__": "update"} for u in actions.reconnect("key-a"))  # no build
    with api.heavy_work():  # the build waits for the slot: it is surely running meanwhile
        started = threading.Thread(
            target=lambda: first.update(
                out=actions.build_or_ask(files, "mj-set", "tiny", "lazy", owner="key-a")
            )
        )
        started.start()
        _until(lambda: actions.builds.running("key-a") is not None, "the build started")
        assert actions.builds.running("key-b") is None  # another visitor sees nothing
        back = threading.Thread(
            target=lambda: again.update(out=actions.reconnect("key-a", recorder))
        )
        back.start()
        _until(lambda: recorder.shown, "the reloaded page shows the build's progress")
        assert recorder.shown[0][2] == api.builds.WAITING
    started.join(600)
    back.join(600)
    store = first["out"][0]
    assert again["out"][0] == store and Path(store).parent == actions.workspace.root
    assert "2 images" in again["out"][1] and "Saved as mj-set-" in again["out"][1]
    assert actions.builds.running("key-a") is None


def test_a_failed_build_fails_on_the_page_that_came_back_too(tmp_path: Path) -> None:
    actions = AppActions(Workspace(tmp_path / "workspace"), "tiny")
    fake = tmp_path / "holiday.png"
    fake.write_text("not an image")
    errors: list[BaseException] = []

    def build() -> None:
        try:
            actions.build_or_ask([str(fake)], "x", "tiny", "lazy", owner="key-a")
        except BaseException as exc:
            errors.append(exc)

    with api.heavy_work():
        thread = threading.Thread(target=build)
        thread.start()
        _until(lambda: actions.builds.running("key-a") is not None, "the build started")
        job = actions.builds.running("key-a")
    thread.join(600)
    assert errors and "No collection was made" in str(errors[0])
    with pytest.raises(ValueError, match="No collection was made"):
        job.outcome()
    assert list(actions.workspace.root.iterdir()) == []


def test_one_running_build_per_visitor() -> None:
    jobs = api.BuildJobs()
    gate = threading.Event()
    first = jobs.start("key-a", "one", lambda job: gate.wait(600), heavy=False)
    with pytest.raises(api.CollectionBusyError, match="A build of yours is still running"):
        jobs.start("key-a", "two", lambda job: None, heavy=False)
    other = jobs.start("key-b", "one", lambda job: None, heavy=False)  # another visitor may
    gate.set()
    for job in (first, other):
        _until(lambda job=job: job.wait(0.05), "the job ended")
    jobs.start("key-a", "two", lambda job: None, heavy=False)  # once it ended, again
