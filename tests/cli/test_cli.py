"""``python -m cdir``: the contract of section 6 (one JSON document on stdout, exit status 2 with a
message that says what to do).

The process-level promises (stdout holds only the JSON, exit codes) run in subprocesses; each one
that loads torch costs seconds, so the breadth (every mode, saving models) runs ``cdir.cli.main``
in this process, which is the same code behind the same argument parser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cdir.models.encoders
import cdir.models.loaded
from cdir import cli
from cdir.retrieval.scoring import MODES
from cdir.store.collection import Store
from tests.drawn import CLASSES, draw_collection, draw_image

REPO = Path(__file__).resolve().parents[2]
N_IMAGES = 3 * 2 * 2  # 3 domains x 2 classes x 2 images
HIT_KEYS = {"id", "path", "score", "domain", "class", "caption", "prompt"}


def run_cli(*args: Any, cwd: Path, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    if cache is not None:
        env["CDIR_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "cdir", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def main_json(capsys: pytest.CaptureFixture[str], *args: Any) -> Any:
    """Run the CLI in this process; it must succeed and print one JSON document."""
    capsys.readouterr()
    code = cli.main([*map(str, args), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def source(workdir: Path) -> Path:
    draw_collection(workdir / "src", classes=CLASSES[:2], per_class=2)
    return workdir / "src"


@pytest.fixture(scope="module")
def ingested(workdir: Path, source: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One collection ingested by a real ``python -m cdir ingest``, shared by the module."""
    store = workdir / "store"
    done = run_cli(
        "ingest",
        source,
        "--store",
        store,
        "--preset",
        "tiny",
        "--json",
        cwd=workdir,
        cache=workdir / "cache",
    )
    assert done.returncode == 0, done.stderr
    return store, done


# ------------------------------------------------------------------------------ subprocesses
def test_ingest_prints_one_json_document(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    store, done = ingested
    report = json.loads(done.stdout)  # the whole of stdout is one document
    assert report["preset"] == "tiny"
    assert (report["added"], report["embedded"], report["captioned"]) == (N_IMAGES,) * 3
    assert report["counts"] == {
        "n_items": N_IMAGES,
        "n_ok": N_IMAGES,
        "n_failed": 0,
        "n_captioned": N_IMAGES,
    }
    assert report["failed"] == [] and report["rejected"] == []
    assert Store.load(store).counts() == report["counts"]


def test_search_by_id_prints_one_json_document(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    workdir: Path,
) -> None:
    store, _ = ingested
    done = run_cli(
        "search",
        store,
        "--id",
        0,
        "--mode",
        "caption",
        "--k",
        3,
        "--json",
        cwd=workdir,
        cache=workdir / "cache",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["query"]["id"] == 0 and result["query"]["caption"]
    assert len(result["hits"]) == 3 and all(HIT_KEYS <= set(h) for h in result["hits"])
    assert result["options"]["mode"] == "caption"


def test_info_and_models_list(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    workdir: Path,
) -> None:
    store, _ = ingested
    info = run_cli("info", store, "--json", cwd=workdir)
    assert info.returncode == 0, info.stderr
    doc = json.loads(info.stdout)
    assert doc["preset"] == "tiny" and doc["n_ok"] == N_IMAGES
    assert doc["domains"] == {"clipart": 4, "photo": 4, "sketch": 4}
    assert doc["classes"] == {"circle": 6, "square": 6}

    listed = run_cli("models", "list", "--json", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    presets = {p["name"]: p for p in json.loads(listed.stdout)}
    assert {"default", "quality", "paper", "coca", "tiny"} <= set(presets)
    assert presets["tiny"]["trained"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "{tmp}/nowhere", "--id", "0"], r"no collection at .*nowhere.*cdir ingest"),
        (
            ["ingest", "{src}", "--store", "{tmp}/s1", "--preset", "nope"],
            r"unknown preset 'nope'.*default.*tiny",
        ),
        (
            ["ingest", "{tmp}/no-such-folder", "--store", "{tmp}/s2", "--preset", "tiny"],
            r"source not found: .*no-such-folder",
        ),
        (
            ["search", "{tmp}/nowhere", "--id", "0", "--mode", "bogus"],
            r"invalid choice: 'bogus'.*caption-caption",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, source: Path, args: list[str], message: str
) -> None:
    argv = [a.format(tmp=tmp_path, src=source) for a in args]
    done = run_cli(*argv, "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert re.search(message, done.stderr, re.S), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s2").exists()


# -------------------------------------------------------------------------------- in process
@pytest.mark.parametrize("mode", [m for m in MODES if m != "text"])
def test_search_by_id_in_every_mode(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    result = main_json(capsys, "search", ingested[0], "--id", 1, "--mode", mode, "--k", 4)
    assert result["options"]["mode"] == mode
    assert len(result["hits"]) == 4 and all(HIT_KEYS <= set(h) for h in result["hits"])
    assert 1 not in [h["id"] for h in result["hits"]]


def test_search_by_text_and_by_image(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    store = ingested[0]
    by_text = main_json(
        capsys,
        "search",
        store,
        "--text",
        "a red square",
        "--mode",
        "text",
        "--k",
        3,
        "--domain",
        "sketch",
    )
    assert by_text["query"]["text"] == "a red square"
    assert len(by_text["hits"]) == 3 and {h["domain"] for h in by_text["hits"]} == {"sketch"}
    draw_image("photo", "circle", 2, size=72).save(tmp_path / "query.png")
    by_image = main_json(capsys, "search", store, "--image", tmp_path / "query.png", "--k", 3)
    assert by_image["query"]["kind"] == "image" and by_image["query"]["caption"]
    assert len(by_image["hits"]) == 3


def test_a_bad_id_exits_2(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert cli.main(["search", str(ingested[0]), "--id", "99", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"no searchable item with id 99 (ids run 0..{N_IMAGES - 1})" in err


def test_models_save_needs_a_model_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "save", "--preset", "tiny"]) == 2
    assert "--model-dir" in capsys.readouterr().err


def test_saved_models_serve_an_ingest(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir = tmp_path / "models"
    saved = main_json(capsys, "models", "save", "--preset", "tiny", "--model-dir", model_dir)
    assert Path(saved["saved_to"]) == model_dir / "tiny"

    loaded_from: list[Path | None] = []
    real = cdir.models.encoders.load_open_clip
    monkeypatch.setattr(
        cdir.models.loaded,
        "load_open_clip",
        lambda spec, preset, local, *a: loaded_from.append(local) or real(spec, preset, local, *a),
    )
    report = main_json(
        capsys,
        "ingest",
        source,
        "--store",
        tmp_path / "store",
        "--preset",
        "tiny",
        "--captions",
        "none",
        "--model-dir",
        model_dir,
    )
    assert loaded_from == [model_dir / "tiny" / "embedder"]
    assert report["counts"]["n_ok"] == N_IMAGES
    np.testing.assert_allclose(
        Store.load(tmp_path / "store").image_emb, Store.load(ingested[0]).image_emb, atol=1e-6
    )
