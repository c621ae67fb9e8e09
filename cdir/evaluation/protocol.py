"""The paper's evaluation protocol on embedding arrays: every retrieval mode, every domain pair.

For every ordered pair of domains A → B (A ≠ B) the queries are the images of A and the gallery is
the images of B; a gallery image is relevant when it has the query's class. Each *variant* (a
retrieval mode, optionally on neutralised captions, and for fusion a set of weights) is scored with
:func:`cdir.retrieval.scoring.score_matrix` and measured with :mod:`cdir.evaluation.metrics`
(precision@k with the denominator ``min(k, relevant items)`` and mAP@all, reported in %).

Rules worth knowing when reading a report:

* A query whose class has no image in the gallery cannot be measured: it is skipped and counted
  (``n_no_relevant``). A caption-based variant also skips queries without a caption vector (an
  all-zero or non-finite row), counted in ``n_no_caption``. ``n_queries`` counts the rest.
* Gallery images without a caption vector stay in the gallery; modes that read gallery captions
  (caption-caption, fusion using it) cannot score them, so they rank last.
* Averages are unweighted means over the domain pairs that have at least one measured query.
* Domain bias: with the whole collection as gallery (the query itself excluded), the share of a
  query's top ``bias_k`` that comes from the query's own domain, averaged over queries; *chance*
  is the share a random ranking would give, ``(n_domain - 1) / (n - 1)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from cdir.evaluation.metrics import metrics_from_ranks, relevant_ranks, top_k_order
from cdir.evaluation.results import (
    ALL,
    AverageResult,
    BiasResult,
    EvalReport,
    PairResult,
    domain_pairs,
)
from cdir.retrieval.scoring import (
    FusionWeights,
    ModeError,
    check_mode,
    required_query_kinds,
    score_matrix,
)

logger = logging.getLogger(__name__)

SMALL_KS: tuple[int, ...] = (1, 5, 15)  # Office-Home
LARGE_KS: tuple[int, ...] = (50, 100, 200)  # DomainNet
LARGE_DOMAIN = 5000  # a largest domain at least this big counts as DomainNet-sized

Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------- inputs


def _as_matrix(values: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{name} embeddings must be a 2-D (items, dim) array, got {matrix.shape}")
    if n is not None and len(matrix) != n:
        raise ValueError(f"{name} has {len(matrix)} rows but there are {n} images")
    return matrix


def _as_labels(values: np.ndarray, name: str, n: int) -> np.ndarray:
    labels = np.asarray(values).astype(str).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries but there are {n} images")
    return labels


@dataclass
class EvalData:
    """Embeddings and labels of a labelled collection, one row per image.

    ``caption`` holds the CLIP text embeddings of the images' captions and ``caption_neutral``
    those of the captions with style words removed; either may be ``None`` (not computed), and
    a row that is all zero or non-finite means that image has no caption vector.
    """

    image: np.ndarray
    caption: np.ndarray | None
    caption_neutral: np.ndarray | None
    domains: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        self.image = _as_matrix(self.image, "image")
        n, dim = self.image.shape
        for name in ("caption", "caption_neutral"):
            value = getattr(self, name)
            if value is not None:
                value = _as_matrix(value, name, n)
                if value.shape[1] != dim:
                    raise ValueError(f"{name} has dimension {value.shape[1]}, image has {dim}")
                setattr(self, name, value)
        self.domains = _as_labels(self.domains, "domains", n)
        self.classes = _as_labels(self.classes, "classes", n)

    def __len__(self) -> int:
        return len(self.image)

    def subset(self, mask: np.ndarray) -> EvalData:
        """The rows where ``mask`` is true."""
        rows = {name: getattr(self, name) for name in ("image", "caption", "caption_neutral")}
        rows = {name: None if value is None else value[mask] for name, value in rows.items()}
        return EvalData(domains=self.domains[mask], classes=self.classes[mask], **rows)


def caption_mask(vectors: np.ndarray) -> np.ndarray:
    """Which rows hold a caption vector: all finite and not all zero."""
    vectors = np.asarray(vectors)
    return np.isfinite(vectors).all(axis=1) & np.any(vectors != 0, axis=1)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate. ``ks=None`` picks :data:`SMALL_KS` or :data:`LARGE_KS` by gallery size;
    ``domains`` / ``classes`` restrict the collection; ``neutralise`` lists the caption kinds
    (raw, neutralised) the caption-based modes run on; ``fusion_grid`` adds fusion weightings
    evaluated beside the default one."""

    modes: tuple[str, ...] = ("image", "caption", "caption-caption", "fusion")
    ks: tuple[int, ...] | None = None
    domains: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    neutralise: tuple[bool, ...] = (False, True)
    fusion_grid: tuple[FusionWeights, ...] = ()
    bias_k: int = 10
    chunk_size: int = 256

    def __post_init__(self) -> None:
        for mode in self.modes:
            if check_mode(mode) == "text":
                raise ModeError("mode 'text' needs typed queries; it cannot be evaluated on images")
        if self.ks is not None and (not self.ks or min(self.ks) < 1):
            raise ValueError(f"ks must be positive integers, got {self.ks!r}")
        if self.bias_k < 1 or self.chunk_size < 1:
            raise ValueError("bias_k and chunk_size must be at least 1")


