"""Fewer torch threads for a stretch of work, safely across Python threads.

Caption decoding is a loop of small matrix-vector products, one decoder step at a time: memory
bound, hundreds of tiny parallel regions per step. With two OpenMP threads on two cores, every
region waits for both threads; when other work runs on the machine (a shared Space, another
process, the app embedding a collection in the background), one of them waits for a time slice.
``bench/bench_caption_speed.py`` on 2 AMD EPYC cores: on a quiet machine the decoder steps on
one thread make BLIP base captions 0.87x as fast as on two; at load average 9 they make them
3x as fast (15 s instead of 44 s for 2 captions). :func:`decoder_threads` therefore picks one
thread only while the machine is busier than torch's own threads: the vision encoder, large
matrix products, keeps every thread.

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


SMALL_TEXT_BATCH = 8  # texts: up to this many are embedded on one torch thread


def few_texts(n: int) -> contextlib.AbstractContextManager[None]:
    """One torch thread for embedding ``n`` <= :data:`SMALL_TEXT_BATCH` texts (a query, a
    query's caption), else torch's own count. A few short texts are tiny matrix products: on 2
    Intel Xeon cores at load average 9, one text took 0.05 s on one thread and 0.4-1.2 s on two
    (bench/bench_cold.py); on a quiet machine the two differ by milliseconds."""
    return fewer_threads(1) if n <= SMALL_TEXT_BATCH else contextlib.nullcontext()


def decoder_threads(load: float | None = None) -> int | None:
    """Torch threads for caption decoder steps: 1 when the 1-minute load average (``load``,
    default ``os.getloadavg()``) is above torch's thread count + 1, i.e. other work competes
    for the cores; else None (leave the count as it is)."""
    import os

    import torch

    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this platform
            return None
    return 1 if load > torch.get_num_threads() + 1 else None
