"""Attack 5's last part: work a crash left half-done. A build killed before its table was
written is neither listed nor opened and is swept at the next start; a deletion a crash
interrupted is finished; background captions stopped by a restart resume on open."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cdir import api
from cdir.app.workspace import TRASH_DIR, Workspace
from cdir.ingest.jobs import PENDING_FILE, CaptionJobs
from cdir.store.collection import ITEMS_FILE, Store, StoreError
from tests.drawn import draw_collection


def _killed_build(workspace: Workspace, tmp_path: Path, owner: str) -> Path:
    root = workspace.new_collection("killed", unguessable=True)
    workspace.claim(root, owner)
    api.ingest(
        [
            draw_collection(tmp_path / "src", domains=("photo",), classes=("circle",), per_class=2)[
                0
            ].parent
        ],
        root,
        "tiny",
    )
    (root / ITEMS_FILE).unlink()  # as if killed after meta.json, before the table
    return root


def test_a_build_killed_before_its_table_is_not_listed_nor_opened(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    root = _killed_build(workspace, tmp_path, "me")
    assert root.name not in workspace.collections("me")
    with pytest.raises(StoreError, match="no collection named"):
        workspace.path(root.name, "me")
    assert workspace.sweep() == []  # recent: it may still be being built
    old = time.time() - 2 * 86400
    os.utime(root, (old, old))
    assert workspace.sweep() == [root.name] and not root.exists()


def test_a_deletion_a_crash_interrupted_is_finished_at_start(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    (workspace.root / TRASH_DIR / "gone-1234").mkdir(parents=True)
    workspace.sweep()
    assert not (workspace.root / TRASH_DIR).exists()


def test_background_captions_stopped_by_a_restart_resume_on_open(server, tmp_path: Path) -> None:
    actions = server.demo.cdir_actions
    root = server.workspace.root / server.a_name
    assert Store.load(root).caption_mask().sum() == 0  # built with lazy captions
    (root / PENDING_FILE).touch()  # a job was owed when the server stopped
    assert CaptionJobs.pending(root)
    actions.open_saved(server.a_name, server.a_key)
    actions.jobs.wait(root, 120)
    assert not CaptionJobs.pending(root)
    assert Store.load(root).caption_mask().all()
