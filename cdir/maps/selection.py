"""From a box or lasso selection on the map to item ids.

plotly's ``plotly_selected`` event carries the selected ``points`` (each with its ``customdata``,
whose first value is the item id, see :mod:`cdir.maps.plots`) and the selected region: ``range``
(``{"x": [x0, x1], "y": [y0, y1]}``) for a box, ``lassoPoints`` (``{"x": [...], "y": [...]}``) for
a lasso. With WebGL and 100,000 points, sending every point back is slow, so the page may send
only the region: :func:`ids_in_region` finds the points inside it on the server, vectorised
(even-odd rule, O(N x polygon vertices)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def selected_ids(event: Mapping[str, Any] | None) -> list[int]:
    """Item ids of a ``plotly_selected`` event's points, in order, each once; points without
    an id in ``customdata`` (cluster names, a highlight) are skipped. None or no points: []."""
    found: dict[int, None] = {}
    for point in (event or {}).get("points") or []:
        custom = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(custom, Sequence) and not isinstance(custom, str) and len(custom):
            custom = custom[0]
        try:
            found[int(custom)] = None
        except (TypeError, ValueError):
            continue
    return list(found)


def ids_in_region(
    xy: np.ndarray, ids: Sequence[int] | np.ndarray, selection: Mapping[str, Any]
) -> np.ndarray:
    """(M,) int64 ids of the points ``xy`` (N, 2) inside the event's ``range`` (box, edges
    included) or ``lassoPoints`` (polygon, even-odd rule), in the order of ``xy``.

    Raises ValueError when the selection has neither, or lengths differ."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) != len(xy):
        raise ValueError(f"expected one id per point: {len(xy)} points, {len(ids)} ids")
    if selection.get("range"):
        box = selection["range"]
        (x0, x1), (y0, y1) = sorted(map(float, box["x"])), sorted(map(float, box["y"]))
        inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    elif selection.get("lassoPoints"):
        lasso = selection["lassoPoints"]
        inside = in_polygon(
            xy,
            np.column_stack(
                [np.asarray(lasso["x"], dtype=np.float64), np.asarray(lasso["y"], dtype=np.float64)]
            ),
        )
    else:
        raise ValueError("the selection has no region: draw a box or a lasso on the map")
    return ids[inside]


def in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: which ``points`` (N, 2) lie inside ``polygon`` (V, 2; closed implicitly) by
    the even-odd (crossing number) rule; one vectorised pass per edge."""
    points = np.asarray(points, dtype=np.float64)
    polygon = np.asarray(polygon, dtype=np.float64)
    inside = np.zeros(len(points), dtype=bool)
    if len(polygon) < 3:
        return inside
    x, y = points[:, 0], points[:, 1]
    for (xa, ya), (xb, yb) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if ya == yb:
            continue  # a horizontal edge crosses no horizontal ray
        crosses = (ya > y) != (yb > y)
        x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (x < x_cross)
    return inside
