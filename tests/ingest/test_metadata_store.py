"""Parsed generation metadata in the collection: stores made before these fields still open, a
re-ingest updates the parsed fields without recomputing embeddings, and the fields reach the
ingest report, search hits and the app's cards."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.metadata.result import FIELDS
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.reader import METADATA_VERSION
from cdir.models.loaded import Models
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.cache import CACHE_FILE, shared_cache_dir
from cdir.store.collection import ITEMS_FILE, Store

POSITIVE, NEGATIVE = "an isometric castle on a floating island", "blurry, lowres"
GRAPH = {
    "3": {
        "class_type": "KSampler",
        "inputs": {"positive": ["6", 0], "negative": ["7", 0], "seed": 1, "steps": 20},
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["10", 0], "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["4", 1]}},
    "10": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": POSITIVE}},
}


def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    info = PngInfo()
    info.add_text("prompt", json.dumps(GRAPH))
    Image.new("RGB", (64, 64), (60, 160, 90)).save(src / "comfy.png", pnginfo=info)
    info = PngInfo()
    info.add_text(
        "parameters", "a red lighthouse\nNegative prompt: fog\nSteps: 20, Seed: 1, Sampler: Euler a"
    )
    Image.new("RGB", (64, 64), (200, 40, 40)).save(src / "a1111.png", pnginfo=info)
    Image.new("RGB", (64, 64), (20, 40, 200)).save(src / "plain.png")
    return src


def make_it_old(store_dir: Path) -> None:
    """What an older cdir left: no metadata columns, the negative prompt stored as the prompt,
    and no parsed-metadata entries in the caches (only pixel info and embeddings)."""
    path = store_dir / ITEMS_FILE
    items = pd.read_parquet(path).drop(columns=[c for c in FIELDS if c != "prompt"])
    items.loc[items["rel_path"] == "comfy.png", "prompt"] = NEGATIVE
    items.to_parquet(path)
    for cache in (store_dir / CACHE_FILE, shared_cache_dir() / CACHE_FILE):
        with sqlite3.connect(cache) as conn:
            conn.execute("DELETE FROM image_info WHERE model = ?", (METADATA_VERSION,))


def test_old_store_opens_and_reingest_updates_metadata_without_embedding(
    tmp_path: Path, tiny: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, store_dir = source(tmp_path), tmp_path / "store"
    ingest([src], store_dir, tiny, IngestConfig(captions="none"))
    before = Store.load(store_dir).image_emb.copy()
    make_it_old(store_dir)

    old = Store.load(store_dir)  # opens: the new columns are there, empty
    assert all(c in old.items for c in FIELDS)
    assert old.items["negative_prompt"].isna().all() and old.items["generator"].isna().all()
    assert old.items.set_index("rel_path").at["comfy.png", "prompt"] == NEGATIVE

    def no_embedding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a re-ingest must not compute embeddings again")

    monkeypatch.setattr(tiny.embedder, "encode_prepared", no_embedding)
    report = ingest([src], store_dir, tiny, IngestConfig(captions="none"))
    assert report.added == 0 and report.embedded == 0
    store = Store.load(store_dir)
    items = store.items.set_index("rel_path")
    assert items.at["comfy.png", "prompt"] == POSITIVE
    assert items.at["comfy.png", "negative_prompt"] == NEGATIVE
    assert items.at["comfy.png", "generator"] == "ComfyUI"
    assert json.loads(items.at["comfy.png", "generation_settings"])["steps"] == 20
    assert items.at["a1111.png", "prompt"] == "a red lighthouse"
    assert pd.isna(items.at["plain.png", "prompt"]) and pd.isna(items.at["plain.png", "generator"])
    assert np.array_equal(store.image_emb, before)
    assert report.metadata == {
        "with_prompt": 2,
        "with_negative_prompt": 2,
        "generators": {"A1111": 1, "ComfyUI": 1},
        "issues": [],
    }


def test_hits_cards_and_report_text_show_the_fields(tmp_path: Path, tiny: Models) -> None:
    from cdir.app.views import HITS_HEADERS, card_html, hits_table
    from cdir.cli.ingest import _ingest_text

    report = ingest([source(tmp_path)], tmp_path / "store", tiny, IngestConfig(captions="none"))
    text = _ingest_text(report.to_dict())
    assert "prompts: 2 (negative prompts: 2); generators: A1111 1, ComfyUI 1" in text
    searcher = Searcher(Store.load(tmp_path / "store"), tiny)
    result = searcher.by_text("a castle", SearchOptions(mode="image", k=3))
    hit = next(h for h in result.hits if h.rel_path == "comfy.png")
    as_json = next(h for h in result.to_dict()["hits"] if h["rel_path"] == "comfy.png")
    assert (as_json["prompt"], as_json["negative_prompt"], as_json["generator"]) == (
        POSITIVE,
        NEGATIVE,
        "ComfyUI",
    )
    card = card_html(hit)
    assert POSITIVE in card and "negative: blurry, lowres" in card and ">ComfyUI<" in card
    row = next(r for r in hits_table([result]) if r[-1] == "comfy.png")
    assert dict(zip(HITS_HEADERS, row, strict=True))["negative prompt"] == NEGATIVE


def test_undecodable_metadata_is_reported_in_the_ingest(tmp_path: Path, tiny: Models) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (32, 32), "olive").save(src / "img.png")
    (src / "img.txt").write_bytes(b"\xff\xfe" + b"\x00\xdc" * 4)
    report = ingest([src], tmp_path / "store", tiny, IngestConfig(captions="none"))
    assert report.metadata["with_prompt"] == 0
    [issue] = report.metadata["issues"]
    assert issue["file"] == "img.png" and "sidecar img.txt" in issue["reason"]
    assert str(tmp_path) not in issue["reason"]


def test_generation_markdown_of_a_map_point() -> None:
    from cdir.app.views import generation_markdown

    text = generation_markdown(
        {"generator": "ComfyUI", "prompt": "a <b>castle</b>", "negative_prompt": pd.NA}
    )
    assert "**Generated with:** ComfyUI" in text and "&lt;b&gt;castle" in text
    assert "Negative" not in text
    assert generation_markdown({"generator": None, "prompt": None, "negative_prompt": None}) == ""


def test_reingest_keeps_the_prompt_of_an_item_whose_file_is_gone(
    tmp_path: Path, tiny: Models
) -> None:
    src, store_dir = source(tmp_path), tmp_path / "store"
    ingest([src], store_dir, tiny, IngestConfig(captions="none"))
    make_it_old(store_dir)
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (64, 64), "gold").save(other / "new.png")
    (src / "comfy.png").unlink()
    ingest([other], store_dir, tiny, IngestConfig(captions="none"))
    items = Store.load(store_dir).items.set_index("rel_path")
    assert items.at["comfy.png", "prompt"] == NEGATIVE  # nothing to re-read: kept as it was
    assert items.at["a1111.png", "prompt"] == "a red lighthouse"  # re-read from its file