def default_ks(domains: np.ndarray) -> tuple[int, ...]:
    """Office-Home's k = 1, 5, 15 unless the largest domain is DomainNet-sized (50, 100, 200)."""
    _, counts = np.unique(np.asarray(domains), return_counts=True)
    return LARGE_KS if len(counts) and counts.max() >= LARGE_DOMAIN else SMALL_KS


def _check_known(wanted: Sequence[str], labels: np.ndarray, what: str) -> None:
    unknown = sorted(set(wanted) - set(labels))
    if unknown:
        known = ", ".join(sorted(set(labels)))
        raise ValueError(f"unknown {what} {unknown}; the collection has: {known}")


def select(data: EvalData, config: EvalConfig) -> EvalData:
    """The part of ``data`` inside the configured domain and class subsets."""
    mask = np.ones(len(data), dtype=bool)
    for wanted, labels, what in (
        (config.domains, data.domains, "domains"),
        (config.classes, data.classes, "classes"),
    ):
        if wanted is not None:
            _check_known(wanted, labels, what)
            mask &= np.isin(labels, list(wanted))
    return data if mask.all() else data.subset(mask)


# --------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One evaluated setting: a mode, on neutralised captions or not, with fusion weights."""

    mode: str
    neutral: bool = False
    fusion: FusionWeights | None = None

    @property
    def uses_captions(self) -> bool:
        return "caption" in required_query_kinds(self.mode, self.fusion)

    @property
    def name(self) -> str:
        """``caption``, ``caption+neutral``, ``fusion(image=0.5,caption=1)``, ..."""
        base = self.mode
        if self.mode == "fusion":
            weights = (self.fusion or FusionWeights.parse(None)).active()
            base = "fusion(" + ",".join(f"{m}={w:g}" for m, w in weights.items()) + ")"
        return base + ("+neutral" if self.neutral else "")


def _candidate_variants(config: EvalConfig) -> list[Variant]:
    fusions = [Variant("fusion", fusion=w) for w in config.fusion_grid]
    out: list[Variant] = []
    for mode in config.modes:
        if mode == "fusion":
            out += [Variant("fusion", fusion=FusionWeights.parse(None)), *fusions]
            fusions = []
        else:
            out.append(Variant(mode))
    return out + fusions


def build_variants(config: EvalConfig, data: EvalData) -> tuple[list[Variant], list[str]]:
    """The variants to evaluate, and notes on those that cannot be (missing caption vectors)."""
    available = {False: data.caption is not None, True: data.caption_neutral is not None}
    variants: dict[str, Variant] = {}
    missing: dict[bool, list[str]] = {False: [], True: []}
    for base in _candidate_variants(config):
        for neutral in config.neutralise if base.uses_captions else (False,):
            variant = Variant(base.mode, neutral, base.fusion)
            if base.uses_captions and not available[neutral]:
                missing[neutral].append(variant.name)
            else:
                variants.setdefault(variant.name, variant)
    kinds = {False: "caption embeddings", True: "neutralised caption embeddings"}
    notes = [
        f"no {kinds[flag]}: not evaluated: {', '.join(names)}"
        for flag, names in missing.items()
        if names
    ]
    return list(variants.values()), notes


# --------------------------------------------------------------------------- prepared arrays


