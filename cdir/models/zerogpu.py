"""ZeroGPU Spaces: run the model calls inside ``spaces.GPU`` functions, with a duration fitted to
the batch; anywhere else, call them directly.

A Hugging Face Space on ZeroGPU hardware holds a GPU only while a function decorated with
``spaces.GPU`` runs. The ``spaces`` package itself says whether it runs on one: its
``spaces.config.Config.zero_gpu`` is true when the Space sets ``SPACES_ZERO_GPU=true``; off a
Space the decorator returns the function unchanged. cdir decorates one dispatcher
(:func:`_call`) when this module is imported on ZeroGPU (the Space must see a ``spaces.GPU``
function at startup), and :func:`run_on_gpu` sends each embedding or captioning batch through
it with :func:`seconds_for`'s estimate as the duration (ZeroGPU queues shorter requests first).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_SECONDS = 120  # ZeroGPU refuses longer requests from most accounts
# seconds on a ZeroGPU slice (H200 MIG): fixed start-up, then per item
COSTS: dict[str, tuple[float, float]] = {
    "embed": (5.0, 0.02),
    "text": (5.0, 0.005),
    "caption": (10.0, 0.5),
}


def on_zero_gpu() -> bool:
    """True on a ZeroGPU Space: ``SPACES_ZERO_GPU`` set and the ``spaces`` package importable
    and agreeing (``spaces.config.Config.zero_gpu``)."""
    if os.environ.get("SPACES_ZERO_GPU", "").strip().lower() not in ("1", "t", "true"):
        return False
    try:
        from spaces.config import Config
    except ImportError:
        log.warning(
            "SPACES_ZERO_GPU is set but the spaces package is missing: models run "
            "without spaces.GPU (pip install spaces)"
        )
        return False
    return bool(Config.zero_gpu)


def seconds_for(kind: str, n: int) -> int:
    """The ``spaces.GPU`` duration for ``n`` items of ``kind`` (``embed``, ``text``,
    ``caption``) in whole seconds, at most :data:`MAX_SECONDS`."""
    fixed, per_item = COSTS[kind]
    return int(min(MAX_SECONDS, round(fixed + per_item * max(n, 0))))


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: int) -> T:
    return fn(*args, **kwargs)


def _duration(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: int
) -> int:
    return seconds


def decorate() -> Callable[..., Any]:
    """:func:`_call` decorated with ``spaces.GPU`` and a per-call duration (:func:`_duration`
    reads it from the call's arguments)."""
    import spaces

    return spaces.GPU(duration=_duration)(_call)


_gpu_call: Callable[..., Any] | None = decorate() if on_zero_gpu() else None


def run_on_gpu(fn: Callable[..., T], *args: Any, kind: str, n: int, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``; on ZeroGPU inside ``spaces.GPU`` for ``seconds_for(kind, n)``
    seconds."""
    if _gpu_call is None:
        return fn(*args, **kwargs)
    return _gpu_call(fn, args, kwargs, seconds_for(kind, n))
