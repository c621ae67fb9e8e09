"""The retrieval modes of caption-matching as score functions over embedding matrices.

Every vector is L2-normalised, so a dot product is a cosine similarity. Three kinds of vector exist
for an image x: ``image`` = v(x), the CLIP image embedding; ``caption`` = t(x), the CLIP text
embedding of its caption; and for a typed query ``text`` = the CLIP text embedding of the text.

| mode              | query vector | gallery vector | score                     |
|-------------------|--------------|----------------|---------------------------|
| image             | image        | image          | v(q)·v(g)                 |
| caption (CM)      | caption      | image          | t(q)·v(g)                 |
| caption-caption   | caption      | caption        | t(q)·t(g)                 |
| text              | text         | image          | text(q)·v(g)              |
| fusion            | —            | —              | Σ w_m · z_m(q, g)         |

``z_m`` standardises mode m's scores per query over the gallery (zero mean, unit variance), so the
fused modes have comparable scales whatever their raw cosine ranges are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

DEFAULT_MODE = "caption"
BASE_MODES: tuple[str, ...] = ("image", "caption", "caption-caption")
MODES: tuple[str, ...] = ("image", "caption", "caption-caption", "fusion", "text")

# mode -> (kind of query vector, kind of gallery vector)
MODE_VECTORS: dict[str, tuple[str, str]] = {
    "image": ("image", "image"),
    "caption": ("caption", "image"),
    "caption-caption": ("caption", "caption"),
    "text": ("text", "image"),
}

DEFAULT_FUSION_WEIGHTS: dict[str, float] = {"image": 0.5, "caption": 1.0, "caption-caption": 0.5}


class ModeError(ValueError):
    """An unknown mode, or a mode whose vectors are missing."""


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is known, else raise an error listing the valid modes."""
    if mode not in MODES:
        raise ModeError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class FusionWeights:
    """User weights for the fusion mode; modes with weight 0 are skipped."""

    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(BASE_MODES)
        if unknown:
            raise ModeError(
                f"fusion weights name unknown modes {sorted(unknown)}; use {', '.join(BASE_MODES)}"
            )
        if not all(math.isfinite(w) for w in self.weights.values()):
            raise ModeError(f"fusion weights must be finite numbers, got {dict(self.weights)}")
        if not any(w != 0 for w in self.weights.values()):
            raise ModeError("fusion needs at least one non-zero weight")

    @classmethod
    def parse(cls, spec: str | Mapping[str, float] | None) -> FusionWeights:
        """Accept ``None`` (defaults), a mapping, or ``"image=0.5,caption=1"``."""
        if spec is None:
            return cls(dict(DEFAULT_FUSION_WEIGHTS))
        if isinstance(spec, str):
            pairs = (part.split("=", 1) for part in spec.split(",") if part.strip())
            try:
                spec = {name.strip(): float(value) for name, value in pairs}
            except ValueError as exc:
                hint = "fusion weights must look like 'image=0.5,caption=1'"
                raise ModeError(f"{hint}: {exc}") from exc
        return cls({name: float(w) for name, w in spec.items()})

    def active(self) -> dict[str, float]:
        return {m: float(w) for m, w in self.weights.items() if w != 0}


def required_query_kinds(mode: str, fusion: FusionWeights | None = None) -> set[str]:
    """The kinds of query vector a mode needs."""
    check_mode(mode)
    if mode == "fusion":
        weights = (fusion or FusionWeights.parse(None)).active()
        return {MODE_VECTORS[m][0] for m in weights}
    return {MODE_VECTORS[mode][0]}


def gallery_kinds(mode: str, fusion: FusionWeights | None = None) -> set[str]:
    """The kinds of gallery vector a mode reads (``image``, ``caption``): CM reads the gallery's
    images only, so its captions (neutralised or not) need not be embedded for it."""
    check_mode(mode)
    if mode == "fusion":
        weights = (fusion or FusionWeights.parse(None)).active()
        return {MODE_VECTORS[m][1] for m in weights}
    return {MODE_VECTORS[mode][1]}


