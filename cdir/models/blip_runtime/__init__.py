"""BLIP captioning on plain torch, for a query captioned in a fresh process.

A caption-matching image query from the command line needs one caption. Through transformers it
pays for the library's import first: about 2.6 s on 2 cores (transformers 5.24 pulls
``torch.distributed.tensor``, ``torch._dynamo`` and ``scipy.optimize`` for any model), more than
the caption itself. This package runs the same network (:mod:`.network`), preprocessing
(:mod:`.pixels`) and greedy decoding (:mod:`.decoding`) from the same saved folder
(:mod:`.checkpoint`) with torch, ``safetensors`` and ``tokenizers`` only. It gives the same token
ids as transformers' ``generate`` (tests/models/test_blip_runtime.py compares pixels, logits,
ids and texts), and it refuses, so that transformers loads instead, any folder or setting it
does not reproduce: beam search, a task prompt, a device other than the CPU, unknown tensors,
generation settings, image processor steps.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cdir.models.blip_runtime.captioner import BlipRuntimeCaptioner, special_ids
from cdir.models.blip_runtime.checkpoint import Unsupported, load_weights, read_folder
from cdir.models.presets import CaptionerSpec

log = logging.getLogger(__name__)

__all__ = ["BlipRuntimeCaptioner", "Unsupported", "load_blip_runtime"]


def load_blip_runtime(spec: CaptionerSpec, folder: Path, device: str) -> BlipRuntimeCaptioner:
    """The BLIP captioner saved in ``folder`` on plain torch.

    Raises :class:`Unsupported` (the message says why) for a spec, device or folder this runtime
    does not reproduce exactly; the caller then loads transformers' model."""
    if spec.kind != "blip" or spec.num_beams != 1 or spec.task_prompt or device != "cpu":
        raise Unsupported(
            f"kind {spec.kind}, {spec.num_beams} beams, prompt {spec.task_prompt!r}, {device}"
        )
    checkpoint = read_folder(folder)
    import torch
    from tokenizers import Tokenizer

    from cdir.models.blip_runtime.network import BlipCaptioningNetwork

    with torch.device("meta"):
        network = BlipCaptioningNetwork(checkpoint.vision, checkpoint.text)
    load_weights(network, checkpoint.folder)
    network.eval()
    tokenizer = Tokenizer.from_file(str(checkpoint.tokenizer))
    settings_file = Path(folder) / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text("utf-8")) if settings_file.is_file() else {}
    skip = special_ids(tokenizer, settings)
    log.info("BLIP captioner on plain torch from %s", Path(folder).name)
    return BlipRuntimeCaptioner(network, tokenizer, checkpoint, spec, skip)
