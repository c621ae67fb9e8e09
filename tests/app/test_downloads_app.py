"""The app's download buttons, called directly (no browser): each writes its file inside the open
collection's exports/ folder, with what the page shows."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import datasets
import gradio as gr
import pyarrow.parquet as pq
import pytest

from cdir import api
from cdir.app.handlers import AppActions
from cdir.app.queries import SearchSettings
from cdir.app.workspace import Workspace
from cdir.store.collection import Store
from cdir.store.tags import add_tags
from tests.drawn import draw_collection

DOMAINS = ("photo", "sketch")
CLASSES = ("circle", "square")
SETTINGS = ("caption", 3, False, [], False, "", 0.5, 1.0, 0.5)  # the search widgets' values
CROSS = ("caption", 2, True, [], False, "", 0.5, 1.0, 0.5)  # the same, cross-domain view


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> AppActions:
    return AppActions(Workspace(tmp_path_factory.mktemp("workspace")), "tiny")


@pytest.fixture(scope="module")
def store(actions: AppActions, tmp_path_factory: pytest.TempPathFactory) -> str:
    """8 labelled images (2 domains x 2 classes x 2), captioned now."""
    src = tmp_path_factory.mktemp("upload")
    files = draw_collection(src, DOMAINS, CLASSES, per_class=2)
    archive = src / "shapes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in files:
            zf.write(path, path.relative_to(src).as_posix())
    return actions.build([str(archive)], "shapes", "tiny", "all")[0]


def _exports(store: str) -> Path:
    return Path(store) / "exports"


def _inside_exports(store: str, path: str) -> Path:
    found = Path(path)
    assert found.resolve().parent == _exports(store).resolve(), found
    return found


def test_search_results_download_as_json_with_the_scores_shown(
    actions: AppActions, store: str
) -> None:
    out = actions.ui_search("text", store, "a red circle", *SETTINGS)
    query = out[3]
    assert query == {"kind": "text", "value": "a red circle"}
    path = _inside_exports(store, actions.download_search("json", store, query, *SETTINGS))
    assert path.suffix == ".json"
    data = json.loads(path.read_text(encoding="utf-8"))
    expected = api.search(
        api.session_for(store),
        text="a red circle",
        options=SearchSettings.from_widgets(*SETTINGS).options(),
    )
    assert [(h["id"], h["score"]) for h in data["hits"]] == [
        (h["id"], pytest.approx(h["score"])) for h in expected.to_dict()["hits"]
    ]
    assert len(data["hits"]) == 3 and data["query"]["text"] == "a red circle"
    assert data["options"]["mode"] == expected.options.mode  # a text query matches as text
    assert str(Path(store).parent) not in path.read_text(encoding="utf-8")  # no server path
    # the table on the page shows the same scores, rounded
    assert [row[0] for row in out[2]] == [1, 2, 3]


def test_search_results_download_as_csv_per_target_domain(actions: AppActions, store: str) -> None:
    query = {"kind": "item", "value": "0:1"}
    path = _inside_exports(store, actions.download_search("csv", store, query, *CROSS))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["target_domain"] for r in rows] == ["photo", "photo", "sketch", "sketch"]
    assert all(r["domain"] == r["target_domain"] for r in rows)
    assert all(r["query_id"] == "0" and float(r["score"]) <= 1.0 for r in rows)
    ranks = [(r["target_domain"], r["rank"]) for r in rows]
    assert ranks == [("photo", "1"), ("photo", "2"), ("sketch", "1"), ("sketch", "2")]


def test_search_download_without_a_search_says_what_to_do(actions: AppActions, store: str) -> None:
    with pytest.raises(gr.Error, match="Search for something first"):
        actions.download_search("json", store, None, *SETTINGS)
    with pytest.raises(ValueError, match="json or csv"):
        actions.download_search("xlsx", store, {"kind": "text", "value": "a"}, *SETTINGS)
    with pytest.raises(gr.Error, match="Open a collection first"):
        actions.download_search("json", None, {"kind": "text", "value": "a"}, *SETTINGS)


def test_map_downloads_as_interactive_html(actions: AppActions, store: str) -> None:
    path = _inside_exports(store, actions.download_map(store, "pca", "image", "domain"))
    html = path.read_text(encoding="utf-8")
    assert path.suffix == ".html" and "Plotly.newPlot" in html
    assert all(f'"{d}"' in html for d in DOMAINS)  # one trace per domain, named
    assert '<script src="http' not in html and '"toImageButtonOptions"' in html
    assert str(Path(store).parent) not in html


def test_evaluation_report_downloads_as_markdown_and_csv(actions: AppActions, store: str) -> None:
    with pytest.raises(gr.Error, match="Evaluate this collection first"):
        actions.download_eval(store, None)
    shown, kept = actions.evaluate_and_keep(store)
    assert "P@1" in shown
    md, table = actions.download_eval(store, kept)
    md_path, csv_path = Path(md), Path(table)
    assert md_path.name == "report.md" and csv_path.name == "report.csv"
    assert md_path.parent.parent.resolve() == _exports(store).resolve()
    text = md_path.read_text(encoding="utf-8")
    assert "photo → sketch" in text and "sketch → photo" in text
    assert str(Path(store).parent) not in text
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    pairs = {(r["query_domain"], r["gallery_domain"]) for r in rows}
    assert {("photo", "sketch"), ("sketch", "photo")} <= pairs  # and the averages ("all")
    assert {"caption", "image"} <= {r["variant"] for r in rows}
    # the report of another collection is not offered as this one's
    with pytest.raises(gr.Error, match="Evaluate this collection first"):
        actions.download_eval(store, {**kept, "store": str(Path(store).parent / "other")})


def test_collection_downloads_as_parquet_with_tags(actions: AppActions, store: str) -> None:
    first = int(Store.load(store).items["id"].iloc[0])
    add_tags(store, [first], ["favourite"])
    path = _inside_exports(store, actions.download_collection("parquet", store))
    table = pq.read_table(path)
    assert table.num_rows == 8
    assert sorted(set(table.column("domain").to_pylist())) == list(DOMAINS)
    assert sorted(set(table.column("class").to_pylist())) == list(CLASSES)
    tags = dict(
        zip(table.column("file_name").to_pylist(), table.column("tags").to_pylist(), strict=True)
    )
    name = str(Store.load(store).items["rel_path"].iloc[0])
    assert tags[name] == ["favourite"]
    assert sum(1 for t in tags.values() if t) == 1


def test_collection_downloads_as_a_zipped_dataset(
    actions: AppActions, store: str, tmp_path: Path
) -> None:
    path = _inside_exports(store, actions.download_collection("datasets", store))
    assert path.suffix == ".zip"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path)
    loaded = datasets.load_from_disk(str(tmp_path / path.stem))
    assert len(loaded) == 8
    assert {(r["domain"], r["class"]) for r in loaded} == {(d, c) for d in DOMAINS for c in CLASSES}
    assert all(len(r["image_embedding"]) > 0 and r["caption"] for r in loaded)
    # only the zip stays: no unzipped folder, no half-written file
    left = [p.name for p in _exports(store).iterdir() if p.name.startswith("collection")]
    assert all(name.endswith((".zip", ".parquet")) for name in left)
    with pytest.raises(ValueError, match="datasets or parquet"):
        actions.download_collection("xlsx", store)
