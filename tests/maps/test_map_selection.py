"""Map selection: box and lasso regions to item ids, plotly event points to ids, the clicked
point's highlight, thumbnails in customdata for hover, cluster names drawn, WebGL for big maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cdir.maps.plots import (
    HIGHLIGHT_NAME,
    THUMB_INDEX,
    WEBGL_MIN_POINTS,
    add_cluster_labels,
    highlight_point,
    map_figure,
)
from cdir.maps.selection import ids_in_region, in_polygon, selected_ids

GRID = np.array([[x, y] for y in range(5) for x in range(5)], dtype=np.float64)  # 5 x 5 points
IDS = np.arange(100, 125)


def test_box_selection_keeps_exactly_the_points_inside_edges_included() -> None:
    box = {"range": {"x": [3.0, 1.0], "y": [0.5, 2.0]}}  # corners in any order
    assert ids_in_region(GRID, IDS, box).tolist() == [106, 107, 108, 111, 112, 113]


def test_lasso_selection_follows_the_polygon() -> None:
    triangle = {"lassoPoints": {"x": [-0.5, 4.5, -0.5], "y": [-0.5, -0.5, 4.5]}}
    inside = ids_in_region(GRID, IDS, triangle)
    expected = [100 + 5 * y + x for y in range(5) for x in range(5) if x + y <= 3]
    assert inside.tolist() == expected
    # a concave "U": the notch is outside
    u = (
        np.array(
            [[0, 0], [4.5, 0], [4.5, 4.5], [3.5, 4.5], [3.5, 1], [0.5, 1], [0.5, 4.5], [0, 4.5]],
            dtype=float,
        )
        - 0.25
    )
    got = in_polygon(GRID, u)
    assert got[GRID.tolist().index([2.0, 3.0])] == False  # noqa: E712  (in the notch)
    assert got[GRID.tolist().index([0.0, 3.0])] and got[GRID.tolist().index([4.0, 3.0])]
    assert got[GRID.tolist().index([2.0, 0.0])]


def test_bad_regions_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="draw a box or a lasso"):
        ids_in_region(GRID, IDS, {})
    with pytest.raises(ValueError, match="one id per point"):
        ids_in_region(GRID, IDS[:3], {"range": {"x": [0, 1], "y": [0, 1]}})
    assert not in_polygon(GRID, np.array([[0, 0], [1, 1]])).any()


def test_event_points_map_to_ids_once_skipping_points_without_ids() -> None:
    event = {
        "points": [
            {"customdata": [5, "cap"]},
            {"customdata": [3]},
            {"customdata": 5},
            {"x": 1, "y": 2},
            {"customdata": ["not an id"]},
            {"customdata": "7"},
        ]
    }
    assert selected_ids(event) == [5, 3, 7]
    assert selected_ids(None) == [] and selected_ids({"points": None}) == []


def figure(n: int = 7, thumbs: bool = True):  # noqa: ANN201
    hover = [
        {
            "caption": f"thing {i}",
            "domain": "a" if i % 2 else "b",
            "class": "c",
            "file": f"f{i}.png",
            **({"thumb": f"/thumb/{i}.jpg?x=1&y=2"} if thumbs else {}),
        }
        for i in range(n)
    ]
    xy = np.random.default_rng(0).normal(size=(n, 2))
    return map_figure(xy, [h["domain"] for h in hover], hover, list(range(n)), "t")


def test_customdata_carries_the_thumbnail_url_for_hover() -> None:
    fig = figure()
    rows = [row for t in fig.data for row in t.customdata]
    assert {row[THUMB_INDEX] for row in rows} == {f"/thumb/{i}.jpg?x=1&y=2" for i in range(7)}
    assert all(row[THUMB_INDEX] == "" for t in figure(thumbs=False).data for row in t.customdata)


def test_the_clicked_point_is_highlighted_once_and_can_move() -> None:
    fig = highlight_point(figure(), 3)
    top = fig.data[-1]
    assert top.name == HIGHLIGHT_NAME and top.customdata[0][0] == 3
    trace = next(t for t in fig.data[:-1] if 3 in [row[0] for row in t.customdata])
    row = [r[0] for r in trace.customdata].index(3)
    assert (top.x[0], top.y[0]) == (trace.x[row], trace.y[row])
    assert top.marker.color == trace.marker.color and top.marker.size > trace.marker.size
    fig = highlight_point(fig, 4)
    assert [t.name for t in fig.data].count(HIGHLIGHT_NAME) == 1
    assert fig.data[-1].customdata[0][0] == 4
    assert HIGHLIGHT_NAME not in [t.name for t in highlight_point(fig, None).data]
    assert HIGHLIGHT_NAME not in [t.name for t in highlight_point(figure(), 99).data]


def test_cluster_names_are_drawn_escaped() -> None:
    from cdir.maps.label_layout import PlacedLabel

    labels = [
        PlacedLabel("cat sofa", (1.0, 2.0), (1.0, 2.0), (1.0, 0.2), 0),
        PlacedLabel("<b>x</b>", (0.0, 0.0), (0.5, 0.5), (1.0, 0.2), 0),
    ]
    fig = add_cluster_labels(figure(), labels)
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["<b>cat sofa</b>", "<b>&lt;b&gt;x&lt;/b&gt;</b>"]
    assert (fig.layout.annotations[0].x, fig.layout.annotations[0].y) == (1.0, 2.0)
    # a name left on its cluster has no line; a moved one has
    assert [a.showarrow for a in fig.layout.annotations] == [False, True]
    json.loads(fig.to_json())


def test_big_maps_use_webgl() -> None:
    n = WEBGL_MIN_POINTS
    xy = np.random.default_rng(1).normal(size=(n, 2))
    fig = map_figure(xy, ["a"] * n, [{}] * n, list(range(n)), "big")
    assert {t.type for t in fig.data} == {"scattergl"}
    assert figure().data[0].type == "scatter"
