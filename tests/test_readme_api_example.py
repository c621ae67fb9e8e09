"""The README's gradio_client example, run as written (twice in a row, against one server), with
only the server's address changed: it must work with the preset the server runs and the name
the build returns. The server runs ``tiny`` and then ``demo``, so an example that named a
preset (or a collection) of its own would fail on one of them."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from cdir.app.workspace import Workspace
from tests.drawn import draw_collection, draw_image
from tests.served import served_app

REPO = Path(__file__).resolve().parents[1]


def _example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```python\n(from gradio_client import Client, handle_file\n.*?)```", text, re.S
    )
    assert block, "the README's gradio_client example"
    return block.group(1)


@pytest.mark.parametrize("server_preset", ["tiny", "demo"])
def test_the_readme_api_example_runs_twice(
    server_preset: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = draw_collection(
        tmp_path / "src", domains=("photo", "sketch"), classes=("circle",), per_class=2
    )
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as zf:
        for path in files:
            zf.write(path, path.relative_to(tmp_path / "src").as_posix())
    draw_image("photo", "square", 1).save(tmp_path / "query.jpg")
    monkeypatch.chdir(tmp_path)
    workspace = Workspace(tmp_path / "ws")
    with served_app(workspace, tmp_path / "cache", preset=server_preset) as (url, demo):
        assert demo.cdir_actions.preset == server_preset
        code = _example().replace("http://127.0.0.1:7860/", url)
        names = []
        for _ in range(2):
            scope: dict = {}
            exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
            assert scope["final"]["stage"] == "final" and scope["first"]["stage"] == "image"
            names.append(scope["name"])
            # preset "": the collection is built with the preset the server runs
            assert scope["built"]["preset"] == server_preset, scope["built"]
            # the searches answered from the collection the build named
            assert scope["final"]["collection"] == scope["name"], scope["final"]
        assert names[0] != names[1] and all(n.startswith("mine-") for n in names)
    printed = capsys.readouterr().out
    assert "circle" in printed  # the hits it printed name files of the collection
