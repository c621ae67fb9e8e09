"""Models are built only when there is something to compute (cdir.models.lazy): an ingest that
finds nothing new never builds them, one with a new file does, and both give the same store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cdir.models.lazy as lazy
from cdir import api
from cdir.ingest.pipeline import IngestConfig
from cdir.models.lazy import LazyModels
from cdir.models.loaded import load_models
from cdir.store.collection import Store

REPO = Path(__file__).resolve().parents[2]
CONFIG = IngestConfig(captions="all", batch_size=4)


def write_images(folder: Path, seeds: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        arr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img_{seed}.png")


def refuse(preset: str, model_root: object = None) -> None:
    raise AssertionError(f"the {preset} models were loaded with nothing to compute")


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Path, Path]:
    src, store = tmp_path / "src", tmp_path / "store"
    write_images(src, range(3))
    api.ingest([src], store, "tiny", CONFIG)
    return src, store


def test_unchanged_reingest_builds_no_model(
    ingested: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, store = ingested
    before = Store.load(store)
    monkeypatch.setattr(api, "get_models", refuse)  # what api.ingest loads through
    report = api.ingest([src], store, "tiny", CONFIG)
    after = Store.load(store)
    assert (report.added, report.already_present, report.embedded) == (0, 3, 0)
    assert report.captioned == 0 and report.counts == before.counts()
    np.testing.assert_array_equal(after.image_emb, before.image_emb)
    np.testing.assert_array_equal(after.caption_emb, before.caption_emb)
    assert after.items["caption"].tolist() == before.items["caption"].tolist()


def test_a_new_file_loads_the_models_once(
    ingested: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, store = ingested
    calls: list[str] = []

    def counting(preset: str, model_root: object = None) -> object:
        calls.append(preset)
        return load_models(preset, device="cpu")

    monkeypatch.setattr(api, "get_models", counting)
    write_images(src, range(3, 4))
    report = api.ingest([src], store, "tiny", CONFIG)
    assert calls == ["tiny"]
    assert (report.added, report.embedded, report.captioned) == (1, 1, 1)
    assert Store.load(store).counts()["n_captioned"] == 4


def test_lazy_models_answer_without_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy, "_get_models", refuse)
    models = LazyModels("tiny", dim=64)
    real = load_models("tiny", device="cpu")
    assert models.preset == real.preset and models.caption_key == real.caption_key
    assert models.embedder.dim == 64 and not models.loaded
    with pytest.raises(AssertionError, match="loaded with nothing to compute"):
        models.embedder.prepare  # noqa: B018  (any real use loads)


def test_a_captioner_loaded_alone_is_the_one_the_models_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a CM query loads the captioner without the embedder; models loaded later take it over
    monkeypatch.setenv("CDIR_QUERY_QUANTIZE", "none")
    monkeypatch.setattr(lazy, "loaded_models_of", lambda _: None)  # none in this process yet
    loaded: list[str] = []

    def loader(preset: str, root: object = None) -> object:
        loaded.append(preset)
        return load_models(preset, device="cpu")

    models = LazyModels("tiny", dim=64, loader=loader)
    alone = models.query_captioner
    assert models.captioner is alone and not models.loaded and loaded == []
    assert models.query_caption_key == models.caption_key
    assert models.load().captioner is alone and loaded == ["tiny"]
    assert models.query_captioner is alone  # nothing loads twice


def test_cli_rerun_imports_no_model_library(ingested: tuple[Path, Path]) -> None:
    """`cdir ingest` again on the same folder, in a fresh interpreter."""
    src, store = ingested
    code = (
        "import sys, io, contextlib, json\n"
        "from cdir.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = main(['ingest', {str(src)!r}, '--store', {str(store)!r}, '--preset', "
        "'tiny', '--device', 'cpu', '--json', '-q'])\n"
        "heavy = [m for m in ('open_clip', 'transformers') if m in sys.modules]\n"
        "print(json.dumps([rc, heavy, json.loads(out.getvalue())['added']]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=300,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, [], 0]
