"""The plotly figures the app shows: a 2-D map of the collection, coloured by domain or class.

Every point carries ``customdata = [id, caption, domain, class, file, thumbnail URL]``, so a click
or a selection in the browser maps back to an item id with ``point["customdata"][0]`` (see
:mod:`cdir.maps.selection`), and a hover handler in the page can show the thumbnail
(``customdata[5]``, empty when the caller gave none).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cdir.maps.label_layout import PlacedLabel

log = logging.getLogger(__name__)

HOVER_KEYS: tuple[str, ...] = ("caption", "domain", "class", "file")
HOVER_TEMPLATE = (
    "%{customdata[1]}<br><b>domain</b> %{customdata[2]} · <b>class</b> %{customdata[3]}"
    "<br><b>id</b> %{customdata[0]} · %{customdata[4]}<extra></extra>"
)
CAPTION_WIDTH = 60
WEBGL_MIN_POINTS = 5_000  # draw with WebGL (Scattergl) from this many points on
MARKER_SIZE = 7
HIGHLIGHT_SIZE = 16
HIGHLIGHT_NAME = "selected"
MISSING_LABEL = "unknown"
THUMB_INDEX = 5  # customdata[5]: the thumbnail URL shown on hover
# a white halo round a cluster name's letters (CSS text-shadow, plotly.js font.shadow)
LABEL_HALO = "1px 1px 2px #fff, -1px -1px 2px #fff, 1px -1px 2px #fff, -1px 1px 2px #fff"


def map_figure(
    xy: np.ndarray,
    color_by: Sequence[str],
    hover: Sequence[Mapping[str, Any]],
    ids: Sequence[int],
    title: str,
    highlight: int | None = None,
    *,
    color_title: str = "domain",
) -> Any:
    """A scatter of map coordinates, one trace (legend entry) per value of ``color_by``.

    ``hover[i]`` may hold ``caption``, ``domain``, ``class``, ``file`` and ``thumb`` (a URL the
    page shows on hover; not escaped, set it as an image's ``src`` only); ``highlight`` is an
    item id drawn on top as a larger outlined marker; ``color_title`` titles the legend. Returns a
    ``plotly.graph_objects.Figure``; with no points it says "No embedded images yet".
    """
    import plotly.graph_objects as go

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    _check_lengths(len(xy), color_by=color_by, hover=hover, ids=ids)
    if len(xy) == 0:
        return empty_figure(title)
    labels = np.array([str(v) if v not in (None, "") else MISSING_LABEL for v in color_by])
    custom = _customdata_matrix(ids, hover)
    colors = _palette(sorted(set(labels.tolist())))
    scatter = go.Scattergl if len(xy) >= WEBGL_MIN_POINTS else go.Scatter
    fig = go.Figure()
    for label, color in colors.items():
        mask = labels == label
        fig.add_trace(_points(scatter, xy[mask], custom[mask], label, color))
    if highlight is not None:
        _add_highlight(fig, scatter, xy, custom, labels, colors, highlight)
    _style(fig, title, color_title)
    return fig


def empty_figure(title: str, message: str = "No embedded images yet") -> Any:
    """A blank map with ``message`` in the middle."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font_size=16
    )
    _style(fig, title, legend_title="")
    return fig


def wrap_caption(caption: str, width: int = CAPTION_WIDTH) -> str:
    """HTML-escape a caption and break it into ``<br>``-joined lines of about ``width`` chars."""
    lines: list[str] = []
    for word in str(caption).split():  # greedy; textwrap is ~10x slower on 20k captions
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return html.escape("\n".join(lines)).replace("\n", "<br>")  # one escape per caption


def _check_lengths(n: int, **columns: Sequence[Any]) -> None:
    wrong = {name: len(col) for name, col in columns.items() if len(col) != n}
    if wrong:
        raise ValueError(f"expected {n} entries (one per point) but got {wrong}")


