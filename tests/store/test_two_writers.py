"""Two writers at once on one collection, as two real processes (tiny preset): two CLI ingests,
and a captioning job racing an ingest. Every item and every caption must survive."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cdir.store.collection import Store
from tests.drawn import draw_collection

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CDIR_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }


def _ingest(src: Path, store: Path, tmp_path: Path, captions: str = "none") -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdir",
            "ingest",
            str(src),
            "--store",
            str(store),
            "--preset",
            "tiny",
            "--captions",
            captions,
            "-q",
        ],
        cwd=REPO,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err


def test_two_cli_ingests_into_one_collection_keep_both(tmp_path: Path) -> None:
    first = draw_collection(tmp_path / "a", domains=("photo",), per_class=3)
    second = draw_collection(tmp_path / "b", domains=("sketch",), per_class=3)
    store = tmp_path / "store"
    procs = [_ingest(tmp_path / "a", store, tmp_path), _ingest(tmp_path / "b", store, tmp_path)]
    for proc in procs:
        _finish(proc)
    items = Store.load(store).items
    assert len(items) == len(first) + len(second)
    assert set(items["domain"]) == {"photo", "sketch"}


CAPTION_JOB = textwrap.dedent("""
    import sys
    from cdir import api
    from cdir.ingest.jobs import CaptionJobs
    jobs = CaptionJobs()
    jobs.start(sys.argv[1], api.get_models("tiny"))
    jobs.wait(sys.argv[1])
    status = jobs.status(sys.argv[1])
    assert status.finished and not status.error, status
""")


def test_captions_from_a_job_survive_an_ingest_running_at_the_same_time(tmp_path: Path) -> None:
    draw_collection(tmp_path / "a", domains=("photo", "clipart"), per_class=3)
    more = draw_collection(tmp_path / "b", domains=("sketch",), per_class=3)
    store = tmp_path / "store"
    _finish(_ingest(tmp_path / "a", store, tmp_path, captions="lazy"))
    first = Store.load(store).items
    captioner = subprocess.Popen(
        [sys.executable, "-c", CAPTION_JOB, str(store)],
        cwd=REPO,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ingest = _ingest(tmp_path / "b", store, tmp_path, captions="lazy")
    _finish(captioner)
    _finish(ingest)
    items = Store.load(store).items
    assert len(items) == len(first) + len(more)  # the ingest's items are kept
    old = items[items["id"].isin(first["id"])]
    assert old["caption"].notna().all(), "captions of the job were overwritten"


def test_merge_keeps_existing_captions_and_adds_missing_ones(tmp_path: Path) -> None:
    import pandas as pd

    from cdir.ingest.captioning import merge_captions

    class Target:
        items = pd.DataFrame(
            {
                "id": [0, 1, 2],
                "sha256": ["a", "b", "c"],
                "caption": ["kept", None, None],
                "caption_source": ["model", None, None],
            }
        )

    source = pd.DataFrame(
        {
            "id": [0, 1, 2],
            "sha256": ["a", "b", "other"],
            "caption": ["new", "added", "wrong item"],
            "caption_source": ["model"] * 3,
        }
    )
    assert merge_captions(Target, source) == 1  # type: ignore[arg-type]
    assert Target.items["caption"].tolist()[:2] == ["kept", "added"]
    assert pd.isna(Target.items["caption"].iloc[2])
