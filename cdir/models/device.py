"""Where the models run: ``--device auto|cpu|cuda`` (CLI), ``$CDIR_DEVICE`` (the app, scripts).

``auto`` takes a CUDA GPU when torch sees one (on a ZeroGPU Space too), else the CPU. On CUDA the
models run under float16 autocast (:func:`inference_context`): matrix products in half
precision, outputs returned as float32 (embeddings within ~1e-3 cosine of the CPU's, checked by
``tests/models/test_device.py``), and ingest batches are larger (:func:`default_batch_sizes`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cdir.models.process_setting import ProcessSetting

DEVICE_ENV = "CDIR_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "cuda")
# (image-embedding batch, captioning batch) per device: what keeps each busy without running
# out of memory (a CPU gains nothing past 32/8; a 16 GB GPU holds BLIP large at 32 in fp16)
BATCH_SIZES: dict[str, tuple[int, int]] = {"cpu": (32, 8), "cuda": (128, 32)}

_SETTING = ProcessSetting("--device", DEVICE_ENV, DEVICE_CHOICES, "auto")


def device_choice(explicit: str | None = None) -> str:
    """The device asked for: ``explicit``, else the process default set by the CLI, else
    ``$CDIR_DEVICE``, else ``auto``. Raises ValueError for anything not in DEVICE_CHOICES."""
    return _SETTING.get(explicit)


def set_device_choice(choice: str | None) -> str | None:
    """Make ``choice`` this process's default (None: back to ``$CDIR_DEVICE``); returns the
    previous default so a caller can put it back."""
    return _SETTING.set(choice)


def resolve_device(choice: str | None = None) -> str:
    """``cpu`` or ``cuda`` for a choice (default :func:`device_choice`). Raises ValueError for
    ``cuda`` on a machine where torch sees no CUDA GPU."""
    choice = device_choice(choice)
    if choice == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if choice == "cuda":
        raise ValueError(
            "--device cuda, but torch sees no CUDA GPU here: use --device auto or "
            "cpu (or install the CUDA build of torch)"
        )
    return "cpu"


def default_batch_sizes(device: str) -> tuple[int, int]:
    """(image-embedding batch, captioning batch) for ``device`` (``cpu`` or ``cuda``)."""
    return BATCH_SIZES.get(device.split(":")[0], BATCH_SIZES["cpu"])


@contextlib.contextmanager
def inference_context(device: str) -> Iterator[None]:
    """``torch.inference_mode``, plus float16 autocast on CUDA (half the memory traffic of
    float32; the outputs are cast back to float32 by the callers)."""
    import torch

    with torch.inference_mode():
        if str(device).startswith("cuda"):
            with torch.autocast("cuda", dtype=torch.float16):
                yield
        else:
            yield
