"""Top-k ranking of one query against a gallery under a retrieval mode.

A non-fusion mode compares one query vector with one gallery matrix (see
:data:`cdir.retrieval.scoring.MODE_VECTORS`), so it is answered by the prebuilt index of that matrix
when the gallery has one, and by an exact numpy scan otherwise. Fusion standardises every mode's
scores over the candidate rows, so it always scans the whole gallery exactly: O(N·D) per query and
per fused mode.

Whatever the path, the result skips rows outside ``allowed``, rows in ``exclude`` and rows lacking
the vector the mode reads (a caption not computed yet, an image that failed to embed).

Ties (common with templated captions: 72-95 % of caption-caption queries of the demo model tie for
the top score) are broken by a rule that does not follow file order (:func:`tie_break_key`): first
the image-image similarity of the query's image to the tied row's image (so a caption tie goes to
the row that also looks most like the query), and where that does not apply (an image-mode or text
query) a fixed pseudo-random projection of the row's image vector, a key of the content that no
renaming or re-ordering of files changes. Only rows equal on both keys fall back to row order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cdir.retrieval.scoring import (
    MODE_VECTORS,
    FusionWeights,
    ModeError,
    check_mode,
    score_matrix,
)
from cdir.store.vector_index import VectorIndex, exact_search, top_k

log = logging.getLogger(__name__)

GALLERY_KINDS: tuple[str, ...] = ("image", "caption")
TIE_BREAKS: tuple[str, ...] = ("image", "content", "row")
_CONTENT_SEED = 20240322  # the seed of the content key's fixed projection
NO_CAPTIONS_HINT = (
    "no captions yet (they are made after the images are embedded: wait for captioning to "
    "finish, or ingest with --captions all); meanwhile use the image or caption (CM) mode"
)


@dataclass(frozen=True)
class RankRequest:
    """What to rank: a mode, how many results, and which gallery rows may appear.

    ``allowed`` (e.g. the target domains) and ``exclude`` (the query itself and its exact
    duplicates) are bool masks over the gallery rows.
    """

    mode: str
    k: int = 12
    allowed: np.ndarray | None = None
    exclude: np.ndarray | None = None
    fusion: FusionWeights | None = None
    tie_break: str = "image"  # see tie_break_key; "row" is the old file-order rule


@dataclass
class GalleryVectors:
    """The gallery's embedding matrices, row i = collection item i.

    Missing vectors are all-zero rows. ``has_caption`` marks rows whose caption embedding exists;
    when it is None it is read off the caption matrix (non-zero, finite rows). Image rows that are
    all zero are treated as missing too. ``indexes`` holds optional prebuilt indexes over the
    ``"image"`` and ``"caption"`` matrices. Treat an instance as immutable: the masks are derived
    once, when it is made.
    """

    image: np.ndarray
    caption: np.ndarray | None = None
    has_caption: np.ndarray | None = None
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    _valid: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.image = _as_float32(self.image, "image")
        self._valid = {"image": _present_rows(self.image)}
        if self.has_caption is not None:
            self.has_caption = _as_mask(self.has_caption, len(self.image), "has_caption")
        if self.caption is None:
            return
        self.caption = _as_float32(self.caption, "caption", shape=self.image.shape)
        present = _present_rows(self.caption)
        self.has_caption = present if self.has_caption is None else self.has_caption & present
        self._valid["caption"] = self.has_caption

    def __len__(self) -> int:
        return len(self.image)

    @property
    def dim(self) -> int:
        return self.image.shape[1]

    def matrix(self, kind: str) -> np.ndarray | None:
        """The (N, D) matrix of a gallery vector kind (``image`` or ``caption``)."""
        if kind not in GALLERY_KINDS:
            kinds = ", ".join(GALLERY_KINDS)
            raise ValueError(f"unknown gallery vector kind {kind!r}; use {kinds}")
        return self.image if kind == "image" else self.caption

    def valid(self, kind: str) -> np.ndarray:
        """Rows that have a vector of ``kind``."""
        return self._valid.get(kind, np.zeros(len(self), dtype=bool))

    def index(self, kind: str) -> VectorIndex | None:
        """The prebuilt index of ``kind`` if it matches the matrix (else None: scan exactly)."""
        index = self.indexes.get(kind)
        if index is None or (len(index), index.dim) == self.image.shape:
            return index
        shapes = f"{len(index)} x {index.dim} vs {len(self)} x {self.dim}"
        log.warning("ignoring the stale %s index (%s vectors); scanning exactly", kind, shapes)
        return None


def rank(
    query: Mapping[str, np.ndarray],
    gallery: GalleryVectors,
    request: RankRequest,
    image_for_ties: Callable[[], np.ndarray] | None = None,
) -> list[tuple[int, float]]:
    """The best ``request.k`` gallery rows for ``query`` as ``(row, score)``, best first.

    ``query`` maps a vector kind (``image``, ``caption``, ``text``) to the query's (D,) vector.
    Scores are cosine similarities, or for fusion a weighted sum of z-scores. Rows excluded,
    disallowed or lacking the mode's gallery vector never appear; ties go to the lower row.
    Non-fusion modes use ``gallery.indexes`` when present; fusion is a full exact scan, O(N·D)
    per query and per fused mode.

    ``image_for_ties``: makes the query's (D,) image vector when ``query`` has none and the mode
    does not read it (a CM query from a fresh process never builds the image tower): it is called
    only when two of the rows found have the same score, where the ``image`` tie-break rule reads
    it, so the order is the same as with the vector given.

    Raises :class:`cdir.retrieval.scoring.ModeError` when the mode needs vectors that do not exist
    (no captions yet, no caption for the query).
    """
    mode = check_mode(request.mode)
    if request.k < 1:
        raise ValueError(f"k must be at least 1, got {request.k}")
    vectors = _query_vectors(query, gallery.dim)
    _require_vectors(mode, vectors, gallery, request.fusion)
    if request.tie_break not in TIE_BREAKS:
        raise ValueError(f"unknown tie_break {request.tie_break!r}; use {', '.join(TIE_BREAKS)}")
    candidates = _candidates(gallery, request)
    if mode == "fusion":
        scores, rows = _rank_fusion(vectors, gallery, request, candidates)
    else:
        scores, rows = _rank_base(mode, vectors, gallery, request.k, candidates)
    found = rows >= 0
    scores, rows = scores[found], rows[found]
    if request.tie_break != "row" and len(rows) > 1:
        query_image = vectors.get("image")
        if query_image is None and image_for_ties is not None and _has_ties(scores):
            query_image = np.asarray(image_for_ties(), dtype=np.float32)
        key = tie_break_key(gallery.image[rows], query_image, mode, request.tie_break)
        order = np.lexsort((rows, -key, -scores.astype(np.float64)))
        scores, rows = scores[order], rows[order]
    return [(int(r), float(s)) for r, s in zip(rows[: request.k], scores[: request.k], strict=True)]


def _has_ties(scores: np.ndarray) -> bool:
    """True when two of ``scores`` are equal (then the tie-break key decides their order)."""
    return len(np.unique(scores)) < len(scores)


def tie_break_key(
    gallery_image: np.ndarray, query_image: np.ndarray | None, mode: str, rule: str = "image"
) -> np.ndarray:
    """The secondary sort key (larger first) of gallery rows whose scores tie.

    ``image``: the cosine of the query's image vector with each row's image vector, when the query
    has one and the mode is not ``image`` itself; otherwise, and for ``content``, the row's image
    vector projected on a fixed pseudo-random unit vector: a stable key of the content, the same
    whatever the file order. (``row`` returns zeros: ties stay in row order.)"""
    gallery_image = np.asarray(gallery_image, dtype=np.float32)
    if rule == "row":
        return np.zeros(len(gallery_image))
    if rule == "image" and query_image is not None and mode != "image":
        return gallery_image @ np.asarray(query_image, dtype=np.float32).reshape(-1)
    direction = np.random.default_rng(_CONTENT_SEED).standard_normal(gallery_image.shape[1])
    return gallery_image @ (direction / np.linalg.norm(direction)).astype(np.float32)


def _modes_used(mode: str, fusion: FusionWeights | None) -> list[str]:
    if mode != "fusion":
        return [mode]
    return list((fusion or FusionWeights.parse(None)).active())


def _require_vectors(
    mode: str, vectors: dict[str, np.ndarray], gallery: GalleryVectors, fusion: FusionWeights | None
) -> None:
    """Raise ModeError, saying what to do, when a vector the mode reads is missing."""
    for name in _modes_used(mode, fusion):
        q_kind, g_kind = MODE_VECTORS[name]
        if not gallery.valid(g_kind).any():
            raise ModeError(f"mode {mode!r} reads the gallery's {g_kind} vectors: {_hint(g_kind)}")
        if q_kind not in vectors:
            raise ModeError(f"mode {mode!r} needs the query's {q_kind} vector: {_hint(q_kind)}")


def _hint(kind: str) -> str:
    if kind == "caption":
        return NO_CAPTIONS_HINT
    if kind == "text":
        return "give a text query (--text), or use --mode image"
    return "none of these images could be embedded; re-run ingest"


def _query_vectors(query: Mapping[str, np.ndarray], dim: int) -> dict[str, np.ndarray]:
    """The query's usable (D,) float32 vectors; all-zero or non-finite ones count as absent."""
    out = {}
    for kind, vector in query.items():
        if vector is None:
            continue
        vec = np.asarray(vector, dtype=np.float32)
        if vec.size != dim or (vec.ndim == 2 and len(vec) != 1) or vec.ndim > 2:
            raise ValueError(f"query {kind} vector must have shape ({dim},), got {vec.shape}")
        vec = vec.reshape(dim)
        if np.isfinite(vec).all() and vec.any():
            out[kind] = vec
    return out


