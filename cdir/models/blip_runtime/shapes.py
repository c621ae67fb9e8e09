"""The sizes of a BLIP captioning checkpoint (its ``config.json``), read without torch."""

from __future__ import annotations

from dataclasses import dataclass

TIED = ("text_decoder.cls.predictions.decoder.weight", "text_decoder.cls.predictions.decoder.bias")
"""The LM head's parameters that are the word embeddings and ``predictions.bias``
(transformers' ``tie_word_embeddings``): shared, not read from a file."""


@dataclass(frozen=True)
class VisionShape:
    """``vision_config`` of a BLIP checkpoint: widths in features, sizes in pixels."""

    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    image_size: int
    patch_size: int
    eps: float


@dataclass(frozen=True)
class TextShape:
    """``text_config`` of a BLIP checkpoint (the decoder) and its special token ids."""

    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    max_positions: int
    encoder_hidden_size: int
    eps: float
    bos_token_id: int
    sep_token_id: int
    pad_token_id: int
