"""``cdir search``, ``info``, ``eval``, ``models`` and ``export``: using a collection."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cdir import api
from cdir.api import UsageError
from cdir.cli.common import ProgressBars, add_simple, common_options, emit
from cdir.retrieval.scoring import MODES


def cmd_search(args: argparse.Namespace) -> None:
    from cdir.retrieval.search import SearchOptions

    session = api.open_collection(args.store, args.model_dir)
    options = SearchOptions(mode=args.mode, k=args.k, domains=tuple(args.domain or ()),
                            neutralise=args.neutralise, fusion=args.fusion_weights,
                            tags=tuple(args.tag or ()))
    result = api.search(session, image=args.image, text=args.text, item_id=args.id,
                        options=options)
    emit(args, result.to_dict(), _search_text)


def _search_text(result: dict[str, Any]) -> str:
    query = result["query"]
    head = f"query ({query['kind']}): " + (query.get("caption_used") or query.get("text") or "")
    rows = [f"{h['rank']:>3}  {h['score']:+.4f}  [{h['domain']}/{h['class']}]  {h['rel_path']}"
            f"  — {h['caption'] or ''}" for h in result["hits"]]
    return "\n".join([head, *rows] if rows else [head, "no results"])


def cmd_info(args: argparse.Namespace) -> None:
    emit(args, api.info(args.store), lambda r: json.dumps(r, indent=2, ensure_ascii=False))


def cmd_models(args: argparse.Namespace) -> None:
    if args.action == "list":
        emit(args, api.presets(), lambda ps: "\n".join(
            f"{p['name']:<10} {p['description']}" for p in ps))
        return
    if not args.model_dir:
        raise UsageError("models save needs --model-dir DIR (where to write the weights)")
    from cdir.models.loaded import save_models

    out = save_models(api.get_models(args.preset), args.model_dir)
    emit(args, {"preset": args.preset, "saved_to": str(out)}, lambda r: f"saved to {r['saved_to']}")


def cmd_eval(args: argparse.Namespace) -> None:
    from cdir.evaluation.evaluate_store import evaluate_path
    from cdir.evaluation.report import render_json, render_markdown, write_report

    bars = ProgressBars(not args.quiet)
    try:
        report, header = evaluate_path(Path(args.root), _eval_store(args), args.preset,
                                       _eval_config(args), args.max_per_class, args.model_dir, bars)
    finally:
        bars.close()
    if args.out:
        write_report(report, args.out, header)
    emit(args, render_json(report, header), lambda _: render_markdown(report, header).rstrip("\n"))


def _eval_store(args: argparse.Namespace) -> Path | None:
    if args.store:
        return Path(args.store)
    return Path(args.out) / "store" if args.out else None


def _names(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``; None or empty -> None."""
    names = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    return names or None


def _eval_config(args: argparse.Namespace) -> Any:
    from cdir.evaluation.protocol import EvalConfig
    from cdir.retrieval.scoring import FusionWeights

    try:
        ks = tuple(int(k) for k in _names(args.k) or ()) or None
    except ValueError:
        raise UsageError(f"--k takes integers such as 1,5,15, not {args.k!r}") from None
    grid = [spec for spec in (args.fusion_grid or "").split(";") if spec.strip()]
    return EvalConfig(modes=_names(args.modes) or EvalConfig().modes, ks=ks,
                      domains=_names(args.domains), classes=_names(args.classes),
                      neutralise=(False,) if args.no_neutral else (False, True),
                      fusion_grid=tuple(FusionWeights.parse(spec) for spec in grid))


def cmd_export(args: argparse.Namespace) -> None:
    report = api.export(args.store, args.out, args.format, args.push)
    emit(args, report.to_dict(), _export_text)


def _export_text(report: dict[str, Any]) -> str:
    lines = [f"{report['rows']} rows written as {report['format']} to {report['out']}"]
    if report["pushed_to"]:
        lines.append(f"pushed to {report['pushed_to']}")
    lines += [f"  left out: {s['file']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines)


def add_search(sub: Any) -> None:
    p = sub.add_parser("search", help="nearest neighbours of an image, an item or a text")
    p.add_argument("store")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="a query image file")
    query.add_argument("--text", help="a typed query")
    query.add_argument("--id", type=int, help="an item of the collection")
    p.add_argument("--mode", choices=MODES, default="caption", help="default: caption (CM)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--domain", nargs="+", help="only return items of these domains")
    p.add_argument("--neutralise", action=argparse.BooleanOptionalAction, default=True,
                   help="drop style words from captions (default: on, the measured-best)")
    p.add_argument("--tag", nargs="+", help="only return items holding any of these tags")
    p.add_argument("--fusion-weights", help="e.g. image=0.5,caption=1,caption-caption=0.5")
    common_options(p)
    p.set_defaults(func=cmd_search)


def add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="the paper's protocol: every mode on every domain pair")
    p.add_argument("root", help="a <root>/<domain>/<class>/<file> tree or a labelled collection")
    p.add_argument("--preset", help="model preset for a tree (default: default); a collection "
                                    "uses its own")
    p.add_argument("--modes",
                   help="comma-separated (default: image,caption,caption-caption,fusion)")
    p.add_argument("--k", help="precision cut-offs, e.g. 1,5,15 (default: 1,5,15, or 50,100,200 "
                               "when a domain has 5000+ images)")
    p.add_argument("--domains", help="only these domains, comma-separated")
    p.add_argument("--classes", help="only these classes, comma-separated")
    p.add_argument("--max-per-class", type=int,
                   help="only the first N files (by name) of each domain and class")
    p.add_argument("--no-neutral", action="store_true", help="skip the neutralised-caption runs")
    p.add_argument("--fusion-grid", help='extra fusion weightings, e.g. '
                                         '"image=0.5,caption=1;image=1,caption=1"')
    p.add_argument("--store", help="collection for a tree (default: OUT/store, or "
                                   "./stores/eval-<dataset>-<preset>); reused when present")
    p.add_argument("--out", help="write report.md, report.csv and report.json here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common_options(p)
    p.set_defaults(func=cmd_eval)


def add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="write a collection as a 🤗 dataset or Parquet")
    p.add_argument("store")
    p.add_argument("out", help="datasets: a new folder (datasets.load_from_disk opens it); "
                               "parquet: a .parquet file or a folder")
    p.add_argument("--format", choices=("datasets", "parquet"), default="datasets")
    p.add_argument("--push", metavar="ORG/NAME", help="also push it to the Hugging Face hub")
    common_options(p)
    p.set_defaults(func=cmd_export)


def add_models(sub: Any) -> None:
    p = sub.add_parser("models", help="list presets, or save a preset's weights for offline use")
    p.add_argument("action", choices=("list", "save"))
    p.add_argument("--preset", default="default")
    common_options(p)
    p.set_defaults(func=cmd_models)


def add_info(sub: Any) -> None:
    add_simple(sub, "info", cmd_info, "what a collection holds")
