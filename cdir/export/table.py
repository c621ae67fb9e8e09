"""A collection as a 🤗-datasets-shaped table, built in batches of Arrow record batches.

One row per readable item (failed items are left out), columns :data:`BASE_COLUMNS`:

- ``image``: the original file's bytes (a 2x2 grid's tile: that tile as PNG), 🤗 ``Image``;
- ``file_name``: the item's path inside its source; ``domain``, ``class``, ``caption``,
  ``prompt``, ``negative_prompt``: strings or None;
- ``image_embedding``: float32 list of length D (the store's CLIP image embedding, L2-normalised);
  ``caption_embedding``: the same for the caption's CLIP text embedding, None without a caption;
- when the store holds keep/remove decisions on near-duplicates (``<store>/dupes/decided.json``,
  :mod:`cdir.duplicates.decisions`): ``duplicate_group`` (int: the lowest id of the group the
  item was decided in), ``duplicate_tier`` and ``duplicate_keep`` (bool), None for items
  without such a decision;
- when the store holds tags (``<store>/tags.json``, :mod:`cdir.store.tags`): ``tags``, the
  item's tags as a list of strings (``[]`` for an untagged item).

The schema carries the 🤗 ``Features`` in its metadata, so Parquet written from it loads with
``datasets`` with the same types.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cdir.duplicates.decisions import load_decided
from cdir.store.collection import Store, StoreError
from cdir.store.tags import load_tags

log = logging.getLogger(__name__)

BASE_COLUMNS: tuple[str, ...] = (
    "image",
    "file_name",
    "domain",
    "class",
    "caption",
    "prompt",
    "negative_prompt",
    "image_embedding",
    "caption_embedding",
)
DUPLICATE_COLUMNS: tuple[str, ...] = ("duplicate_group", "duplicate_tier", "duplicate_keep")
TAGS_COLUMN = "tags"
BATCH_ROWS = 256


@dataclass
class ExportTable:
    """The schema of a store's export and its rows in record batches."""

    store: Store
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # item id -> decision
    skipped: list[dict[str, str]] = field(default_factory=list)  # items whose file is gone
    tags: dict[int, list[str]] = field(default_factory=dict)  # item id -> its tags
    ids: tuple[int, ...] | None = None  # only these items (a filter or a selection); None: all

    @classmethod
    def of(cls, store: Store, ids: Sequence[int] | None = None) -> ExportTable:
        """The table of ``store``, or of its items ``ids`` only (in that order; ValueError for an
        unknown id)."""
        if ids is not None:
            ids = tuple(int(i) for i in ids)
            bad = [i for i in ids if not 0 <= i < len(store.items)]
            if bad:
                raise ValueError(f"no item with id {bad[0]} (ids run 0..{len(store.items) - 1})")
        return cls(store, _decisions(store), tags=_tags(store), ids=ids)

    def chosen_rows(self) -> np.ndarray:
        """The table rows exported: readable items (of :attr:`ids` when set), (n,) int64."""
        ok = self.store.ok_mask()
        if self.ids is None:
            return np.flatnonzero(ok)
        rows = np.asarray(list(dict.fromkeys(self.ids)), dtype=np.int64)
        return rows[ok[rows]] if len(rows) else rows

    def features(self) -> Any:
        """The 🤗 ``datasets.Features`` of the table (needs ``datasets``)."""
        import datasets

        dim = int(self.store.meta.get("dim") or _dim(self.store))
        text = datasets.Value("string")
        vector = datasets.List(datasets.Value("float32"), length=dim)
        spec: dict[str, Any] = {
            "image": datasets.Image(),
            "file_name": text,
            "domain": text,
            "class": text,
            "caption": text,
            "prompt": text,
            "negative_prompt": text,
            "image_embedding": vector,
            "caption_embedding": vector,
        }
        if self.decisions:
            spec.update(
                duplicate_group=datasets.Value("int64"),
                duplicate_tier=text,
                duplicate_keep=datasets.Value("bool"),
            )
        if self.tags:
            spec[TAGS_COLUMN] = datasets.List(text)
        return datasets.Features(spec)

    def batches(self) -> Iterator[Any]:
        """``pyarrow.RecordBatch`` es of :data:`BATCH_ROWS` rows with :meth:`features`' schema;
        only one batch of image bytes is in memory at a time."""
        import pyarrow as pa

        schema = self.features().arrow_schema
        rows: list[dict[str, Any]] = []
        for row in self._rows():
            rows.append(row)
            if len(rows) == BATCH_ROWS:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    def _rows(self) -> Iterator[dict[str, Any]]:
        store, items = self.store, self.store.items
        image_emb, caption_emb = store.image_emb, store.caption_emb
        has_caption = store.caption_mask() if caption_emb is not None else None
        for row in self.chosen_rows():
            data = self.image_bytes(int(row))
            if data is None:
                continue
            record = {
                "image": {"bytes": data, "path": _text(items.at[row, "rel_path"])},
                "file_name": _text(items.at[row, "rel_path"]),
                **{
                    c: _text(items.at[row, c])
                    for c in ("domain", "class", "caption", "prompt", "negative_prompt")
                    if c in items
                },
                "image_embedding": _vector(image_emb, row),
                "caption_embedding": _vector(caption_emb, row)
                if has_caption is not None and has_caption[row]
                else None,
            }
            if self.decisions:
                decision = self.decisions.get(int(items.at[row, "id"]), {})
                record.update(
                    duplicate_group=decision.get("group"),
                    duplicate_tier=decision.get("tier"),
                    duplicate_keep=decision.get("keep"),
                )
            if self.tags:
                record[TAGS_COLUMN] = list(self.tags.get(int(items.at[row, "id"]), []))
            yield record

    def image_bytes(self, row: int) -> bytes | None:
        """The image of table row ``row`` as a file's bytes (a tile: as PNG), or None (noted in
        :attr:`skipped`) when its file is gone or changed."""
        items = self.store.items
        path = self.store.item_path(row)
        tile = int(items.at[row, "tile"]) if "tile" in items else -1
        try:
            if tile >= 1:
                return _tile_png(path, tile)
            return path.read_bytes()
        except Exception as exc:  # the original moved or changed since ingest
            self.skipped.append(
                {
                    "file": str(items.at[row, "rel_path"]),
                    "reason": f"image not readable: {type(exc).__name__}",
                }
            )
            return None


