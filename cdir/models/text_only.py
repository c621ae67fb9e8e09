"""A CLIP text tower alone, for a process that only embeds texts (``cdir search --text``).

Loading a preset's embedder through open_clip imports open_clip (and with it torchvision, torch's
compiler and transformers: about 2 s on 2 cores), initialises both towers at random and reads the
whole checkpoint. A text query needs none of that: this module builds just the text transformer in
plain torch, with no random initialisation (its parameters are the checkpoint's tensors), reads only
the text tower's tensors from the safetensors file, and tokenises with open_clip's own
``tokenizer.py`` loaded as a file (not the package). The vectors are open_clip's
``encode_text(normalize=True)``: cosine >= 0.99999 to it (tests/models/test_text_only.py).

It applies to a local embedder folder (``--model-dir``, ``$CDIR_MODEL_DIR`` or the bundled models,
as :mod:`cdir.models.weights` finds it) holding open_clip's standard CLIP text tower (causal
mask, end-of-text pooling, a projection matrix, open_clip's BPE tokenizer). Anything else (CoCa,
Hugging Face text encoders or tokenizers, a hub checkpoint) is ``None`` from
:func:`text_encoder`, and the caller loads the whole model.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from cdir.models.presets import Preset
from cdir.models.weights import local_component

log = logging.getLogger(__name__)

CONFIG_FILE = "open_clip_config.json"  # as cdir.models.encoders writes them
WEIGHTS_FILE = "open_clip_model.safetensors"
EMBEDDER_DIR = "embedder"
MODEL_KEYS = {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu"}
TEXT_KEYS = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"}
TEXT_PREFIXES = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.")

_lock = threading.Lock()
_loaded: dict[tuple[str, str, str], Any] = {}  # (tower, folder, device) -> its encoder


class TextEncoder:
    """CLIP text embeddings from the text tower alone: :meth:`encode_texts` as
    :meth:`cdir.models.encoders.ClipEmbedder.encode_texts` gives them ((N, D) float32,
    L2-normalised)."""

    def __init__(self, tower: Any, tokenizer: Any, dim: int, device: str) -> None:
        self.tower, self.tokenizer, self.dim, self.device = tower, tokenizer, dim, device

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        from cdir.models.device import inference_context
        from cdir.models.torch_threads import few_texts

        chunks = []
        with inference_context(self.device), few_texts(len(texts)):
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
                chunks.append(self.tower(tokens).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)


def text_encoder(preset: Preset, root: Path | None, device: str) -> TextEncoder | None:
    """The text tower of ``preset``'s local embedder (``root``: the model directory), loaded once
    per process; None when there is no local folder or its text tower is not the standard one
    (then load the whole embedder)."""

    def build(local: Path) -> TextEncoder | None:
        config = supported_config(local)
        return None if config is None else load_text_encoder(local, config, device)

    return once_per_process("text", embedder_folder(preset, root), device, build)


def once_per_process(
    tower: str, local: Path | None, device: str, build: Callable[[Path], Any]
) -> Any:
    """``build(local)``: a tower of the embedder folder ``local`` (``tower`` names which), kept
    for the rest of the process; None when ``local`` is None or ``build`` returns None (the
    tower is not one these modules reproduce: nothing is kept, the whole embedder loads)."""
    if local is None:
        return None
    key = (tower, str(local.resolve()), device)
    with _lock:
        if key not in _loaded:
            found = build(local)
            if found is None:
                return None
            _loaded[key] = found
        return _loaded[key]


def embedder_folder(preset: Preset, root: Path | None) -> Path | None:
    """``preset``'s local embedder folder holding open_clip safetensors weights (the model
    directory's, the bundled one, or a preset file's ``weights`` folder); None when there is
    none (the embedder comes from the hub or a config)."""
    local = local_component(root, preset.name, EMBEDDER_DIR)
    if local is None and preset.embedder.weights:
        local = Path(preset.embedder.weights).expanduser()
    if local is None or not (local / WEIGHTS_FILE).is_file():
        return None
    return local


def supported_config(local: Path) -> dict[str, Any] | None:
    """The folder's ``model_cfg`` when its text tower is one this module builds, else None."""
    try:
        config = json.loads((local / CONFIG_FILE).read_text(encoding="utf-8"))["model_cfg"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    text = config.get("text_cfg")
    if not isinstance(text, dict) or set(config) - MODEL_KEYS or set(text) - TEXT_KEYS:
        return None
    return config


def load_text_encoder(local: Path, config: dict[str, Any], device: str) -> TextEncoder:
    """Build the tower of ``config`` and fill it with the text tensors of ``local``'s weights."""
    from safetensors import safe_open

    text = config["text_cfg"]
    tower = _tower_class()(
        int(config["embed_dim"]),
        int(text["context_length"]),
        int(text["vocab_size"]),
        int(text["width"]),
        int(text["heads"]),
        int(text["layers"]),
        float(text.get("mlp_ratio", 4.0)),
        bool(config.get("quick_gelu", False)),
    )
    state = {}
    with safe_open(str(local / WEIGHTS_FILE), framework="pt", device="cpu") as weights:
        for name in weights.keys():  # noqa: SIM118 - safe_open has keys(), no iteration
            if name.startswith(TEXT_PREFIXES) or name == "text_projection":
                state[name] = weights.get_tensor(name).float()
    tower.load_state_dict(state, strict=True, assign=True)
    tower.eval().to(device)
    log.info("text tower loaded from %s (%d tensors)", local, len(state))
    return TextEncoder(tower, simple_tokenizer(int(text["context_length"])), tower.dim, device)


def simple_tokenizer(context_length: int) -> Any:
    """open_clip's ``SimpleTokenizer`` (its BPE vocabulary), from ``open_clip/tokenizer.py``
    loaded as a file: importing the ``open_clip`` package would import all its models."""
    import sys

    module = sys.modules.get("open_clip.tokenizer")
    if module is None:
        found = importlib.util.find_spec("open_clip")  # finds the package, runs none of it
        if found is None or not found.submodule_search_locations:
            raise ImportError("open_clip is not installed")
        path = Path(list(found.submodule_search_locations)[0]) / "tokenizer.py"
        spec = importlib.util.spec_from_file_location("cdir_open_clip_tokenizer", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot read {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.SimpleTokenizer(context_length=context_length)


@cache
def _tower_class() -> type:
    """The ``TextTower`` module class, defined on first use so that importing this module needs
    no torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from cdir.models.clip_blocks import blocks

    parts = blocks()
    empty = parts.empty

    class TextTower(nn.Module):
        """open_clip's CLIP text tower: token and position embeddings, causal blocks, a final
        LayerNorm, the features at the end-of-text token (the largest token id) projected and
        L2-normalised. Runs only up to the longest text of a batch (causal: the padding after
        it changes nothing, :mod:`cdir.models.text_tower`)."""

        def __init__(
            self,
            dim: int,
            context: int,
            vocab: int,
            width: int,
            heads: int,
            layers: int,
            mlp_ratio: float,
            quick_gelu: bool,
        ) -> None:
            super().__init__()
            self.dim = dim
            self.token_embedding = nn.Embedding(vocab, width, _weight=empty(vocab, width))
            self.positional_embedding = empty(context, width)
            layer_list = [
                parts.Block(width, heads, mlp_ratio, quick_gelu, causal=True) for _ in range(layers)
            ]
            self.transformer = parts.Transformer(layer_list)
            self.ln_final = nn.LayerNorm(width)
            self.text_projection = empty(width, dim)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            from cdir.models.text_tower import used_length

            tokens = tokens[:, : used_length(tokens)]
            x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
            x = self.ln_final(self.transformer(x))
            x = x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection
            return F.normalize(x, dim=-1)

    return TextTower
