"""``cdir ingest``: add files to a collection."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cdir import api
from cdir.api import UsageError
from cdir.cli.common import ProgressBars, common_options, emit


def cmd_ingest(args: argparse.Namespace) -> None:
    embed_batch, caption_batch = api.default_batch_sizes()
    config = api.IngestConfig(
        captions=args.captions,
        batch_size=args.batch_size or embed_batch,
        caption_batch_size=caption_batch,
        manifest=Path(args.manifest) if args.manifest else None,
        shared_cache=not args.no_shared_cache,
        columns=tuple(api.column_overrides(args.columns).items()),
        layout=api.layout(args.domain_level, args.class_level),
    )
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
        raise UsageError(
            "--engine ray needs Ray: pip install 'ray[data]' (see docs/distributed.md)"
        ) from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    return api.ingest_on_ray(
        args.src,
        args.store,
        args.preset,
        config,
        args.address,
        args.workers,
        args.model_dir,
        bars,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
    )


def _ingest_text(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [
        f"{report['store']}: {counts['n_ok']} images searchable, {counts['n_captioned']} "
        f"captioned ({report['added']} new, {report['embedded']} embedded now)"
    ]
    if report.get("layout"):
        lines.append(
            f"  folders: {api.shown_name(report['layout'])} (change with --domain-level, "
            "--class-level)"
        )
    meta = report.get("metadata") or {}
    if meta.get("with_prompt") or meta.get("generators"):
        made = ", ".join(f"{k} {v}" for k, v in meta.get("generators", {}).items()) or "none"
        lines.append(
            f"  prompts: {meta['with_prompt']} (negative prompts: "
            f"{meta['with_negative_prompt']}); generators: {made}"
        )
    lines += [
        f"  metadata not stored: {api.shown_name(m['file'])}: {api.shown_name(m['reason'])}"
        for m in meta.get("issues", [])
    ]
    lines += [
        f"  failed: {api.shown_name(f['file'])}: {api.shown_name(f['reason'])}"
        for f in report["failed"]
    ]
    lines += [
        f"  left out: {api.shown_name(r['file'])}: {api.shown_name(r['reason'])}"
        for r in report["rejected"]
    ]
    lines += [f"  note: {api.shown_name(note)}" for note in report.get("notes", [])]
    return "\n".join(lines)


def add_ingest(sub: Any) -> None:
    p = sub.add_parser("ingest", help="add a folder, zip, files or a 🤗 dataset to a collection")
    p.add_argument(
        "src",
        nargs="+",
        help="folder(s), zip file(s), image files, 🤗 datasets: a "
        "save_to_disk folder, Parquet file(s), an imagefolder with metadata.jsonl/csv,"
        " or hf://datasets/ORG/NAME[:split] (online)",
    )
    p.add_argument("--store", required=True, help="the collection directory (created if new)")
    p.add_argument(
        "--preset",
        default="default",
        help="model preset (see `models list`) or a preset file (.toml / .json: "
        "README, Presets); without its weights here, the offline demo runs",
    )
    p.add_argument("--captions", choices=("all", "lazy", "none"), default="all")
    p.add_argument("--manifest", help="CSV with path,domain,class[,caption]")
    for role in ("domain", "class"):
        p.add_argument(
            f"--{role}-level",
            default="auto",
            metavar="N|auto|none",
            help=f"the folder level (1 = the first folder) that names each image's {role}; "
            "auto (default): guessed from the layout as a whole (README, Folder layouts)",
        )
    p.add_argument(
        "--columns",
        help="🤗 dataset columns by role, e.g. domain=style,class=label"
        ",caption=text (roles: image, file_name, domain, class, caption, prompt, "
        "negative_prompt; default: found by name)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help="images per embedding batch (default: 32 on a CPU, 128 on a GPU)",
    )
    p.add_argument(
        "--no-shared-cache", action="store_true", help="keep all cached work inside the store"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: run the models on Ray workers (docs/distributed.md)",
    )
    p.add_argument(
        "--address",
        help="Ray cluster address for --engine ray (e.g. auto, "
        "ray://head:10001; default: start Ray on this machine)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="model-holding Ray workers for --engine ray (default: 2)",
    )
    p.add_argument(
        "--gpus-per-worker", type=float, default=0.0, help="GPUs per Ray worker (default: 0, CPU)"
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1.0,
        help="CPUs per Ray worker (default: 1; give GPU workers several)",
    )
    common_options(p)
    p.set_defaults(func=cmd_ingest)
