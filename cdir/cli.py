"""``python -m cdir``: the command-line interface.

``--json`` prints exactly one JSON document on stdout; logs and progress bars go to stderr.
Exit status: 0 success, 2 bad usage or bad input (the message says what to do), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cdir import api
from cdir.api import UsageError
from cdir.models.device import DEVICE_CHOICES, default_batch_sizes, set_device_choice
from cdir.models.quantize import QUANTIZE_MODES, set_quantize_mode
from cdir.retrieval.scoring import MODES

log = logging.getLogger("cdir")

Handler = Callable[[argparse.Namespace], Any]


# ------------------------------------------------------------------------------------- output
def emit(args: argparse.Namespace, result: Any, text: Callable[[Any], str]) -> None:
    if args.json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text(result) + "\n")


class ProgressBars:
    """One tqdm bar per stage, on stderr (hidden with --quiet)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar, self.stage = enabled, None, None

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.bar = tqdm(total=total, desc=stage, file=sys.stderr, unit="img", mininterval=0.5,
                            disable=None)  # None: no bar when stderr is not a terminal
            self.stage = stage
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ----------------------------------------------------------------------------------- commands
def cmd_ingest(args: argparse.Namespace) -> None:
    from cdir.ingest.dataset_columns import parse_column_overrides
    from cdir.ingest.pipeline import IngestConfig
    from cdir.models.loaded import pick_device

    embed_batch, caption_batch = default_batch_sizes(pick_device())
    config = IngestConfig(captions=args.captions, batch_size=args.batch_size or embed_batch,
                          caption_batch_size=caption_batch,
                          manifest=Path(args.manifest) if args.manifest else None,
                          shared_cache=not args.no_shared_cache,
                          columns=tuple(parse_column_overrides(args.columns).items()))
    bars = ProgressBars(not args.quiet)
    try:
        if args.engine == "ray":
            report = _ingest_ray(args, config, bars)
        else:
            report = api.ingest(args.src, args.store, args.preset, config, args.model_dir, bars)
    finally:
        bars.close()
    emit(args, report.to_dict(), _ingest_text)


