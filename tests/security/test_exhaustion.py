"""Attack 4: cheap exhaustion. One limit for heavy work across every endpoint, bombs made of many
small entries, exports that pile up, and a full disk answered in words with nothing half-written.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest

from cdir import api
from cdir.app.guards import DISK_FULL_MESSAGE, DiskFullAnswer
from cdir.export.downloads import exports_dir, new_export_path, prune_exports
from cdir.ingest.archives import ArchiveLimits, extract_archive
from cdir.ingest.source_files import SourceError
from tests.drawn import draw_image


def test_every_event_is_in_one_of_two_queue_groups_for_all_visitors(server) -> None:
    """Heavy work one at a time and light work two at a time, across every endpoint: no event
    keeps gradio's per-event limit (six builds ran at once that way); the page's build events
    only follow a build job that takes the heavy-work slot itself."""
    groups: dict[str, set[int]] = {}
    for fn in server.demo.fns.values():
        groups.setdefault(fn.concurrency_id, set()).add(fn.concurrency_limit)
    assert set(groups) == {"heavy", "light", "follow"}, sorted(map(str, groups))
    assert groups["heavy"] == {1} and groups["light"] == {2}
    # following a build job waits in no queue: the job itself takes the heavy-work slot
    follow = [fn for fn in server.demo.fns.values() if fn.concurrency_id == "follow"]
    assert groups["follow"] == {None} and all(fn.api_visibility == "private" for fn in follow)
    heavy = {fn.api_name for fn in server.demo.fns.values() if fn.concurrency_id == "heavy"}
    assert {"build_collection", "find_duplicates"} <= heavy


def test_heavy_work_takes_turns_across_threads() -> None:
    inside, most = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        with api.heavy_work():
            with api.heavy_work():  # re-entrant: a build that captions holds it once
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.05)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1


def test_many_small_entries_of_zeros_are_a_bomb_too(tmp_path: Path) -> None:
    """1,000 entries of just under 1 MiB of zeros each (the per-entry ratio check starts at
    1 MiB): the whole archive's ratio refuses it before anything is written."""
    archive = tmp_path / "zeros.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(1000):
            zf.writestr(f"photo/c/{n}.bmp", bytes(2**20 - 1))
    assert archive.stat().st_size < 2 * 2**20
    with pytest.raises(SourceError, match="zip bomb"):
        extract_archive(archive, tmp_path / "out", ArchiveLimits(), set(), [])
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written < 2**20


def test_the_app_limits_what_an_upload_unpacks_to(server) -> None:
    limits = server.demo.cdir_actions.config.archive_limits
    assert limits.max_total_bytes <= 2 * 2**30 and limits.max_members <= 20_000


def test_exports_are_kept_within_a_quota_and_a_day(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CDIR_EXPORT_QUOTA_MB", "1")
    store = tmp_path / "store"
    made = []
    for n in range(5):
        path = new_export_path(store, "search", "json")
        path.write_bytes(bytes(400_000))
        os.utime(path, (time.time() - 50 + n, time.time() - 50 + n))
        made.append(path)
    total = sum(p.stat().st_size for p in exports_dir(store).iterdir())
    assert total <= 2**20 + 400_000  # the quota, plus the newest one just written
    assert made[-1].exists() and len(list(exports_dir(store).iterdir())) == 3  # two went
    old = new_export_path(store, "map", "html")
    old.write_text("x")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    assert old.name in prune_exports(store)


def test_a_collection_download_is_written_once_per_version(server) -> None:
    actions = server.demo.cdir_actions
    store = str(server.workspace.root / server.examples)
    first = actions.download_collection("parquet", store)
    again = actions.download_collection("parquet", store)
    assert first == again
    assert len(list((Path(store) / "exports").glob("collection-*.parquet"))) == 1


def _asgi_call(app, path: str = "/gradio_api/upload") -> tuple[int, bytes]:
    import asyncio

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [],
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("x", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


def test_an_upload_on_a_full_disk_is_answered_in_words() -> None:
    async def full_disk(scope, receive, send) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    status, body = _asgi_call(DiskFullAnswer(full_disk))
    assert status == 507 and body.decode() == DISK_FULL_MESSAGE

    async def other(scope, receive, send) -> None:
        raise OSError(errno.EACCES, "denied")

    with pytest.raises(OSError):
        _asgi_call(DiskFullAnswer(other))


def test_the_server_has_the_disk_full_answer(server) -> None:
    middleware = [m.cls for m in server.demo.app.user_middleware]
    assert DiskFullAnswer in middleware


def test_a_search_on_a_full_disk_still_answers(server, monkeypatch) -> None:
    """The query's caption and vectors cannot be cached: the answer comes all the same."""
    import sqlite3

    from cdir.store.cache import _Layer

    def full(*args, **kwargs) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(_Layer, "put", full)
    answer = server.call(
        "/search_text", server.a_name, "a brand new query text", "caption", 2, [], server.a_key
    )
    assert len(answer["hits"]) == 2


def test_a_failed_add_leaves_the_collection_as_it_was(server, tmp_path: Path) -> None:
    from gradio_client.exceptions import AppError

    from tests.security.visitors import build

    root = server.workspace.root / server.a_name
    before = sorted(p.relative_to(root) for p in (root / "files").rglob("*"))
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        draw_image("photo", "circle", 0).save(tmp_path / "ok.png")
        zf.write(tmp_path / "ok.png", "photo/circle/ok.png")
        for n in range(300):
            zf.writestr(f"photo/circle/{n}.bmp", bytes(2**20 - 1))
    with pytest.raises(AppError, match="zip bomb"):
        build(server.client, [archive], server.a_name, owner=server.a_key, if_exists="add")
    after = sorted(p.relative_to(root) for p in (root / "files").rglob("*"))
    assert after == before
