"""The map figure: traces per colour value, ids in customdata, hover text, highlight, empty map."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

from cdir.maps.plots import map_figure, wrap_caption

DOMAINS = ["photo", "sketch", "painting", "photo", "clipart", "sketch", "photo"]


def items(domains: list[str] = DOMAINS) -> dict[str, object]:
    n = len(domains)
    hover = [
        {
            "caption": f"a drawing of thing number {i}",
            "domain": d,
            "class": f"c{i % 2}",
            "file": f"img_{i}.png",
        }
        for i, d in enumerate(domains)
    ]
    xy = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    return {"xy": xy, "color_by": domains, "hover": hover, "ids": [100 + i for i in range(n)]}


def test_one_trace_per_domain_with_ids_in_customdata() -> None:
    fig = map_figure(**items(), title="Collection")
    assert [t.name for t in fig.data] == ["clipart", "painting", "photo", "sketch"]
    photo = next(t for t in fig.data if t.name == "photo")
    assert [row[0] for row in photo.customdata] == [100, 103, 106]
    assert sorted(row[0] for t in fig.data for row in t.customdata) == list(range(100, 107))
    assert len({t.marker.color for t in fig.data}) == 4


def test_hover_shows_caption_domain_class_and_id() -> None:
    fig = map_figure(**items(), title="Collection")
    trace = fig.data[0]
    template = trace.hovertemplate
    assert "%{customdata[0]}" in template and "%{customdata[1]}" in template
    row = trace.customdata[0]
    assert row[1] == "a drawing of thing number 4" and row[2] == "clipart"
    assert row[3] == "c0" and row[4] == "img_4.png"


def test_caption_is_wrapped_and_escaped() -> None:
    wrapped = wrap_caption("a <b>bold</b> claim " + "word " * 30)
    assert "&lt;b&gt;" in wrapped and "<b>" not in wrapped
    assert all(len(html.unescape(line)) <= 60 for line in wrapped.split("<br>"))
    assert wrapped.count("<br>") >= 2


def test_highlight_is_drawn_last_and_larger() -> None:
    fig = map_figure(**items(), title="Collection", highlight=103)
    top = fig.data[-1]
    assert top.name == "selected" and top.showlegend is False
    assert top.customdata[0][0] == 103 and top.marker.size > fig.data[0].marker.size
    assert top.marker.line.width > 0
    assert top.legendgroup == "photo"
    assert len(map_figure(**items(), title="t", highlight=999).data) == 4  # unknown id: no marker


def test_layout_white_equal_aspect_no_ticks_legend_title() -> None:
    fig = map_figure(**items(), title="By class", color_title="class")
    layout = fig.layout
    assert layout.legend.title.text == "class" and layout.title.text == "By class"
    assert layout.yaxis.scaleanchor == "x"
    assert layout.xaxis.showticklabels is False and layout.yaxis.showticklabels is False
    assert layout.template.layout.paper_bgcolor == "white"
    json.loads(fig.to_json())  # serialisable, as gradio needs


def test_missing_colour_values_are_grouped() -> None:
    fig = map_figure(**items(["photo", "", "photo"]), title="t")
    assert sorted(t.name for t in fig.data) == ["photo", "unknown"]


def test_many_points_use_webgl() -> None:
    n = 6000
    fig = map_figure(
        np.zeros((n, 2)), ["photo"] * n, [{}] * n, list(range(n)), title="big", highlight=5
    )
    assert {t.type for t in fig.data} == {"scattergl"}


def test_empty_map_says_so() -> None:
    fig = map_figure(np.zeros((0, 2)), [], [], [], title="Empty")
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text == "No embedded images yet"


def test_length_mismatch_is_an_error() -> None:
    args = items()
    args["ids"] = args["ids"][:-1]  # type: ignore[index]
    with pytest.raises(ValueError, match="ids"):
        map_figure(**args, title="t")