@dataclass(frozen=True)
class _Prepared:
    """EvalData ready for scoring: label codes and caption matrices with unusable rows zeroed."""

    image: np.ndarray
    captions: dict[bool, np.ndarray]
    has_caption: dict[bool, np.ndarray]
    domain_names: list[str]
    domain_codes: np.ndarray
    class_names: np.ndarray
    class_codes: np.ndarray

    @classmethod
    def build(cls, data: EvalData, domain_order: Sequence[str] | None) -> _Prepared:
        raw = {False: data.caption, True: data.caption_neutral}
        masks = {flag: caption_mask(m) for flag, m in raw.items() if m is not None}
        captions = {flag: np.where(masks[flag][:, None], raw[flag], 0.0) for flag in masks}
        present = set(data.domains)
        names = [d for d in domain_order or sorted(present) if d in present]
        lookup = {name: i for i, name in enumerate(names)}
        class_names, class_codes = np.unique(data.classes, return_inverse=True)
        domain_codes = np.array([lookup[d] for d in data.domains], dtype=np.int64)
        return cls(data.image, captions, masks, names, domain_codes, class_names, class_codes)

    def indices(self, domain: str) -> np.ndarray:
        return np.flatnonzero(self.domain_codes == self.domain_names.index(domain))

    def vectors(self, variant: Variant, rows: np.ndarray) -> dict[str, np.ndarray]:
        out = {"image": self.image[rows]}
        if variant.neutral in self.captions:
            out["caption"] = self.captions[variant.neutral][rows]
        return out

    def valid(self, variant: Variant, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        mask = self.has_caption.get(variant.neutral)
        return None if mask is None else {"caption": mask[rows]}

    def can_query(self, variant: Variant, rows: np.ndarray) -> np.ndarray:
        if not variant.uses_captions:
            return np.ones(len(rows), dtype=bool)
        return self.has_caption[variant.neutral][rows]


def _score_chunks(
    data: _Prepared, variant: Variant, queries: np.ndarray, gallery: np.ndarray, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(query rows, scores)`` for ``chunk`` queries at a time against the whole gallery."""
    vectors, valid = data.vectors(variant, gallery), data.valid(variant, gallery)
    for start in range(0, len(queries), chunk):
        rows = queries[start : start + chunk]
        q = data.vectors(variant, rows)
        yield rows, score_matrix(variant.mode, q, vectors, variant.fusion, valid)


# --------------------------------------------------------------------------- domain pairs


def _mean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the finite values, ``nan`` when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def _evaluate_pair(
    data: _Prepared, variant: Variant, a: str, b: str, ks: Sequence[int], chunk: int
) -> PairResult:
    """Queries from domain ``a`` against the gallery of domain ``b``."""
    queries, gallery = data.indices(a), data.indices(b)
    gallery_classes = data.class_codes[gallery]
    has_relevant = np.isin(data.class_codes[queries], gallery_classes)
    measured = queries[has_relevant & data.can_query(variant, queries)]
    ranks: list[np.ndarray] = []
    for rows, scores in _score_chunks(data, variant, measured, gallery, chunk):
        ranks += relevant_ranks(scores, data.class_codes[rows][:, None] == gallery_classes)
    metrics = metrics_from_ranks(ranks, ks)
    return PairResult(
        variant=variant.name,
        query_domain=a,
        gallery_domain=b,
        precision={k: 100.0 * _mean(v) for k, v in metrics.precision.items()},
        map=100.0 * _mean(metrics.average_precision),
        n_queries=len(measured),
        n_no_relevant=int((~has_relevant).sum()),
        n_no_caption=int(has_relevant.sum()) - len(measured),
        gallery_size=len(gallery),
    )


def _average_pairs(
    pairs: Sequence[PairResult], variants: Sequence[str], ks: Sequence[int]
) -> list[AverageResult]:
    out = []
    for name in variants:
        rows = [p for p in pairs if p.variant == name and p.n_queries > 0]
        precision = {k: _mean([p.precision[k] for p in rows]) for k in ks}
        out.append(AverageResult(name, precision, _mean([p.map for p in rows]), len(rows)))
    return out


# --------------------------------------------------------------------------- domain bias


def _own_domain_fractions(
    data: _Prepared, variant: Variant, k: int, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(query rows, share of each one's top k from its own domain)``, the gallery being every
    image but the query. Items the variant cannot score (``-inf``) do not count in the top k."""
    everyone = np.arange(len(data.image))
    queries = everyone[data.can_query(variant, everyone)]
    fractions = []
    for rows, scores in _score_chunks(data, variant, queries, everyone, chunk):
        scores[np.arange(len(rows)), rows] = -np.inf  # the query itself is not a result
        top = top_k_order(scores, k)
        scored = np.isfinite(np.take_along_axis(scores, top, axis=1))
        own = data.domain_codes[top] == data.domain_codes[rows][:, None]
        count = scored.sum(axis=1)
        share = (own & scored).sum(axis=1) / np.maximum(count, 1)
        fractions.append(np.where(count > 0, share, np.nan))
    return queries, np.concatenate(fractions) if fractions else np.zeros(0)


def _domain_bias(data: _Prepared, variant: Variant, k: int, chunk: int) -> list[BiasResult]:
    """The own-domain share of the top ``k``, overall and per query domain."""
    rows, fractions = _own_domain_fractions(data, variant, k, chunk)
    codes = data.domain_codes[rows]
    out = [BiasResult(variant.name, ALL, 100.0 * _mean(fractions), len(rows))]
    for code, name in enumerate(data.domain_names):
        mine = fractions[codes == code]
        out.append(BiasResult(variant.name, name, 100.0 * _mean(mine), len(mine)))
    return out


def _chance_bias(data: _Prepared) -> dict[str, float]:
    """The own-domain share (%) a random ranking gives, overall and per domain."""
    sizes = np.bincount(data.domain_codes, minlength=len(data.domain_names))
    share = (sizes - 1) / max(len(data.image) - 1, 1)
    out = {ALL: float(100.0 * (sizes * share).sum() / max(sizes.sum(), 1))}
    return out | {name: float(100.0 * s) for name, s in zip(data.domain_names, share, strict=True)}


def _absent_class_notes(data: _Prepared) -> list[str]:
    notes = []
    for a, b in domain_pairs(data.domain_names):
        absent = np.setdiff1d(data.class_codes[data.indices(a)], data.class_codes[data.indices(b)])
        if len(absent):
            n = int(np.isin(data.class_codes[data.indices(a)], absent).sum())
            names = ", ".join(data.class_names[absent])
            notes.append(f"{a} → {b}: {n} queries skipped, no {b} image of their class ({names})")
    return notes


def _caption_notes(data: _Prepared, variants: Sequence[Variant]) -> list[str]:
    notes = []
    for flag, mask in data.has_caption.items():
        used = any(v.uses_captions and v.neutral == flag for v in variants)
        if used and not mask.all():
            kind = "neutralised caption" if flag else "caption"
            notes.append(
                f"{int((~mask).sum())} images have no {kind} vector: caption-based variants "
                "skip them as queries; variants comparing gallery captions rank them last"
            )
    return notes


def _structure_notes(data: _Prepared) -> list[str]:
    if not data.domain_names:
        return ["no images to evaluate"]
    if len(data.domain_names) == 1:
        only = data.domain_names[0]
        return [
            f"only one domain ({only}): there is no cross-domain pair to evaluate; "
            "give images from at least two domains"
        ]
    return []


@dataclass
class _Ticker:
    """Counts finished work units and reports them to an optional ``progress(done, total)``."""

    total: int
    progress: Progress | None
    done: int = 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _run_pairs(
    data: _Prepared, variants: Sequence[Variant], ks: tuple[int, ...], chunk: int, tick: _Ticker
) -> list[PairResult]:
    results = []
    for variant in variants:
        for a, b in domain_pairs(data.domain_names):
            results.append(_evaluate_pair(data, variant, a, b, ks, chunk))
            tick()
    return results


def _run_bias(
    data: _Prepared, variants: Sequence[Variant], k: int, chunk: int, tick: _Ticker
) -> list[BiasResult]:
    results = []
    for variant in variants:
        results += _domain_bias(data, variant, k, chunk)
        tick()
    return results


def evaluate(
    data: EvalData, config: EvalConfig | None = None, progress: Progress | None = None
) -> EvalReport:
    """Run the protocol: every variant on every ordered domain pair, then the domain-bias view.

    ``progress(done, total)`` is called after each (variant, pair) and each bias pass.
    """
    config = config or EvalConfig()
    data = select(data, config)
    variants, notes = build_variants(config, data)
    prepared = _Prepared.build(data, config.domains)
    ks = tuple(config.ks or default_ks(data.domains))
    n_pairs = len(domain_pairs(prepared.domain_names))
    tick = _Ticker(len(variants) * (n_pairs + 1) if n_pairs else 0, progress)
    logger.info("evaluating %d variants on %d domain pairs, k=%s", len(variants), n_pairs, ks)
    report = EvalReport(
        variants=[v.name for v in variants],
        ks=ks,
        domain_sizes={d: len(prepared.indices(d)) for d in prepared.domain_names},
        n_classes=len(prepared.class_names),
        bias_k=config.bias_k,
        notes=_structure_notes(prepared) + notes,
    )
    if n_pairs:
        report.pairs = _run_pairs(prepared, variants, ks, config.chunk_size, tick)
        report.averages = _average_pairs(report.pairs, report.variants, ks)
        report.bias = _run_bias(prepared, variants, config.bias_k, config.chunk_size, tick)
        report.bias_chance = _chance_bias(prepared)
        report.notes += _absent_class_notes(prepared) + _caption_notes(prepared, variants)
    return report
