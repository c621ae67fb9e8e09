"""``cdir dupes`` and ``cdir tag``: near-duplicate groups and decisions, free tags.

``cdir dupes`` takes a collection (every tier, decisions kept in it) or a folder or zip of
images (:mod:`cdir.duplicates.folder`: the exact and perceptual tiers, no model loaded)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cdir import api
from cdir.api import UsageError
from cdir.cli.common import ProgressBars, add_simple, common_options, emit

REPORT_FILE = "dupes.json"  # where `cdir dupes FOLDER --store DIR` keeps its result


def cmd_dupes(args: argparse.Namespace) -> None:
    source = Path(args.store).expanduser()
    kind = api.source_kind(source)
    if kind == "collection":
        if args.out_store:
            raise UsageError(
                "--store is for a folder or a zip; this is already a collection: "
                "run `cdir dupes` on it without --store"
            )
        _store_dupes(args, source)
    elif kind in ("folder", "zip"):
        _folder_dupes(args, source)
    elif kind == "file":
        raise UsageError(
            f"{source.name} is not a folder, a .zip or a collection: give a folder "
            "of images, a .zip, or a collection made by `cdir ingest`"
        )
    else:
        raise UsageError(
            f"{source.name} not found: give a folder of images, a .zip, or a "
            "collection made by `cdir ingest`"
        )


def _folder_dupes(args: argparse.Namespace, source: Path) -> None:
    """The duplicates-only path: hash the files, group them, keep the report in ``--store``."""
    if args.decide or args.accept or args.decisions or args.show:
        raise UsageError(
            "decisions are kept in a collection: run `cdir ingest FOLDER --store "
            "DIR`, then `cdir dupes DIR --decide ...`"
        )
    out = Path(args.out_store).expanduser() if args.out_store else None
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--store {out.name} is a file: give a directory for the result")
    config = api.folder_duplicates_config(args.tier, args.threshold, args.workers)
    bars = ProgressBars(not args.quiet)
    try:
        result = api.find_folder_duplicates([source], config, out, bars)
    finally:
        bars.close()
    report = api.folder_duplicates_report(result, config, str(args.store), out)
    if out is not None:
        _write_report(report, out / REPORT_FILE)
    emit(args, report, _dupes_text)


def _write_report(report: dict[str, Any], path: Path) -> None:
    import json
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fp:
        json.dump(report, fp, indent=2, ensure_ascii=False)
    os.replace(tmp, path)
    print(f"result written to {path}", file=sys.stderr)


def _store_dupes(args: argparse.Namespace, source: Path) -> None:
    store = api.open_store(source)
    config = api.duplicate_config(args.tier, threshold=args.threshold)
    groups = api.find_duplicates(store, config)  # saved decisions applied, keep on each group
    if args.decide or args.accept:
        _record_decisions(args, store, groups)
        groups = api.find_duplicates(store, config)
    if args.decisions:
        out = api.export_decisions(store, groups, Path(args.decisions))
        print(f"decisions written to {out}", file=sys.stderr)
    if args.show:
        emit(args, api.duplicate_rows(store, groups), _decisions_text)
    else:
        emit(args, api.duplicates_report(store, groups, config), _dupes_text)


def _record_decisions(args: argparse.Namespace, store: Any, groups: list[Any]) -> None:
    for spec in args.decide or []:
        item, _, decision = spec.partition("=")
        group = next((g for g in groups if item.isdigit() and int(item) in g.members), None)
        if group is None:
            raise UsageError(
                f"--decide {spec}: give ID=keep|remove|not_duplicate|alternate for "
                "an item in a group of this run (see `cdir dupes STORE`)"
            )
        api.decide(store, group, int(item), decision)
    if args.accept:
        tiers = None if args.accept == "all" else [args.accept]
        n = api.accept(store, groups, tiers)
        print(f"{n} items decided as suggested", file=sys.stderr)


def _decisions_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'group':>5} {'id':>6}  {'decision':<13} {'':<9} {'distance':<20} file"]
    lines += [
        f"{'-' if r['group'] is None else r['group']:>5} {r['id']:>6}  {r['decision']:<13} "
        f"{'decided' if r['decided'] else 'suggested':<9} {r['distance']:<20} "
        f"{api.shown_name(r['file'])}"
        for r in rows
    ]
    return "\n".join(lines)


def _dupes_text(report: dict[str, Any]) -> str:
    lines = _groups_text(report)
    lines += [
        f"  failed: {api.shown_name(f['file'])}: {api.shown_name(f['reason'])}"
        for f in report.get("failed", [])
    ]
    lines += [
        f"  left out: {api.shown_name(r['file'])}: {api.shown_name(r['reason'])}"
        for r in report.get("rejected", [])
    ]
    return "\n".join(lines)


def _groups_text(report: dict[str, Any]) -> list[str]:
    limits = ", ".join(f"{t} {v:g}" for t, v in report["thresholds"].items())
    lines = [
        f"{report['n_groups']} near-duplicate groups ({', '.join(report['tiers'])}"
        f"{'; ' + limits if limits else ''}), {report.get('decided_groups', 0)} of "
        f"{report['n_groups']} decided"
    ]
    if report.get("semantic"):
        lines.append(report["semantic"])
    for n, g in enumerate(report["groups"]):
        lines.append(
            f"group {n + 1} [{g['tier']}], {g['size']} images; keep {g['keep']}: {g['keep_reason']}"
        )
        lines += [
            f"  {'keep' if m['id'] == g['keep'] else '    '} {m['id']:>6}  "
            f"{m['score']:>7.4g}  {m['decision'] or '-':<13} {api.shown_name(m['file'])}"
            for m in g["members"]
        ]
    return lines


def cmd_tag(args: argparse.Namespace) -> None:
    result = api.tag_items(
        args.store, args.ids, args.filter or (), args.add or (), args.remove or (), args.export
    )
    emit(args, result, _tag_text)


def _tag_text(result: dict[str, Any]) -> str:
    done = [f"{k} {result[k]}" for k in ("added", "removed") if k in result]
    lines = [f"{', '.join(done)} tag(s) on {result['items']} item(s)"] if done else []
    lines += [f"{n:>6}  {api.shown_name(tag)}" for tag, n in result["tags"].items()] or [
        "no tags yet"
    ]
    return "\n".join(lines)


def add_dupes(sub: Any) -> None:
    p = sub.add_parser(
        "dupes",
        help="near-duplicate groups (exact, perceptual, semantic) of a "
        "collection, or of a folder or zip of images",
    )
    p.add_argument(
        "store",
        metavar="STORE_OR_FOLDER",
        help="a collection (all tiers, decisions), or a folder or .zip of images "
        "(exact and perceptual tiers, no model loaded, nothing written)",
    )
    common_options(p)
    p.set_defaults(func=cmd_dupes)
    p.add_argument(
        "--store",
        dest="out_store",
        metavar="DIR",
        help="folder or zip only: keep the result in DIR (dupes.json; a zip's "
        "images under DIR/files)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="folder or zip only: hashing processes (default: one per CPU)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--tier",
        nargs="+",
        choices=("exact", "perceptual", "semantic"),
        help="tiers to run (default: all three; exact and perceptual for a folder)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="threshold of the one perceptual or semantic "
        "tier given: max differing pHash bits, or min cosine similarity",
    )
    p.add_argument(
        "--decide",
        nargs="+",
        metavar="ID=DECISION",
        help="record keep, remove, not_duplicate or alternate (worth keeping beside "
        "the others) for items of this run's groups (saved in the collection)",
    )
    p.add_argument(
        "--accept",
        nargs="?",
        const="all",
        choices=("all", "exact", "perceptual", "semantic"),
        help="accept the keep suggestions for the items not decided yet: of the "
        "exact and perceptual groups (all), or of the one tier named (the "
        "semantic tier only when named)",
    )
    p.add_argument(
        "--decisions",
        metavar="FILE",
        help="export the decisions: .csv, .json, or .sh (a list of `rm` lines, "
        "relative to the folder ingested, for the files you decided or accepted "
        "to remove; cdir deletes nothing)",
    )
    p.add_argument("--show", action="store_true", help="print the decisions, not the groups")


def add_tag(sub: Any) -> None:
    p = add_simple(sub, "tag", cmd_tag, "free tags on items: add, remove, list, export")
    p.add_argument("--add", nargs="+", metavar="TAG", help="add these tags")
    p.add_argument("--remove", nargs="+", metavar="TAG", help="remove these tags")
    p.add_argument(
        "--list",
        action="store_true",
        help="list the tags and how many items hold each (the default)",
    )
    p.add_argument("--ids", nargs="+", type=int, help="the items (ids as `search` shows them)")
    p.add_argument(
        "--filter",
        nargs="+",
        metavar="KEY=VALUE",
        help="the items passing grid filters: domain=, class=, label_source=, tag=, "
        "text=, has_prompt=yes|no, status=ok|failed",
    )
    p.add_argument("--export", metavar="FILE", help="write the tags (.csv or .json)")
