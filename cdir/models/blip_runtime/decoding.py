"""Greedy caption decoding for :mod:`cdir.models.blip_runtime`, step for step as transformers'
``BlipForConditionalGeneration.generate`` with ``num_beams=1, do_sample=False``.

transformers starts every caption from the decoder's ``bos_token_id`` ([DEC]), ends it at
``sep_token_id`` ([SEP]), pads finished captions with ``pad_token_id`` while the others go on,
and stops after ``max_new_tokens`` or when every caption has ended. A ``repetition_penalty`` p
(CTRL, Keskar et al. 2019; transformers' ``RepetitionPenaltyLogitsProcessor``) divides the
positive logits and multiplies the negative ones of every token already in the sequence, the
start token included, by p before the arg max.
"""

from __future__ import annotations

from typing import Any


def penalise(scores: Any, ids: Any, penalty: float) -> Any:
    """``scores`` (batch, vocab) float32 with the tokens in ``ids`` (batch, length) int64
    penalised as transformers does; a new tensor."""
    import torch

    seen = torch.zeros(scores.shape[0], scores.shape[1] + 1, dtype=torch.bool)
    seen.scatter_(1, ids, True)
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen[:, : scores.shape[1]], penalised, scores)


def greedy(
    decoder: Any,
    image_tokens: Any,
    max_new_tokens: int,
    repetition_penalty: float = 1.0,
    on_first_step: Any = None,
) -> Any:
    """Token ids (batch, 1 + new tokens) int64, the start token first, of captions of
    ``image_tokens`` (batch, tokens, width) float32 by ``decoder`` (a
    :class:`~cdir.models.blip_runtime.network.TextDecoder`). ``on_first_step``: called once
    when the decoder starts (e.g. to lower the thread count for the decoder)."""
    import torch

    shape = decoder.shape
    batch = image_tokens.shape[0]
    ids = torch.full((batch, 1), shape.bos_token_id, dtype=torch.long)
    if on_first_step is not None:
        on_first_step()
    cache = decoder.start(image_tokens)
    unfinished = torch.ones(batch, dtype=torch.bool)
    for _ in range(max_new_tokens):
        scores = decoder.step(ids[:, -1:], cache, ids.shape[1] - 1).to(torch.float32)
        if repetition_penalty != 1.0:
            scores = penalise(scores, ids, repetition_penalty)
        chosen = scores.argmax(dim=-1)
        chosen = torch.where(unfinished, chosen, torch.full_like(chosen, shape.pad_token_id))
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        unfinished &= chosen != shape.sep_token_id
        if not bool(unfinished.any()):
            break
    return ids
