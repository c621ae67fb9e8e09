"""Caches are keyed by the weights, not the preset's name: the same preset name with changed
weights recomputes image vectors and captions; stores from before fingerprints still open."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cdir import api
from cdir.ingest.pipeline import IngestConfig
from cdir.models import fingerprint
from cdir.models.loaded import load_models, save_models
from cdir.models.presets import get_preset
from cdir.store.collection import META_FILE, Store, atomic_write_json
from tests.drawn import draw_collection


def _save_tiny(root: Path, nudge: float = 0.0) -> None:
    """The tiny preset's models written to ``root`` (the --model-dir layout), every weight of
    the embedder and captioner moved by ``nudge``."""
    import torch

    models = load_models("tiny", device="cpu")
    with torch.no_grad():
        for module in (models.embedder.model, models.captioner.model):
            for p in module.parameters():
                p.add_(nudge)
    save_models(models, root)


@pytest.fixture()
def src(tmp_path: Path) -> Path:
    draw_collection(tmp_path / "src", per_class=1)
    return tmp_path / "src"


def test_changed_weights_under_the_same_name_recompute(src: Path, tmp_path: Path) -> None:
    root, store = tmp_path / "models", tmp_path / "store"
    _save_tiny(root)
    config = IngestConfig(captions="all")
    first = api.ingest([src], store, "tiny", config, root)
    n = first.counts["n_ok"]
    assert first.embedded == n and first.captioned == n
    before = Store.load(store)
    again = api.ingest([src], store, "tiny", config, root)
    assert again.embedded == 0 and again.captioned == 0  # same weights: all from the cache

    _save_tiny(root, nudge=0.05)  # retrained weights, same preset name, same folder
    changed = api.ingest([src], store, "tiny", config, root)
    assert changed.embedded == n and changed.captioned == n
    after = Store.load(store)
    assert not np.allclose(before.image_emb, after.image_emb)
    assert after.meta["caption_key"] != before.meta["caption_key"]
    assert after.items["caption"].notna().all()


def test_fingerprints_follow_the_files_and_are_memoised(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _save_tiny(root)
    preset = get_preset("tiny")
    key = fingerprint.embed_key(preset, root)
    assert key and key.startswith("tiny|cdir-tiny-clip|None|w:")
    assert fingerprint.embed_key(preset, root) == key
    assert fingerprint.embed_key(preset, None) != key  # built from the config: another key
    weights = next((root / "tiny" / "embedder").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert fingerprint.embed_key(preset, root) != key


def test_hub_snapshots_are_fingerprinted_by_their_blob_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    base = tmp_path / "hub" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    keys = []
    for commit, blob in (("aaa", "1" * 64), ("bbb", "2" * 64)):
        (base / "blobs").mkdir(parents=True, exist_ok=True)
        (base / "blobs" / blob).write_bytes(b"weights")
        (base / "snapshots" / commit).mkdir(parents=True)
        (base / "snapshots" / commit / "open_clip_model.safetensors").symlink_to(
            base / "blobs" / blob
        )
        (base / "refs").mkdir(exist_ok=True)
        (base / "refs" / "main").write_text(commit)
        keys.append(fingerprint.embed_key(get_preset("default"), None))
    assert None not in keys and keys[0] != keys[1]


def test_a_store_from_before_fingerprints_opens_and_recaptions(src: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    api.ingest([src], store, "tiny", IngestConfig(captions="all"))
    meta = Store.read_meta(store)
    meta["caption_key"] = "tiny|" + get_preset("tiny").captioner.settings_key()  # the old form
    atomic_write_json(store / META_FILE, meta)
    session = api.open_collection(store)
    assert session.store.items["caption"].notna().all()
    again = api.ingest([src], store, "tiny", IngestConfig(captions="all"))
    # its captions were dropped and made again: from the cache, which the first ingest filled
    # under the weights' key (the same weights)
    assert again.captioned == 0 and Store.load(store).items["caption"].notna().all()
    assert "|w:cfg-" in Store.read_meta(store)["caption_key"]
