"""Reading a saved BLIP captioning folder for :mod:`cdir.models.blip_runtime`, or saying why not.

A folder is read when it holds what transformers writes for ``BlipForConditionalGeneration``
(``save_pretrained``, or a hub snapshot): ``config.json`` (``model_type`` ``blip``),
``model.safetensors`` with exactly the captioning network's tensors, ``tokenizer.json``, and the
image processor's settings (``processor_config.json`` or ``preprocessor_config.json``) with the
bicubic resize, rescale and normalise that :mod:`.pixels` reproduces. Anything else (another
resample, a centre crop, sharded or ``.bin`` weights, unknown tensors, generation settings that
change greedy decoding such as ``no_repeat_ngram_size``) raises :class:`Unsupported`, and the
caller loads transformers' model instead: the same captions, the slower import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdir.models.blip_runtime.pixels import PixelSettings
from cdir.models.blip_runtime.shapes import TIED, TextShape, VisionShape

BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, the value BLIP's processor settings store

# generation settings that would add a logits processor to greedy decoding, with their neutral
# values (transformers' GenerationConfig defaults); a folder setting any other value is left to
# transformers (cdir passes max_new_tokens, num_beams, do_sample and repetition_penalty itself)
NEUTRAL_GENERATION = {
    "min_length": 0,
    "min_new_tokens": None,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "bad_words_ids": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "exponential_decay_length_penalty": None,
    "sequence_bias": None,
    "renormalize_logits": False,
    "remove_invalid_values": False,
    "stop_strings": None,
    "max_time": None,
    "guidance_scale": None,
    "watermarking_config": None,
}
OPTIONAL_TENSORS = ("text_decoder.bert.embeddings.position_ids",)  # a buffer some saves keep


class Unsupported(Exception):
    """The folder is not one this runtime reproduces exactly; the message says what differs."""


@dataclass(frozen=True)
class BlipFolder:
    """What :func:`read_folder` found: the network's shapes, pixel settings, the tokenizer file
    and whether decoded text gets transformers' ``clean_up_tokenization``."""

    folder: Path
    vision: VisionShape
    text: TextShape
    pixels: PixelSettings
    tokenizer: Path
    clean_up_spaces: bool


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Unsupported(f"{path.name} unreadable: {exc}") from exc