def standardise(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Z-score each row of ``scores`` over the columns where ``valid`` is true.

    Invalid columns get ``-inf`` so they never rank. A row with zero variance becomes zeros.
    """
    scores = np.asarray(scores, dtype=np.float64)
    mask = np.ones(scores.shape[-1], dtype=bool) if valid is None else np.asarray(valid, bool)
    out = np.full(scores.shape, -np.inf)
    if not mask.any():
        return out
    sub = scores[..., mask]
    mean = sub.mean(axis=-1, keepdims=True)
    std = sub.std(axis=-1, keepdims=True)
    out[..., mask] = np.where(std > 0, (sub - mean) / np.where(std > 0, std, 1.0), 0.0)
    return out


def base_scores(
    mode: str, queries: Mapping[str, np.ndarray], gallery: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Raw cosine scores (Q, N) of a non-fusion mode."""
    q_kind, g_kind = _vectors_of(mode)
    if q_kind not in queries or queries[q_kind] is None:
        raise ModeError(f"mode {mode!r} needs a {q_kind} vector for the query")
    if g_kind not in gallery or gallery[g_kind] is None:
        raise ModeError(f"mode {mode!r} needs {g_kind} embeddings for the gallery")
    q = np.atleast_2d(np.asarray(queries[q_kind], dtype=np.float32))
    return q @ np.asarray(gallery[g_kind], dtype=np.float32).T


def _vectors_of(mode: str) -> tuple[str, str]:
    """(query kind, gallery kind) of a non-fusion mode."""
    if check_mode(mode) not in MODE_VECTORS:
        raise ModeError(f"mode {mode!r} combines other modes; it has no vectors of its own")
    return MODE_VECTORS[mode]


def gallery_valid(
    mode: str, gallery_valid_kinds: Mapping[str, np.ndarray] | None, n: int
) -> np.ndarray:
    """Which gallery rows have the vectors a base mode reads (e.g. a caption not yet computed)."""
    g_kind = _vectors_of(mode)[1]
    if gallery_valid_kinds is None:
        return np.ones(n, dtype=bool)
    valid = gallery_valid_kinds.get(g_kind)
    return np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)


def score_matrix(
    mode: str,
    queries: Mapping[str, np.ndarray],
    gallery: Mapping[str, np.ndarray],
    fusion: FusionWeights | None = None,
    valid: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Scores (Q, N) of every query against every gallery item under ``mode``.

    ``valid`` maps a gallery vector kind to a boolean mask of rows that have that vector; rows
    lacking it score ``-inf`` (they cannot be ranked by that mode). In fusion a row must have the
    vectors of every weighted mode, and each mode is standardised over exactly those rows, so the
    z-scores of the fused modes describe the same population.
    """
    check_mode(mode)
    n = _gallery_size(gallery)
    if mode != "fusion":
        scores = base_scores(mode, queries, gallery).astype(np.float64)
        scores[:, ~gallery_valid(mode, valid, n)] = -np.inf
        return scores
    weights = (fusion or FusionWeights.parse(None)).active()
    ok = np.logical_and.reduce([gallery_valid(name, valid, n) for name in weights])
    total = np.zeros((_n_queries(queries), n))
    for name, weight in weights.items():
        z = standardise(base_scores(name, queries, gallery), ok)
        total += weight * np.where(ok, z, 0.0)  # -inf * a negative weight would be +inf
    total[:, ~ok] = -np.inf
    return total


def _gallery_size(gallery: Mapping[str, np.ndarray]) -> int:
    sizes = {len(v) for v in gallery.values() if v is not None}
    if len(sizes) != 1:
        raise ModeError(f"gallery matrices must be given and have one row count, got {sizes}")
    return sizes.pop()


def _n_queries(queries: Mapping[str, np.ndarray]) -> int:
    return max((len(np.atleast_2d(v)) for v in queries.values() if v is not None), default=1)