def _ingest_ray(args: argparse.Namespace, config: Any, bars: ProgressBars) -> Any:
    """``--engine ray``: the same ingest with the models on Ray workers (docs/distributed.md)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'ray[data]' (see "
                         "docs/distributed.md)") from None
    from cdir.ingest.ray_engine import ingest_ray

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    return ingest_ray(args.src, args.store, args.preset, config, args.address, args.workers,
                      args.model_dir, bars, num_gpus=args.gpus_per_worker,
                      num_cpus=args.cpus_per_worker)


def _ingest_text(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [f"{report['store']}: {counts['n_ok']} images searchable, {counts['n_captioned']} "
             f"captioned ({report['added']} new, {report['embedded']} embedded now)"]
    meta = report.get("metadata") or {}
    if meta.get("with_prompt") or meta.get("generators"):
        made = ", ".join(f"{k} {v}" for k, v in meta.get("generators", {}).items()) or "none"
        lines.append(f"  prompts: {meta['with_prompt']} (negative prompts: "
                     f"{meta['with_negative_prompt']}); generators: {made}")
    lines += [f"  metadata not stored: {m['file']}: {m['reason']}" for m in meta.get("issues", [])]
    lines += [f"  failed: {f['file']}: {f['reason']}" for f in report["failed"]]
    lines += [f"  left out: {r['file']}: {r['reason']}" for r in report["rejected"]]
    lines += [f"  note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)


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


def cmd_dupes(args: argparse.Namespace) -> None:
    from cdir.duplicates.decisions import decision_rows, find_decided_groups
    from cdir.duplicates.finder import TIERS, config_with_threshold, groups_report
    from cdir.store.collection import Store

    store = Store.load(args.store)
    config = config_with_threshold(tuple(dict.fromkeys(args.tier or TIERS)), args.threshold)
    groups = find_decided_groups(store, config)  # "not a duplicate" decisions honoured
    if args.decide or args.accept:
        _record_decisions(args, store, groups)
        groups = find_decided_groups(store, config)
    if args.decisions:
        from cdir.duplicates.decision_export import export

        out = export(store, decision_rows(store, groups), Path(args.decisions))
        print(f"decisions written to {out}", file=sys.stderr)
    if args.show:
        emit(args, decision_rows(store, groups), _decisions_text)
    else:
        emit(args, groups_report(store, groups, config), _dupes_text)


def _record_decisions(args: argparse.Namespace, store: Any, groups: list[Any]) -> None:
    from cdir.duplicates.decisions import accept_suggestions, decide

    for spec in args.decide or []:
        item, _, decision = spec.partition("=")
        group = next((g for g in groups if item.isdigit() and int(item) in g.members), None)
        if group is None:
            raise ValueError(f"--decide {spec}: give ID=keep|remove|not_duplicate for an item "
                             "in a group of this run (see `cdir dupes STORE`)")
        decide(store.root, group, int(item), decision)
    if args.accept:
        n = accept_suggestions(store, groups, None if args.accept == "all" else args.accept)
        print(f"{n} items decided as suggested", file=sys.stderr)


def _decisions_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'group':>5} {'id':>6}  {'decision':<13} {'':<9} {'distance':<20} file"]
    lines += [f"{'-' if r['group'] is None else r['group']:>5} {r['id']:>6}  {r['decision']:<13} "
              f"{'decided' if r['decided'] else 'suggested':<9} {r['distance']:<20} {r['file']}"
              for r in rows]
    return "\n".join(lines)


def cmd_tag(args: argparse.Namespace) -> None:
    from cdir.browse.filters import parse_filters
    from cdir.browse.grid import Browser
    from cdir.store.collection import Store
    from cdir.store.tags import add_tags, export_tags, load_tags, remove_tags, tag_counts, tag_rows

    store = Store.load(args.store)
    ids: list[int] | None = args.ids
    if args.filter:
        matched = Browser(store).query(parse_filters(args.filter)).matched.tolist()
        ids = matched if ids is None else [i for i in ids if i in set(matched)]
    if (args.add or args.remove) and ids is None:
        raise ValueError("say which items to tag: --ids 3 7 12, or --filter domain=sketch "
                         "(--filter text=cat, tag=..., see --help)")
    result: dict[str, Any] = {"items": len(ids or [])}
    if args.add:
        result["added"] = add_tags(store.root, ids or [], args.add, n_items=len(store.items))
    if args.remove:
        result["removed"] = remove_tags(store.root, ids or [], args.remove)
    tags = load_tags(store.root)
    if ids is not None and not (args.add or args.remove):
        tags = {i: tags[i] for i in ids if i in tags}
    result["tags"] = tag_counts(tags)
    if args.export:
        files = dict(zip(store.items["id"].astype(int), store.items["rel_path"].astype(str),
                         strict=True))
        print(f"tags written to {export_tags(tag_rows(tags, files), Path(args.export))}",
              file=sys.stderr)
    emit(args, result, _tag_text)


def _tag_text(result: dict[str, Any]) -> str:
    done = [f"{k} {result[k]}" for k in ("added", "removed") if k in result]
    lines = [f"{', '.join(done)} tag(s) on {result['items']} item(s)"] if done else []
    lines += [f"{n:>6}  {tag}" for tag, n in result["tags"].items()] or ["no tags yet"]
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> None:
    report = api.export(args.store, args.out, args.format, args.push)
    emit(args, report.to_dict(), _export_text)


def _export_text(report: dict[str, Any]) -> str:
    lines = [f"{report['rows']} rows written as {report['format']} to {report['out']}"]
    if report["pushed_to"]:
        lines.append(f"pushed to {report['pushed_to']}")
    lines += [f"  left out: {s['file']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines)


def _dupes_text(report: dict[str, Any]) -> str:
    limits = ", ".join(f"{t} {v:g}" for t, v in report["thresholds"].items())
    lines = [f"{report['n_groups']} near-duplicate groups ({', '.join(report['tiers'])}"
             f"{'; ' + limits if limits else ''})"]
    for n, g in enumerate(report["groups"]):
        lines.append(f"group {n} [{g['tier']}], {g['size']} images:")
        lines += [f"  {'keep' if m['id'] == g['keep'] else '    '} {m['id']:>6}  "
                  f"{m['score']:>7.4g}  {m['file']}" for m in g["members"]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    prog = "cdir" if Path(sys.argv[0]).name == "cdir" else "python -m cdir"  # the console script
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (on stderr)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_ingest(sub)
    _add_search(sub)
    _add_eval(sub)
    _add_simple(sub, "info", cmd_info, "what a collection holds")
    _add_dupes(sub)
    _add_tag(sub)
    _add_models(sub)
    _add_export(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--model-dir", help="local model directory (default: $CDIR_MODEL_DIR)")
    p.add_argument("--quantize", choices=QUANTIZE_MODES,
                   help="int8: caption faster on a CPU at a small cost in agreement "
                        "(default: $CDIR_QUANTIZE or none; README Performance)")
    p.add_argument("--device", choices=DEVICE_CHOICES,
                   help="where the models run: auto (a CUDA GPU when there is one), cpu, cuda "
                        "(default: $CDIR_DEVICE or auto)")


def _add_ingest(sub: Any) -> None:
    p = sub.add_parser("ingest", help="add a folder, zip, files or a 🤗 dataset to a collection")
    p.add_argument("src", nargs="+", help="folder(s), zip file(s), image files, 🤗 datasets: a "
                   "save_to_disk folder, Parquet file(s), an imagefolder with metadata.jsonl/csv,"
                   " or hf://datasets/ORG/NAME[:split] (online)")
    p.add_argument("--store", required=True, help="the collection directory (created if new)")
    p.add_argument("--preset", default="default", help="model preset (see `models list`)")
    p.add_argument("--captions", choices=("all", "lazy", "none"), default="all")
    p.add_argument("--manifest", help="CSV with path,domain,class[,caption]")
    p.add_argument("--columns", help="🤗 dataset columns by role, e.g. domain=style,class=label"
                   ",caption=text (roles: image, file_name, domain, class, caption, prompt, "
                   "negative_prompt; default: found by name)")
    p.add_argument("--batch-size", type=int,
                   help="images per embedding batch (default: 32 on a CPU, 128 on a GPU)")
    p.add_argument("--no-shared-cache", action="store_true",
                   help="keep all cached work inside the store")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: run the models on Ray workers (docs/distributed.md)")
    p.add_argument("--address", help="Ray cluster address for --engine ray (e.g. auto, "
                                     "ray://head:10001; default: start Ray on this machine)")
    p.add_argument("--workers", type=int, default=2,
                   help="model-holding Ray workers for --engine ray (default: 2)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs per Ray worker (default: 0, CPU)")
    p.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="CPUs per Ray worker (default: 1; give GPU workers several)")
    _common(p)
    p.set_defaults(func=cmd_ingest)


def _add_search(sub: Any) -> None:
    p = sub.add_parser("search", help="nearest neighbours of an image, an item or a text")
    p.add_argument("store")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="a query image file")
    query.add_argument("--text", help="a typed query")
    query.add_argument("--id", type=int, help="an item of the collection")
    p.add_argument("--mode", choices=MODES, default="caption", help="default: caption (CM)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--domain", nargs="+", help="only return items of these domains")
    p.add_argument("--neutralise", action="store_true", help="drop style words from captions")
    p.add_argument("--tag", nargs="+", help="only return items holding any of these tags")
    p.add_argument("--fusion-weights", help="e.g. image=0.5,caption=1,caption-caption=0.5")
    _common(p)
    p.set_defaults(func=cmd_search)


def _add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="the paper's protocol: every mode on every domain pair")
    p.add_argument("root", help="a <root>/<domain>/<class>/<file> tree or a labelled collection")
    p.add_argument("--preset", help="model preset for a tree (default: default); a collection "
                                    "uses its own")
    p.add_argument("--modes", help="comma-separated (default: image,caption,caption-caption,fusion)")
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
    _common(p)
    p.set_defaults(func=cmd_eval)


def _add_dupes(sub: Any) -> None:
    p = _add_simple(sub, "dupes", cmd_dupes, "near-duplicate groups (exact, perceptual, semantic)")
    p.add_argument("--tier", nargs="+", choices=("exact", "perceptual", "semantic"),
                   help="tiers to run (default: all three)")
    p.add_argument("--threshold", type=float, help="threshold of the one perceptual or semantic "
                   "tier given: max differing pHash bits, or min cosine similarity")
    p.add_argument("--decide", nargs="+", metavar="ID=DECISION",
                   help="record keep, remove or not_duplicate for items of this run's groups "
                        "(saved in the collection)")
    p.add_argument("--accept", nargs="?", const="all", choices=("all", "exact", "perceptual",
                                                                "semantic"),
                   help="accept the keep suggestions of every group (or of one tier) for the "
                        "items not decided yet")
    p.add_argument("--decisions", metavar="FILE",
                   help="export the decisions: .csv, .json, or .sh (a list of `rm` lines for "
                        "the files marked remove; cdir deletes nothing)")
    p.add_argument("--show", action="store_true", help="print the decisions, not the groups")


def _add_tag(sub: Any) -> None:
    p = _add_simple(sub, "tag", cmd_tag, "free tags on items: add, remove, list, export")
    p.add_argument("--add", nargs="+", metavar="TAG", help="add these tags")
    p.add_argument("--remove", nargs="+", metavar="TAG", help="remove these tags")
    p.add_argument("--list", action="store_true", help="list the tags and how many items hold "
                                                       "each (the default)")
    p.add_argument("--ids", nargs="+", type=int, help="the items (ids as `search` shows them)")
    p.add_argument("--filter", nargs="+", metavar="KEY=VALUE",
                   help="the items passing grid filters: domain=, class=, label_source=, tag=, "
                        "text=, has_prompt=yes|no, status=ok|failed")
    p.add_argument("--export", metavar="FILE", help="write the tags (.csv or .json)")


def _add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="write a collection as a 🤗 dataset or Parquet")
    p.add_argument("store")
    p.add_argument("out", help="datasets: a new folder (datasets.load_from_disk opens it); "
                               "parquet: a .parquet file or a folder")
    p.add_argument("--format", choices=("datasets", "parquet"), default="datasets")
    p.add_argument("--push", metavar="ORG/NAME", help="also push it to the Hugging Face hub")
    _common(p)
    p.set_defaults(func=cmd_export)


def _add_simple(sub: Any, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_)
    p.add_argument("store")
    _common(p)
    p.set_defaults(func=func)
    return p


def _add_models(sub: Any) -> None:
    p = sub.add_parser("models", help="list presets, or save a preset's weights for offline use")
    p.add_argument("action", choices=("list", "save"))
    p.add_argument("--preset", default="default")
    _common(p)
    p.set_defaults(func=cmd_models)


# --------------------------------------------------------------------------------------- main
def configure_logging(verbose: bool) -> None:
    """cdir's own messages at INFO with -v, else WARNING; libraries' chatter only when it is an
    error (open_clip logs every model build on the root logger)."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO if verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("cdir").setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    previous = previous_device = None
    try:
        previous = set_quantize_mode(getattr(args, "quantize", None))
        previous_device = set_device_choice(getattr(args, "device", None))
        args.func(args)
    except api.user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except Exception:  # an internal error: full traceback for the bug report
        log.exception("internal error; please report it with the traceback above")
        return 1
    finally:
        set_quantize_mode(previous)
        set_device_choice(previous_device)
    return 0
