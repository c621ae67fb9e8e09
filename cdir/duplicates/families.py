"""Generation families (Midjourney first): which job and grid position made each image, so that
a suggestion never removes a different generation of a prompt.

A Midjourney job makes a 2x2 grid; U1-U4 are its tiles (since v5 a tile is a crop of the grid),
upscales are new jobs made from a tile, and Vary (Subtle / Strong) makes a new grid of close
siblings. Web downloads carry the job id in the PNG ``Description`` (``... Job ID: <uuid>``) or
XMP ``Iptc4xmpExt:DigImageGUID`` (read at ingest into ``generation_settings.job_id``, see
:mod:`cdir.ingest.metadata.midjourney`); Discord downloads only in their name,
``<user>_<prompt words>_<job uuid>[_<grid index>].png`` (:func:`name_mark`).

Two members of a group are **other generations** (:func:`other_generation`) when both carry a
generation mark (job and grid index, or a prompt) that differ, and their pixels are not the same
picture at another size (an upscale of a tile is the same picture; a variation, a sibling tile
or another job of a shared prompt is not). The keep rule's suggestions mark such members
*alternate*, never *remove*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.duplicates.item_columns import Columns

if TYPE_CHECKING:
    from cdir.store.collection import Store

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MJ_NAME = re.compile(rf"^(?P<user>[^_]+)_(?P<words>.+?)_(?P<job>{UUID})(?:_(?P<index>\d))?$", re.I)
SAME_PICTURE_LEVELS = 9.0  # mean absolute difference (0..255) of 32x32 views: one picture
VARIATION_LEVELS = 40.0  # up to here another job's picture is a variation of it


@dataclass(frozen=True)
class Mark:
    """What made an image: its job id and grid index (None where unknown), its prompt."""

    job: str | None = None
    index: int | None = None
    prompt: str | None = None

    @property
    def known(self) -> bool:
        return self.job is not None or self.prompt is not None


def name_mark(name: str) -> Mark:
    """The job id, grid index and prompt words of a Discord download's file name."""
    stem = PurePosixPath(str(name)).stem.split("#")[0]
    found = MJ_NAME.match(stem)
    if not found:
        return Mark()
    index = found.group("index")
    return Mark(
        found.group("job").lower(),
        int(index) if index is not None else None,
        found.group("words").replace("_", " "),
    )


def mark_of(cols: Columns, row: int) -> Mark:
    """The :class:`Mark` of item ``row``: settings read at ingest, else its file name; a tile of
    a grid takes its grid's job and its own position."""
    named = name_mark(cols.get("rel_path", row) or "")
    job = named.job
    settings = cols.get("generation_settings", row)
    if settings:
        try:
            job = str(json.loads(settings).get("job_id") or job or "").lower() or None
        except (ValueError, AttributeError):
            pass
    prompt = cols.get("prompt", row)
    prompt = " ".join(prompt.lower().split()) if prompt and prompt.strip() else None
    tile = int(cols.tile[row])
    index = tile if tile > 0 else named.index
    return Mark(job, index, prompt or named.prompt)


def different_marks(a: Mark, b: Mark) -> bool:
    """Both marked, and by another job or grid position (or, without jobs, another prompt)."""
    if a.job is not None and b.job is not None:
        return a.job != b.job or (
            a.index is not None and b.index is not None and a.index != b.index
        )
    if a.prompt is not None and b.prompt is not None:
        return a.prompt != b.prompt
    return False


def other_generation(
    store: Store,
    cols: Columns,
    keep: int,
    member: int,
    views: dict[int, np.ndarray | None] | None = None,
) -> bool:
    """Whether ``member`` is another generation than ``keep`` (see the module docstring)."""
    if not different_marks(mark_of(cols, keep), mark_of(cols, member)):
        return False
    views = {} if views is None else views
    a, b = (views.setdefault(i, _view(store, i)) for i in (keep, member))
    if a is None or b is None:
        return True  # cannot look: do not risk another generation
    diff = min(np.abs(a - b).mean(), np.abs(a - b[:, ::-1]).mean())
    return bool(diff > SAME_PICTURE_LEVELS)


def protected(store: Store, members: list[int], keep: int, cols: Columns | None = None) -> set[int]:
    """The members a suggestion must not remove: other generations than ``keep``."""
    cols = cols or Columns.of(store)
    views: dict[int, Any] = {}
    return {m for m in members if m != keep and other_generation(store, cols, keep, m, views)}


