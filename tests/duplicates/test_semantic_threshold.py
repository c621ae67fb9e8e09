"""The semantic threshold calibrated on the collection itself (copies of its own images inside,
different images of one class outside), saved with it and shown; no semantic groups at all for
an embedder with random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cdir.duplicates.finder import dedup_config, semantic_rows
from cdir.duplicates.groups import find_duplicates
from cdir.duplicates.semantic_threshold import (
    CalibrationConfig,
    load_calibration,
    semantic_plan,
)
from cdir.ingest.reader import perceptual_hash
from cdir.store.collection import Store, normalise_items


def fake_embed(images: list[Image.Image]) -> np.ndarray:
    """A deterministic stand-in for an image embedder: 8x8 grey levels, centred, unit length."""
    out = []
    for image in images:
        v = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), np.float32)
        v = v.ravel() - 128.0
        out.append(v / (np.linalg.norm(v) or 1.0))
    return np.stack(out)


def picture(seed: int, base: int) -> Image.Image:
    rng = np.random.default_rng(base)
    shared = rng.integers(0, 255, (8, 8))
    own = np.random.default_rng(1000 + seed).integers(-90, 90, (8, 8))
    arr = np.clip(shared + own, 0, 255).astype(np.uint8)
    return Image.fromarray(arr).resize((128, 128), Image.Resampling.NEAREST).convert("RGB")


def drawn_store(root: Path, preset: str, count: int = 12) -> Store:
    files, classes = [], []
    for n in range(count):
        path = root / "src" / f"{n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture(n, n % 2).save(path)
        files.append(path)
        classes.append("ab"[n % 2])
    copy = root / "src" / "0_small.jpg"
    picture(0, 0).resize((64, 64)).save(copy, quality=60)
    files.append(copy)
    classes.append("a")
    images = [Image.open(f).convert("RGB") for f in files]
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(len(files)),
                "path": [str(f) for f in files],
                "rel_path": [f.name for f in files],
                "sha256": [f"s{i}" for i in range(len(files))],
                "phash": [perceptual_hash(im) for im in images],
                "width": 128,
                "height": 128,
                "file_size": 100,
                "status": "ok",
                "class": classes,
            }
        )
    )
    store = Store(
        root, meta={"preset": preset, "revision": 3}, items=items, image_emb=fake_embed(images)
    )
    return store


def test_the_threshold_is_calibrated_saved_and_keeps_classes_apart(tmp_path: Path) -> None:
    store = drawn_store(tmp_path, "default")
    config = dedup_config(["semantic"])
    assert config.semantic_auto
    groups = find_duplicates(store, config, decided={}, embed=lambda: fake_embed)
    saved = load_calibration(store)
    assert saved is not None and saved.apart is not None
    assert saved.threshold > saved.apart  # different images of one class fall outside
    names = store.items["rel_path"].tolist()
    assert [{names[m] for m in g.members} for g in groups] == [{"0.png", "0_small.jpg"}]
    _, words = semantic_plan(store, config, None)  # shown, from the saved calibration
    assert words.startswith(f"semantic threshold {saved.threshold:.3f}, calibrated for default")
    # a threshold the user sets is used as set
    assert (
        semantic_plan(store, dedup_config(["semantic"], semantic=0.5), None)[
            0
        ].semantic_min_similarity
        == 0.5
    )


def test_two_different_pictures_outside_the_sample_still_bound_the_threshold(
    tmp_path: Path,
) -> None:
    """The copies are made of a sample of 48 images, but the closest different pictures are
    looked for among all of them: two different drawings of one class that the embedder puts
    almost together (as a small model does with pencil sketches) are never grouped."""
    store = drawn_store(tmp_path, "default", count=70)
    emb = store.image_emb.copy()
    phash = [int(h, 16) for h in store.items["phash"]]
    config = CalibrationConfig()
    rows = semantic_rows(store)
    sample = set(np.random.default_rng(config.seed).choice(rows, config.sample, replace=False))
    a, b = next(  # one class (odd rows), outside the sample, pHashes far apart
        (a, b)
        for a in range(69, 0, -2)
        for b in range(a - 2, 0, -2)
        if a not in sample and b not in sample and (phash[a] ^ phash[b]).bit_count() > 12
    )
    emb[b] = emb[a] + 0.15 * emb[b]  # a cosine near 0.99, as pencil sketches of one class
    emb[b] /= np.linalg.norm(emb[b])
    store.image_emb = emb
    groups = find_duplicates(
        store, dedup_config(["semantic"]), decided={}, embed=lambda: fake_embed
    )
    saved = load_calibration(store)
    assert saved is not None and saved.apart >= float(emb[a] @ emb[b]) - 1e-4
    assert not any({a, b} <= set(g.members) for g in groups)


@pytest.mark.parametrize("tiers", [["semantic"], ["exact", "semantic"]])
def test_random_weights_offer_no_semantic_groups_and_say_so(
    tmp_path: Path, tiers: list[str]
) -> None:
    store = drawn_store(tmp_path, "tiny")
    config = dedup_config(tiers, semantic=0.0)  # even at a threshold that passes everything
    planned, words = semantic_plan(store, config, None)
    assert "random weights" in words
    assert planned is None if tiers == ["semantic"] else planned.tiers == ("exact",)
    assert all(g.tier != "semantic" for g in find_duplicates(store, config, decided={}))
