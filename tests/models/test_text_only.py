"""A text query loads the CLIP text tower alone (cdir.models.text_only): the same vectors as the
whole open_clip model, and a fresh ``cdir search --text`` or caption-matching ``--image`` process
imports neither open_clip, torchvision nor transformers; commands that need no model import no
torch at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.models import text_only
from cdir.models.lazy import LazyModels
from cdir.models.loaded import load_models
from cdir.models.presets import get_preset
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.collection import Store

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["a red boat", "a pencil sketch of a house beside a very tall tree at night", "x", ""]
HEAVY = ("torch", "open_clip", "torchvision", "transformers")


def test_text_tower_alone_gives_the_whole_models_vectors(saved: Path) -> None:
    encoder = text_only.text_encoder(get_preset("tiny"), saved, "cpu")
    assert encoder is not None
    whole = load_models("tiny", saved, device="cpu").embedder.encode_texts(TEXTS)
    alone = encoder.encode_texts(TEXTS)
    assert alone.shape == whole.shape and alone.dtype == np.float32
    assert float(np.min(np.sum(alone * whole, axis=1))) > 0.99999


def test_no_local_folder_or_other_towers_load_the_whole_model(saved: Path, tmp_path: Path) -> None:
    assert text_only.text_encoder(get_preset("tiny"), None, "cpu") is None  # built from config
    assert text_only.text_encoder(get_preset("tiny-coca"), saved, "cpu") is None
    folder = tmp_path / "tiny" / "embedder"
    folder.mkdir(parents=True)
    config = json.loads((saved / "tiny" / "embedder" / text_only.CONFIG_FILE).read_text())
    config["model_cfg"]["text_cfg"]["hf_tokenizer_name"] = "some/tokenizer"  # not the CLIP BPE
    (folder / text_only.CONFIG_FILE).write_text(json.dumps(config))
    (folder / text_only.WEIGHTS_FILE).write_bytes(
        (saved / "tiny" / "embedder" / text_only.WEIGHTS_FILE).read_bytes()
    )
    assert text_only.text_encoder(get_preset("tiny"), tmp_path, "cpu") is None


def test_lazy_models_use_the_loaded_models_when_there_are(saved: Path) -> None:
    from cdir.models.loaded import get_models

    lazy = LazyModels("tiny", saved, dim=64)
    vectors = lazy.embedder.encode_texts(TEXTS[:2])
    assert not lazy.loaded  # the text tower answered
    get_models("tiny", saved)
    again = LazyModels("tiny", saved, dim=64)
    np.testing.assert_allclose(again.embedder.encode_texts(TEXTS[:2]), vectors, atol=1e-5)
    assert again.loaded  # the process's models answered, no second copy of the tower


def run_cli(args: list[str]) -> tuple[int, list[str], str]:
    code = (
        "import sys, io, json, contextlib\n"
        "from cdir.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = main({args!r})\n"
        f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules], out.getvalue()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    rc, heavy, out = json.loads(done.stdout.strip().splitlines()[-1])
    return rc, heavy, out


def test_a_text_query_imports_no_image_model_library(collection: Path, saved: Path) -> None:
    rc, heavy, out = run_cli(
        ["search", str(collection), "--text", "a new text", "--model-dir", str(saved), "--json"]
    )
    assert rc == 0 and heavy == ["torch"]
    hits = json.loads(out)["hits"]
    whole = api.search(
        api.open_collection(collection, saved), text="a new text", options=api.SearchOptions()
    )
    assert [h["id"] for h in hits] == [h.id for h in whole.hits]


def test_a_cm_image_query_builds_no_image_tower(
    collection: Path, saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # caption matching reads the query's caption (captioner + text tower), never its image
    # embedding: a fresh process loads the captioner alone, on plain torch (no open_clip, no
    # transformers: cdir.models.blip_runtime)
    query = tmp_path / "query.png"
    pixels = np.random.default_rng(99).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(query)
    args = ["search", str(collection), "--image", str(query), "--model-dir", str(saved)]
    rc, heavy, out = run_cli([*args, "--show-duplicates", "--json"])
    assert rc == 0 and heavy == ["torch"]
    # the same caption and ranking as the whole models through transformers, the image embedded
    # first (the app's staged path), the query captioned in float32 as the CLI does
    monkeypatch.setenv("CDIR_QUERY_QUANTIZE", "none")
    searcher = Searcher(Store.load(collection), load_models("tiny", saved, device="cpu"))
    image, sha = searcher.load_picture(query)
    eager, sha = searcher.picture_query(image, sha)
    eager.caption = searcher.image_caption(image, sha)
    whole = searcher.rank_query(eager, SearchOptions(k=10, neutralise=True))
    result = json.loads(out)
    assert result["query"]["caption"] == eager.caption
    assert [h["id"] for h in result["hits"]] == [h.id for h in whole.hits]


@pytest.mark.parametrize("command", [["info"], ["export", "OUT", "--format", "parquet"]])
def test_commands_that_need_no_model_import_no_torch(
    collection: Path, tmp_path: Path, command: list[str]
) -> None:
    args = [
        command[0],
        str(collection),
        *[str(tmp_path / "t.parquet") if a == "OUT" else a for a in command[1:]],
        "--json",
    ]
    rc, heavy, _ = run_cli(args)
    assert rc == 0 and heavy == []