def _view(store: Store, row: int) -> np.ndarray | None:
    from cdir.duplicates.keep import small_pixels

    return small_pixels(store, row)


# ------------------------------------------------------------------- families in review
def family_keys(cols: Columns, row: int) -> list[str]:
    """What links item ``row`` to its job family: its job (a tile's grid's too), its prompt."""
    mark = mark_of(cols, row)
    keys = [f"job:{mark.job}"] if mark.job else []
    parent = -1 if cols.parent is None else int(cols.parent[row])
    if parent >= 0:
        keys.append(f"item:{parent}")
        grid = mark_of(cols, parent).job
        keys += [f"job:{grid}"] if grid else []
    keys.append(f"item:{row}")
    return keys + ([f"prompt:{mark.prompt}"] if mark.prompt else [])


def family_rows(
    store: Store, groups: Sequence[Any], cols: Columns | None = None
) -> list[tuple[str, list[int]]]:
    """The groups of one job family together, as one row each: (the family in words, the
    indices of its groups), in the order of their first group. A group of no family is a row
    of its own, without words."""
    cols = cols or Columns.of(store)
    owner: dict[str, int] = {}
    parent = list(range(len(groups)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for n, group in enumerate(groups):
        if not any(mark_of(cols, m).known or int(cols.tile[m]) > 0 for m in group.members):
            continue
        for m in group.members:
            for key in family_keys(cols, m):
                if key in owner:
                    parent[find(n)] = find(owner[key])
                else:
                    owner[key] = n
    rows: dict[int, list[int]] = {}
    for n in range(len(groups)):
        rows.setdefault(find(n), []).append(n)
    views: dict[int, Any] = {}
    return [
        (
            family_words(store, [m for n in ns for m in groups[n].members], cols, views)
            if len(ns) > 1 or _marked(cols, groups[ns[0]].members)
            else "",
            ns,
        )
        for ns in rows.values()
    ]


def _marked(cols: Columns, members: Sequence[int]) -> bool:
    return sum(mark_of(cols, m).known for m in members) >= 2 or any(
        int(cols.tile[m]) > 0 for m in members
    )


def family_words(
    store: Store, members: Sequence[int], cols: Columns, views: dict[int, Any] | None = None
) -> str:
    """A job family in words: "grid → tiles → upscales" (a grid's tiles and what was made from
    them at a larger size), "variations of" (another job's close picture), "same prompt, other
    job" (another job of the prompt, another picture)."""
    views = {} if views is None else views
    members = list(dict.fromkeys(members))
    tiles = [m for m in members if int(cols.tile[m]) > 0]
    parents = set() if cols.parent is None else set(cols.parent[cols.parent >= 0].tolist())
    grids = {int(cols.parent[m]) for m in tiles} if cols.parent is not None else set()
    grids |= {m for m in members if m in parents}
    look = lambda i: views.setdefault(i, _view(store, i))  # noqa: E731
    upscales = [
        m
        for m in members
        if int(cols.tile[m]) <= 0
        and m not in grids
        and any(
            _pixels_diff(look(m), look(t)) <= SAME_PICTURE_LEVELS
            and cols.width[m] * cols.height[m] > cols.width[t] * cols.height[t]
            for t in tiles
        )
    ]
    parts = []
    if tiles:
        names = ", ".join(f"U{n}" for n in sorted({int(cols.tile[t]) for t in tiles}))
        parts.append(
            "grid → tiles "
            + names
            + (f" → {len(upscales)} upscale{'s' if len(upscales) > 1 else ''}" if upscales else "")
        )
    marks = {m: mark_of(cols, m) for m in members}
    jobs = sorted({mk.job for mk in marks.values() if mk.job})
    if len(jobs) > 1:
        first = next(m for m in members if marks[m].job == jobs[0])
        close = far = 0
        for job in jobs[1:]:
            other = next(m for m in members if marks[m].job == job)
            if other in upscales or first in upscales:
                continue
            diff = _pixels_diff(look(first), look(other))
            if diff <= SAME_PICTURE_LEVELS:
                continue
            close, far = close + (diff <= VARIATION_LEVELS), far + (diff > VARIATION_LEVELS)
        if close:
            parts.append(f"variations of job {jobs[0][:8]}")
        if far and len({mk.prompt for mk in marks.values() if mk.prompt}) <= 1:
            parts.append("same prompt, other job")
    return " · ".join(parts)


def _pixels_diff(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return float("inf")
    return float(min(np.abs(a - b).mean(), np.abs(a - b[:, ::-1]).mean()))
