"""Checks of "it does not wait" and "it does not blow up" that hold on a loaded machine.

A wall-clock bound (``assert seconds < 2``) fails when other jobs share the cores, and passes a
slow path on a fast machine. What such bounds guard is countable instead:

* :func:`recorded_sleeps`: the seconds every ``time.sleep`` asked for (hub retries, back-off and
  polling all sleep): "decides at once" is "asked for no sleep", whatever the load;
* :func:`largest_resize`: the most pixels any Pillow resize produced: "never builds a giant
  intermediate image" without timing it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The seconds of every ``time.sleep`` call made in the block, in any thread (the sleeps
    still happen)."""
    asked: list[float] = []
    real = time.sleep

    def sleep(seconds: float) -> None:
        asked.append(float(seconds))
        real(seconds)

    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", sleep)
        yield asked


@contextmanager
def largest_resize(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A one-element list holding the most pixels of any image ``PIL.Image.Image.resize``
    returned in the block (0 when none)."""
    from PIL import Image

    most = [0]
    real = Image.Image.resize

    def resize(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = real(self, *args, **kwargs)
        most[0] = max(most[0], out.width * out.height)
        return out

    with monkeypatch.context() as patch:
        patch.setattr(Image.Image, "resize", resize)
        yield most
