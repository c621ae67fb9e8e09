"""Fused attention for BLIP on the CPU: ``scaled_dot_product_attention`` in place of BLIP's eager
attention, with the same numbers.

transformers' BLIP (``modeling_blip.BlipAttention`` for the ViT, ``modeling_blip_text.
BlipTextSelfAttention`` for the decoder's self- and cross-attention) has no SDPA implementation:
it multiplies, scales, softmaxes and multiplies again, and materialises every attention matrix.
In the ViT-B/16 at 384 pixels that is 12 x 577 x 577 floats per image and layer, and
``bench/bench_caption.py --profile`` measured that eager attention at about a third of the vision
encoder's time on 2 AVX2 cores. :func:`use_fused_attention` swaps in ``forward`` methods that
compute the same projections and cache updates and hand the attention itself to
``torch.nn.functional.scaled_dot_product_attention`` (PyTorch's fused CPU kernel, no stored
attention matrix). Outputs agree with the eager ones to float32 rounding (tested).

The replacement methods follow transformers 5.24's BLIP code line by line apart from the attention;
``use_fused_attention`` refuses a model whose attention classes it does not know, and the test
compares captions and logits against the eager model, so a transformers upgrade that changes
BLIP's attention fails loudly instead of captioning wrongly. The attention probabilities that the
eager modules return are not computed (``None``): cdir never asks for them.
"""

from __future__ import annotations

import logging
import types
from typing import Any

log = logging.getLogger(__name__)


def _vision_forward(self: Any, hidden_states: Any, **kwargs: Any) -> tuple[Any, None]:
    """``BlipAttention.forward`` (ViT self-attention) with fused attention.

    hidden_states: float tensor (batch, tokens, width); returns the projected output of the same
    shape and ``None`` for the attention probabilities."""
    from torch.nn.functional import scaled_dot_product_attention

    bsz, tgt_len, embed_dim = hidden_states.size()
    qkv = (
        self.qkv(hidden_states)
        .reshape(bsz, tgt_len, 3, self.num_heads, embed_dim // self.num_heads)
        .permute(2, 0, 3, 1, 4)
    )
    context = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], scale=self.scale)
    context = context.transpose(1, 2).reshape(bsz, tgt_len, embed_dim)
    return self.projection(context), None


def _text_forward(
    self: Any,
    hidden_states: Any,
    attention_mask: Any = None,
    encoder_hidden_states: Any = None,
    encoder_attention_mask: Any = None,
    cache: Any = None,
    past_key_values: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """``BlipTextSelfAttention.forward`` (decoder self- or cross-attention) with fused attention;
    the key/value cache is read and updated exactly as transformers does.

    hidden_states: float tensor (batch, tokens, width); masks are BLIP's additive float masks."""
    from torch.nn.functional import scaled_dot_product_attention
    from transformers.cache_utils import EncoderDecoderCache

    cache = cache if cache is not None else past_key_values
    input_shape = hidden_states.shape[:-1]
    hidden_shape = (*input_shape, -1, self.attention_head_size)
    query = self.query(hidden_states).view(hidden_shape).transpose(1, 2)
    is_cross = encoder_hidden_states is not None
    mask = encoder_attention_mask if is_cross else attention_mask

    is_updated = False
    current_cache = cache
    if cache is not None and isinstance(cache, EncoderDecoderCache):
        is_updated = cache.is_updated.get(self.layer_idx)
        current_cache = cache.cross_attention_cache if is_cross else cache.self_attention_cache
    current = encoder_hidden_states if is_cross else hidden_states
    if is_cross and cache is not None and is_updated:
        key = current_cache.layers[self.layer_idx].keys
        value = current_cache.layers[self.layer_idx].values
    else:
        kv_shape = (*current.shape[:-1], -1, self.attention_head_size)
        key = self.key(current).view(kv_shape).transpose(1, 2)
        value = self.value(current).view(kv_shape).transpose(1, 2)
        if cache is not None:
            key, value = current_cache.update(key, value, self.layer_idx, kwargs=kwargs)
            if is_cross and isinstance(cache, EncoderDecoderCache):
                cache.is_updated[self.layer_idx] = True

    if mask is not None:
        mask = mask.to(query.dtype)
        if not bool(mask.any()):  # all-visible masks (every cross-attention mask): no mask at all
            mask = None
    context = scaled_dot_product_attention(query, key, value, attn_mask=mask)
    context = context.transpose(1, 2).reshape(*input_shape, self.all_head_size)
    return context, None


def use_fused_attention(model: Any) -> int:
    """Give every BLIP attention module in ``model`` (a ``BlipForConditionalGeneration``, its
    vision model or its text decoder) the fused forward; returns how many were changed.

    Changes the modules in place; idempotent. Raises ``TypeError`` when ``model`` holds no BLIP
    attention module (another architecture, or a transformers release that renamed them)."""
    from transformers.models.blip.modeling_blip import BlipAttention
    from transformers.models.blip.modeling_blip_text import BlipTextSelfAttention

    changed = 0
    for module in model.modules():
        if type(module) is BlipAttention:
            module.forward = types.MethodType(_vision_forward, module)
            changed += 1
        elif type(module) is BlipTextSelfAttention:
            module.forward = types.MethodType(_text_forward, module)
            changed += 1
    if not changed:
        raise TypeError(f"no BLIP attention modules in {type(model).__name__}")
    log.debug("fused attention in %d BLIP attention modules", changed)
    return changed
