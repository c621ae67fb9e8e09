"""The Ray engine on a real (local, in-process) Ray: the same collection as the local engine, the
bundled examples, and ``python -m cdir ingest --engine ray``.

One Ray instance serves the module: 2 CPUs, a 200 MiB object store, no dashboard; shut down at
the end. tests/ingest/test_shards.py covers the same driver and worker without Ray.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cdir import cli
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.ray_cluster import RayPlan, start_ray
from cdir.ingest.ray_engine import ingest_ray
from cdir.ingest.shards import SHARDS_DIR
from cdir.models.loaded import load_models
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.collection import Store
from tests.drawn import draw_collection
from tests.required import missing

try:
    import ray
except ImportError:
    missing("Ray", "pip install -r requirements-dev.txt", module_level=True)
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
CONFIG = IngestConfig(shared_cache=False)  # module fixtures run outside conftest's cache guard
SAME_COLUMNS = [
    "id",
    "path",
    "rel_path",
    "sha256",
    "pixel_sha256",
    "phash",
    "phash_mirror",
    "width",
    "height",
    "domain",
    "class",
    "label_source",
    "caption",
    "caption_source",
    "prompt",
    "status",
    "error",
    "parent_id",
    "tile",
]


@pytest.fixture(scope="module")
def local_ray() -> Any:
    assert not ray.is_initialized(), "another test left Ray running"
    assert start_ray(RayPlan(num_workers=2)), "Ray was not started here"
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def engines(local_ray, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The drawn collection ingested by the local engine and by the Ray engine."""
    root = tmp_path_factory.mktemp("engines")
    draw_collection(root / "src")
    local = ingest([root / "src"], root / "local", load_models("tiny", device="cpu"), CONFIG)
    remote = ingest_ray([root / "src"], root / "ray", "tiny", CONFIG, num_workers=2)
    return {
        "local": local,
        "ray": remote,
        "a": Store.load(root / "local"),
        "b": Store.load(root / "ray"),
        "root": root,
    }


def test_ray_and_local_engines_give_the_same_collection(engines) -> None:
    a, b = engines["a"], engines["b"]
    pd.testing.assert_frame_equal(a.items[SAME_COLUMNS], b.items[SAME_COLUMNS])
    assert a.items["caption"].notna().all(), "every item should have a caption"
    assert np.abs(a.image_emb - b.image_emb).max() < 1e-5
    assert np.abs(a.caption_emb - b.caption_emb).max() < 1e-5
    local, remote = engines["local"], engines["ray"]
    assert remote.counts == local.counts and remote.failed == local.failed == []
    assert (remote.added, remote.embedded, remote.captioned) == (
        local.added,
        local.embedded,
        local.captioned,
    )
    assert not (b.root / SHARDS_DIR).exists(), "merged shards were left behind"


def test_ray_ingest_of_the_bundled_examples(local_ray, tmp_path: Path) -> None:
    report = ingest_ray(
        [EXAMPLES], tmp_path / "store", "tiny", IngestConfig(shared_cache=False), num_workers=2
    )
    store = Store.load(tmp_path / "store")
    manifest = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    assert report.added == len(manifest["files"]) and not report.failed
    assert (store.items["tile"] > 0).sum() == 4, "the grid image was not split into tiles"
    assert report.counts["n_ok"] == report.counts["n_captioned"] == len(store.items)
    thumbs = {p.stem for p in (store.root / "thumbs").iterdir()}
    assert set(store.items["sha256"]) <= thumbs
    hits = (
        Searcher(store, load_models("tiny", device="cpu"))
        .by_id(0, SearchOptions(mode="caption", k=5))
        .hits
    )
    assert len(hits) == 5


def test_cli_engine_ray_prints_one_json_document(local_ray, tmp_path, capsys) -> None:
    draw_collection(tmp_path / "src", domains=("photo",), classes=("circle", "square"), per_class=2)
    code = cli.main(
        [
            "ingest",
            str(tmp_path / "src"),
            "--store",
            str(tmp_path / "store"),
            "--preset",
            "tiny",
            "--captions",
            "none",
            "--engine",
            "ray",
            "--workers",
            "2",
            "--json",
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["added"] == 4 and report["counts"]["n_ok"] == 4
    assert report["counts"]["n_captioned"] == 0 and "ray_start" in report["seconds"]