def _tile_png(path: Path, tile: int) -> bytes:
    from cdir.ingest.reader import load_item_image

    buffer = io.BytesIO()
    load_item_image(path, _limits(), tile).save(buffer, format="PNG")
    return buffer.getvalue()


def _limits() -> Any:
    from cdir.imaging.decode import DecodeLimits

    return DecodeLimits()


def _decisions(store: Store) -> dict[int, dict[str, Any]]:
    """The keep/remove decisions saved in the store, by item id ({} if none, or if the file is
    damaged: the export then goes on without them, with a warning in the log)."""
    try:
        decided = load_decided(store.root)
    except StoreError as exc:
        log.warning("duplicate decisions unreadable, exported without them: %s", exc)
        return {}
    return {
        item: {"group": min((item, *d.with_)), "tier": d.tier, "keep": d.decision == "keep"}
        for item, d in decided.items()
        if d.decision in ("keep", "remove")
    }


def _tags(store: Store) -> dict[int, list[str]]:
    """The items' tags saved in the store, by item id ({} if none, or if the file is damaged:
    the export then goes on without them, with a warning in the log)."""
    try:
        return {int(k): list(v) for k, v in load_tags(store.root).items() if v}
    except StoreError as exc:
        log.warning("tags file unreadable, exported without tags: %s", exc)
        return {}


def _dim(store: Store) -> int:
    return int(store.image_emb.shape[1]) if store.image_emb is not None else 0


def _vector(matrix: np.ndarray | None, row: int) -> list[float] | None:
    return None if matrix is None else matrix[row].astype(np.float32).tolist()


def _text(value: Any) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)
