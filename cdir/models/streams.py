"""Embed a batch on the CPU as concurrent parts, each on one torch thread, instead of one call
on torch's team of OpenMP threads.

Every matrix product of one call on a team of OpenMP threads ends at a barrier where the team
waits for its slowest thread, spinning. While ingest's reader threads decode, hash and write
thumbnails beside the model, one thread of the team is often off its core, and the others spin
in vain: on 2 Intel Xeon cores at load average 8 the vision encoder cost 101-122 ms of CPU per
640x480 image that way, against 76-80 ms as two halves of each batch run at once on one thread
each (``bench/bench_ingest.py``). Single-thread parts never wait for one another inside the
model, so whatever else runs (the readers, other processes) takes only its own share of the
cores. The embeddings keep their bits: on one thread, open_clip's ViTs give an image the same
embedding in any batch of two images or more, the same as in a batch of 32 on two threads
(``tests/models/test_streams.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cdir.models.torch_threads import fewer_threads

Embed = Callable[[Sequence[Any]], np.ndarray]
Run = Callable[[Embed, Sequence[Any]], np.ndarray]
MAX_STREAMS = 2  # measured on 2 cores; more cores give each of the two parts more threads
# A batch of one image takes other paths through the matrix products (its embedding differs
# from the same image's in a batch by ~1e-7), so parts hold at least two.
MIN_PART = 2


def stream_count(device: str, threads: int | None = None) -> int:
    """How many parts of a batch run at once on ``device``: up to :data:`MAX_STREAMS` on the
    CPU, one per torch thread (``threads``, default ``torch.get_num_threads()``); 1 on a GPU
    and on a ZeroGPU Space, where the model calls go through ``spaces.GPU``."""
    from cdir.models.zerogpu import on_zero_gpu

    if str(device) != "cpu" or on_zero_gpu():
        return 1
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    return max(1, min(MAX_STREAMS, threads))


@contextlib.contextmanager
def batch_streams(device: str, streams: int | None = None) -> Iterator[Run]:
    """A ``run(embed, items)`` for the block, giving ``embed(items)``: (N, D) float32, one row
    per item, in order. It is computed as ``streams`` contiguous parts of ``items`` at once
    (default :func:`stream_count`), each of at least :data:`MIN_PART` items, each on
    ``torch.get_num_threads() // streams`` torch threads in a thread of its own; with a single
    part (``streams=1``, as before, or few items), as ``embed(items)`` on the calling thread.
    ``embed`` must give an item's row whatever else is in the batch (a model in eval mode).
    An error of a part is raised by ``run``."""
    streams = stream_count(device) if streams is None else max(1, streams)
    if streams == 1:
        yield lambda embed, items: embed(items)
        return
    import torch

    threads = max(1, torch.get_num_threads() // streams)

    def part(embed: Embed, items: Sequence[Any]) -> np.ndarray:
        with fewer_threads(threads):
            return embed(items)

    with ThreadPoolExecutor(streams, thread_name_prefix="cdir-embed") as pool:

        def run(embed: Embed, items: Sequence[Any]) -> np.ndarray:
            parts = min(streams, len(items) // MIN_PART)
            if parts < 2:
                return embed(items)
            bounds = np.linspace(0, len(items), parts + 1).astype(int)
            futures = [
                pool.submit(part, embed, items[start:end])
                for start, end in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            return np.concatenate([future.result() for future in futures])

        yield run
