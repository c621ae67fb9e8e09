"""Optional int8 captioning: how the mode is chosen, what it changes (the captioner only), and
that it reaches the models through the CLI, the API and a saved model directory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api, cli
from cdir.app import main as app
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.captioners import CocaCaptioner
from cdir.models.loaded import Models, load_models, save_models
from cdir.models.quantize import QUANTIZE_ENV, quantize_mode, set_quantize_mode
from cdir.store.collection import Store
from tests.drawn import CLASSES, draw_collection, draw_image


@pytest.fixture(autouse=True)
def _no_process_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(QUANTIZE_ENV, raising=False)
    previous = set_quantize_mode(None)
    yield
    set_quantize_mode(previous)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [draw_image("photo", "circle", 0), draw_image("sketch", "triangle", 1)]


@pytest.fixture(scope="module")
def tiny_int8() -> Models:
    return load_models("tiny", device="cpu", quantize="int8")


def quantized_linears(model: object) -> int:
    return sum(
        "quantized" in type(m).__module__ and type(m).__name__ == "Linear" for m in model.modules()
    )  # type: ignore[attr-defined]


def test_the_mode_comes_from_the_argument_then_the_process_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert quantize_mode() == "none"
    monkeypatch.setenv(QUANTIZE_ENV, "INT8")
    assert quantize_mode() == "int8"
    assert quantize_mode("none") == "none"
    set_quantize_mode("none")
    assert quantize_mode() == "none"  # the CLI / app flag wins over the environment
    assert set_quantize_mode(None) == "none"  # returns the previous default
    assert quantize_mode() == "int8"


def test_an_unknown_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="--quantize must be one of none, int8, not 'int4'"):
        quantize_mode("int4")
    monkeypatch.setenv(QUANTIZE_ENV, "fp16")
    with pytest.raises(ValueError, match=r"\$CDIR_QUANTIZE must be one of"):
        load_models("tiny", device="cpu")


def test_int8_quantises_the_captioner_and_nothing_else(
    tiny_int8: Models, images: list[Image.Image]
) -> None:
    plain = load_models("tiny", device="cpu")
    assert quantized_linears(tiny_int8.captioner.model) > 0
    assert quantized_linears(plain.captioner.model) == 0
    assert quantized_linears(tiny_int8.embedder.model) == 0
    np.testing.assert_array_equal(
        tiny_int8.embedder.encode_images(images), plain.embedder.encode_images(images)
    )
    captions = tiny_int8.captioner.caption(images)
    assert len(captions) == 2 and all(isinstance(c, str) and c for c in captions)


def test_int8_captions_are_cached_apart_from_float32_ones(tiny_int8: Models) -> None:
    plain = load_models("tiny", device="cpu")
    assert tiny_int8.caption_key == plain.caption_key + "|int8"
    assert tiny_int8.captions_quantized and not plain.captions_quantized


def test_coca_shares_its_weights_with_the_embedder_so_it_stays_float32() -> None:
    models = load_models("tiny-coca", device="cpu", quantize="int8")
    assert isinstance(models.captioner, CocaCaptioner)
    assert quantized_linears(models.embedder.model) == 0
    assert not models.captions_quantized and not models.caption_key.endswith("|int8")


def test_int8_applies_to_a_model_loaded_from_a_saved_directory(
    tmp_path: Path, images: list[Image.Image]
) -> None:
    save_models(load_models("tiny", device="cpu"), tmp_path)
    models = load_models("tiny", tmp_path, device="cpu", quantize="int8")
    assert quantized_linears(models.captioner.model) > 0
    assert len(models.captioner.caption(images)) == 2


def test_int8_captions_are_made_of_words(tiny_int8: Models, images: list[Image.Image]) -> None:
    """The same word-pattern check as the float32 captions (tests/models/test_models.py): quantising
    must not turn the decoder's output into sub-word debris or empty strings."""
    drawings = [
        *images,
        *(draw_image(d, c, 2) for d, c in (("clipart", "cross"), ("sketch", "square"))),
    ]
    captions = tiny_int8.captioner.caption(drawings)
    assert len(captions) == len(drawings)
    for caption in captions:
        assert re.fullmatch(r"[a-z]+( [a-z]+)+", caption), caption
        assert len(caption.split()) >= 3


def test_saving_int8_models_is_refused(tiny_int8: Models, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="save the float32 models"):
        save_models(tiny_int8, tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_int8_ingest_captions_every_item(tiny_int8: Models, tmp_path: Path) -> None:
    draw_collection(tmp_path / "src", classes=CLASSES[:2], per_class=2)
    report = ingest(
        [tmp_path / "src"], tmp_path / "store", tiny_int8, IngestConfig(shared_cache=False)
    )
    store = Store.load(tmp_path / "store")
    assert report.captioned == len(store.items) == 12
    assert store.items["caption"].str.len().gt(0).all()


def test_the_cli_flag_reaches_the_models_and_is_put_back_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    draw_collection(tmp_path / "src", classes=CLASSES[:1], per_class=1)
    seen: list[str] = []
    real = api.get_models

    def spy(preset: str, model_root: object = None) -> Models:
        models = real(preset, model_root)  # type: ignore[arg-type]
        seen.append(models.caption_key)
        return models

    monkeypatch.setattr(api, "get_models", spy)
    code = cli.main(
        [
            "ingest",
            str(tmp_path / "src"),
            "--store",
            str(tmp_path / "store"),
            "--preset",
            "tiny",
            "--quantize",
            "int8",
            "-q",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["captioned"] == 3
    assert seen and all(key.endswith("|int8") for key in seen)
    assert quantize_mode() == "none"


def test_the_app_takes_the_flag() -> None:
    assert app.parse_args(["--quantize", "int8"]).quantize == "int8"
    assert app.parse_args([]).quantize is None
    with pytest.raises(SystemExit):
        app.parse_args(["--quantize", "int4"])
