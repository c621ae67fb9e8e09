"""Worker shards and store merges, without Ray: the Ray engine's driver and worker run in this
process (``run_workers`` replaced by a loop over :class:`IngestWorker`), so these tests are fast
and need no Ray; tests/ingest/test_distributed.py runs the same on a real Ray."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cdir.ingest import ray_engine as distributed
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.ray_cluster import RayPlan
from cdir.ingest.ray_engine import IngestWorker, WorkerTask, ingest_ray
from cdir.ingest.shards import (
    SHARDS_DIR,
    Shard,
    list_shards,
    merge_shard_into_cache,
    merge_stores,
    read_shard,
    remove_unfinished,
    write_shard,
)
from cdir.models.presets import get_preset
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.cache import Cache
from cdir.store.collection import THUMBS_DIR, Store, StoreError
from tests.drawn import draw_collection

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
CONFIG = IngestConfig(shared_cache=False)
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
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Drawn images, a 2x2 grid image (split into tiles) and a file that does not decode."""
    root = tmp_path_factory.mktemp("src")
    draw_collection(root, domains=("photo", "sketch"), classes=("circle", "square"), per_class=2)
    (root / "generated" / "fish").mkdir(parents=True)
    shutil.copy(EXAMPLES / "generated" / "fish" / "grid_fish.png", root / "generated" / "fish")
    (root / "photo" / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def fake_ray(mp: pytest.MonkeyPatch, sent: list[list[str]]) -> None:
    """Run the Ray stage in this process, recording the keys of each dispatch in ``sent``."""

    def run_workers(records: list[dict[str, Any]], task: WorkerTask, plan: RayPlan):  # noqa: ANN202
        sent.append([r["key"] for r in records])
        worker = IngestWorker(task)
        for start in range(0, len(records), 3):  # small batches: several shards
            part = records[start : start + 3]
            out = worker({k: np.array([r[k] for r in part]) for k in part[0]})
            yield Path(str(out["shard"][0])), int(out["n"][0])

    mp.setattr(distributed, "run_workers", run_workers)
    mp.setattr(distributed, "start_ray", lambda plan: False)


@pytest.fixture
def inline(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    sent: list[list[str]] = []
    fake_ray(monkeypatch, sent)
    return sent


@pytest.fixture(scope="module")
def engines(tiny, source, tmp_path_factory) -> dict[str, Any]:
    """The source ingested by the local engine and by the (inline) Ray engine."""
    root, sent = tmp_path_factory.mktemp("engines"), []
    with pytest.MonkeyPatch.context() as mp:
        fake_ray(mp, sent)
        local = ingest([source], root / "local", tiny, CONFIG)
        remote = ingest_ray([source], root / "ray", "tiny", CONFIG)
    return {"local": local, "ray": remote, "root": root, "sent": sent}


def assert_same_store(a: Store, b: Store) -> None:
    left, right = a.items[SAME_COLUMNS], b.items[SAME_COLUMNS]
    pd.testing.assert_frame_equal(left, right)
    assert np.abs(a.image_emb - b.image_emb).max() < 1e-5
    assert np.abs(a.caption_emb - b.caption_emb).max() < 1e-5


# ------------------------------------------------------------------------------- worker shards
def test_shard_round_trip_and_unfinished_writes(tmp_path: Path) -> None:
    shard = Shard({"dim": 3, "embed_key": "e", "caption_key": "c"})
    shard.add(
        "k1",
        0,
        info='{"width": 1}',
        caption="a cat",
        text="a cat",
        image_vec=np.ones(3, np.float32),
        text_vec=np.full(3, 2, np.float32),
    )
    shard.add("k2", 1, error="cannot decode")
    path = write_shard(tmp_path, shard)
    (tmp_path / ".abc.tmp").mkdir()  # a worker killed while writing
    assert list_shards(tmp_path) == [path]
    back = read_shard(path)
    assert back.keys == ["k1", "k2"] and back.errors == [None, "cannot decode"]
    assert back.captions == ["a cat", None] and back.meta["n"] == 2
    assert back.matrix("image_emb").tolist() == [[1, 1, 1], [0, 0, 0]]
    remove_unfinished(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_merge_shard_into_cache(tmp_path: Path) -> None:
    shard = Shard({"dim": 2, "embed_key": "e", "caption_key": "c"})
    shard.add(
        "k1",
        0,
        info="{}",
        caption="a dog",
        text="a dog",
        image_vec=np.array([1, 0], np.float32),
        text_vec=np.array([0, 1], np.float32),
    )
    shard.add("k2", 1, error="broken")
    cache = Cache([tmp_path / "cache.sqlite"])
    with pytest.raises(StoreError, match="other models"):
        merge_shard_into_cache(write_shard(tmp_path / "s", shard), cache, "e", "other")
    stats = merge_shard_into_cache(write_shard(tmp_path / "s", shard), cache, "e", "c")
    assert (stats.embedded, stats.captioned, stats.failed) == (2, 1, {"k2": "broken"})
    assert cache.get_vectors("image_emb", "e", ["k1", "k2"])["k1"].tolist() == [1, 0]
    assert cache.get_texts("caption", "c", ["k1"]) == {"k1": "a dog"}
    assert len(list_shards(tmp_path / "s")) == 1  # the merged one is gone, the refused one not
    cache.close()


# ---------------------------------------------------------------------- the engine, inline
def test_inline_ray_engine_equals_local(engines) -> None:
    local, remote, root = engines["local"], engines["ray"], engines["root"]
    a, b = Store.load(root / "local"), Store.load(root / "ray")
    assert_same_store(a, b)
    assert (b.items["tile"] > 0).sum() == 4, "the grid's tiles were not made"
    assert remote.counts == local.counts and remote.failed == local.failed
    assert len(remote.failed) == 1 and "broken.png" in remote.failed[0]["file"]
    assert (remote.embedded, remote.captioned) == (local.embedded, local.captioned)
    assert len(engines["sent"]) == 1, "tiles are made by the workers, in the same pass"
    assert not (root / "ray" / SHARDS_DIR).exists()
    assert sorted(p.name for p in (root / "ray" / THUMBS_DIR).iterdir()) == sorted(
        p.name for p in (root / "local" / THUMBS_DIR).iterdir()
    )


def test_local_ingest_after_ray_computes_nothing(tiny, source, engines, inline, tmp_path) -> None:
    store = tmp_path / "store"
    shutil.copytree(engines["root"] / "ray", store)
    again = ingest([source], store, tiny, CONFIG)
    assert (again.added, again.embedded, again.captioned) == (0, 0, 0)
    report = ingest_ray([source], store, "tiny", CONFIG)
    assert (report.added, report.embedded, report.captioned) == (0, 0, 0)
    assert inline == [], "a second Ray run dispatched work that was done"


def test_interrupted_run_resumes_from_its_shards(tiny, source, engines, inline, tmp_path) -> None:
    store_dir = tmp_path / "resumed"
    store = distributed.prepare_rows([source], store_dir, tiny, CONFIG, lambda *a: None)[0]
    cache = Cache.for_store(store_dir, shared=False)
    records = distributed.pending_records(store, cache, tiny, np.arange(4), True)
    cache.close()
    task = WorkerTask(get_preset("tiny"), None, str(store_dir.resolve()), True, True)
    IngestWorker(task)({k: np.array([r[k] for r in records]) for k in records[0]})
    assert len(list_shards(store_dir / SHARDS_DIR)) == 1  # the driver died before merging it
    ingest_ray([source], store_dir, "tiny", CONFIG)
    assert len(inline) == 1 and inline[0], "the rest was not sent"
    assert not set(inline[0]) & {r["key"] for r in records}, "finished work was sent again"
    assert_same_store(Store.load(store_dir), Store.load(engines["root"] / "ray"))


# -------------------------------------------------------------------------------- merge stores
@pytest.fixture(scope="module")
def two_stores(tiny, source, tmp_path_factory) -> tuple[Store, Store]:
    root = tmp_path_factory.mktemp("parts")
    other = root / "other-src"
    draw_collection(other, domains=("clipart",), classes=("cross",), per_class=2)
    ingest([source], root / "a", tiny, IngestConfig(shared_cache=False))
    ingest([other, source / "sketch"], root / "b", tiny, IngestConfig(shared_cache=False))
    return Store.load(root / "a"), Store.load(root / "b")


def test_merge_stores_renumbers_and_keeps_everything(two_stores, tmp_path) -> None:
    a, b = two_stores
    merged = merge_stores([a.root, b.root], tmp_path / "merged")
    n_a = len(a.items)
    assert merged.items["id"].tolist() == list(range(n_a + len(b.items)))
    assert np.array_equal(merged.image_emb, np.vstack([a.image_emb, b.image_emb]))
    assert np.array_equal(merged.caption_emb, np.vstack([a.caption_emb, b.caption_emb]))
    assert (
        merged.items["caption"].tolist()
        == a.items["caption"].tolist() + b.items["caption"].tolist()
    )
    tiles = merged.items[merged.items["tile"] > 0]
    assert (tiles["parent_id"] < n_a).all() and len(tiles) == 4  # the grid is in store a only
    second = merged.items.iloc[n_a:]
    assert (second["parent_id"].isin([-1]) | (second["parent_id"] >= n_a)).all()
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in merged.items["path"])
    thumbs = {p.name for p in (merged.root / THUMBS_DIR).iterdir()}
    assert {f"{s}.jpg" for s in merged.items.loc[merged.ok_mask(), "sha256"]} <= thumbs


def test_duplicate_files_stay_separate_items(two_stores, tmp_path) -> None:
    a, b = two_stores
    merged = merge_stores([a.root, b.root], tmp_path / "merged")
    sketch = set(b.items.loc[b.items["rel_path"].str.contains("circle"), "sha256"])
    counts = merged.items[merged.items["sha256"].isin(sketch)].groupby("sha256").size()
    assert (counts == 2).all() and len(counts) > 0


def test_merged_store_is_searchable_and_computes_nothing_again(
    two_stores, tiny, source, tmp_path
) -> None:
    a, b = two_stores
    merged = merge_stores([a.root, b.root], tmp_path / "merged")
    searcher = Searcher(Store.load(merged.root), tiny)
    result = searcher.by_id(len(a.items) + 1, SearchOptions(mode="image", k=3))
    assert len(result.hits) == 3
    again = ingest([source], merged.root, tiny, IngestConfig(shared_cache=False))
    assert (again.added, again.embedded, again.captioned) == (0, 0, 0)


def test_merge_refuses_other_presets_and_non_empty_targets(two_stores, tmp_path) -> None:
    a, b = two_stores
    odd = tmp_path / "odd"
    shutil.copytree(b.root, odd)
    meta = Store.read_meta(odd)
    Store.create(odd, "tiny-coca", meta["caption_key"], meta["dim"])  # rewrites meta.json only
    with pytest.raises(StoreError, match="preset"):
        merge_stores([a.root, odd], tmp_path / "merged")
    with pytest.raises(StoreError, match="not empty"):
        merge_stores([a.root], b.root)
