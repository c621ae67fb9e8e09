"""Fewer torch threads for a stretch of work, safely across Python threads.

Caption decoding is a loop of small matrix-vector products, one decoder step at a time: memory
bound, hundreds of tiny parallel regions per step. With two OpenMP threads on two cores, every
region waits for both threads; when anything else runs on the machine (a shared Space, the app
embedding a collection in the background), one of them waits for a time slice, spinning.
``bench/bench_caption_speed.py`` measured the decoder steps on one thread against two (README
"Performance"). The vision encoder, large matrix products, keeps every thread.

``torch.set_num_threads`` sets the calling thread's OpenMP thread count (other running threads
keep theirs) and the count that threads started afterwards begin with, so the old count is put
back in the same thread when the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def fewer_threads(n: int) -> Iterator[None]:
    """Run the block with at most ``n`` torch intra-op threads in this thread; nesting is fine."""
    import torch

    old = torch.get_num_threads()
    if n >= old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def after_module(module: Any, n: int) -> Iterator[None]:
    """Inside the block, once ``module`` (e.g. a captioner's vision encoder) has run its forward,
    keep torch to ``n`` threads until the block ends (the rest of ``generate``: the decoder)."""
    with contextlib.ExitStack() as stack:
        lowered: list[bool] = []

        def lower(*_: Any) -> None:  # returns None: the module's output is kept
            if not lowered:
                stack.enter_context(fewer_threads(n))
                lowered.append(True)

        handle = module.register_forward_hook(lower)
        try:
            yield
        finally:
            handle.remove()
