"""Evaluation (the paper's protocol on a collection or a folder tree) and its reports."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cdir.api.sessions import Session
from cdir.evaluation.protocol import (
    EvalConfig as EvalConfig,  # what an evaluation runs (modes, k, subsets)
)
from cdir.ingest.pipeline import Progress
from cdir.retrieval.scoring import (
    FusionWeights as FusionWeights,  # fusion weights, parsed from "image=0.5,…"
)


def evaluate(
    session: Session, config: EvalConfig | None = None, progress: Progress | None = None
) -> tuple[Any, dict[str, str]]:
    """(EvalReport, its header) of the paper's protocol on the open collection (it needs domain
    and class labels, and captions for every variant but image → image: make them first). The
    header names the collection, never a server path."""
    from cdir.evaluation.evaluate_store import eval_header, evaluate_collection

    config = config or EvalConfig()
    report = evaluate_collection(session.store, session.models, config, progress=progress)
    name = session.store.root.name
    return report, eval_header(session.models, name, Path(name), Path(name), config)


def evaluate_folder(
    root: str | Path,
    store: str | Path | None = None,
    preset: str | None = None,
    config: EvalConfig | None = None,
    max_per_class: int | None = None,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[Any, dict[str, str]]:
    """``cdir eval``: (EvalReport, header) of a collection at ``root``, or of a labelled folder
    tree (``root/<domain>/<class>/…``) ingested into ``store`` first."""
    from cdir.evaluation.evaluate_store import evaluate_path

    return evaluate_path(
        Path(root),
        None if store is None else Path(store),
        preset,
        config,
        max_per_class,
        model_root,
        progress,
    )


def report_markdown(report: Any, header: Mapping[str, str] | None = None) -> str:
    """An evaluation report as Markdown tables."""
    from cdir.evaluation.report import render_markdown

    return render_markdown(report, header)


def report_page(report: Any, header: Mapping[str, str] | None = None) -> str:
    """An evaluation report for a page: the best mode and the summary table (mode × metric)
    first, the collection's facts, each domain pair and the domain bias folded in
    ``<details>`` (Markdown with HTML)."""
    from cdir.evaluation.report_page import render_page

    return render_page(report, header)


def report_json(report: Any, header: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An evaluation report as plain JSON."""
    from cdir.evaluation.report import render_json

    return render_json(report, header)


def write_report(
    report: Any, out: str | Path, header: Mapping[str, str] | None = None
) -> dict[str, Path]:
    """Write report.md, report.csv and report.json into ``out``; returns their paths."""
    from cdir.evaluation.report import write_report as write

    return write(report, out, header)