def _candidates(gallery: GalleryVectors, request: RankRequest) -> np.ndarray:
    """Rows that may be returned: allowed and not excluded."""
    n = len(gallery)
    mask = np.ones(n, dtype=bool)
    if request.allowed is not None:
        mask &= _as_mask(request.allowed, n, "allowed")
    if request.exclude is not None:
        mask &= ~_as_mask(request.exclude, n, "exclude")
    return mask


def _rank_base(
    mode: str, vectors: dict[str, np.ndarray], gallery: GalleryVectors, k: int, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    q_kind, g_kind = MODE_VECTORS[mode]
    mask = mask & gallery.valid(g_kind)
    index = gallery.index(g_kind)
    if index is not None:
        return _search_index(index, vectors[q_kind], k, mask)
    allowed = None if mask.all() else mask
    matrix = gallery.matrix(g_kind)
    n_allowed = int(mask.sum())
    fetch = min(k + 1, n_allowed)
    while True:  # fetch past the k-th place until its ties are all in: the tie rule picks
        scores, rows = exact_search(matrix, vectors[q_kind][None, :], max(fetch, 1), allowed)
        scores, rows = scores[0], rows[0]
        if fetch >= n_allowed or len(rows) <= k or scores[k - 1] > scores[-1]:
            return scores, rows
        fetch = min(2 * fetch, n_allowed)


def _search_index(
    index: VectorIndex, vector: np.ndarray, k: int, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k from ``index``, fetching more while the k-th score is tied with the last fetched.

    An index returns only some of the rows tied at the cut; fetching past the tie brings them all
    in, so that the tie rule of :func:`rank` (not the index) picks among them, as in the exact scan.
    """
    n_allowed = int(mask.sum())
    allowed = None if n_allowed == len(mask) else mask
    fetch = min(k + 1, n_allowed)
    while fetch > 0:
        scores, rows = index.search(vector[None, :], fetch, allowed)
        found = rows[0] >= 0
        scores, rows = scores[0][found], rows[0][found]
        if len(rows) < fetch or fetch >= n_allowed or scores[k - 1] > scores[-1]:
            return scores, rows
        fetch = min(2 * fetch, n_allowed)
    return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)


def _rank_fusion(
    vectors: dict[str, np.ndarray], gallery: GalleryVectors, request: RankRequest, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fusion over the candidate rows; each mode is z-scored over those rows only."""
    valid = {kind: gallery.valid(kind) & mask for kind in GALLERY_KINDS}
    matrices = {kind: gallery.matrix(kind) for kind in GALLERY_KINDS}
    queries = {kind: vec[None, :] for kind, vec in vectors.items()}
    scores = score_matrix("fusion", queries, matrices, request.fusion, valid)
    top_scores, rows = top_k(scores, request.k)
    top_scores, rows = top_scores[0], rows[0]
    if len(rows) and rows[-1] >= 0:  # every row tied with the k-th, for the tie rule
        tied = np.flatnonzero(scores[0] == top_scores[-1])
        extra = np.setdiff1d(tied, rows)
        top_scores = np.concatenate([top_scores, scores[0][extra]])
        rows = np.concatenate([rows, extra])
    return top_scores, rows


def _as_float32(matrix: np.ndarray, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(matrix, dtype=np.float32)
    if arr.ndim != 2 or (shape is not None and arr.shape != shape):
        want = "(N, D)" if shape is None else str(shape)
        raise ValueError(f"gallery {name} matrix must have shape {want}, got {arr.shape}")
    return arr


def _as_mask(mask: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.shape != (n,):
        raise ValueError(f"{name} must be a bool mask of shape ({n},), got {arr.dtype} {arr.shape}")
    return arr


def _present_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows holding a real vector: finite and not all zero."""
    return np.isfinite(matrix).all(axis=1) & (matrix != 0).any(axis=1)