def _shapes(config: dict[str, Any]) -> tuple[VisionShape, TextShape]:
    if config.get("model_type") != "blip":
        raise Unsupported(f"model_type {config.get('model_type')!r}, not 'blip'")
    if not config.get("tie_word_embeddings", True):
        raise Unsupported("untied output embeddings")
    v, t = config.get("vision_config") or {}, config.get("text_config") or {}
    if v.get("hidden_act", "gelu") != "gelu" or t.get("hidden_act", "gelu") != "gelu":
        raise Unsupported("an activation other than gelu")
    if not t.get("is_decoder", True):
        raise Unsupported("a text model that is not a decoder")
    try:
        vision = VisionShape(
            hidden_size=v.get("hidden_size", 768),
            layers=v.get("num_hidden_layers", 12),
            heads=v.get("num_attention_heads", 12),
            intermediate_size=v.get("intermediate_size", 3072),
            image_size=v.get("image_size", 384),
            patch_size=v.get("patch_size", 16),
            eps=float(v.get("layer_norm_eps", 1e-5)),
        )
        hidden = t.get("hidden_size", 768)
        text = TextShape(
            vocab_size=t.get("vocab_size", 30524),
            hidden_size=hidden,
            layers=t.get("num_hidden_layers", 12),
            heads=t.get("num_attention_heads", 8),
            intermediate_size=t.get("intermediate_size", 3072),
            max_positions=t.get("max_position_embeddings", 512),
            encoder_hidden_size=t.get("encoder_hidden_size", 768),
            eps=float(t.get("layer_norm_eps", 1e-12)),
            bos_token_id=int(t.get("bos_token_id", 30522)),
            sep_token_id=int(t.get("sep_token_id", 102)),
            pad_token_id=int(t.get("pad_token_id", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise Unsupported(f"config.json: {exc}") from exc
    return vision, text


def _generation(folder: Path, config: dict[str, Any]) -> None:
    sources = [config, config.get("text_config") or {}]
    if (folder / "generation_config.json").is_file():
        sources.append(_json(folder / "generation_config.json"))
    for source in sources:
        for key, neutral in NEUTRAL_GENERATION.items():
            if source.get(key, neutral) not in (neutral, None):
                raise Unsupported(f"generation setting {key}={source[key]!r}")


def _pixels(folder: Path, vision: VisionShape) -> PixelSettings:
    if (folder / "processor_config.json").is_file():
        settings = _json(folder / "processor_config.json").get("image_processor") or {}
    elif (folder / "preprocessor_config.json").is_file():
        settings = _json(folder / "preprocessor_config.json")
    else:
        raise Unsupported("no image processor settings")
    kind = settings.get("image_processor_type", "BlipImageProcessor")
    if kind not in ("BlipImageProcessor", "BlipImageProcessorFast"):
        raise Unsupported(f"image processor {kind}")
    steps = {k: settings.get(k, True) for k in ("do_resize", "do_rescale", "do_normalize")}
    if not all(steps.values()) or not settings.get("do_convert_rgb", True):
        raise Unsupported(f"image processor steps {steps}")
    if settings.get("do_center_crop") or settings.get("do_pad"):
        raise Unsupported("a centre crop or padding")
    if settings.get("resample", BICUBIC) != BICUBIC:
        raise Unsupported(f"resample {settings.get('resample')}")
    size = settings.get("size", {"height": vision.image_size, "width": vision.image_size})
    if isinstance(size, int):
        size = {"height": size, "width": size}
    if set(size) != {"height", "width"}:
        raise Unsupported(f"size {size}")
    mean = settings.get("image_mean", [0.48145466, 0.4578275, 0.40821073])
    std = settings.get("image_std", [0.26862954, 0.26130258, 0.27577711])
    if len(mean) != 3 or len(std) != 3:
        raise Unsupported("a mean or std that is not per RGB channel")
    return PixelSettings(
        height=int(size["height"]),
        width=int(size["width"]),
        mean=tuple(float(m) for m in mean),  # type: ignore[arg-type]
        std=tuple(float(s) for s in std),  # type: ignore[arg-type]
        rescale_factor=float(settings.get("rescale_factor", 1 / 255)),
    )


def read_folder(folder: Path) -> BlipFolder:
    """The settings of the BLIP captioning checkpoint in ``folder``.

    Raises :class:`Unsupported` naming the first thing this runtime does not reproduce."""
    folder = Path(folder)
    config = _json(folder / "config.json")
    vision, text = _shapes(config)
    _generation(folder, config)
    pixels = _pixels(folder, vision)
    if not (folder / "model.safetensors").is_file():
        raise Unsupported("no model.safetensors (sharded or .bin weights)")
    if not (folder / "tokenizer.json").is_file():
        raise Unsupported("no tokenizer.json")
    tokenizer_settings = {}
    if (folder / "tokenizer_config.json").is_file():
        tokenizer_settings = _json(folder / "tokenizer_config.json")
    clean = bool(tokenizer_settings.get("clean_up_tokenization_spaces", False))
    return BlipFolder(folder, vision, text, pixels, folder / "tokenizer.json", clean)


def load_weights(network: Any, folder: Path) -> None:
    """Put ``model.safetensors``' tensors into ``network`` (built on the meta device), then tie
    the LM head. Raises :class:`Unsupported` when the file's tensors are not exactly the
    network's (missing, unknown, of another shape or not float32)."""
    from safetensors.torch import load_file

    state = load_file(folder / "model.safetensors")
    for name in (*OPTIONAL_TENSORS, *TIED):
        state.pop(name, None)
    expected = {k: v.shape for k, v in network.state_dict().items() if k not in TIED}
    missing = sorted(set(expected) - set(state))
    unknown = sorted(set(state) - set(expected))
    if missing or unknown:
        raise Unsupported(f"tensors missing {missing[:3]}, unknown {unknown[:3]}")
    wrong = [k for k, shape in expected.items() if tuple(state[k].shape) != tuple(shape)]
    if wrong:
        raise Unsupported(f"tensors of another shape: {wrong[:3]}")
    other = sorted({str(t.dtype) for t in state.values()} - {"torch.float32"})
    if other:  # transformers would load these in their own dtype ("auto")
        raise Unsupported(f"weights stored as {', '.join(other)}, not float32")
    network.load_state_dict(state, strict=False, assign=True)
    network.tie()
