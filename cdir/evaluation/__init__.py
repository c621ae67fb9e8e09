"""Evaluation: the paper's protocol (arXiv 2403.15152; Office-Home, DomainNet) for every ordered
domain pair and every retrieval mode.

:mod:`~cdir.evaluation.metrics` gives precision@k (denominator ``min(k, relevant)``) and mAP@all;
:func:`evaluate` (:mod:`~cdir.evaluation.protocol`) runs the protocol on arrays into an
:class:`EvalReport` (:mod:`~cdir.evaluation.results`), rendered and written by
:mod:`~cdir.evaluation.report`; :mod:`~cdir.evaluation.evaluate_store` evaluates a store or a
``<domain>/<class>/`` folder tree (ingesting it first).
"""

from cdir.evaluation.evaluate_store import evaluate_collection, evaluate_path
from cdir.evaluation.protocol import EvalConfig, EvalData, evaluate
from cdir.evaluation.report import render_markdown, write_report
from cdir.evaluation.results import EvalReport

__all__ = [
    "EvalConfig",
    "EvalData",
    "EvalReport",
    "evaluate",
    "evaluate_collection",
    "evaluate_path",
    "render_markdown",
    "write_report",
]
