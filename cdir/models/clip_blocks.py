"""open_clip's transformer pieces in plain torch, for a tower loaded alone (:mod:`.text_only`,
:mod:`.image_only`): parameter names as open_clip's ``Transformer`` / ``ResidualAttentionBlock``
(``resblocks.N.ln_1``, ``attn.in_proj_weight``, ``mlp.c_fc`` ...), so a checkpoint's tensors load
as they are; attention through PyTorch's fused ``scaled_dot_product_attention``.

Defined on first use (:func:`blocks`) so that importing a module that uses them needs no torch.
Every parameter is created uninitialised (:func:`empty`): the checkpoint fills each one (no random
init, and no ``meta`` device, whose first use imports much of torch's compiler).
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace


@cache
def blocks() -> SimpleNamespace:
    """``empty`` (an uninitialised parameter), ``Linear``, ``QuickGELU``, ``Attention`` (causal or
    not), ``Block`` and ``Transformer`` module classes."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def empty(*shape: int) -> nn.Parameter:
        return nn.Parameter(torch.empty(*shape), requires_grad=False)

    class Linear(nn.Module):
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.weight, self.bias = empty(n_out, n_in), empty(n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.linear(x, self.weight, self.bias)

    class QuickGELU(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(1.702 * x)

    class Attention(nn.Module):
        """``nn.MultiheadAttention``'s parameters, with fused attention (causal for text)."""

        def __init__(self, width: int, heads: int, causal: bool) -> None:
            super().__init__()
            self.heads, self.causal = heads, causal
            self.in_proj_weight, self.in_proj_bias = empty(3 * width, width), empty(3 * width)
            self.out_proj = Linear(width, width)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, n, w = x.shape
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
            q, k, v = qkv.view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
            return self.out_proj(out.transpose(1, 2).reshape(b, n, w))

    class Block(nn.Module):
        def __init__(
            self, width: int, heads: int, mlp_ratio: float, quick_gelu: bool, causal: bool
        ) -> None:
            super().__init__()
            hidden = int(width * mlp_ratio)
            self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.attn = Attention(width, heads, causal)
            act = QuickGELU() if quick_gelu else nn.GELU()
            self.mlp = nn.Sequential()
            self.mlp.add_module("c_fc", Linear(width, hidden))
            self.mlp.add_module("gelu", act)
            self.mlp.add_module("c_proj", Linear(hidden, width))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class Transformer(nn.Module):
        def __init__(self, layers: list[nn.Module]) -> None:
            super().__init__()
            self.resblocks = nn.ModuleList(layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.resblocks:
                x = block(x)
            return x

    return SimpleNamespace(
        empty=empty,
        Linear=Linear,
        QuickGELU=QuickGELU,
        Attention=Attention,
        Block=Block,
        Transformer=Transformer,
    )
