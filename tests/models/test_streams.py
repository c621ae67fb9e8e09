"""Batches embedded as concurrent single-thread parts (cdir.models.streams) give the same bits as
one call on all of torch's threads, in the model and through ingest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.loaded import Models
from cdir.models.streams import batch_streams, stream_count
from cdir.store.collection import Store
from tests.drawn import draw_collection


@pytest.fixture
def two_threads() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def test_stream_count() -> None:
    assert stream_count("cpu", threads=1) == 1
    assert stream_count("cpu", threads=2) == 2
    assert stream_count("cpu", threads=16) == 2
    assert stream_count("cuda", threads=16) == 1


def test_parts_give_the_same_bits(tiny: Models, two_threads: None) -> None:
    embedder = tiny.embedder
    rng = np.random.default_rng(0)
    side = embedder.prepare(_image(rng)).shape
    items = [rng.integers(0, 256, side, dtype=np.uint8) for _ in range(7)]
    whole = embedder.encode_prepared(items)
    with batch_streams("cpu") as run:
        parts = run(embedder.encode_prepared, items)
        one = run(embedder.encode_prepared, items[:1])
    assert parts.dtype == np.float32 and parts.shape == whole.shape
    assert np.array_equal(parts, whole)
    assert np.array_equal(one, embedder.encode_prepared(items[:1]))  # one image: not split
    assert torch.get_num_threads() == 2  # the parts' single threads were given back


def test_a_failing_part_raises(two_threads: None) -> None:
    def embed(items: list[int]) -> np.ndarray:
        if 3 in items:
            raise ValueError("bad item")
        return np.zeros((len(items), 2), np.float32)

    with batch_streams("cpu") as run, pytest.raises(ValueError, match="bad item"):
        run(embed, [0, 1, 2, 3])


def test_ingest_stores_the_same_embeddings(tiny: Models, tmp_path: Path, two_threads: None) -> None:
    draw_collection(tmp_path / "src")
    config = IngestConfig(captions="none", predict_domains=False, shared_cache=False, batch_size=8)
    stores = {}
    for streams in (1, 2):
        root = tmp_path / f"store{streams}"
        ingest([tmp_path / "src"], root, tiny, replace(config, embed_streams=streams))
        stores[streams] = Store.load(root)
    one, two = stores[1], stores[2]
    assert list(one.items["path"]) == list(two.items["path"])
    assert len(one.items) > 8 and np.array_equal(one.image_emb, two.image_emb)


def _image(rng: np.random.Generator) -> object:
    from PIL import Image

    return Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
