"""The collection as a grid: filter, sort and page every item, vectorised over the item table.

A :class:`Browser` is built once per store version: it lower-cases the searchable text (file name,
caption, prompt) and sorts the table by each key once, so a query is a few boolean masks over N
rows and one take from a presorted order, O(N) with numpy/pandas and no Python loop over items
(10,000 items: a few milliseconds, see ``bench/bench_browse.py``).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cdir.store.tags import load_tags, tag_counts, tagged_mask

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

SORTS: tuple[str, ...] = ("name", "size", "date", "similarity")
STATUSES: tuple[str, ...] = ("ok", "failed")
DEFAULT_PAGE_SIZE = 48
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class GridQuery:
    """What to show. Empty tuples and None mean "no filter" on that field.

    ``text`` keeps items whose file name, caption or prompt contains every word of it (case
    ignored); ``tags`` keeps items holding any of them; ``ids`` keeps only those items (a map
    selection). ``sort="similarity"`` needs a query vector (see :meth:`Browser.query`) and always
    shows the most similar first; the other sorts run ascending unless ``descending``.
    """

    domains: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    label_sources: tuple[str, ...] = ()
    has_prompt: bool | None = None
    status: str | None = None  # "ok" | "failed" | None (both)
    text: str = ""
    tags: tuple[str, ...] = ()
    ids: tuple[int, ...] | None = None
    sort: str = "name"
    descending: bool = False
    page: int = 0
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort by one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.status not in (None, *STATUSES):
            raise ValueError(f"status is 'ok' or 'failed', not {self.status!r}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size runs 1..{MAX_PAGE_SIZE}, not {self.page_size}")


@dataclass
class GridPage:
    """One page of a query: ``cards`` (dicts, see :meth:`Browser.card`) of the items ``ids``;
    ``total`` items matched, in ``n_pages`` pages; ``matched`` all matching ids in order,
    (total,) int64 (for "tag all", "show on the map")."""

    cards: list[dict[str, Any]]
    ids: list[int]
    total: int
    page: int
    n_pages: int
    matched: np.ndarray


class Browser:
    """Queries over one loaded :class:`~cdir.store.collection.Store` (item ids are table rows).

    Build a new one after the store changed; call :meth:`reload_tags` after tags changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        items = store.items
        self.n = len(items)
        self._ids = items["id"].to_numpy(dtype=np.int64)
        self._name = items["rel_path"].fillna("").astype(str).to_numpy()
        from cdir.models.prompt_words import prompt_words

        # the prompt as written and its words without weights, alternations, LoRA tags
        words = [(prompt_words(p) or "") if isinstance(p, str) else "" for p in items["prompt"]]
        text = (
            (
                items["rel_path"].fillna("")
                + "\n"
                + items["caption"].fillna("")
                + "\n"
                + items["prompt"].fillna("")
            ).astype(str)
            + "\n"
            + np.array(words, dtype=object)
        )
        self._text = text.astype(str).str.lower()
        prompt = items["prompt"].fillna("").astype(str).str.strip()
        self._has_prompt = (prompt != "").to_numpy(dtype=bool)
        self._ok = store.ok_mask()
        self._orders: dict[str, np.ndarray] = {}
        self._mtime: np.ndarray | None = None
        self.tags: dict[int, list[str]] = {}
        self.reload_tags()

    def reload_tags(self) -> None:
        self.tags = load_tags(self.store.root)

    # --------------------------------------------------------------------------------- facets
    def facets(self) -> dict[str, Any]:
        """The values each filter can take, with counts: domains, classes, label sources, tags;
        and how many items are ok, failed, with a prompt."""
        items = self.store.items

        def counts(column: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in items[column].value_counts(dropna=True).items()}

        return {
            "domains": counts("domain"),
            "classes": counts("class"),
            "label_sources": counts("label_source"),
            "tags": tag_counts(self.tags),
            "n_items": self.n,
            "n_ok": int(self._ok.sum()),
            "n_failed": int((~self._ok).sum()),
            "n_with_prompt": int(self._has_prompt.sum()),
        }

    # ---------------------------------------------------------------------------------- query
    def mask(self, query: GridQuery) -> np.ndarray:
        """(N,) bool: the items that pass every filter of ``query``."""
        items = self.store.items
        mask = np.ones(self.n, dtype=bool)
        for column, wanted in (
            ("domain", query.domains),
            ("class", query.classes),
            ("label_source", query.label_sources),
        ):
            if wanted:
                mask &= items[column].isin(list(wanted)).to_numpy(dtype=bool)
        if query.has_prompt is not None:
            mask &= self._has_prompt == query.has_prompt
        if query.status is not None:
            mask &= self._ok if query.status == "ok" else ~self._ok
        for word in query.text.lower().split():
            rows = np.flatnonzero(mask)  # only test the rows still in: each word narrows it
            hit = self._text.iloc[rows].str.contains(word, regex=False).to_numpy(dtype=bool)
            mask[rows[~hit]] = False
        if query.tags:
            mask &= tagged_mask(self.tags, query.tags, self.n)
        if query.ids is not None:
            mask &= np.isin(self._ids, np.asarray(query.ids, dtype=np.int64))
        return mask

    def query(
        self, query: GridQuery, query_vector: np.ndarray | None = None, vectors: str = "image"
    ) -> GridPage:
        """The page ``query.page`` of the items passing ``query``, sorted.

        ``query_vector``: (D,) float, needed for ``sort="similarity"``: items are ranked by cosine
        with it over the store's ``vectors`` ("image" or "caption") embeddings, items without a
        vector last. A page past the end gives the last page. Raises ValueError for a similarity
        sort without a vector or with a vector of the wrong size."""
        mask = self.mask(query)
        scores: np.ndarray | None = None
        if query.sort == "similarity":
            order, scores = self._similarity_order(query_vector, vectors)
        else:
            order = self._order(query.sort)
            if query.descending:
                order = order[::-1]
        matched = order[mask[order]]
        total = len(matched)
        n_pages = max(1, math.ceil(total / query.page_size))
        page = min(max(0, int(query.page)), n_pages - 1)
        rows = matched[page * query.page_size : (page + 1) * query.page_size]
        cards = [self.card(int(r), None if scores is None else float(scores[r])) for r in rows]
        return GridPage(
            cards, [int(self._ids[r]) for r in rows], total, page, n_pages, self._ids[matched]
        )

    def card(self, row: int, score: float | None = None) -> dict[str, Any]:
        """What a grid card shows for table row ``row``: id, file, domain, class, caption, prompt,
        status, width, height, file size (bytes), thumbnail path, tags, and ``score`` if given."""
        item = self.store.items.iloc[row]
        return {
            "id": int(item["id"]),
            "file": _text(item["rel_path"]),
            "domain": _text(item["domain"]),
            "class": _text(item["class"]),
            "label_source": _text(item["label_source"]),
            "caption": _text(item["caption"]),
            "prompt": _text(item["prompt"]),
            "status": _text(item["status"]),
            "error": _text(item["error"]),
            "width": int(item["width"]),
            "height": int(item["height"]),
            "file_size": int(item["file_size"]),
            "thumb": str(self.store.thumb_path(str(item["sha256"]))),
            "tags": list(self.tags.get(int(item["id"]), [])),
            "score": score,
        }

    # ---------------------------------------------------------------------------------- sorts
    def _order(self, key: str) -> np.ndarray:
        """Table rows sorted by ``key`` (ties by id), computed once per key."""
        if key not in self._orders:
            if key == "name":
                values: np.ndarray = np.char.lower(self._name.astype(str))
            elif key == "size":
                values = self.store.items["file_size"].to_numpy(dtype=np.int64)
            else:
                values = self.mtimes()
            self._orders[key] = np.lexsort((self._ids, values)).astype(np.int64)
        return self._orders[key]

    def mtimes(self) -> np.ndarray:
        """(N,) float64 modification time of each original file, seconds since the epoch; +inf
        for a file that is gone (sorted last). Read from the file system once."""
        if self._mtime is None:
            values = np.full(self.n, np.inf)
            for row in range(self.n):
                try:
                    values[row] = os.stat(self.store.item_path(row)).st_mtime
                except OSError:
                    pass
            self._mtime = values
        return self._mtime

    def _similarity_order(
        self, vector: np.ndarray | None, vectors: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows most similar first, (N,) cosine scores; -inf for items without a vector)."""
        if vector is None:
            raise ValueError("sorting by similarity needs a query: pick an item or type a text")
        matrix = self.store.image_emb if vectors == "image" else self.store.caption_emb
        if matrix is None:
            raise ValueError(f"this collection has no {vectors} embeddings yet")
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if vector.shape[0] != matrix.shape[1]:
            raise ValueError(
                f"the query vector has {vector.shape[0]} values; the collection's "
                f"vectors have {matrix.shape[1]}"
            )
        norm = float(np.linalg.norm(vector)) or 1.0
        scores = matrix @ (vector / norm)
        scores[np.abs(matrix).sum(axis=1) == 0] = -np.inf
        return np.lexsort((self._ids, -scores)).astype(np.int64), scores


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