def _customdata_matrix(ids: Sequence[int], hover: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(N, 6) object array, one :data:`HOVER_TEMPLATE` row per point, filled column by column
    (domain and class repeat, so each distinct value is escaped once)."""
    custom = np.empty((len(hover), 6), dtype=object)
    custom[:, 0] = [int(i) for i in ids]
    custom[:, 1] = [wrap_caption(h.get("caption") or "", CAPTION_WIDTH) for h in hover]
    escaped: dict[str, str] = {}
    for column, key in enumerate(HOVER_KEYS[1:3], start=2):
        values = [str(h.get(key) or "") for h in hover]
        for value in set(values) - escaped.keys():
            escaped[value] = html.escape(value)
        custom[:, column] = [escaped[v] for v in values]
    custom[:, 4] = [html.escape(str(h.get("file") or "")) for h in hover]
    custom[:, THUMB_INDEX] = [str(h.get("thumb") or "") for h in hover]
    return custom


def _palette(labels: Sequence[str]) -> dict[str, str]:
    """A colour per label: colour-blind-safe up to 11 labels, then 26 distinct ones, then cycled."""
    from plotly.colors import qualitative

    colors = qualitative.Safe if len(labels) <= len(qualitative.Safe) else qualitative.Alphabet
    return {label: colors[i % len(colors)] for i, label in enumerate(labels)}


def _points(scatter: Any, xy: np.ndarray, custom: np.ndarray, name: str, color: str) -> Any:
    return scatter(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers",
        name=name,
        legendgroup=name,
        customdata=custom,
        hovertemplate=HOVER_TEMPLATE,
        marker={"size": MARKER_SIZE, "color": color, "opacity": 0.85, "line": {"width": 0}},
    )


def _add_highlight(
    fig: Any,
    scatter: Any,
    xy: np.ndarray,
    custom: np.ndarray,
    labels: np.ndarray,
    colors: Mapping[str, str],
    item_id: int,
) -> None:
    """Draw the point with ``item_id`` last (on top), larger, with a dark outline."""
    rows = np.flatnonzero(custom[:, 0] == item_id)
    if len(rows) == 0:
        log.debug("highlighted id %s is not on the map", item_id)
        return
    row = rows[:1]
    label = str(labels[row[0]])
    trace = _points(scatter, xy[row], custom[row], HIGHLIGHT_NAME, colors[label])
    trace.update(marker={"size": HIGHLIGHT_SIZE, "line": {"width": 2.5, "color": "#222"}})
    trace.update(showlegend=False, legendgroup=label, opacity=1.0)
    fig.add_trace(trace)


def highlight_point(fig: Any, item_id: int | None) -> Any:
    """``fig`` (a :func:`map_figure`) with its highlighted point moved to ``item_id`` (None: no
    highlight), without rebuilding the other traces; returns ``fig``."""
    fig.data = tuple(t for t in fig.data if t.name != HIGHLIGHT_NAME)
    if item_id is None:
        return fig
    for trace in list(fig.data):
        custom = np.asarray(trace.customdata if trace.customdata is not None else [], dtype=object)
        if custom.ndim != 2 or not len(custom):
            continue
        rows = np.flatnonzero(custom[:, 0].astype(np.int64) == int(item_id))
        if len(rows):
            xy = np.column_stack([np.asarray(trace.x)[rows[:1]], np.asarray(trace.y)[rows[:1]]])
            marker = {
                "size": HIGHLIGHT_SIZE,
                "color": trace.marker.color,
                "line": {"width": 2.5, "color": "#222"},
            }
            fig.add_trace(
                type(trace)(
                    x=xy[:, 0],
                    y=xy[:, 1],
                    mode="markers",
                    name=HIGHLIGHT_NAME,
                    customdata=custom[rows[:1]],
                    showlegend=False,
                    hovertemplate=HOVER_TEMPLATE,
                    marker=marker,
                )
            )
            return fig
    log.debug("highlighted id %s is not on the map", item_id)
    return fig


def add_cluster_labels(fig: Any, labels: Sequence[PlacedLabel]) -> Any:
    """Write each cluster's name on ``fig`` where :func:`cdir.maps.label_layout.place_labels`
    placed it (beside its points), with a thin line to the cluster when the name had to move
    away from it, on a half-transparent white box with a white halo round the letters so points
    underneath stay visible; names are HTML-escaped. Returns ``fig``."""
    for label in labels:
        moved = label.position != label.anchor
        fig.add_annotation(
            x=label.anchor[0],
            y=label.anchor[1],
            ax=label.position[0],
            ay=label.position[1],
            axref="x",
            ayref="y",
            text=f"<b>{html.escape(label.name)}</b>",
            showarrow=moved,
            arrowhead=0,
            arrowwidth=1,
            arrowcolor="#555",
            font={"size": 13, "color": "#111", "shadow": LABEL_HALO},
            bgcolor="rgba(255,255,255,0.6)",
            bordercolor="#777",
            borderwidth=1,
            borderpad=2,
            name="cluster name",
        )
    return fig


def _style(fig: Any, title: str, legend_title: str) -> None:
    axis = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01},
        legend={"title": {"text": legend_title}, "itemsizing": "constant"},
        hovermode="closest",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={**axis, "title": {"text": ""}},
        yaxis={**axis, "title": {"text": ""}, "scaleanchor": "x", "scaleratio": 1},
    )


def histogram_figure(
    edges: Sequence[float], counts: Sequence[int], threshold: float | None, title: str, x_title: str
) -> Any:
    """Bars of nearest-neighbour values with the current threshold as a dashed line."""
    import plotly.graph_objects as go

    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=list(counts),
            width=widths,
            marker_color="#6366f1",
            hovertemplate="%{x:.3g}: %{y} images<extra></extra>",
        )
    )
    if threshold is not None:
        fig.add_vline(
            x=threshold,
            line_dash="dash",
            line_color="#dc2626",
            annotation_text=f"threshold {threshold:g}",
        )
    fig.update_layout(
        template="plotly_white",
        title=title,
        height=320,
        bargap=0.05,
        xaxis_title=x_title,
        yaxis_title="images",
        margin=dict(l=40, r=20, t=50, b=40),
    )
    return fig
