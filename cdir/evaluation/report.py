"""Render an :class:`~cdir.evaluation.results.EvalReport` as Markdown (best values in bold, one
table per domain pair, averages and domain bias), long-format CSV and JSON (format
``cdir-eval/1``, ``nan`` as ``null``), and write all three atomically."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from cdir.evaluation.results import ALL, EvalReport, domain_pairs
from cdir.names import shown_name
from cdir.store.collection import atomic_write_bytes

logger = logging.getLogger(__name__)

REPORT_FORMAT = "cdir-eval/1"


def _fmt(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.1f}"


def _cell(text: object) -> str:
    return shown_name(str(text).replace("\n", " ")).replace("|", "\\|")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> list[str]:
    """A Markdown table; columns after the first are right-aligned when ``numeric``."""
    lines = ["| " + " | ".join(map(_cell, head)) + " |"]
    lines.append("|:---|" + ("---:|" if numeric else ":---|") * (len(head) - 1))
    return lines + ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]


def _bold_best(values: Sequence[Sequence[float]], lowest: bool = False) -> list[list[str]]:
    """Format a block of values (rows × columns), the best of each column (at the shown
    precision) in bold; nothing is bold in a column with fewer than two values."""
    shown = np.array([[round(v, 1) if np.isfinite(v) else np.nan for v in row] for row in values])
    cells = [[_fmt(v) for v in row] for row in values]
    for j in range(shown.shape[1] if shown.size else 0):
        column = shown[:, j]
        if np.isfinite(column).sum() < 2:
            continue
        best = np.nanmin(column) if lowest else np.nanmax(column)
        for i in np.flatnonzero(column == best):
            cells[i][j] = f"**{cells[i][j]}**"
    return cells


def _metric_names(ks: Sequence[int]) -> list[str]:
    return [f"P@{k}" for k in ks] + ["mAP"]


def _header_lines(report: EvalReport, header: Mapping[str, str]) -> list[str]:
    sizes = ", ".join(f"{shown_name(d)} ({n})" for d, n in report.domain_sizes.items())
    facts = [
        *header.items(),
        ("images", str(sum(report.domain_sizes.values()))),
        ("domains", sizes or "none"),
        ("classes", str(report.n_classes)),
        ("k", ", ".join(map(str, report.ks))),
        ("variants", ", ".join(report.variants)),
    ]
    return ["# Cross-domain retrieval evaluation", "", *_table(["", ""], facts, numeric=False)]


def _averages_lines(report: EvalReport) -> list[str]:
    n_pairs = len(domain_pairs(list(report.domain_sizes)))
    values = [[*a.precision.values(), a.map] for a in report.averages]
    cells = _bold_best(values)
    rows = [[a.variant, *c, str(a.n_pairs)] for a, c in zip(report.averages, cells, strict=True)]
    intro = (
        "Precision@k (denominator min(k, relevant images)) and mAP@all in %, averaged over "
        f"the {n_pairs} ordered domain pairs; best in bold."
    )
    head = ["variant", *_metric_names(report.ks), "pairs"]
    return ["## Averages over domain pairs", "", intro, "", *_table(head, rows)]


def _pair_lines(report: EvalReport, a: str, b: str) -> list[str]:
    rows = [report.pair(v, a, b) for v in report.variants]
    cells = _bold_best([[*r.precision.values(), r.map] for r in rows])
    table = [
        [r.variant, *c, str(r.n_queries), str(r.n_no_relevant + r.n_no_caption)]
        for r, c in zip(rows, cells, strict=True)
    ]
    head = ["variant", *_metric_names(report.ks), "queries", "skipped"]
    sizes = report.domain_sizes
    intro = (
        f"Queries: the {sizes[a]} images of {shown_name(a)}; gallery: the {sizes[b]} "
        f"images of {shown_name(b)}."
    )
    return [f"### {shown_name(a)} → {shown_name(b)}", "", intro, "", *_table(head, table), ""]


def _bias_lines(report: EvalReport) -> list[str]:
    columns = [ALL, *report.domain_sizes]
    values = [[report.own_domain(v, d) for d in columns] for v in report.variants]
    rows = [[v, *c] for v, c in zip(report.variants, _bold_best(values, lowest=True), strict=True)]
    rows.append(["*chance*", *(_fmt(report.bias_chance[d]) for d in columns)])
    intro = (
        f"Share (%) of each query's top {report.bias_k} (gallery: every image but the query) "
        "from the query's own domain, by query domain; lower means less domain bias, lowest "
        "in bold; *chance* is what a random ranking gives."
    )
    return ["## Domain bias", "", intro, "", *_table(["variant", *columns], rows)]


def render_markdown(report: EvalReport, header: Mapping[str, str] | None = None) -> str:
    """The report as a Markdown document (header, averages, per-pair tables, domain bias)."""
    lines = _header_lines(report, header or {})
    if report.pairs:
        lines += ["", *_averages_lines(report), "", "## Per domain pair", ""]
        for a, b in domain_pairs(list(report.domain_sizes)):
            lines += _pair_lines(report, a, b)
        lines += _bias_lines(report)
    else:
        lines += ["", "No retrieval metrics: there is no domain pair to evaluate."]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {shown_name(note)}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def _long_rows(report: EvalReport) -> Iterator[tuple[str, str, str, str, float | int]]:
    """``(variant, query_domain, gallery_domain, metric, value)`` for every number measured."""
    for p in report.pairs:
        where = (p.query_domain, p.gallery_domain)
        for k, value in p.precision.items():
            yield p.variant, *where, f"P@{k}", value
        yield p.variant, *where, "mAP", p.map
        for metric in ("n_queries", "n_no_relevant", "n_no_caption", "gallery_size"):
            yield p.variant, *where, metric, getattr(p, metric)
    for a in report.averages:
        for k, value in a.precision.items():
            yield a.variant, ALL, ALL, f"P@{k}", value
        yield a.variant, ALL, ALL, "mAP", a.map
        yield a.variant, ALL, ALL, "n_pairs", a.n_pairs
    for b in report.bias:
        yield b.variant, b.query_domain, ALL, f"own_domain@{report.bias_k}", b.own_domain
    for domain, value in report.bias_chance.items():
        yield "chance", domain, ALL, f"own_domain@{report.bias_k}", value


def render_csv(report: EvalReport) -> str:
    """Long format: ``variant,query_domain,gallery_domain,metric,value`` (empty value = none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variant", "query_domain", "gallery_domain", "metric", "value"])
    for *key, value in _long_rows(report):
        writer.writerow([*key, "" if isinstance(value, float) and math.isnan(value) else value])
    return out.getvalue()


def _json_clean(value: object) -> object:
    """JSON-safe copy: ``nan`` becomes ``None``, mapping keys strings, numpy scalars Python."""
    if isinstance(value, Mapping):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(report: EvalReport, header: Mapping[str, str] | None = None) -> dict:
    """The report as a JSON-serialisable dict (``nan`` → ``null``)."""
    document = {
        "format": REPORT_FORMAT,
        "header": dict(header or {}),
        "ks": list(report.ks),
        "variants": report.variants,
        "domains": report.domain_sizes,
        "n_classes": report.n_classes,
        "pairs": [asdict(p) for p in report.pairs],
        "averages": [asdict(a) for a in report.averages],
        "bias": {
            "k": report.bias_k,
            "chance": report.bias_chance,
            "rows": [asdict(b) for b in report.bias],
        },
        "notes": report.notes,
    }
    return _json_clean(document)  # type: ignore[return-value]


def write_report(
    report: EvalReport, out_dir: str | os.PathLike, header: Mapping[str, str] | None = None
) -> dict[str, Path]:
    """Write report.md, report.csv and report.json into ``out_dir``, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "md": render_markdown(report, header),
        "csv": render_csv(report),
        "json": json.dumps(render_json(report, header), indent=2, ensure_ascii=False) + "\n",
    }
    paths = {kind: out / f"report.{kind}" for kind in texts}
    for kind, text in texts.items():
        atomic_write_bytes(paths[kind], text.encode("utf-8"))
    logger.info("wrote evaluation report to %s", out)
    return paths
