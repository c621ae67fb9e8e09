"""The evaluation report as the app's page shows it, on the hand-built collections of the golden
test: the best mode and the one summary table (mode × metric) come first, with the same numbers as
the downloaded report.md; the collection's facts, every domain pair and the domain bias follow,
each folded in a closed ``<details>``. The browser side is in
tests/browser/test_browser_map_eval.py."""

from __future__ import annotations

import re

import numpy as np

from cdir.evaluation.protocol import evaluate
from cdir.evaluation.report import render_markdown
from cdir.evaluation.report_page import BEST_MARK, best_modes, render_page
from cdir.evaluation.results import domain_pairs
from tests.evaluation.test_eval_report_golden import (
    CONFIG,
    GAPS_CONFIG,
    HEADER,
    collection,
    gaps,
)


def _rows(markdown_table: str) -> dict[str, list[str]]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in markdown_table.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    return {row[0]: row[1:] for row in rows[1:]}


def _before_first_details(page: str) -> str:
    return page.split("<details", 1)[0]


def test_the_summary_comes_first_and_names_the_best_mode() -> None:
    report = evaluate(collection(), CONFIG)
    page = render_page(report, HEADER)
    first = _before_first_details(page)
    assert first.startswith("# Cross-domain retrieval evaluation\n\n## Summary\n")
    # two variants tie at 100.0 mAP: both named
    assert best_modes(report) == (
        ["caption-caption+neutral", "fusion(image=0.5,caption=1,caption-caption=0.5)+neutral"],
        100.0,
    )
    assert (
        "**caption-caption+neutral** and **fusion(image=0.5,caption=1,caption-caption=0.5)"
        "+neutral** tie as the best mode here: mean average precision (mAP) 100.0 %, averaged "
        "over the 2 ordered domain pairs." in first
    )
    # one table: every mode a row, every metric a column, the best of each column starred
    rows = _rows(first)
    assert list(rows) == report.variants
    assert rows["image"] == ["75.0", f"**100.0 {BEST_MARK}**", "87.5", "2"]
    assert rows["caption-caption"] == ["75.0", "75.0", "83.3", "2"]
    assert rows["caption-caption+neutral"] == [f"**100.0 {BEST_MARK}**"] * 3 + ["2"]
    # the same numbers as the downloaded report's averages
    averages = render_markdown(report, HEADER).split("## Averages over domain pairs", 1)[1]
    averages = averages.split("## Per domain pair", 1)[0]
    for variant, cells in _rows(averages).items():
        assert [c.replace(f" {BEST_MARK}", "") for c in rows[variant]] == cells


def test_every_pair_the_facts_and_the_bias_are_folded() -> None:
    report = evaluate(collection(), CONFIG)
    page = render_page(report, HEADER)
    blocks = re.findall(r"<details[^>]*>\n<summary>(.*?)</summary>\n(.*?)</details>", page, re.S)
    summaries = [s for s, _ in blocks]
    assert summaries[0] == "The collection evaluated"
    assert summaries[-1].startswith("Domain bias")
    pairs = domain_pairs(list(report.domain_sizes))
    assert len(blocks) == len(pairs) + 2
    assert "<details open" not in page  # everything after the summary starts closed
    for (a, b), (summary, body) in zip(pairs, blocks[1:-1], strict=True):
        assert summary.startswith(f"{a} → {b}: best ")
        assert body.startswith(f"\nQueries: the {report.domain_sizes[a]} images of {a}")
        # the pair's table, with a blank line before it so the Markdown inside renders
        table = _rows(body)
        assert list(table) == report.variants
        best = max(round(report.pair(v, a, b).map, 1) for v in report.variants)
        assert f"(mAP {best:.1f} %)" in summary
    assert "| preset | hand-built |" in blocks[0][1]


def test_pairs_nothing_could_be_measured_on_say_so() -> None:
    report = evaluate(gaps(), GAPS_CONFIG)
    page = render_page(report, HEADER)
    assert "<summary>sketch → clipart: not measured</summary>" in page
    assert "<summary>sketch → photo: best image, caption (mAP 100.0 %)</summary>" in page
    assert "## Notes" in page


def test_no_pair_says_so_and_keeps_the_facts() -> None:
    data = collection().subset(np.array([True, True, True, False, False]))
    page = render_page(evaluate(data, CONFIG), HEADER)
    assert "No retrieval metrics: there is no domain pair to evaluate." in page
    assert "## Summary" not in page and "<summary>The collection evaluated</summary>" in page


def test_names_in_summaries_are_escaped() -> None:
    data = collection()
    data.domains[:3] = ["a<b>"] * 3  # an opening tag would bold the rest of the page
    page = render_page(evaluate(data, CONFIG), HEADER)
    assert "<b>" not in page
    assert "<summary>a&lt;b&gt; → sketch: best " in page  # a pair's summary
    assert "| domains | a&lt;b&gt; (3), sketch (2) |" in page  # inside a folded table
