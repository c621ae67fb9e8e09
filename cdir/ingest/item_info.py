"""What decoding a file taught (``cdir.ingest.reader.ImageInfo``) written into the collection's
item table, many rows at a time.

One assignment per column and batch: a single-cell ``DataFrame.at`` write costs about 0.1 ms
on the table's Arrow-backed string columns, and ingest wrote 13 of them per image on the
model's thread (``bench/bench_ingest.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cdir.ingest.metadata.result import FIELDS as METADATA_FIELDS

DECODE_KEYS = ("pixel_sha256", "phash", "width", "height")
NEWER_KEYS = ("phash_mirror", "phash_centre")  # absent in older cache entries: None
SOURCE_PROMPTS = ("prompt", "negative_prompt")


def apply_infos(items: pd.DataFrame, rows: Sequence[int], infos: Sequence[dict[str, Any]]) -> None:
    """Store the decode info of ``rows`` (``ImageInfo.to_dict()``, one per row) and mark them
    ``ok``. Raises KeyError for an info without one of :data:`DECODE_KEYS`."""
    if not len(rows):
        return
    rows = list(rows)
    for key in DECODE_KEYS:
        items.loc[rows, key] = [info[key] for info in infos]
    for key in NEWER_KEYS:
        items.loc[rows, key] = [info.get(key) for info in infos]
    items.loc[rows, "status"] = "ok"
    items.loc[rows, "error"] = None


def apply_metadata(
    items: pd.DataFrame, rows: Sequence[int], metas: Sequence[dict[str, Any]]
) -> None:
    """The parsed generation metadata of files (one dict per row): replaces what an earlier
    ingest stored, except a prompt or negative prompt a dataset's columns gave
    (``prompt_source`` "dataset"): the user's own column wins over text embedded in the file."""
    if not len(rows):
        return
    rows = list(rows)
    from_dataset = _is_dataset(items.loc[rows, "prompt_source"])
    for key in METADATA_FIELDS:
        keep = [False] * len(rows)
        if key in SOURCE_PROMPTS:
            keep = list(from_dataset & items.loc[rows, key].notna().to_numpy(bool))
        targets = [row for row, kept in zip(rows, keep, strict=True) if not kept]
        if targets:
            values = [meta.get(key) for meta, kept in zip(metas, keep, strict=True) if not kept]
            items.loc[targets, key] = values


def _is_dataset(source: pd.Series) -> np.ndarray:
    """Which of these ``prompt_source`` values are "dataset" (NA, read as "<NA>", is not)."""
    return np.array([str(value) == "dataset" for value in source], dtype=bool)
