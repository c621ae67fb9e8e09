"""Optional int8 captioning on the CPU: dynamic quantisation of the captioner's Linear layers.

Captioning is the slow stage of ingest on a CPU, and its transformer is mostly ``nn.Linear``.
Dynamic int8 quantisation stores those weights as int8 and quantises activations on the fly.
``bench/bench_caption_speed.py`` (2 AMD EPYC cores, AVX2, 2026-11-30) measured BLIP base at
2.46x the float32 speed (2.70 against 1.10 captions/s, both with fused attention), with
first-step logits at cosine 0.9985 to float32's (README "Performance"). It uses
``torch.ao.quantization.quantize_dynamic``, which torch marks deprecated; its successor torchao
(0.18, ``Int8DynamicActivationInt8WeightConfig``) ran at 1.11x float32 in the same run, because
its CPU kernels want ``torch.compile``. The other candidates were measured the same way and not
kept:
- bf16 autocast ran 6.6x slower on an AVX2 CPU without bf16 instructions;
- ``torch.compile`` gained 1.3-1.4x, but it compiles for about a minute in every process (again
  for each new batch shape) and needs a C++ compiler at run time.

It applies to the BLIP / BLIP-2 captioners only. The embedder stays float32 because its vectors
are stored and compared with every later query; a CoCa captioner shares its weights with the
embedder, so it stays float32 too. Captions made in int8 are cached apart from float32 ones.

Choose it with ``--quantize int8`` (CLI and app) or ``CDIR_QUANTIZE=int8``.

A query's caption is made in int8 by default in the app (``$CDIR_QUERY_QUANTIZE``, ``int8`` or
``none``): a user waits for it, and it is compared with gallery *images* only, never stored. The
collection's own captions stay float32 unless ``--quantize int8`` asks
(``bench/bench_query_captions.py``). Quantising BLIP base takes about 3 s of CPU once per process,
more than one query's caption gains (about 1 s), so the CLI, which answers one query per process,
captions queries in float32 unless ``$CDIR_QUERY_QUANTIZE`` says otherwise
(:func:`set_query_quantize_default`).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from cdir.models.process_setting import ProcessSetting

log = logging.getLogger(__name__)

QUANTIZE_ENV = "CDIR_QUANTIZE"
QUANTIZE_MODES = ("none", "int8")


_SETTING = ProcessSetting("--quantize", QUANTIZE_ENV, QUANTIZE_MODES, "none")
QUERY_QUANTIZE_ENV = "CDIR_QUERY_QUANTIZE"
_query_default = ["int8"]


def quantize_mode(explicit: str | None = None) -> str:
    """The quantisation asked for: ``explicit``, else the process default set by the CLI or the
    app, else ``$CDIR_QUANTIZE``, else ``none``."""
    return _SETTING.get(explicit)


def query_quantize_mode() -> str:
    """How queries' captions are made: ``$CDIR_QUERY_QUANTIZE``, else the process default
    (``int8``; see :func:`set_query_quantize_default`). Raises ValueError naming the variable
    for a value that is not one of :data:`QUANTIZE_MODES`."""
    value = (os.environ.get(QUERY_QUANTIZE_ENV) or _query_default[0]).strip().lower()
    if value not in QUANTIZE_MODES:
        raise ValueError(
            f"${QUERY_QUANTIZE_ENV} must be one of {', '.join(QUANTIZE_MODES)}, not {value!r}"
        )
    return value


def set_query_quantize_default(mode: str) -> str:
    """Make ``mode`` this process's default for queries' captions (``$CDIR_QUERY_QUANTIZE`` still
    wins); returns the previous default."""
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"a query quantisation is one of {', '.join(QUANTIZE_MODES)}")
    previous, _query_default[0] = _query_default[0], mode
    return previous


def set_quantize_mode(mode: str | None) -> str | None:
    """Make ``mode`` this process's default (None: back to ``$CDIR_QUANTIZE``); returns the
    previous default so a caller can put it back."""
    return _SETTING.set(mode)


def quantize_linear_int8(model: Any) -> Any:
    """``model`` with its ``nn.Linear`` layers replaced by dynamically quantised int8 ones (CPU
    only). The model is changed in place and returned."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch marks the quantised tensor helpers as deprecated
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        quantized = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    count = sum(
        type(m).__name__ == "Linear" and "quantized" in type(m).__module__
        for m in quantized.modules()
    )
    log.info("quantised %d Linear layers to int8", count)
    return quantized
