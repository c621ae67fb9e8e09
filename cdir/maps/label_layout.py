"""Where each cluster's name goes on the map: beside its points, not on top of them.

A name drawn at the middle of its cluster hides the very points it names. :func:`place_labels`
tries, for each cluster (in the order given: the largest first), the middle and positions on
rings around the cluster's edge in 16 directions, and keeps the one whose box overlaps no name
already placed, then covers the fewest points of the whole map, then lies nearest the cluster
(a greedy layout, as map labelling does; see Christensen, Marks & Shieber 1995, "An empirical study
of algorithms for point-feature label placement", ACM TOG 14(3)). The name is then drawn there
with a thin line to the cluster (:func:`cdir.maps.plots.add_cluster_labels`).

Sizes are in data units, from an assumed drawing area (:class:`LabelStyle`: the map is drawn
with equal x and y scales, so one data unit is the same number of pixels on both axes) and an
average character width; the browser's exact text metrics are not known on the server, so the
boxes are estimates, slightly generous. The points under each candidate box are counted on a
grid of 2-px squares through a summed-area table (Crow 1984, "Summed-area tables for texture
mapping", SIGGRAPH), never fewer than are there: 30 names over 200,000 points take about a
second, where counting every point for every candidate took over a minute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DIRECTIONS = 16
RINGS = (1.0, 1.5, 2.2)  # ring radii, in multiples of the cluster's radius


@dataclass(frozen=True)
class LabelStyle:
    """How a name is drawn, in pixels: ``font_px`` text size, ``char_em`` average width of a
    (bold) character in font sizes, ``pad_px`` padding and border around the text,
    ``marker_px`` a point's diameter, ``plot_px`` (width, height) of the drawing area the map is
    assumed to fill."""

    font_px: float = 13.0
    char_em: float = 0.62
    pad_px: float = 4.0
    marker_px: float = 7.0
    plot_px: tuple[float, float] = (700.0, 450.0)


@dataclass(frozen=True)
class PlacedLabel:
    """A cluster's name and where it goes: ``anchor`` (x, y) the cluster member nearest its mean,
    which the name points to; ``position`` (x, y) the centre of the name's box; ``size``
    (width, height) of the box; all in data units. ``covered``: how many points of the map the
    box hides."""

    name: str
    anchor: tuple[float, float]
    position: tuple[float, float]
    size: tuple[float, float]
    covered: int


def data_per_pixel(xy: np.ndarray, style: LabelStyle = LabelStyle()) -> float:
    """Data units per pixel of a map of ``xy`` (N, 2) drawn with equal scales into
    ``style.plot_px`` (plotly pads the points' range by about 5 % on each side). 1.0 for fewer
    than two distinct points."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) < 2:
        return 1.0
    span = (xy.max(axis=0) - xy.min(axis=0)) * 1.1
    scale = max(span[0] / style.plot_px[0], span[1] / style.plot_px[1])
    return float(scale) if scale > 0 else 1.0


def label_size(name: str, scale: float, style: LabelStyle = LabelStyle()) -> tuple[float, float]:
    """(width, height) in data units of ``name``'s box at ``scale`` data units per pixel."""
    width = len(name) * style.char_em * style.font_px + 2 * style.pad_px
    height = 1.3 * style.font_px + 2 * style.pad_px
    return width * scale, height * scale


def points_covered(
    xy: np.ndarray, centres: np.ndarray, size: tuple[float, float], reach: float = 0.0
) -> np.ndarray:
    """(C,) int64: for each box centre of ``centres`` (C, 2) with ``size`` (width, height), how
    many points of ``xy`` (N, 2) it covers; ``reach`` (data units, a marker's radius) counts a
    point whose marker touches the box."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    half = np.array(size, dtype=np.float64) / 2 + reach
    inside = np.abs(xy[None, :, :] - centres[:, None, :]) <= half  # (C, N, 2)
    return inside.all(axis=2).sum(axis=1).astype(np.int64)


class _CountGrid:
    """Points counted on a grid of ``cell``-sized squares with a summed-area table, so the points
    under any box are counted in constant time (a point is counted when its square meets the
    box: at most one square too many on each side, never too few)."""

    def __init__(self, xy: np.ndarray, cell: float) -> None:
        self.cell = cell
        self.origin = xy.min(axis=0) if len(xy) else np.zeros(2)
        shape = np.maximum(np.ceil((np.ptp(xy, axis=0) if len(xy) else 0) / cell), 0) + 1
        cells = np.floor((xy - self.origin) / cell).astype(np.int64)
        counts = np.zeros(shape.astype(np.int64), dtype=np.int64)
        np.add.at(counts, (cells[:, 0], cells[:, 1]), 1)
        self.table = np.pad(counts.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))

    def count(self, centres: np.ndarray, half: np.ndarray) -> np.ndarray:
        """(C,) points under the boxes of ``centres`` (C, 2) with half sizes ``half`` (2,)."""
        n = np.array(self.table.shape) - 1
        lo = np.floor((centres - half - self.origin) / self.cell).astype(np.int64)
        hi = np.floor((centres + half - self.origin) / self.cell).astype(np.int64)
        lo, hi = np.clip(lo, 0, n), np.clip(hi + 1, 0, n)  # [lo, hi) in squares
        t = self.table
        total = t[hi[:, 0], hi[:, 1]] - t[lo[:, 0], hi[:, 1]] - t[hi[:, 0], lo[:, 1]]
        return total + t[lo[:, 0], lo[:, 1]]


def _boxes_overlap(a: np.ndarray, a_size: np.ndarray, b: tuple, b_size: tuple) -> np.ndarray:
    """(C,) bool: whether each box of centres ``a`` (C, 2), size ``a_size`` meets box ``b``."""
    gap = np.abs(a - np.asarray(b)) - (a_size + np.asarray(b_size)) / 2
    return (gap < 0).all(axis=1)


def _candidates(anchor: np.ndarray, members: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(1 + 16 * rings, 2) box centres: the anchor, then rings around the cluster's edge, each
    far enough out that the box's near side sits on the ring."""
    radius = (
        float(np.quantile(np.linalg.norm(members - anchor, axis=1), 0.9)) if len(members) else 0
    )
    angles = np.arange(DIRECTIONS) * (2 * math.pi / DIRECTIONS)
    unit = np.column_stack([np.cos(angles), np.sin(angles)])
    reach = np.abs(unit) @ (size / 2)  # the box's half extent along each direction
    rings = [anchor + unit * (radius * ring + reach)[:, None] for ring in RINGS]
    return np.vstack([anchor[None, :], *rings])


def place_labels(
    xy: np.ndarray,
    clusters: Sequence[tuple[str, np.ndarray]],
    style: LabelStyle = LabelStyle(),
) -> list[PlacedLabel]:
    """A place for each ``(name, members)`` of ``clusters`` on the map of ``xy`` (N, 2 float):
    ``members`` is an (N,) bool mask of the cluster's points. Names are placed in the order
    given, each where its box overlaps no earlier name, hides the fewest points, and sits nearest
    its cluster; a cluster with no member is skipped. Raises ValueError when a mask's length is
    not N."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    scale = data_per_pixel(xy, style)
    reach = style.marker_px / 2 * scale
    low, high = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2), np.zeros(2))
    grid = _CountGrid(xy, 2 * scale)  # squares of 2 px
    placed: list[PlacedLabel] = []
    for name, mask in clusters:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(xy),):
            raise ValueError(f"cluster {name!r}: expected a mask of {len(xy)} points")
        if not mask.any():
            continue
        members = xy[mask]
        anchor = members[np.argmin(((members - members.mean(axis=0)) ** 2).sum(axis=1))]
        size = np.array(label_size(name, scale, style))
        spots = _candidates(anchor, members, size)
        covered = grid.count(spots, size / 2 + reach)
        clashes = np.zeros(len(spots), dtype=np.int64)
        for other in placed:
            clashes += _boxes_overlap(spots, size, other.position, other.size)
        # a box past the map's edge widens the map: allowed, but only when nothing else is free
        outside = ((spots - size / 2 < low) | (spots + size / 2 > high)).any(axis=1)
        distance = np.linalg.norm(spots - anchor, axis=1) / scale  # in pixels
        order = np.lexsort((distance, outside, covered, clashes))
        best = int(order[0])
        placed.append(
            PlacedLabel(
                name,
                (float(anchor[0]), float(anchor[1])),
                (float(spots[best, 0]), float(spots[best, 1])),
                (float(size[0]), float(size[1])),
                int(points_covered(xy, spots[best : best + 1], (size[0], size[1]), reach)[0]),
            )
        )
    return placed
