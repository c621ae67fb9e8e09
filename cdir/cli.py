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
from cdir.scoring import MODES

log = logging.getLogger("cdir")

Handler = Callable[[argparse.Namespace], Any]


class UsageError(ValueError):
    """Bad arguments or bad input: exit status 2."""


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the input or the setup is wrong, not cdir."""
    from cdir.collection import SourceError
    from cdir.presets import UnknownPresetError
    from cdir.scoring import ModeError
    from cdir.search import QueryError
    from cdir.store import StoreError
    from cdir.weights import ModelUnavailableError

    return (UsageError, SourceError, StoreError, QueryError, ModeError, UnknownPresetError,
            ModelUnavailableError, FileNotFoundError)


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
    from cdir.pipeline import IngestConfig

    config = IngestConfig(captions=args.captions, batch_size=args.batch_size,
                          manifest=Path(args.manifest) if args.manifest else None,
                          shared_cache=not args.no_shared_cache)
    bars = ProgressBars(not args.quiet)
    try:
        report = api.ingest(args.src, args.store, args.preset, config, args.model_dir, bars)
    finally:
        bars.close()
    emit(args, report.to_dict(), _ingest_text)


def _ingest_text(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [f"{report['store']}: {counts['n_ok']} images searchable, {counts['n_captioned']} "
             f"captioned ({report['added']} new, {report['embedded']} embedded now)"]
    lines += [f"  failed: {f['file']}: {f['reason']}" for f in report["failed"]]
    lines += [f"  left out: {r['file']}: {r['reason']}" for r in report["rejected"]]
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace) -> None:
    from cdir.search import SearchOptions

    session = api.open_collection(args.store, args.model_dir)
    options = SearchOptions(mode=args.mode, k=args.k, domains=tuple(args.domain or ()),
                            neutralise=args.neutralise, fusion=args.fusion_weights)
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
    from cdir.models import save_models

    out = save_models(api.get_models(args.preset), args.model_dir)
    emit(args, {"preset": args.preset, "saved_to": str(out)}, lambda r: f"saved to {r['saved_to']}")


# ------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cdir", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (on stderr)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_ingest(sub)
    _add_search(sub)
    _add_simple(sub, "info", cmd_info, "what a collection holds")
    _add_models(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--model-dir", help="local model directory (default: $CDIR_MODEL_DIR)")


def _add_ingest(sub: Any) -> None:
    p = sub.add_parser("ingest", help="add a folder, zip or files to a collection")
    p.add_argument("src", nargs="+", help="folder(s), zip file(s) or image files")
    p.add_argument("--store", required=True, help="the collection directory (created if new)")
    p.add_argument("--preset", default="default", help="model preset (see `models list`)")
    p.add_argument("--captions", choices=("all", "lazy", "none"), default="all")
    p.add_argument("--manifest", help="CSV with path,domain,class[,caption]")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-shared-cache", action="store_true",
                   help="keep all cached work inside the store")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
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
    p.add_argument("--fusion-weights", help="e.g. image=0.5,caption=1,caption-caption=0.5")
    _common(p)
    p.set_defaults(func=cmd_search)


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
    try:
        args.func(args)
    except _user_errors() as exc:
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
    return 0
