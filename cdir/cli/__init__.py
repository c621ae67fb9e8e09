"""``python -m cdir``: the command-line interface.

``--json`` prints exactly one JSON document on stdout; logs and progress bars go to stderr.
Exit status: 0 success, 2 bad usage or bad input (the message says what to do), 1 internal error.
One module per command group: ``ingest``, ``query`` (search, info, eval, models, export),
``dupes`` (dupes, tag), ``app`` (the web app); ``common`` holds the output helpers and shared
options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cdir import api
from cdir.cli.app import add_app, run_app
from cdir.cli.dupes import add_dupes, add_tag
from cdir.cli.ingest import add_ingest
from cdir.cli.query import add_eval, add_export, add_info, add_models, add_search

log = logging.getLogger("cdir")


def build_parser() -> argparse.ArgumentParser:
    prog = "cdir" if Path(sys.argv[0]).name == "cdir" else "python -m cdir"  # the console script
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (on stderr)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_ingest(sub)
    add_search(sub)
    add_eval(sub)
    add_info(sub)
    add_dupes(sub)
    add_tag(sub)
    add_models(sub)
    add_export(sub)
    add_app(sub)
    return parser


def configure_logging(verbose: bool) -> None:
    """cdir's own messages at INFO with -v, else WARNING; libraries' chatter only when it is an
    error (open_clip logs every model build on the root logger)."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("cdir").setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"]:  # the app parses its own options and sets up its own logging
        run_app(argv[1:])
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    previous = previous_device = None
    previous_query = api.set_query_quantize_default("none")  # one query per process
    try:
        previous = api.set_quantize_mode(getattr(args, "quantize", None))
        previous_device = api.set_device_choice(getattr(args, "device", None))
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
        api.set_query_quantize_default(previous_query)
        api.set_quantize_mode(previous)
        api.set_device_choice(previous_device)
    return 0
