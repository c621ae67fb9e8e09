"""Security (issue 7 §5): what the running app serves, where uploads live, which paths a user can
name, that no code-executing loader touches user data, and the request size limit.

The threat model and what each defence answers are in ``docs/security.md``.
"""

from __future__ import annotations

import ast
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.app import main as app
from cdir.app.workspace import Workspace, WorkspaceError
from cdir.store.collection import IMAGE_EMB_FILE, Store, StoreError
from tests.drawn import draw_collection
from tests.served import served_app

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "cdir").rglob("*.py"), REPO / "app.py"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on a free port with one collection built through a real upload."""
    from gradio_client import Client, handle_file

    base = tmp_path_factory.mktemp("served")
    workspace = Workspace(base / "workspace")
    (base / "secret.txt").write_text("next to the workspace, not in it")
    src = base / "upload"
    draw_collection(src, domains=("photo",), classes=("circle", "square"), per_class=2)
    with served_app(workspace, base / "cache") as (url, demo):
        client = Client(url, verbose=False)
        files = [handle_file(str(p)) for p in sorted(src.rglob("*.png"))]
        built = client.predict(files, "mine", "tiny", "lazy", api_name="/build_collection")
        yield {
            "url": url.rstrip("/"),
            "workspace": workspace,
            "base": base,
            "owner": built["owner"],
            "name": built["collection"],
            "demo": demo,
            "store": workspace.root / built["collection"],
        }


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - localhost
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def file_url(running: dict[str, Any], path: str, quote: bool = True) -> str:
    return f"{running['url']}/gradio_api/file={urllib.parse.quote(path) if quote else path}"


# ------------------------------------------------------------------------------ what is served
def test_a_thumbnail_of_a_collection_is_served_only_through_its_signed_url(
    running: dict[str, Any],
) -> None:
    from cdir.app.views import file_url as page_url

    store = Store.load(running["store"])
    thumb = store.thumb_path(str(store.items.at[0, "sha256"]))
    assert get(file_url(running, str(thumb)))[0] in (403, 404)
    status, body = get(f"{running['url']}/{page_url(str(thumb))}")
    assert status == 200 and body[:3] == b"\xff\xd8\xff"  # a JPEG


def test_the_bundled_examples_are_served_and_nothing_else_of_the_assets(
    running: dict[str, Any],
) -> None:
    from cdir.app.views import file_url as page_url

    example = next(
        p
        for p in sorted((REPO / "cdir" / "assets" / "examples").rglob("*"))
        if p.suffix in (".png", ".jpg")
    )
    url = page_url(str(example))
    assert url.startswith("cdir-public/examples/") and str(REPO) not in url
    assert get(f"{running['url']}/{url}")[0] == 200
    assert get(file_url(running, str(example)))[0] in (403, 404)
    model = next(p for p in (REPO / "cdir" / "assets" / "models").rglob("*") if p.is_file())
    assert page_url(str(model)) == ""
    assert get(file_url(running, str(model)))[0] in (403, 404)


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        "{repo}/app.py",
        "{repo}/cdir/store/collection.py",
        "{repo}/cdir/assets/../app/main.py",
        "{workspace}/../secret.txt",
        "{workspace}/mine/../../secret.txt",
        "{workspace}/%2e%2e/secret.txt",
        "{workspace}/..%2fsecret.txt",
        "{workspace}//..//secret.txt",
        "{workspace}/link-out",
        "../../../../../../etc/passwd",
        "~/.bashrc",
    ],
)
def test_nothing_outside_the_workspace_and_assets_is_served(
    running: dict[str, Any], target: str
) -> None:
    workspace = running["workspace"].root
    link = workspace / "link-out"
    if not link.is_symlink():
        link.symlink_to(running["base"] / "secret.txt")  # as if something made one
    path = target.format(repo=REPO, workspace=workspace)
    for quote in (True, False):
        status, body = get(file_url(running, path, quote=quote))
        assert status in (403, 404), (path, quote, status)
        assert b"not in it" not in body and b"root:" not in body


def test_uploads_live_only_under_the_workspace(running: dict[str, Any]) -> None:
    root = running["workspace"].root
    demo = running["demo"]
    assert Path(demo.GRADIO_CACHE).resolve().is_relative_to(root)
    cached = [p for p in Path(demo.GRADIO_CACHE).rglob("*.png")]
    assert cached  # gradio's own copies of the upload, in the workspace's .gradio folder
    store = Store.load(running["store"])
    for _, row in store.items.iterrows():
        assert not Path(str(row["path"])).is_absolute()  # relative to the collection
        assert store.image_path(row).resolve().is_relative_to(running["store"])
    # .gradio is not a collection
    assert running["workspace"].collections(running["owner"]) == [running["name"]]


def test_the_upload_size_limit_is_set_and_enforced(running: dict[str, Any]) -> None:
    demo = running["demo"]
    assert app.launch_options(running["workspace"])["max_file_size"] == "500mb"
    assert demo.max_file_size == 500 * 2**20
    demo.max_file_size = 1000  # the same check, at a size a test can send
    try:
        body = (
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + bytes(5000) + b"\r\n--b--\r\n"
        )
        request = urllib.request.Request(
            f"{running['url']}/gradio_api/upload",
            data=body,
            method="POST",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - localhost
        assert refused.value.code == 413
    finally:
        demo.max_file_size = 500 * 2**20


# ------------------------------------------------------------------------ user-supplied paths
@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../etc",
        "/etc",
        "/tmp",
        "mine/../..",
        "mine/thumbs",
        "My Collection",
        "",
        "%2e%2e",
        ".gradio",
        "mine\\..",
        "mine\x00",
        "~",
    ],
)
def test_workspace_paths_refuse_anything_but_a_slug(running: dict[str, Any], name: str) -> None:
    with pytest.raises(WorkspaceError):
        running["workspace"].path(name)


def test_a_slug_that_is_no_collection_is_refused(running: dict[str, Any]) -> None:
    assert running["workspace"].path(running["name"], running["owner"]) == running["store"]
    with pytest.raises(StoreError, match="no collection named"):
        running["workspace"].path("theirs", running["owner"])
    with pytest.raises(StoreError, match="no collection named"):  # someone else's: same words
        running["workspace"].path(running["name"], "another visitor")


def test_a_collection_name_can_never_escape(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    for name in ("../../escape", "/etc/cron.d/x", "..", "a/../../b", "\x00", "名前"):
        made = workspace.new_collection(name)
        assert made.parent == workspace.root and workspace.owns(made)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]


def test_upload_file_names_cannot_escape(tmp_path: Path) -> None:
    from cdir.app.workspace import copy_uploads

    collection = Workspace(tmp_path / "ws").new_collection("c")
    sources = []
    for n, name in enumerate(["..png", ".hidden.png", "a\x01b.png"]):
        path = tmp_path / f"up{n}" / name
        path.parent.mkdir()
        Image.new("RGB", (4, 4)).save(path, "PNG")
        sources.append(path)
    copied = copy_uploads(sources, collection)
    assert all(p.parent == collection / "files" / "uploads" for p in copied)
    assert not any(p.name.startswith(".") for p in copied)


# ---------------------------------------------------------------------------- no pickle loads
class _Loads(ast.NodeVisitor):
    """Calls that could run code from a file: pickle-family imports, np.load without
    allow_pickle=False, torch.load without weights_only=True, pandas read_pickle, eval/exec."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def visit_Import(self, node: ast.Import) -> None:
        self._modules([alias.name for alias in node.names], node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._modules([node.module or ""], node)

    def _modules(self, names: list[str], node: ast.AST) -> None:
        risky = {
            "pickle",
            "cPickle",
            "_pickle",
            "dill",
            "joblib",
            "shelve",
            "marshal",
            "cloudpickle",
        }
        for name in names:
            if name.split(".")[0] in risky:
                self.problems.append(f"line {node.lineno}: imports {name}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        owner = (
            func.value.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else None
        )
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if owner in ("np", "numpy") and name == "load" and not _kw(node, "allow_pickle", False):
            self.problems.append(f"line {node.lineno}: np.load without allow_pickle=False")
        if owner == "torch" and name == "load" and not _kw(node, "weights_only", True):
            self.problems.append(f"line {node.lineno}: torch.load without weights_only=True")
        if name in ("read_pickle", "loads") and owner in ("pd", "pandas", "pickle"):
            self.problems.append(f"line {node.lineno}: {owner}.{name}")
        if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
            self.problems.append(f"line {node.lineno}: {func.id}()")
        self.generic_visit(node)


def _kw(call: ast.Call, name: str, value: object) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in call.keywords
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_code_executing_loader_in_the_sources(path: Path) -> None:
    visitor = _Loads()
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    assert visitor.problems == []


def test_the_checker_finds_what_it_looks_for() -> None:
    visitor = _Loads()
    visitor.visit(
        ast.parse(
            "import pickle\nnp.load(p)\ntorch.load(p)\nnp.load(p, "
            "allow_pickle=True)\npd.read_pickle(p)\neval(s)\nm.eval()\n"
        )
    )
    assert len(visitor.problems) == 6


class _Payload:
    """Unpickling this writes a file: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "pickle ran"))


def test_a_store_matrix_holding_a_pickle_is_refused_unrun(tmp_path: Path) -> None:
    store = tmp_path / "store"
    api.ingest(
        [
            draw_collection(tmp_path / "src", domains=("photo",), classes=("circle",), per_class=2)[
                0
            ].parent
        ],
        store,
        "tiny",
    )
    marker = tmp_path / "pwned.txt"
    hostile = np.empty(2, dtype=object)
    hostile[:] = [_Payload(marker), _Payload(marker)]
    np.save(store / IMAGE_EMB_FILE, hostile, allow_pickle=True)
    with pytest.raises(StoreError, match="image_emb.npy is damaged"):
        Store.load(store)
    assert not marker.exists()


def test_the_threat_model_is_written_down() -> None:
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    for heading in ("## Parties", "## Rules and how they hold", "## Out of scope"):
        assert heading in text
    for party in ("**operator**", "**owner**", "**visitor**"):
        assert party in text
    assert "allowed_paths=[]" in text
