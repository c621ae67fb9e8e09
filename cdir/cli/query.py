"""``cdir search``, ``info``, ``eval``, ``models`` and ``export``: using a collection."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cdir import api
from cdir.api import UsageError
from cdir.cli.common import ProgressBars, add_simple, common_options, emit


def cmd_search(args: argparse.Namespace) -> None:
    session = api.open_collection(args.store, args.model_dir)
    options = api.SearchOptions(
        mode=args.mode,
        k=args.k,
        domains=tuple(args.domain or ()),
        neutralise=args.neutralise,
        fusion=args.fusion_weights,
        tags=tuple(args.tag or ()),
        collapse_duplicates=not args.show_duplicates,
    )
    result = api.search(session, image=args.image, text=args.text, item_id=args.id, options=options)
    emit(args, result.to_dict(), _search_text)


def _search_text(result: dict[str, Any]) -> str:
    query = result["query"]
    head = f"query ({query['kind']}): " + (query.get("caption_used") or query.get("text") or "")
    rows = [
        f"{h['rank']:>3}  {h['score']:+.4f}  "
        f"[{api.shown_name(h['domain'])}/{api.shown_name(h['class'])}]  "
        f"{api.shown_name(h['rel_path'])}  — {api.shown_name(h['caption'])}"
        + (f"  (+{len(h['near_duplicates'])} near-duplicates)" if h.get("near_duplicates") else "")
        for h in result["hits"]
    ]
    return "\n".join([head, *rows] if rows else [head, "no results"])


def cmd_info(args: argparse.Namespace) -> None:
    emit(args, api.info(args.store), lambda r: json.dumps(r, indent=2, ensure_ascii=False))


def cmd_models(args: argparse.Namespace) -> None:
    if args.action == "list":
        emit(args, api.presets(), _models_text)
        return
    if not args.model_dir:
        raise UsageError("models save needs --model-dir DIR (where to write the weights)")
    out = api.save_models(args.preset, args.model_dir)
    emit(args, {"preset": args.preset, "saved_to": str(out)}, lambda r: f"saved to {r['saved_to']}")


def _models_text(presets: list[dict[str, Any]]) -> str:
    lines = []
    for p in presets:
        cost, pub = p.get("cost_here") or {}, p.get("published")
        here = (
            "not measured"
            if not cost or "not_measured" in cost
            else f"{cost['embed_cpu_s_per_image']:.3f} s/image to embed, "
            f"{cost['caption_cpu_s_per_image']:.2f} s/image to caption (one core)"
        )
        scores = (
            "no published figures"
            if pub is None
            else f"ImageNet {pub['imagenet']:.1%}, Sketch {pub['imagenet_sketch']:.1%}, "
            f"R {pub['imagenet_r']:.1%}, Flickr R@1 {pub['flickr_image_r1']:.1%}"
        )
        flags = " [research only]" if p["research_only"] else ""
        lines += [
            f"{p['name']:<10} {p['description']}{flags}",
            f"{'':<10} {p['embedder']} + {p['captioner']}; licence: {p['licence'] or '?'}",
            f"{'':<10} here: {here}; published: {scores}",
        ]
    return "\n".join(
        [
            *lines,
            f"({api.measured_on()}; published figures: open_clip "
            "docs/openclip_results.csv, openclip_retrieval_results.csv)",
        ]
    )


def cmd_eval(args: argparse.Namespace) -> None:
    bars = ProgressBars(not args.quiet)
    try:
        report, header = api.evaluate_folder(
            Path(args.root),
            _eval_store(args),
            args.preset,
            _eval_config(args),
            args.max_per_class,
            args.model_dir,
            bars,
        )
    finally:
        bars.close()
    if args.out:
        api.write_report(report, args.out, header)
    emit(
        args,
        api.report_json(report, header),
        lambda _: api.report_markdown(report, header).rstrip("\n"),
    )


def _eval_store(args: argparse.Namespace) -> Path | None:
    if args.store:
        return Path(args.store)
    return Path(args.out) / "store" if args.out else None


def _names(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``; None or empty -> None."""
    names = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    return names or None


