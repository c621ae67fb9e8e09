"""``cdir app``: start the web app, the same one ``python app.py`` starts from a clone.

Every word after ``app`` goes to the app's own parser (``cdir app --help`` lists its options), so
the two spellings take the same options and start the same app on the same defaults.
"""

from __future__ import annotations

import argparse
from typing import Any


def run_app(argv: list[str]) -> None:
    """Start the app with ``argv`` (its options); returns when the server stops."""
    from cdir.app.main import main  # gradio loads only when the app starts

    main(argv)


def cmd_app(args: argparse.Namespace) -> None:
    run_app(args.app_args)


def add_app(sub: Any) -> None:
    p = sub.add_parser(
        "app",
        add_help=False,
        help="start the web app (the same as python app.py; cdir app --help for its options)",
    )
    p.add_argument("app_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_app, json=False)
