"""One real server for the attacks of ``tests/security/``: the app as ``python app.py`` runs it
(tiny preset), with the shared examples, a collection built by visitor A and one by visitor B,
each through a real upload. The threat model is ``docs/security.md``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdir import api
from cdir.app.workspace import Workspace
from tests.drawn import draw_collection
from tests.security.visitors import Server, build
from tests.served import served_app


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from gradio_client import Client

    base = tmp_path_factory.mktemp("security")
    workspace = Workspace(base / "workspace")
    (base / "secret.txt").write_text("next to the workspace, not in it")
    examples_src = base / "examples-src"
    draw_collection(examples_src, domains=("photo", "sketch"), classes=("circle",), per_class=2)
    api.ingest([examples_src], workspace.examples_dir("tiny"), "tiny")  # as the app loads them
    src = base / "upload"
    files = draw_collection(src, domains=("photo",), classes=("circle", "square"), per_class=4)
    with served_app(workspace, base / "cache") as (url, demo):
        client = Client(url, verbose=False)
        a = build(client, files[:4], "mine")
        b = build(client, files[4:], "mine")  # B picks the same name as A
        yield Server(
            url.rstrip("/"),
            demo,
            workspace,
            base,
            client,
            a["owner"],
            a["collection"],
            b["owner"],
            b["collection"],
            workspace.examples_dir("tiny").name,
        )
