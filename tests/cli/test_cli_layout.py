"""``cdir ingest`` prints the folder layout it labelled by, and --domain-level / --class-level
override the guess (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdir import cli
from cdir.store.collection import Store
from tests.drawn import draw_image


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batches")
    for n, (batch, cls) in enumerate((b, c) for b in ("p0", "p1") for c in ("circle", "cross")):
        (root / batch / cls).mkdir(parents=True)
        draw_image("photo", cls, n % 5).save(root / batch / cls / f"{n}.png")
    return root


def _ingest(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["ingest", *map(str, args), "--preset", "tiny", "--captions", "none", "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_prints_the_guess_and_takes_levels(
    capsys: pytest.CaptureFixture[str], batches: Path, tmp_path: Path
) -> None:
    code, out, _ = _ingest(capsys, batches, "--store", tmp_path / "guessed")
    assert code == 0
    assert "  folders: domains: none from folders; classes: 2 (from level 2); 4 images" in out
    items = Store.load(tmp_path / "guessed").items
    assert set(items["class"]) == {"circle", "cross"}
    code, out, _ = _ingest(
        capsys, batches, "--store", tmp_path / "chosen", "--domain-level", "1", "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["layout"].startswith("domains: p0, p1 (from level 1)")
    assert set(Store.load(tmp_path / "chosen").items["domain"]) == {"p0", "p1"}
    code, _, err = _ingest(capsys, batches, "--store", tmp_path / "bad", "--class-level", "x")
    assert code == 2 and "a folder level is a number" in err and "Traceback" not in err
