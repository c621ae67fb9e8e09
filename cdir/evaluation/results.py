"""What an evaluation measured (:class:`EvalReport` and its rows), apart from how it is computed
(:mod:`cdir.evaluation.protocol`) and how it is rendered (:mod:`cdir.evaluation.report`).
Metrics are in %: precision@k with the denominator ``min(k, relevant items)`` and mAP@all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

ALL = "all"


@dataclass(frozen=True)
class PairResult:
    """One variant on one domain pair; metrics in %, ``nan`` when no query could be measured."""

    variant: str
    query_domain: str
    gallery_domain: str
    precision: dict[int, float]
    map: float
    n_queries: int
    n_no_relevant: int
    n_no_caption: int
    gallery_size: int


@dataclass(frozen=True)
class AverageResult:
    """A variant's metrics averaged (unweighted) over the pairs it could be measured on."""

    variant: str
    precision: dict[int, float]
    map: float
    n_pairs: int


@dataclass(frozen=True)
class BiasResult:
    """Share (%) of the top ``k`` from the query's own domain; ``query_domain`` may be ``all``."""

    variant: str
    query_domain: str
    own_domain: float
    n_queries: int


@dataclass
class EvalReport:
    """Everything an evaluation measured; :mod:`cdir.evaluation.report` renders it as Markdown,
    CSV and JSON (``render_markdown``, ``render_csv``, ``render_json``, ``write_report``)."""

    variants: list[str]
    ks: tuple[int, ...]
    domain_sizes: dict[str, int]
    n_classes: int
    pairs: list[PairResult] = field(default_factory=list)
    averages: list[AverageResult] = field(default_factory=list)
    bias: list[BiasResult] = field(default_factory=list)
    bias_chance: dict[str, float] = field(default_factory=dict)
    bias_k: int = 10
    notes: list[str] = field(default_factory=list)

    def pair(self, variant: str, query_domain: str, gallery_domain: str) -> PairResult:
        """The result of one variant on one pair (``KeyError`` if it was not evaluated)."""
        key = (variant, query_domain, gallery_domain)
        for row in self.pairs:
            if (row.variant, row.query_domain, row.gallery_domain) == key:
                return row
        raise KeyError(f"no result for {variant!r} on {query_domain} → {gallery_domain}")

    def average(self, variant: str) -> AverageResult:
        return next(row for row in self.averages if row.variant == variant)

    def own_domain(self, variant: str, query_domain: str = ALL) -> float:
        """The domain-bias share (%) of a variant, overall or for one query domain."""
        rows = (b for b in self.bias if (b.variant, b.query_domain) == (variant, query_domain))
        return next(rows).own_domain


def domain_pairs(domains: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair (A, B) of distinct domains, in the order of ``domains``."""
    return [(a, b) for a in domains for b in domains if a != b]