def _eval_config(args: argparse.Namespace) -> Any:
    try:
        ks = tuple(int(k) for k in _names(args.k) or ()) or None
    except ValueError:
        raise UsageError(f"--k takes integers such as 1,5,15, not {args.k!r}") from None
    grid = [spec for spec in (args.fusion_grid or "").split(";") if spec.strip()]
    return api.EvalConfig(
        modes=_names(args.modes) or api.EvalConfig().modes,
        ks=ks,
        domains=_names(args.domains),
        classes=_names(args.classes),
        neutralise=(False,) if args.no_neutral else (False, True),
        fusion_grid=tuple(api.FusionWeights.parse(spec) for spec in grid),
    )


def cmd_export(args: argparse.Namespace) -> None:
    report = api.export(args.store, args.out, args.format, args.push)
    emit(args, report.to_dict(), _export_text)


def _export_text(report: dict[str, Any]) -> str:
    lines = [f"{report['rows']} rows written as {report['format']} to {report['out']}"]
    if report["pushed_to"]:
        lines.append(f"pushed to {report['pushed_to']}")
    lines += [
        f"  left out: {api.shown_name(s['file'])}: {api.shown_name(s['reason'])}"
        for s in report["skipped"]
    ]
    return "\n".join(lines)


def add_search(sub: Any) -> None:
    p = sub.add_parser("search", help="nearest neighbours of an image, an item or a text")
    p.add_argument("store")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="a query image file")
    query.add_argument("--text", help="a typed query")
    query.add_argument("--id", type=int, help="an item of the collection")
    p.add_argument("--mode", choices=api.MODES, default="caption", help="default: caption (CM)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--domain", nargs="+", help="only return items of these domains")
    p.add_argument(
        "--neutralise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="drop style words from captions (default: on, the measured-best)",
    )
    p.add_argument("--tag", nargs="+", help="only return items holding any of these tags")
    p.add_argument(
        "--show-duplicates",
        action="store_true",
        help="list near-duplicates as their own results (default: one result per duplicate "
        "group, the others' ids in its near_duplicates)",
    )
    p.add_argument("--fusion-weights", help="e.g. image=0.5,caption=1,caption-caption=0.5")
    common_options(p)
    p.set_defaults(func=cmd_search)


def add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="the paper's protocol: every mode on every domain pair")
    p.add_argument("root", help="a <root>/<domain>/<class>/<file> tree or a labelled collection")
    p.add_argument(
        "--preset", help="model preset for a tree (default: default); a collection uses its own"
    )
    p.add_argument(
        "--modes", help="comma-separated (default: image,caption,caption-caption,fusion)"
    )
    p.add_argument(
        "--k",
        help="precision cut-offs, e.g. 1,5,15 (default: 1,5,15, or 50,100,200 "
        "when a domain has 5000+ images)",
    )
    p.add_argument("--domains", help="only these domains, comma-separated")
    p.add_argument("--classes", help="only these classes, comma-separated")
    p.add_argument(
        "--max-per-class",
        type=int,
        help="only the first N files (by name) of each domain and class",
    )
    p.add_argument("--no-neutral", action="store_true", help="skip the neutralised-caption runs")
    p.add_argument(
        "--fusion-grid",
        help='extra fusion weightings, e.g. "image=0.5,caption=1;image=1,caption=1"',
    )
    p.add_argument(
        "--store",
        help="collection for a tree (default: OUT/store, or "
        "./stores/eval-<dataset>-<preset>); reused when present",
    )
    p.add_argument("--out", help="write report.md, report.csv and report.json here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common_options(p)
    p.set_defaults(func=cmd_eval)


def add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="write a collection as a 🤗 dataset or Parquet")
    p.add_argument("store")
    p.add_argument(
        "out",
        help="datasets: a new folder (datasets.load_from_disk opens it); "
        "parquet: a .parquet file or a folder",
    )
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
