"""BLIP's captioning network in plain torch: the ViT image encoder and the BERT text decoder with
cross-attention, module and parameter names as in transformers' ``BlipForConditionalGeneration``
(``vision_model.*``, ``text_decoder.*``), so its saved state dict loads as it is.

Follows transformers 5.24's ``modeling_blip`` / ``modeling_blip_text`` (from Salesforce's BLIP,
``models/vit.py`` and ``models/med.py``) for inference: pre-LayerNorm ViT blocks with exact GELU,
post-LayerNorm BERT blocks whose self-attention sees the tokens so far and whose cross-attention
sees every image token, and the LM head (dense, GELU, LayerNorm, then the word embeddings tied as
output weights plus a bias). Attention is PyTorch's fused ``scaled_dot_product_attention``, as
:mod:`cdir.models.blip_attention` gives the transformers model; dropout is left out (inference).
Decoding feeds one new token a step with a key/value cache, so no causal mask is needed: every
token in the cache precedes the new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import gelu, scaled_dot_product_attention

from cdir.models.blip_runtime.shapes import TextShape, VisionShape


class VisionEmbeddings(nn.Module):
    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.class_embedding = nn.Parameter(torch.empty(1, 1, s.hidden_size))
        self.patch_embedding = nn.Conv2d(3, s.hidden_size, s.patch_size, stride=s.patch_size)
        positions = (s.image_size // s.patch_size) ** 2 + 1
        self.position_embedding = nn.Parameter(torch.empty(1, positions, s.hidden_size))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(pixels.shape[0], 1, -1)
        tokens = torch.cat([cls, patches], dim=1)
        return tokens + self.position_embedding[:, : tokens.size(1), :]


class VisionAttention(nn.Module):
    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.heads, self.scale = s.heads, (s.hidden_size // s.heads) ** -0.5
        self.qkv = nn.Linear(s.hidden_size, 3 * s.hidden_size)
        self.projection = nn.Linear(s.hidden_size, s.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, width = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        context = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], scale=self.scale)
        return self.projection(context.transpose(1, 2).reshape(b, n, width))


class VisionMLP(nn.Module):
    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.fc1 = nn.Linear(s.hidden_size, s.intermediate_size)
        self.fc2 = nn.Linear(s.intermediate_size, s.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(gelu(self.fc1(x)))


class VisionLayer(nn.Module):
    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.self_attn = VisionAttention(s)
        self.layer_norm1 = nn.LayerNorm(s.hidden_size, eps=s.eps)
        self.mlp = VisionMLP(s)
        self.layer_norm2 = nn.LayerNorm(s.hidden_size, eps=s.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.self_attn(self.layer_norm1(x)) + x
        return self.mlp(self.layer_norm2(x)) + x


class VisionEncoder(nn.Module):
    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VisionLayer(s) for _ in range(s.layers))


class VisionModel(nn.Module):
    """Pixels (batch, 3, size, size) float32 -> image tokens (batch, 1 + patches, width)."""

    def __init__(self, s: VisionShape) -> None:
        super().__init__()
        self.embeddings = VisionEmbeddings(s)
        self.encoder = VisionEncoder(s)
        self.post_layernorm = nn.LayerNorm(s.hidden_size, eps=s.eps)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(pixels)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.post_layernorm(x)


class TextEmbeddings(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        # given tensors to fill later: no random init (normal_ on the meta device alone would
        # import about 900 torch modules, a second on 2 cores)
        self.word_embeddings = nn.Embedding(
            s.vocab_size,
            s.hidden_size,
            padding_idx=s.pad_token_id,
            _weight=torch.empty(s.vocab_size, s.hidden_size),
        )
        self.position_embeddings = nn.Embedding(
            s.max_positions, s.hidden_size, _weight=torch.empty(s.max_positions, s.hidden_size)
        )
        self.LayerNorm = nn.LayerNorm(s.hidden_size, eps=s.eps)

    def forward(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)[None]
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions))


class Projections(nn.Module):
    """The ``self`` part of a BERT attention block: query, key and value."""

    def __init__(self, width: int, source_width: int) -> None:
        super().__init__()
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(source_width, width)
        self.value = nn.Linear(source_width, width)


class Residual(nn.Module):
    """BERT's output of a block: dense, then LayerNorm of it plus the block's input."""

    def __init__(self, width_in: int, width: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + skip)


class TextAttention(nn.Module):
    def __init__(self, s: TextShape, source_width: int) -> None:
        super().__init__()
        self.heads = s.heads
        self.self = Projections(s.hidden_size, source_width)
        self.output = Residual(s.hidden_size, s.hidden_size, s.eps)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.heads, -1).transpose(1, 2)

    def keys_values(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split(self.self.key(source)), self.split(self.self.value(source))

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        context = scaled_dot_product_attention(self.split(self.self.query(x)), keys, values)
        return self.output(context.transpose(1, 2).flatten(2), x)


class Intermediate(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.dense = nn.Linear(s.hidden_size, s.intermediate_size)


class TextLayer(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.attention = TextAttention(s, s.hidden_size)
        self.crossattention = TextAttention(s, s.encoder_hidden_size)
        self.intermediate = Intermediate(s)
        self.output = Residual(s.intermediate_size, s.hidden_size, s.eps)

    def forward(self, x: torch.Tensor, cache: LayerCache) -> torch.Tensor:
        """x: (batch, new tokens, width); ``cache`` grows by the new tokens' keys and values."""
        keys, values = self.attention.keys_values(x)
        cache.keys = keys if cache.keys is None else torch.cat([cache.keys, keys], dim=2)
        cache.values = values if cache.values is None else torch.cat([cache.values, values], dim=2)
        x = self.attention(x, cache.keys, cache.values)
        x = self.crossattention(x, cache.image_keys, cache.image_values)
        return self.output(gelu(self.intermediate.dense(x)), x)


