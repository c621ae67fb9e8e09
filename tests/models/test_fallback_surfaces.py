"""Every entry point falls back the same way when the chosen preset's weights are missing (no
network, empty hub cache): the CLI, the API, the app's start and a gradio_client call all run the
bundled ``demo`` preset, deciding at once (no sleep for the network: tests/waits.py); without the
demo weights, the CLI, the API and the app's start stop with the same one line naming ``--preset
demo`` and ``--model-dir``. The decision is made in one place
(cdir.models.availability.choose_preset, through cdir.api)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdir import api
from cdir.app.workspace import Workspace
from cdir.ingest.pipeline import IngestConfig
from cdir.store.collection import Store
from tests.served import served_app
from tests.waits import recorded_sleeps

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
DECIDE_S = 0.5  # seconds of time.sleep a decision may ask for in all (hub retries sleep ~47 s)


@pytest.fixture()
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("CDIR_MODEL_DIR", raising=False)
    return tmp_path / "hub"


@pytest.fixture()
def two_images(tmp_path: Path) -> Path:
    """Two example files in their <domain>/<class>/ folders (a quick ingest)."""
    src = tmp_path / "src"
    for path in sorted(EXAMPLES.rglob("*.png"))[:1] + sorted(EXAMPLES.rglob("*.jpg"))[:1]:
        target = src / path.relative_to(EXAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert len(list(src.rglob("*.*"))) == 2
    return src


def slept(monkeypatch: pytest.MonkeyPatch, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    """``fn``'s result and the seconds of sleep it asked for."""
    with recorded_sleeps(monkeypatch) as sleeps:
        out = fn(*args, **kwargs)
    return out, sum(sleeps)


def test_every_surface_runs_demo_when_default_cannot_run(
    empty_hub: Path,
    two_images: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cdir.app.first_run import startup_preset
    from cdir.cli import main

    answers: dict[str, str] = {}
    choice, seconds = slept(monkeypatch, api.choose_preset, "default")
    assert choice.run == "demo" and seconds < DECIDE_S

    # CLI: python -m cdir ingest SRC --store S (no --preset)
    assert (
        main(
            [
                "ingest",
                str(two_images),
                "--store",
                str(tmp_path / "cli"),
                "--json",
                "-q",
                "--captions",
                "none",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    answers["cli"] = Store.read_meta(tmp_path / "cli")["preset"]
    assert report["preset"] == "demo" and "--model-dir" in report["notes"][0]

    # API
    out = api.ingest([two_images], tmp_path / "api", "default", IngestConfig(captions="none"))
    answers["api"] = out.preset
    assert "--preset demo" in out.notes[0]

    # the app's start (app.py main)
    (preset, banner), seconds = slept(monkeypatch, startup_preset, "default")
    answers["app"] = preset
    assert seconds < DECIDE_S and "demo" in banner

    # gradio_client against the app started that way, asking for "default" by name
    from gradio_client import Client, handle_file

    workspace = Workspace(tmp_path / "workspace")
    with served_app(workspace, tmp_path / "cache", preset=preset, notice=banner) as (url, _):
        client = Client(url, verbose=False)
        files = [handle_file(str(p)) for p in sorted(two_images.rglob("*.*"))]
        built = client.predict(files, "mine", "default", "lazy", api_name="/build_collection")
        answers["gradio_client"] = built["preset"]
        served = client.predict(files, "theirs", "", "lazy", api_name="/build_collection")
        answers["gradio_client, the server's preset"] = served["preset"]
    assert set(answers.values()) == {"demo"}, answers


def test_every_surface_stops_with_the_same_line_without_the_demo(
    empty_hub: Path,
    two_images: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cdir.app import main as app
    from cdir.cli import main
    from cdir.models import weights
    from cdir.models.weights import ModelUnavailableError

    monkeypatch.setattr(weights, "BUNDLED_MODEL_DIR", empty_hub / "no-bundled-models")
    lines: dict[str, str] = {}
    rc, seconds = slept(
        monkeypatch, main, ["ingest", str(two_images), "--store", str(tmp_path / "cli"), "-q"]
    )
    assert rc == 2 and seconds < DECIDE_S
    lines["cli"] = capsys.readouterr().err.strip().removeprefix("error: ")
    with pytest.raises(ModelUnavailableError) as caught:
        api.ingest([two_images], tmp_path / "api", "default")
    lines["api"] = str(caught.value)
    with pytest.raises(SystemExit) as stopped:
        app.main(["--store", str(tmp_path / "workspace")])
    lines["app"] = str(stopped.value.code).removeprefix("error: ")
    assert len(set(lines.values())) == 1, lines
    line = lines["api"]
    assert "\n" not in line and "--preset demo" in line and "--model-dir" in line
    assert not (tmp_path / "cli").exists() and not (tmp_path / "api").exists()
