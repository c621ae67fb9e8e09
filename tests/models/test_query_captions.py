"""A query's caption comes from an int8 copy of a BLIP captioner on the CPU (a user waits for it;
it is compared with gallery images only), cached apart; the collection's own captions stay
float32. ``CDIR_QUERY_QUANTIZE=none`` captions queries with the collection's captioner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.ingest.pipeline import IngestConfig
from cdir.models.loaded import Models, load_models
from cdir.models.quantize import QUERY_QUANTIZE_ENV
from tests.drawn import draw_image


def quantized_linears(model: object) -> int:
    return sum(
        "quantized" in type(m).__module__ and type(m).__name__ == "Linear" for m in model.modules()
    )  # type: ignore[attr-defined]


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> Models:
    monkeypatch.delenv(QUERY_QUANTIZE_ENV, raising=False)
    return load_models("tiny", device="cpu")


def test_queries_get_an_int8_copy_and_their_own_cache_key(models: Models) -> None:
    assert models.query_captions_int8
    query = models.query_captioner
    assert query is not models.captioner and query is models.query_captioner  # built once
    assert quantized_linears(query.model) > 0 and quantized_linears(models.captioner.model) == 0
    assert models.query_caption_key == models.caption_key + "|int8"
    image = draw_image("photo", "circle", 0)
    assert query.caption([image])[0].strip()


def test_none_captions_queries_with_the_collections_captioner(
    models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUERY_QUANTIZE_ENV, "none")
    assert not models.query_captions_int8
    assert models.query_captioner is models.captioner
    assert models.query_caption_key == models.caption_key
    monkeypatch.setenv(QUERY_QUANTIZE_ENV, "int4")
    with pytest.raises(ValueError, match=QUERY_QUANTIZE_ENV):
        models.query_captions_int8  # noqa: B018 - the property raises


def test_a_query_uses_the_int8_captioner_and_a_lazy_item_the_float32_one(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        draw_image("photo", "circle", i).save(src / f"{i}.png")
    store = tmp_path / "store"
    api.run_ingest([src], store, models, IngestConfig(captions="none", batch_size=4))
    from cdir.retrieval.search import Searcher
    from cdir.store.collection import Store

    searcher = Searcher(Store.load(store), models)
    made: list[str] = []

    class Spy:
        def __init__(self, name: str, real: object) -> None:
            self.name, self.real = name, real

        def caption(self, images: list[Image.Image]) -> list[str]:
            made.append(self.name)
            return self.real.caption(images)  # type: ignore[attr-defined]

    for name in ("captioner", "query_captioner"):
        spy = Spy(name, getattr(models, name))
        monkeypatch.setattr(Models, name, property(lambda self, s=spy: s))
    query = Image.open(src / "0.png").convert("RGB")
    result = searcher.by_picture(query, api.SearchOptions())
    assert made == ["query_captioner"] and result.query.caption
    searcher.item_caption(1)
    assert made == ["query_captioner", "captioner"]
    assert np.isfinite([h.score for h in result.hits]).all()


def test_the_cli_captions_its_one_query_in_float32_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Quantising costs more than one caption gains: ``cdir search`` (one query per process)
    captions in float32; ``$CDIR_QUERY_QUANTIZE`` still decides when set."""
    from cdir.cli import main
    from cdir.models.quantize import query_quantize_mode

    seen: list[str] = []

    def search(*args: object, **kwargs: object) -> None:
        seen.append(query_quantize_mode())
        raise api.UserInputError("stop here")

    monkeypatch.setattr(api, "open_collection", lambda *a: None)
    monkeypatch.setattr(api, "search", search)
    monkeypatch.delenv(QUERY_QUANTIZE_ENV, raising=False)
    assert main(["search", "S", "--text", "a boat"]) == 2
    monkeypatch.setenv(QUERY_QUANTIZE_ENV, "int8")
    assert main(["search", "S", "--text", "a boat"]) == 2
    assert seen == ["none", "int8"]
    monkeypatch.delenv(QUERY_QUANTIZE_ENV)
    assert query_quantize_mode() == "int8"  # the process default is put back