class TextEncoder(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.layer = nn.ModuleList(TextLayer(s) for _ in range(s.layers))


class TextModel(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.embeddings = TextEmbeddings(s)
        self.encoder = TextEncoder(s)


class Transform(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.dense = nn.Linear(s.hidden_size, s.hidden_size)
        self.LayerNorm = nn.LayerNorm(s.hidden_size, eps=s.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(gelu(self.dense(x)))


class Predictions(nn.Module):
    """The LM head; ``decoder`` is a Linear whose weight and bias are tied (:func:`tie`)."""

    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.transform = Transform(s)
        self.bias = nn.Parameter(torch.empty(s.vocab_size))
        self.decoder = nn.Linear(s.hidden_size, s.vocab_size)


class Head(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.predictions = Predictions(s)


@dataclass
class LayerCache:
    """One decoder layer's keys and values (batch, heads, tokens, head width), float32: its own
    tokens' (grown a step at a time) and the image tokens' (made once)."""

    image_keys: torch.Tensor
    image_values: torch.Tensor
    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None


class TextDecoder(nn.Module):
    def __init__(self, s: TextShape) -> None:
        super().__init__()
        self.shape = s
        self.bert = TextModel(s)
        self.cls = Head(s)

    def start(self, image_tokens: torch.Tensor) -> list[LayerCache]:
        """Caches whose cross-attention keys and values come from ``image_tokens``."""
        return [
            LayerCache(*layer.crossattention.keys_values(image_tokens))
            for layer in self.bert.encoder.layer
        ]

    def step(self, ids: torch.Tensor, cache: list[LayerCache], start: int) -> torch.Tensor:
        """Logits (batch, vocab) float32 of the token after ``ids`` (batch, new tokens) int64,
        the first of which stands at position ``start``."""
        x = self.bert.embeddings(ids, start)
        for layer, layer_cache in zip(self.bert.encoder.layer, cache, strict=True):
            x = layer(x, layer_cache)
        head = self.cls.predictions
        return head.decoder(head.transform(x[:, -1]))


class BlipCaptioningNetwork(nn.Module):
    """``BlipForConditionalGeneration``'s inference path under the same parameter names."""

    def __init__(self, vision: VisionShape, text: TextShape) -> None:
        super().__init__()
        self.vision_model = VisionModel(vision)
        self.text_decoder = TextDecoder(text)

    def tie(self) -> None:
        """The LM head's output weights are the word embeddings and its bias ``predictions.bias``
        (transformers' ``tie_word_embeddings``)."""
        head = self.text_decoder.cls.predictions
        head.decoder.weight = self.text_decoder.bert.embeddings.word_embeddings.weight
        head.decoder.bias = head.bias
