"""Downloads of results into the store's exports/ folder: search results (JSON, CSV with
scores), the map (plotly HTML) and the evaluation report (Markdown, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from cdir.evaluation.results import EvalReport
from cdir.export.downloads import (
    DownloadError,
    evaluation_report_files,
    map_html_file,
    search_results_file,
)


def _result(domain: str, scores: list[float]) -> dict:
    return {
        "query": {
            "kind": "text",
            "id": None,
            "text": "a cat",
            "caption": None,
            "caption_used": None,
            "domain": None,
            "class": None,
            "vectors": {},
            "pixel_sha256": "ab",
        },
        "hits": [
            {
                "rank": n + 1,
                "id": 10 + n,
                "score": s,
                "path": "/srv/secret/x.jpg",
                "rel_path": f"{domain}/cat/{n}.jpg",
                "thumb": "/srv/secret/t.jpg",
                "domain": domain,
                "class": "cat",
                "caption": f"caption {n}",
                "prompt": None,
                "width": 64,
                "height": 48,
            }
            for n, s in enumerate(scores)
        ],
        "options": {"mode": "caption", "k": 2},
    }


def test_search_results_json_and_csv(tmp_path: Path) -> None:
    result = _result("sketch", [0.9, 0.5])
    as_json = search_results_file(tmp_path, result, "json")
    assert as_json.parent == tmp_path / "exports" and as_json.suffix == ".json"
    data = json.loads(as_json.read_text(encoding="utf-8"))
    assert [h["score"] for h in data["hits"]] == [0.9, 0.5]
    assert "/srv/secret" not in as_json.read_text(encoding="utf-8")
    as_csv = search_results_file(
        tmp_path, [("sketch", result), ("photo", _result("photo", [0.7]))], "csv"
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text(encoding="utf-8"))))
    assert [(r["target_domain"], r["rank"], float(r["score"]), r["rel_path"]) for r in rows] == [
        ("sketch", "1", 0.9, "sketch/cat/0.jpg"),
        ("sketch", "2", 0.5, "sketch/cat/1.jpg"),
        ("photo", "1", 0.7, "photo/cat/0.jpg"),
    ]
    assert rows[0]["query_text"] == "a cat" and rows[0]["mode"] == "caption"
    assert "/srv/secret" not in as_csv.read_text(encoding="utf-8")
    again = search_results_file(tmp_path, result, "json")
    assert again != as_json and as_json.is_file()  # same second: a new name, nothing overwritten
    with pytest.raises(DownloadError, match="json or csv"):
        search_results_file(tmp_path, result, "xlsx")


def test_map_html_is_plotly_and_offline(tmp_path: Path) -> None:
    figure = go.Figure(go.Scattergl(x=[0, 1], y=[1, 0], mode="markers", name="sketch"))
    path = map_html_file(tmp_path, figure)
    html = path.read_text(encoding="utf-8")
    assert path.parent == tmp_path / "exports" and path.suffix == ".html"
    assert "Plotly.newPlot" in html and '"sketch"' in html
    assert '<script src="http' not in html  # plotly.js inlined: it opens offline
    assert '"toImageButtonOptions"' in html


def test_evaluation_report_files(tmp_path: Path) -> None:
    report = EvalReport(
        variants=["caption"],
        ks=(1,),
        domain_sizes={"photo": 2},
        n_classes=1,
        notes=["only one domain"],
    )
    paths = evaluation_report_files(tmp_path, report, {"dataset": "tiny"})
    assert set(paths) == {"md", "csv", "json"}
    assert all(p.parent.parent == tmp_path / "exports" for p in paths.values())
    assert "only one domain" in paths["md"].read_text(encoding="utf-8")
    assert paths["csv"].read_text(encoding="utf-8").startswith("variant,query_domain")
