"""Interruptions (issue 7 §3): killed ingests, damaged store files, a full disk.

``tests/ingest/test_pipeline.py`` kills one ingest once, when captioning has begun; here an ingest
is killed with SIGKILL several times at seeded random moments (embedding, captioning, writing the
store), resumed each time, and must end identical to an uninterrupted run. A store file cut short
(as a non-atomic writer would leave it) must never load as valid, and a full disk must give a clear
error and leave the collection as it was.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace
from cdir.app.wrappers import as_gr_error
from cdir.ingest.pipeline import STEP_DELAY_ENV, IngestConfig, ingest
from cdir.models.loaded import Models
from cdir.store.cache import CACHE_FILE, Cache
from cdir.store.collection import (
    CAPTION_EMB_FILE,
    IMAGE_EMB_FILE,
    ITEMS_FILE,
    META_FILE,
    Store,
    StoreError,
)
from tests.drawn import CLASSES, draw_collection

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [
    "id",
    "path",
    "rel_path",
    "sha256",
    "pixel_sha256",
    "domain",
    "class",
    "caption",
    "status",
    "error",
]
# Checkpoint after every caption batch of 2: many store writes for a kill to land in.
RESUMABLE = IngestConfig(
    caption_batch_size=2, workers=1, checkpoint_seconds=0.0, shared_cache=False
)
STEP_DELAY = 0.3  # seconds a killed run pauses after each batch
RUNNER = """
import sys
from cdir.api import get_models
from cdir.ingest.pipeline import STEP_DELAY_ENV, IngestConfig, ingest
config = IngestConfig(caption_batch_size=2, workers=1, checkpoint_seconds=0.0, shared_cache=False)
ingest([sys.argv[1]], sys.argv[2], get_models("tiny"), config)
"""


def source(root: Path, classes: tuple[str, ...] = CLASSES[:2]) -> Path:
    draw_collection(root, domains=("photo", "sketch", "clipart"), classes=classes, per_class=2)
    return root


def same_store(got: Path, want: Path) -> None:
    a, b = Store.load(got), Store.load(want)
    assert a.items[COLUMNS].equals(b.items[COLUMNS])
    np.testing.assert_allclose(a.image_emb, b.image_emb, atol=1e-6)
    np.testing.assert_allclose(a.caption_emb, b.caption_emb, atol=1e-6)


def consistent(store: Path) -> int:
    """Load a store left by a killed run: it must load, whole. Returns its number of items."""
    if not Store.exists(store):
        return 0
    loaded = Store.load(store)
    n = len(loaded.items)
    assert loaded.items["id"].tolist() == list(range(n))
    for matrix in (loaded.image_emb, loaded.caption_emb):
        assert matrix is None or matrix.shape[0] == n
    return n


# ------------------------------------------------------------------------------ SIGKILL, 3 times
def _cached_captions(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store / CACHE_FILE}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM caption").fetchone()[0])
    except sqlite3.Error:
        return 0


def _progress(store: Path) -> int:
    """A number that grows as the ingest works: thumbnails written, then captions cached."""
    thumbs = store / "thumbs"
    return (len(list(thumbs.iterdir())) if thumbs.is_dir() else 0) + _cached_captions(store)


def _run(src: Path, store: Path, log: Path, step_delay: float = 0.0) -> subprocess.Popen[bytes]:
    """The ingest in a process of its own; ``step_delay`` seconds after each embedding or
    captioning batch (the pipeline's test-only STEP_DELAY_ENV hook)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CDIR_CACHE_DIR": "off",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        STEP_DELAY_ENV: str(step_delay),
    }
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(src), str(store)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _kill_when(proc: subprocess.Popen[bytes], store: Path, target: int, delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` s after its progress reaches ``target``; False if it ended
    first."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and _progress(store) < target and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)  # the kill's random moment after the mark (not a wait for anything)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def test_the_step_delay_hook_pauses_after_batches_only_when_set(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from cdir.ingest import pipeline

    calls: list[tuple[int, int, str]] = []
    slept: list[float] = []
    monkeypatch.setattr(pipeline.time, "sleep", slept.append)

    def report(done: int, total: int, stage: str) -> None:
        calls.append((done, total, stage))

    for unset in ("", "0", "soon"):
        monkeypatch.setenv(STEP_DELAY_ENV, unset)
        assert pipeline._slowed(report) is report
    assert "ignoring CDIR_TEST_STEP_DELAY='soon'" in caplog.text
    monkeypatch.setenv(STEP_DELAY_ENV, "0.25")
    slowed = pipeline._slowed(report)
    for stage in ("hashing", "embedding images", "captioning", "embedding captions"):
        slowed(1, 2, stage)
    assert [c[2] for c in calls] == [
        "hashing",
        "embedding images",
        "captioning",
        "embedding captions",
    ]
    assert slept == [0.25, 0.25]


@pytest.mark.slow
def test_killed_three_times_at_random_moments_ends_as_one_run(
    tmp_path: Path, tiny_shared: Models
) -> None:
    src, store, log = source(tmp_path / "src"), tmp_path / "killed", tmp_path / "stderr.txt"
    n_images = 12
    rng = random.Random(7)
    # progress runs 0..12 (thumbnails) then 12..24 (captions): kill once in each stretch, once
    # anywhere, each a random few milliseconds after the mark (often in the middle of a write).
    # The killed runs pause STEP_DELAY s after each batch, and at least 3 batches remain after
    # any mark, so a kill always lands before the ingest could end: no race with its end.
    targets = sorted(
        [
            rng.randint(1, n_images - 1),
            rng.randint(n_images + 1, 2 * n_images - 3),
            rng.randint(1, 2 * n_images - 3),
        ]
    )
    kills, seen = 0, []
    for target in targets:
        proc = _run(src, store, log, step_delay=STEP_DELAY)
        if _kill_when(proc, store, target, rng.uniform(0.0, STEP_DELAY / 2)):
            kills += 1
        seen.append((target, _progress(store), consistent(store)))
    print(f"kills (target, progress, items in the store): {seen}")
    assert kills == 3, (seen, log.read_text(errors="replace")[-2000:])

    final = _run(src, store, log)
    assert final.wait(timeout=600) == 0, log.read_text(errors="replace")[-2000:]
    ingest([src], tmp_path / "whole", tiny_shared, RESUMABLE)
    same_store(store, tmp_path / "whole")
    assert (Store.load(store).items["parent_id"] < 0).sum() == n_images


# --------------------------------------------------------------------- damaged files never load
@pytest.fixture
def built(tmp_path: Path, tiny_shared: Models) -> Path:
    store = tmp_path / "store"
    ingest([source(tmp_path / "src")], store, tiny_shared, IngestConfig(captions="lazy"))
    return store


@pytest.mark.parametrize("name", [ITEMS_FILE, IMAGE_EMB_FILE, CAPTION_EMB_FILE])
@pytest.mark.parametrize("damage", ["half", "empty", "garbage"])
def test_a_file_cut_short_is_a_store_error_not_data(built: Path, name: str, damage: str) -> None:
    path = built / name
    data = path.read_bytes()
    path.write_bytes(
        {"half": data[: len(data) // 2], "empty": b"", "garbage": b"\x93NUMPY garbage" + data[:40]}[
            damage
        ]
    )
    with pytest.raises(
        StoreError,
        match=f"{name} is damaged .*Delete it and ingest the same "
        "source into this collection again",
    ):
        Store.load(built)
    with pytest.raises(StoreError):
        api.info(built)


def test_a_damaged_file_recovers_as_the_message_says(
    built: Path, tmp_path: Path, tiny_shared: Models
) -> None:
    want = Store.load(built)
    (built / ITEMS_FILE).unlink()  # what the message tells a user with a damaged file to do
    report = ingest([tmp_path / "src"], built, tiny_shared, IngestConfig(captions="lazy"))
    assert report.embedded == 0  # everything came back from the cache
    got = Store.load(built)
    assert got.items[COLUMNS].equals(want.items[COLUMNS])
    np.testing.assert_array_equal(got.image_emb, want.image_emb)


def test_a_matrix_that_is_not_vectors_is_refused(built: Path) -> None:
    np.save(built / IMAGE_EMB_FILE, np.arange(12), allow_pickle=False)
    with pytest.raises(StoreError, match="not a matrix of vectors"):
        Store.load(built)


def test_matrices_written_before_a_table_that_never_came_are_cut(built: Path) -> None:
    """The store writes matrices first, then the table: a crash in between leaves extra rows."""
    before = Store.load(built)
    longer = np.vstack([before.image_emb, np.ones((3, before.image_emb.shape[1]), np.float32)])
    np.save(built / IMAGE_EMB_FILE, longer, allow_pickle=False)
    after = Store.load(built)
    np.testing.assert_array_equal(after.image_emb, before.image_emb)


# ---------------------------------------------------------------------------------- full disk
def _disk_full(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make the disk 'full' for writes that land on ``where`` (a store file name, 'thumbs' or
    'cache')."""
    if where == "cache":

        def put(*args: object, **kwargs: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Cache, "put", put)
        return
    real = os.replace

    def replace(src: object, dst: object, *args: object, **kwargs: object) -> None:
        if where in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("where", [IMAGE_EMB_FILE, ITEMS_FILE, META_FILE, "thumbs", "cache"])
def test_a_full_disk_is_a_clear_error_and_the_collection_stays_readable(
    tmp_path: Path, tiny_shared: Models, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    store, config = tmp_path / "store", IngestConfig(captions="none")
    api.ingest([source(tmp_path / "one")], store, "tiny", config)
    before = Store.load(store)
    more = source(tmp_path / "two", classes=CLASSES[2:])
    with monkeypatch.context() as patch:
        _disk_full(patch, where)
        with pytest.raises(
            StoreError,
            match=r"^disk full: cannot write .*Free some space .*run "
            r"the same ingest again",
        ):
            api.ingest([more], store, "tiny", config)
    assert not list(store.glob(".*.tmp"))
    after = Store.load(store)
    consistent(store)
    if where != META_FILE:  # the table is the last data file written: it never arrived
        assert after.items[COLUMNS].equals(before.items[COLUMNS])
        np.testing.assert_array_equal(after.image_emb, before.image_emb)
    report = api.ingest([more], store, "tiny", config)  # space freed: the same command finishes
    files = Store.load(store).items.query("parent_id < 0")  # tiles of grid images aside
    assert report.failed == [] and len(files) == 24 and (files["status"] == "ok").all()


def test_a_full_disk_during_an_upload_leaves_no_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = AppActions(Workspace(tmp_path / "workspace"), "tiny")
    files = [str(p) for p in sorted(source(tmp_path / "upload").rglob("*.png"))]
    with monkeypatch.context() as patch:
        _disk_full(patch, IMAGE_EMB_FILE)
        with pytest.raises(gr.Error, match="disk full"):
            as_gr_error(app.build)(files, "full", "tiny", "lazy")  # as app.py wires it
    assert app.workspace.collections() == []
    assert list(app.workspace.root.iterdir()) == []
