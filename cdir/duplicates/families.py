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
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.duplicates.item_columns import Columns

if TYPE_CHECKING:
    from cdir.store.collection import Store

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MJ_NAME = re.compile(rf"^(?P<user>[^_]+)_(?P<words>.+?)_(?P<job>{UUID})(?:_(?P<index>\d))?$",
                     re.I)
SAME_PICTURE_LEVELS = 9.0  # mean absolute difference (0..255) of 32x32 views: one picture


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
    return Mark(found.group("job").lower(), int(index) if index is not None else None,
                found.group("words").replace("_", " "))


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
        return a.job != b.job or (a.index is not None and b.index is not None
                                  and a.index != b.index)
    if a.prompt is not None and b.prompt is not None:
        return a.prompt != b.prompt
    return False


def other_generation(store: Store, cols: Columns, keep: int, member: int,
                     views: dict[int, np.ndarray | None] | None = None) -> bool:
    """Whether ``member`` is another generation than ``keep`` (see the module docstring)."""
    if not different_marks(mark_of(cols, keep), mark_of(cols, member)):
        return False
    views = {} if views is None else views
    a, b = (views.setdefault(i, _view(store, i)) for i in (keep, member))
    if a is None or b is None:
        return True  # cannot look: do not risk another generation
    diff = min(np.abs(a - b).mean(), np.abs(a - b[:, ::-1]).mean())
    return bool(diff > SAME_PICTURE_LEVELS)


def protected(store: Store, members: list[int], keep: int, cols: Columns | None = None
              ) -> set[int]:
    """The members a suggestion must not remove: other generations than ``keep``."""
    cols = cols or Columns.of(store)
    views: dict[int, Any] = {}
    return {m for m in members if m != keep and other_generation(store, cols, keep, m, views)}


def _view(store: Store, row: int) -> np.ndarray | None:
    from cdir.duplicates.keep import small_pixels

    return small_pixels(store, row)
