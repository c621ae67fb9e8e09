"""The store on disk (atomic writes, round trip, clear errors) and the two-layer work cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.store.cache import CACHE_FILE, Cache, shared_cache_dir
from cdir.store.collection import (
    FORMAT_VERSION,
    META_FILE,
    Store,
    StoreError,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npy,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------ atomic writes
def test_atomic_writes_leave_no_temp_files(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"abc")
    atomic_write_json(tmp_path / "b.json", {"x": [1, 2]})
    atomic_write_npy(tmp_path / "c.npy", np.eye(3, dtype=np.float32))
    atomic_write_bytes(tmp_path / "a.bin", b"replaced")
    assert (tmp_path / "a.bin").read_bytes() == b"replaced"
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": [1, 2]}
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), np.eye(3))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_writer_failing_halfway_keeps_the_old_file(tmp_path: Path, error: type) -> None:
    path = tmp_path / "table.bin"
    atomic_write_bytes(path, b"old complete content")

    def half_then_fail(handle) -> None:  # noqa: ANN001
        handle.write(b"new partial")
        handle.flush()
        raise error("disk full")

    with pytest.raises(error):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old complete content"
    assert leftovers(tmp_path) == []


def test_a_failed_first_write_leaves_no_file(tmp_path: Path) -> None:
    def fail(handle) -> None:  # noqa: ANN001
        handle.write(b"partial")
        raise OSError("no space left")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "new.bin", fail)
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------- store
def sample_store(root: Path) -> Store:
    store = Store.create(root, "tiny", "tiny|caption-settings", dim=4)
    store.items = pd.DataFrame(
        {
            "id": [0, 1, 2],
            "path": ["/a.png", "/b.png", "files/c.png"],
            "rel_path": ["a.png", "b.png", "c.png"],
            "sha256": ["s0", "s1", "s2"],
            "domain": ["photo", "sketch", None],
            "class": ["cat", "dog", None],
            "caption": ["a cat", None, "a dog"],
            "status": ["ok", "ok", "failed"],
            "error": [None, None, "empty file (0 bytes)"],
            "width": [10, 20, None],
        }
    )
    store.image_emb = np.eye(3, 4, dtype=np.float32)
    caption = np.zeros((3, 4), dtype=np.float32)
    caption[0, 3] = 1
    store.caption_emb = caption
    store.write()
    return store


def test_store_round_trip(tmp_path: Path) -> None:
    written = sample_store(tmp_path / "s")
    loaded = Store.load(tmp_path / "s")
    assert loaded.preset == "tiny"
    assert loaded.meta["format_version"] == FORMAT_VERSION
    assert loaded.meta["dim"] == 4 and loaded.meta["caption_key"] == "tiny|caption-settings"
    pd.testing.assert_frame_equal(loaded.items, written.items)
    assert loaded.items["id"].tolist() == [0, 1, 2]
    assert loaded.items["width"].tolist() == [10, 20, -1]
    assert loaded.items["parent_id"].tolist() == [-1, -1, -1]
    np.testing.assert_array_equal(loaded.image_emb, written.image_emb)
    np.testing.assert_array_equal(loaded.caption_emb, written.caption_emb)
    assert loaded.counts() == {"n_items": 3, "n_ok": 2, "n_failed": 1, "n_captioned": 1}
    assert loaded.image_path(loaded.items.iloc[2]) == tmp_path / "s" / "files" / "c.png"
    assert leftovers(tmp_path / "s") == []


def test_a_missing_store_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no collection at .*cdir ingest"):
        Store.load(tmp_path / "nowhere")


def test_a_store_from_a_newer_cdir_is_refused(tmp_path: Path) -> None:
    sample_store(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / META_FILE).read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "s" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="newer cdir.*upgrade"):
        Store.load(tmp_path / "s")


def test_an_unreadable_meta_is_a_store_error(tmp_path: Path) -> None:
    sample_store(tmp_path / "s")
    (tmp_path / "s" / META_FILE).write_text("{not json")
    with pytest.raises(StoreError, match="cannot read"):
        Store.load(tmp_path / "s")


def test_a_store_cannot_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Store.create(tmp_path / "f", "tiny", "k", 4)


# -------------------------------------------------------------------------------------- cache
def test_a_value_put_is_found(tmp_path: Path) -> None:
    cache = Cache.for_store(tmp_path / "store")
    vectors = np.arange(8, dtype=np.float32).reshape(2, 4)
    cache.put_vectors("image_emb", "model-a", ["k0", "k1"], vectors)
    cache.put_texts("caption", "model-a", {"k0": "a cat on a mat"})
    found = cache.get_vectors("image_emb", "model-a", ["k0", "k1", "absent"])
    assert set(found) == {"k0", "k1"}
    np.testing.assert_array_equal(found["k1"], vectors[1])
    assert cache.get_texts("caption", "model-a", ["k0"]) == {"k0": "a cat on a mat"}
    assert cache.get_texts("caption", "model-b", ["k0"]) == {}  # keyed by model too
    cache.close()


def test_the_store_layer_and_the_shared_layer(tmp_path: Path) -> None:
    cache = Cache.for_store(tmp_path / "store")
    assert [layer.path for layer in cache.layers] == [
        tmp_path / "store" / CACHE_FILE,
        shared_cache_dir() / CACHE_FILE,
    ]
    cache.close()


def test_found_only_in_shared_is_copied_into_the_store(tmp_path: Path) -> None:
    cache = Cache.for_store(tmp_path / "store")
    store_layer, shared_layer = cache.layers
    shared_layer.put("caption", "m", [("sha", b"a shared caption")])
    assert store_layer.get("caption", "m", ["sha"]) == {}
    assert cache.get_texts("caption", "m", ["sha"]) == {"sha": "a shared caption"}
    assert store_layer.get("caption", "m", ["sha"]) == {"sha": b"a shared caption"}
    cache.close()


def test_work_reaches_another_store_through_the_shared_layer(tmp_path: Path) -> None:
    first = Cache.for_store(tmp_path / "one")
    first.put_texts("caption", "m", {"sha": "computed once"})
    first.close()
    second = Cache.for_store(tmp_path / "two")
    assert second.get_texts("caption", "m", ["sha"]) == {"sha": "computed once"}
    second.close()


@pytest.mark.parametrize("value", ["off", "OFF", "none", "0"])
def test_cache_dir_off_keeps_everything_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CDIR_CACHE_DIR", value)
    assert shared_cache_dir() is None
    cache = Cache.for_store(tmp_path / "store")
    assert [layer.path for layer in cache.layers] == [tmp_path / "store" / CACHE_FILE]
    cache.put_texts("caption", "m", {"sha": "only here"})
    cache.close()
    other = Cache.for_store(tmp_path / "other")
    assert other.get_texts("caption", "m", ["sha"]) == {}
    other.close()


def test_no_shared_layer_when_asked(tmp_path: Path) -> None:
    cache = Cache.for_store(tmp_path / "store", shared=False)
    assert len(cache.layers) == 1
    cache.close()
