"""What every command shares: JSON or text output, progress bars, the common options."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from cdir import api

Handler = Callable[[argparse.Namespace], Any]


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
            self.bar = tqdm(
                total=total, desc=stage, file=sys.stderr, unit="img", mininterval=0.5, disable=None
            )  # None: no bar when stderr is not a terminal
            self.stage = stage
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--model-dir", help="local model directory (default: $CDIR_MODEL_DIR)")
    p.add_argument(
        "--quantize",
        choices=api.QUANTIZE_MODES,
        help="int8: caption faster on a CPU at a small cost in agreement "
        "(default: $CDIR_QUANTIZE or none; README Performance)",
    )
    p.add_argument(
        "--device",
        choices=api.DEVICE_CHOICES,
        help="where the models run: auto (a CUDA GPU when there is one), cpu, cuda "
        "(default: $CDIR_DEVICE or auto)",
    )


def add_simple(sub: Any, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_)
    p.add_argument("store")
    common_options(p)
    p.set_defaults(func=func)
    return p
