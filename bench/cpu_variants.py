"""CPU speed-up variants of a model, timed against float32 in the same run with their agreement.

``variants`` builds: float32, int8 dynamic quantisation of the Linear layers, bf16 autocast, one
torch thread, and (optionally) ``torch.compile`` of chosen sub-modules; ``compare`` times them
interleaved and prints the speed-up next to the lowest cosine between the variant's outputs and
float32's.
"""

from __future__ import annotations

import contextlib
import copy
import time

import numpy as np
import torch
from common import interleaved, log


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest row-wise cosine between two matrices."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


@contextlib.contextmanager
def one_thread():  # noqa: ANN201
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def bf16() -> contextlib.AbstractContextManager:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def int8(model):  # noqa: ANN001, ANN201
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def compiled(model, parts: tuple[str, ...]):  # noqa: ANN001, ANN201
    model = copy.deepcopy(model)
    for part in parts:
        setattr(model, part, torch.compile(getattr(model, part), dynamic=part == "text_decoder"))
    return model


def variants(model, run, outputs, compile_parts):  # noqa: ANN001, ANN201
    """name -> (timed callable, agreement outputs); compiled models are warmed (compiled) here."""
    q = int8(model)
    found = {
        "float32": (lambda: run(model), outputs(model)),
        "int8 dynamic (Linear)": (lambda: run(q), outputs(q)),
        "bf16 autocast": (lambda: run(model, bf16), outputs(model, bf16)),
        "1 thread": (lambda: run(model, one_thread), outputs(model)),
    }
    if compile_parts:
        c = compiled(model, compile_parts)
        start = time.perf_counter()
        try:
            run(c)
            log(f"  torch.compile {compile_parts}: first call {time.perf_counter() - start:.0f} s")
            found["torch.compile"] = (lambda: run(c), outputs(c))
        except Exception as exc:  # inductor needs a C++ compiler; report, do not stop
            log(f"  torch.compile failed: {type(exc).__name__}: {exc}")
    return found


def compare(name: str, found: dict, reps: int) -> list[list]:
    wall, _ = interleaved({k: v[0] for k, v in found.items()}, reps)
    base_t, base_out = min(wall["float32"]), found["float32"][1]  # best of the reps
    return [
        [
            name,
            k,
            f"{min(wall[k]):.2f}",
            f"{base_t / min(wall[k]):.2f}",
            " / ".join(f"{cosine(a, b):.4f}" for a, b in zip(base_out, v[1], strict=True)),
        ]
        for k, v in found.items()
    ]
