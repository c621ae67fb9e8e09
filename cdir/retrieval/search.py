"""Searching a collection: a query (an item, an image file, or text) -> ranked hits.

The query's vectors are computed on demand and cached by content hash: its image embedding v(q),
its caption c(q) and the caption's text embedding t(q). Scores follow ``cdir.retrieval.scoring``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cdir.imaging.decode import DecodeLimits, file_sha256, load_rgb, pixel_sha256
from cdir.ingest.reader import load_item_image
from cdir.models.loaded import Models
from cdir.models.style_words import Neutraliser
from cdir.models.text_embeddings import embed_key, embed_texts, neutral_caption_matrix
from cdir.retrieval.ranking import GalleryVectors, RankRequest, rank
from cdir.retrieval.scoring import (
    DEFAULT_MODE,
    FusionWeights,
    ModeError,
    check_mode,
    gallery_kinds,
    required_query_kinds,
)
from cdir.store.cache import Cache
from cdir.store.collection import Store, atomic_write_json
from cdir.store.index import build_index, load_index
from cdir.store.tags import load_tags, tagged_mask
from cdir.store.vector_index import IndexConfig, VectorIndex

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """A query that cannot be answered (unknown id, unreadable image, empty text)."""


@dataclass(frozen=True)
class SearchOptions:
    mode: str = DEFAULT_MODE
    k: int = 12
    domains: tuple[str, ...] = ()  # target domains; empty means every domain
    neutralise: bool = False
    style_words: tuple[str, ...] | None = None  # None: textnorm.DEFAULT_STYLE_WORDS
    fusion: str | dict[str, float] | None = None
    exclude_duplicates: bool = True
    tags: tuple[str, ...] = ()  # only items holding any of these tags (cdir.store.tags)
    # one hit per duplicate group (cdir.api.search folds them: cdir.retrieval.collapse)
    collapse_duplicates: bool = False

    def __post_init__(self) -> None:
        """Refuse an unknown mode (ModeError, listing the valid ones) and a k below 1 (ValueError),
        whichever surface built the options."""
        check_mode(self.mode)
        if int(self.k) < 1:
            raise ModeError(f"k must be 1 or more, not {self.k}")

    def neutraliser(self) -> Neutraliser:
        return Neutraliser(self.style_words) if self.style_words is not None else Neutraliser()


@dataclass
class Query:
    kind: str  # id | image | text
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    id: int | None = None
    text: str | None = None
    caption: str | None = None
    caption_used: str | None = None  # after style-word neutralisation
    pixel_sha256: str | None = None
    file_sha256: str | None = None  # a query file's bytes (a large JPEG's exact key may be them)
    domain: str | None = None
    label: str | None = None


@dataclass
class Hit:
    rank: int
    id: int
    score: float
    path: str
    rel_path: str
    thumb: str
    domain: str | None
    label: str | None
    caption: str | None
    prompt: str | None  # the positive generation prompt
    width: int
    height: int
    negative_prompt: str | None = None
    generator: str | None = None  # the tool that made the image (A1111, ComfyUI, ...)
    generation_settings: str | None = None  # the tool's other parameters, JSON text
    # ids of the near-duplicates of this hit folded under its card (cdir.retrieval.collapse)
    near_duplicates: tuple[int, ...] = ()


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    options: SearchOptions

    def to_dict(self) -> dict[str, Any]:
        query = {k: v for k, v in asdict(self.query).items() if k != "vectors"}
        query["class"] = query.pop("label")
        hits = []
        for hit in self.hits:
            row = asdict(hit)
            row["class"] = row.pop("label")
            hits.append(row)
        return {"query": query, "hits": hits, "options": asdict(self.options)}


def _text(value: Any) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)


class Searcher:
    """Answers queries against one store; holds its indexes and neutralised matrices."""

    def __init__(
        self,
        store: Store,
        models: Models,
        index_config: IndexConfig | None = None,
        decode_limits: DecodeLimits | None = None,
    ) -> None:
        if store.preset != models.preset.name:
            raise QueryError(
                f"the collection was built with preset {store.preset!r} but the "
                f"models are {models.preset.name!r}"
            )
        self.store, self.models = store, models
        self.index_config = index_config or IndexConfig()
        self.decode_limits = decode_limits or DecodeLimits()
        # a query's caption and vectors are cached when the disk allows; a full disk costs
        # time at the next query, never the answer
        self.cache = Cache.for_store(store.root, optional_writes=True)
        self._lock = threading.RLock()
        self._galleries: dict[str, GalleryVectors] = {}

    # -------------------------------------------------------------------------------- queries
    def by_id(self, item_id: int, options: SearchOptions = SearchOptions()) -> SearchResult:
        items = self.store.items
        if not 0 <= item_id < len(items) or items.at[item_id, "status"] != "ok":
            raise QueryError(f"no searchable item with id {item_id} (ids run 0..{len(items) - 1})")
        row = items.iloc[item_id]
        query = Query(
            "id",
            id=item_id,
            pixel_sha256=_text(row["pixel_sha256"]),
            domain=_text(row["domain"]),
            label=_text(row["class"]),
        )
        query.vectors["image"] = self.store.image_emb[item_id]
        if self.needs_caption(options):
            query.caption = self.item_caption(item_id)
        return self._run(query, options)

    def by_image(self, path: str | Path, options: SearchOptions = SearchOptions()) -> SearchResult:
        """Query by an image file from anywhere (its caption is computed and cached by hash)."""
        image, sha = self.load_picture(path)
        return self.by_picture(image, options, sha)

    def load_picture(self, path: str | Path) -> tuple[Any, str]:
        """(the RGB PIL image of a query file, the file's SHA-256: its cache key). Raises
        QueryError, naming the file but not its folder, when it cannot be decoded."""
        from cdir.imaging.decode import QUERY_DECODE_LIMITS, DecodeError

        path = Path(path)
        try:
            image = load_rgb(path, QUERY_DECODE_LIMITS)
        except DecodeError as exc:
            raise QueryError(f"cannot use {path.name} as a query: {exc.reason}") from exc
        return image, file_sha256(path)

    def by_picture(
        self, image: Any, options: SearchOptions = SearchOptions(), sha: str | None = None
    ) -> SearchResult:
        """Query by an RGB PIL image (a sketch drawn in the browser, a pasted picture)."""
        embed = self.needs_image(options)
        query, sha = self.picture_query(image, sha, embed=embed)
        if self.needs_caption(options):
            query.caption = self.image_caption(image, sha)
        if embed:
            return self.rank_query(query, options)

        def image_for_ties() -> np.ndarray:  # CM: read only where two scores tie
            query.vectors["image"] = self.image_vector(image, sha)
            return query.vectors["image"]

        return self._run(query, options, image_for_ties)

    def picture_query(
        self, image: Any, sha: str | None = None, embed: bool = True
    ) -> tuple[Query, str]:
        """(a Query holding the image embedding of an RGB PIL image (none when not ``embed``),
        no caption yet; the cache key of the image: ``sha`` when given, else its pixel
        SHA-256)."""
        pixels = pixel_sha256(image)
        query = Query("image", pixel_sha256=pixels, file_sha256=sha)
        sha = sha or pixels
        if embed:
            query.vectors["image"] = self.image_vector(image, sha)
        return query, sha

    def by_text(self, text: str, options: SearchOptions = SearchOptions()) -> SearchResult:
        text = (text or "").strip()
        if not text:
            raise QueryError("the text query is empty: type what you are looking for")
        query = Query("text", text=text)
        query.vectors["text"] = embed_texts([text], self.models, self.cache)[0]
        return self._run(query, _as_text_mode(options))

    # ------------------------------------------------------------------------ query vectors
    def image_vector(self, image: Any, sha: str) -> np.ndarray:
        key = embed_key(self.models)
        found = self.cache.get_vectors("image_emb", key, [sha])
        if sha not in found:
            vec = self.models.embedder.encode_images([image])[0]
            self.cache.put_vectors("image_emb", key, [sha], vec[None, :])
            return vec
        return found[sha]

    def image_caption(self, image: Any, sha: str, query: bool = True) -> str:
        """The caption of an RGB PIL image, cached by ``sha``: a query's (``query``: made by the
        models' query captioner, int8 on the CPU by default) or a gallery item's (the
        collection's captioner)."""
        models = self.models
        key = models.query_caption_key if query else models.caption_key
        found = self.cache.get_texts("caption", key, [sha])
        if sha not in found:
            captioner = models.query_captioner if query else models.captioner
            found[sha] = captioner.caption([image])[0]
            self.cache.put_texts("caption", key, found)
        return found[sha]

    def item_caption(self, item_id: int) -> str:
        """An item's caption, computed now (and saved in the store) if the ingest was lazy."""
        items = self.store.items
        caption = _text(items.at[item_id, "caption"])
        if caption is not None:
            return caption
        row = items.iloc[item_id]
        image = load_item_image(self.store.image_path(row), self.decode_limits, int(row["tile"]))
        caption = self.image_caption(image, str(items.at[item_id, "sha256"]), query=False)
        with self._lock:
            items.at[item_id, "caption"], items.at[item_id, "caption_source"] = caption, "model"
        return caption

    def needs_image(self, options: SearchOptions) -> bool:
        """True when ``options``' mode scores the query's image embedding (image mode, a fusion
        that weighs it); CM reads it only to order equal scores (:func:`rank`'s
        ``image_for_ties``)."""
        fusion = FusionWeights.parse(options.fusion) if options.mode == "fusion" else None
        return "image" in required_query_kinds(options.mode, fusion)

    def needs_caption(self, options: SearchOptions) -> bool:
        """True when ``options``' mode scores the query's caption (CM, caption → caption, a
        fusion that weighs either)."""
        fusion = FusionWeights.parse(options.fusion) if options.mode == "fusion" else None
        return "caption" in required_query_kinds(options.mode, fusion)

    # ------------------------------------------------------------------------------ ranking
    def rank_query(self, query: Query, options: SearchOptions) -> SearchResult:
        """Rank the gallery for a query whose vectors (and caption, when the mode needs one)
        are set. The query may be ranked again under other options (its caption's embedding
        is recomputed, or read from the cache, each time)."""
        return self._run(query, options)

    def _run(
        self,
        query: Query,
        options: SearchOptions,
        image_for_ties: Callable[[], np.ndarray] | None = None,
    ) -> SearchResult:
        fusion = FusionWeights.parse(options.fusion) if options.mode == "fusion" else None
        if query.caption is not None:
            query.caption_used = (
                options.neutraliser()(query.caption) if options.neutralise else query.caption
            )
            query.vectors["caption"] = embed_texts([query.caption_used], self.models, self.cache)[0]
        allowed = self._allowed(options.domains) & self._tagged(options.tags)
        request = RankRequest(
            options.mode, options.k, allowed, self._excluded(query, options), fusion
        )
        ranked = rank(query.vectors, self.gallery(options), request, image_for_ties)
        return SearchResult(
            query, [self.hit(i + 1, r, s) for i, (r, s) in enumerate(ranked)], options
        )

    def _allowed(self, domains: tuple[str, ...]) -> np.ndarray:
        allowed = self.store.ok_mask()
        if domains:
            known = set(self.store.items["domain"].dropna())
            unknown = sorted(set(domains) - known)
            if unknown:
                raise QueryError(
                    f"unknown domain(s) {unknown}; this collection has {sorted(known)}"
                )
            allowed &= self.store.items["domain"].isin(domains).to_numpy(dtype=bool)
        return allowed

    def _tagged(self, tags: tuple[str, ...]) -> np.ndarray:
        """(N,) bool: items holding any of ``tags`` (all items when none are given)."""
        n = len(self.store.items)
        if not tags:
            return np.ones(n, dtype=bool)
        return tagged_mask(load_tags(self.store.root), tags, n)

    def _excluded(self, query: Query, options: SearchOptions) -> np.ndarray:
        items = self.store.items
        mask = np.zeros(len(items), dtype=bool)
        if query.id is not None:
            mask[query.id] = True
        if options.exclude_duplicates and query.pixel_sha256:
            mask |= (items["pixel_sha256"] == query.pixel_sha256).fillna(False).to_numpy(bool)
            if query.file_sha256:  # the same file's bytes (stored with a reduced decode's key)
                mask |= (items["sha256"] == query.file_sha256).fillna(False).to_numpy(bool)
        return mask

    def hit(self, rank_: int, row: int, score: float) -> Hit:
        """A result card's data for gallery row ``row``."""
        item = self.store.items.iloc[row]
        return Hit(
            rank_,
            int(item["id"]),
            round(float(score), 6),
            str(item["path"]),
            str(item["rel_path"]),
            str(self.store.thumb_path(str(item["sha256"]))),
            _text(item["domain"]),
            _text(item["class"]),
            _text(item["caption"]),
            _text(item["prompt"]),
            int(item["width"]),
            int(item["height"]),
            _text(item["negative_prompt"]),
            _text(item["generator"]),
            _text(item["generation_settings"]),
        )

    # ---------------------------------------------------------------------------- galleries
    def gallery(self, options: SearchOptions) -> GalleryVectors:
        """The gallery matrices (captions neutralised when asked and the mode reads the
        gallery's captions: CM and text queries read its images only), with their indexes."""
        fusion = FusionWeights.parse(options.fusion) if options.mode == "fusion" else None
        neutral = options.neutralise and "caption" in gallery_kinds(options.mode, fusion)
        key = options.neutraliser().key() if neutral else "raw"
        with self._lock:
            if key not in self._galleries:
                caption = (
                    self._neutral_captions(options.neutraliser())
                    if neutral
                    else self.store.caption_emb
                )
                self._galleries[key] = GalleryVectors(
                    self.store.image_emb, caption, indexes=self._indexes(key, caption)
                )
            return self._galleries[key]

    def _neutral_captions(self, neutraliser: Neutraliser) -> np.ndarray | None:
        return neutral_caption_matrix(self.store, self.models, self.cache, neutraliser)

    def _indexes(self, key: str, caption: np.ndarray | None) -> dict[str, VectorIndex]:
        indexes = {"image": self._index(f"image_{key}", self.store.image_emb)}
        if caption is not None:
            indexes["caption"] = self._index(f"caption_{key}", caption)
        return indexes

    def _index(self, name: str, matrix: np.ndarray) -> VectorIndex:
        """Load the saved index if it belongs to this version of the store, else build it."""
        path = self.store.derived_dir() / f"{name}.index"
        stamp = path.with_suffix(".json")
        fingerprint = {"vectors": matrix_fingerprint(matrix), "config": asdict(self.index_config)}
        if path.is_file() and stamp.is_file() and _read_json(stamp) == fingerprint:
            return load_index(path)
        index = build_index(matrix, self.index_config)
        index.save(path)
        atomic_write_json(stamp, fingerprint)
        return index

    def invalidate(self) -> None:
        """Forget galleries after the store changed (e.g. captions arrived)."""
        with self._lock:
            self._galleries.clear()


def matrix_fingerprint(matrix: np.ndarray) -> str:
    """Shape and a hash of the bytes: changes whenever any vector changes."""
    import hashlib

    data = np.ascontiguousarray(matrix, dtype=np.float32)
    return f"{data.shape}-{hashlib.blake2b(data.data, digest_size=16).hexdigest()}"


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


TEXT_QUERY_MODE_NOTE = (
    "A text query is matched with the pictures directly (text → image), whatever the mode: "
    "the modes apply to image, sketch and result queries."
)


def mode_note(kind: str) -> str:
    """One line saying why the retrieval mode does not apply to a query of ``kind`` (text,
    image, sketch, item, url), or "" when it does: a typed query is always scored in ``text``
    mode (:func:`_as_text_mode`)."""
    return TEXT_QUERY_MODE_NOTE if kind == "text" else ""


def _as_text_mode(options: SearchOptions) -> SearchOptions:
    """A typed query is always scored in ``text`` mode (text embedding vs gallery images)."""
    from dataclasses import replace

    if options.mode not in ("text", DEFAULT_MODE, "image"):
        log.info("a text query uses mode 'text', not %r", options.mode)
    return replace(options, mode="text")


__all__ = [
    "Hit",
    "ModeError",
    "Query",
    "QueryError",
    "SearchOptions",
    "SearchResult",
    "Searcher",
    "mode_note",
]
