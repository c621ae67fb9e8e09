"""The evaluation report as the app shows it: the answer first, the details folded.

:func:`render_page` writes Markdown with HTML ``<details>`` blocks: one sentence naming the best
mode (highest mAP averaged over the domain pairs), one summary table (mode × metric, the best of
each column in bold and starred), then the collection's facts, each domain pair's table and the
domain bias, each folded under a one-line ``<summary>``. The numbers and tables are those of
:func:`cdir.evaluation.report.render_markdown` (the downloaded ``report.md``), built by the same
functions, so both surfaces show the same facts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np

from cdir.evaluation.report import (
    _bias_lines,
    _bold_best,
    _fmt,
    _header_lines,
    _metric_names,
    _pair_lines,
    _table,
)
from cdir.evaluation.results import EvalReport, domain_pairs
from cdir.names import shown_name

BEST_MARK = "★"


def best_modes(report: EvalReport) -> tuple[list[str], float]:
    """(the variants with the highest mAP averaged over the domain pairs, at the shown precision
    of 0.1 %, ties all named; that mAP in %). No measured variant: ([], nan)."""
    values = {a.variant: round(a.map, 1) for a in report.averages if np.isfinite(a.map)}
    if not values:
        return [], float("nan")
    best = max(values.values())
    return [v for v, value in values.items() if value == best], best


def _escaped(lines: Sequence[str]) -> list[str]:
    """Markdown lines with ``&``, ``<`` and ``>`` as character references: a page renders the
    HTML of the ``<details>`` blocks, so a domain named ``<b>x</b>`` must stay text."""
    return [html.escape(line, quote=False) for line in lines]


def _starred(cells: Sequence[Sequence[str]]) -> list[list[str]]:
    """``_bold_best`` cells with the bold (best) ones also starred, so the mark survives where
    bold is hard to see."""
    return [[f"**{c[2:-2]} {BEST_MARK}**" if c.startswith("**") else c for c in r] for r in cells]


def _answer_line(report: EvalReport) -> str:
    n_pairs = len(domain_pairs(list(report.domain_sizes)))
    modes, best = best_modes(report)
    if not modes:
        return "No mode could be measured on any domain pair (see the notes)."
    names = " and ".join(f"**{shown_name(m)}**" for m in modes)
    verb = "is" if len(modes) == 1 else "tie as"
    return (
        f"{names} {verb} the best mode here: mean average precision (mAP) {_fmt(best)} %, "
        f"averaged over the {n_pairs} ordered domain pairs."
    )


def _summary_lines(report: EvalReport) -> list[str]:
    cells = _starred(_bold_best([[*a.precision.values(), a.map] for a in report.averages]))
    rows = [[a.variant, *c, str(a.n_pairs)] for a, c in zip(report.averages, cells, strict=True)]
    intro = (
        "Each row is a mode, each column a metric: precision@k (denominator min(k, relevant "
        "images)) and mAP in %, averaged over the domain pairs; the best of each column is "
        f"in bold with {BEST_MARK}."
    )
    head = ["mode", *_metric_names(report.ks), "pairs"]
    lines = [_answer_line(report), "", intro, "", *_table(head, rows)]
    return ["## Summary", "", *_escaped(lines)]


def _folded(summary: str, lines: Sequence[str], key: str = "") -> list[str]:
    """``lines`` (Markdown) under a closed ``<details>``; blank lines around them so the
    Markdown inside is rendered."""
    attr = f' data-pair="{html.escape(key, quote=True)}"' if key else ""
    return [
        f'<details class="cdir-eval-details"{attr}>',
        f"<summary>{html.escape(summary)}</summary>",
        "",
        *_escaped(lines),
        "",
        "</details>",
        "",
    ]


def _pair_summary(report: EvalReport, a: str, b: str) -> str:
    rows = [report.pair(v, a, b) for v in report.variants]
    measured = [r for r in rows if np.isfinite(r.map)]
    head = f"{shown_name(a)} → {shown_name(b)}"
    if not measured:
        return f"{head}: not measured"
    top = max(round(r.map, 1) for r in measured)
    names = ", ".join(shown_name(r.variant) for r in measured if round(r.map, 1) == top)
    return f"{head}: best {names} (mAP {_fmt(top)} %)"


def render_page(report: EvalReport, header: Mapping[str, str] | None = None) -> str:
    """The report for the app's page (Markdown with ``<details>``): the best mode and the
    summary table first, the collection's facts, every domain pair and the domain bias folded."""
    lines = ["# Cross-domain retrieval evaluation", ""]
    facts = _header_lines(report, header or {})[2:]  # the table without the title
    if report.pairs:
        lines += [*_summary_lines(report), ""]
    else:
        lines += ["No retrieval metrics: there is no domain pair to evaluate.", ""]
    lines += _folded("The collection evaluated", facts)
    if report.pairs:
        lines += ["## Per domain pair", ""]
        for a, b in domain_pairs(list(report.domain_sizes)):
            body = _pair_lines(report, a, b)[2:]  # without its ### title: the summary says it
            lines += _folded(_pair_summary(report, a, b), body, key=f"{a}→{b}")
        bias = "Domain bias: how often each mode's top hits stay in the query's own domain"
        lines += _folded(bias, _bias_lines(report)[2:])
    if report.notes:
        lines += ["## Notes", "", *_escaped([f"- {shown_name(note)}" for note in report.notes])]
    return "\n".join(lines).rstrip("\n") + "\n"
