"""A BLIP captioner on plain torch: :mod:`.network`, :mod:`.pixels` and :mod:`.decoding` with the
checkpoint's own tokenizer (the ``tokenizers`` library reading ``tokenizer.json``)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdir.models.blip_runtime.checkpoint import BlipFolder
from cdir.models.blip_runtime.decoding import greedy
from cdir.models.blip_runtime.pixels import pixel_values
from cdir.models.device import inference_context
from cdir.models.presets import CaptionerSpec
from cdir.models.torch_threads import decoder_threads, fewer_threads

SPECIAL_TOKEN_FIELDS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


def clean_up_tokenization(text: str) -> str:
    """transformers' ``PreTrainedTokenizerBase.clean_up_tokenization``: no space before
    punctuation and English contractions."""
    for before, after in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(before, after)
    return text


def special_ids(tokenizer: Any, settings: dict[str, Any]) -> set[int]:
    """The ids of the special tokens named in ``tokenizer_config.json`` (strings or saved
    ``AddedToken`` dicts), which transformers registers as special when it loads the tokenizer:
    with those ``tokenizer.json`` marks special, what ``skip_special_tokens`` leaves out."""
    names: list[Any] = [settings.get(field) for field in SPECIAL_TOKEN_FIELDS]
    for field in ("additional_special_tokens", "extra_special_tokens"):
        extra = settings.get(field) or []
        names.extend(extra.values() if isinstance(extra, dict) else extra)
    ids: set[int] = set()
    for name in names:
        content = name.get("content") if isinstance(name, dict) else name
        token = tokenizer.token_to_id(content) if isinstance(content, str) else None
        if token is not None:
            ids.add(token)
    return ids


@dataclass
class BlipRuntimeCaptioner:
    """Captions as :class:`~cdir.models.captioners.HFCaptioner` does for a BLIP with greedy
    decoding and no task prompt, on the CPU, without importing transformers. ``model`` is the
    :class:`~cdir.models.blip_runtime.network.BlipCaptioningNetwork` (its Linear layers may be
    replaced by int8 ones, :func:`cdir.models.quantize.quantize_linear_int8`)."""

    model: Any
    tokenizer: Any
    checkpoint: BlipFolder
    spec: CaptionerSpec
    skip: set[int]
    device: str = "cpu"

    @property
    def settings_key(self) -> str:
        return self.spec.settings_key()

    def caption(self, images: Sequence[Any]) -> list[str]:
        """One caption per PIL image; an empty list for none."""
        if not images:
            return []
        pixels = pixel_values(images, self.checkpoint.pixels)
        threads = decoder_threads()
        with inference_context(self.device), contextlib.ExitStack() as stack:
            image_tokens = self.model.vision_model(pixels)
            ids = greedy(
                self.model.text_decoder,
                image_tokens,
                self.spec.max_new_tokens,
                self.spec.repetition_penalty,
                on_first_step=(lambda: stack.enter_context(fewer_threads(threads)))
                if threads
                else None,
            )
        return [self.decode(row) for row in ids.tolist()]

    def decode(self, ids: list[int]) -> str:
        """A caption's text from its token ids (special tokens left out), as transformers'
        ``batch_decode(..., skip_special_tokens=True)`` followed by ``strip``."""
        text = self.tokenizer.decode(
            [i for i in ids if i not in self.skip], skip_special_tokens=True
        )
        if self.checkpoint.clean_up_spaces:
            text = clean_up_tokenization(text)
        return text.strip()
