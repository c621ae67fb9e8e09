"""CLIP text embeddings without the padding: the same vectors, several times less compute.

open_clip's tokenizer pads every text to the context length (77 tokens), and ``encode_text`` runs
the text transformer over all of them. A caption has 10-20 real tokens. The CLIP text tower is
causal: a position attends only to the ones before it. Its output at the end-of-text token, the
one that is pooled, therefore does not depend on the padding after it. Running the tower on the
tokens up to the longest text of the batch gives the same embedding (to float rounding) for a
fraction of the work.

This applies to open_clip's ``CLIP`` class with a causal mask and end-of-text pooling (the
OpenAI / LAION text towers the presets use). Any other text tower (CoCa, Hugging Face text
encoders, custom pooling) runs through its own ``encode_text``.
"""

from __future__ import annotations

from typing import Any


def encode_text(model: Any, tokens: Any) -> Any:
    """L2-normalised text embeddings of ``tokens`` (B, context), as ``model.encode_text(tokens,
    normalize=True)`` gives them, without running the tower over trailing padding."""
    if not unpaddable(model):
        return model.encode_text(tokens, normalize=True)
    import torch.nn.functional as F
    from open_clip.transformer import text_global_pool

    length = used_length(tokens)
    text = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(text).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, text, model.text_pool_type, eos_token_id=model.text_eos_id)
    projection = model.text_projection
    if projection is not None:
        x = projection(x) if callable(projection) else x @ projection
    return F.normalize(x, dim=-1)


def used_length(tokens: Any) -> int:
    """One past the last non-padding (non-zero) token of any row; at least 1."""
    import torch

    positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
    return max(1, int(((tokens != 0) * positions).max()))


def unpaddable(model: Any) -> bool:
    """Whether ``model`` has open_clip's causal CLIP text tower pooled at the end-of-text token."""
    import torch

    mask = getattr(model, "attn_mask", None)
    if type(model).__name__ != "CLIP" or mask is None or mask.dim() != 2 or mask.shape[0] < 2:
        return False
    if getattr(model, "text_pool_type", None) not in ("argmax", "eos"):
        return False
    causal = bool(torch.isinf(mask[0, 1:]).all()) and not bool(torch.isinf(mask[-1]).any())
    return causal and all(
        hasattr(model, name)
        for name in (
            "token_embedding",
            "positional_embedding",
            "ln_final",
            "text_projection",
            "text_eos_id",
        )
    )
