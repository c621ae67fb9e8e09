"""Captioners: an image in, a sentence out (BLIP, BLIP-2 via transformers; CoCa via open_clip)."""

from __future__ import annotations

import contextlib
import gzip
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.device import inference_context
from cdir.models.presets import CaptionerSpec
from cdir.models.torch_threads import after_module, decoder_threads
from cdir.models.weights import unavailable
from cdir.models.zerogpu import run_on_gpu

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]


class Captioner(Protocol):
    settings_key: str

    def caption(self, images: Sequence[Any]) -> list[str]:
        """One caption per PIL image."""
        ...


@dataclass
class HFCaptioner:
    """BLIP or BLIP-2 from transformers: ``processor`` + ``model.generate``."""

    model: Any
    processor: Any
    spec: CaptionerSpec
    device: str = "cpu"

    def __post_init__(self) -> None:
        if captioner_kind(self.spec.kind).fused_attention:  # the same numbers, less memory
            from cdir.models.blip_attention import use_fused_attention

            use_fused_attention(self.model)

    @property
    def settings_key(self) -> str:
        return self.spec.settings_key()

    def caption(self, images: Sequence[Any]) -> list[str]:
        """One caption per PIL image; on CUDA in float16 autocast, on a ZeroGPU Space inside
        ``spaces.GPU`` (:mod:`cdir.models.zerogpu`)."""
        if not images:
            return []
        prompt = self.spec.task_prompt
        if prompt:  # Florence-2's task (e.g. <CAPTION>), or BLIP's conditional prefix
            inputs = self.processor(
                images=list(images), text=[prompt] * len(images), return_tensors="pt"
            )
        else:
            inputs = self.processor(images=list(images), return_tensors="pt")
        return run_on_gpu(self._generate, inputs, kind="caption", n=len(images))

    def _generate(self, inputs: Any) -> list[str]:
        inputs = inputs.to(self.device)
        threads = decoder_threads() if self.device == "cpu" else None
        decoder = (
            after_module(self.model.vision_model, threads)
            if threads and hasattr(self.model, "vision_model")
            else contextlib.nullcontext()
        )
        with inference_context(self.device), decoder:
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.spec.max_new_tokens,
                num_beams=self.spec.num_beams,
                do_sample=False,
                repetition_penalty=self.spec.repetition_penalty,
            )
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        prompt = self.spec.task_prompt
        if prompt and not prompt.startswith("<"):  # BLIP repeats a text prefix: drop it
            texts = [
                t.strip()[len(prompt) :] if t.strip().lower().startswith(prompt.lower()) else t
                for t in texts
            ]
        return [text.strip() for text in texts]


def _hf_classes(kind: str) -> tuple[Any, Any]:
    """The transformers model and processor classes of a captioner kind with its own weights."""
    import transformers

    names = captioner_kind(kind).transformers_classes
    if names is None:
        raise ValueError(f"captioner kind {kind!r} has no transformers model")
    model, processor = names
    return getattr(transformers, model), getattr(transformers, processor)


def load_hf_captioner(
    spec: CaptionerSpec, preset: str, local: Path | None, device: str
) -> HFCaptioner:
    """Load BLIP/BLIP-2 from a local directory or a hub id (hub cache; honours HF_HUB_OFFLINE)."""
    model_cls, processor_cls = _hf_classes(spec.kind)
    source = str(local) if local is not None else spec.hub_id
    try:
        processor = processor_cls.from_pretrained(source)
        model = model_cls.from_pretrained(source).to(device).eval()
    except Exception as exc:
        raise unavailable(preset, f"captioner {spec.hub_id or source}", exc) from exc
    log.info("captioner %s loaded from %s", spec.kind, source)
    return HFCaptioner(model, processor, spec, device)


def save_hf_captioner(captioner: HFCaptioner, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    captioner.model.save_pretrained(out_dir)
    captioner.processor.save_pretrained(out_dir)
    return out_dir


def readable_words(limit: int) -> list[str]:
    """Whole English-looking words from the BPE vocabulary that ships inside open_clip."""
    import open_clip

    path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    words: list[str] = []
    seen: set[str] = set()
    for line in gzip.open(path, "rt", encoding="utf-8").read().split("\n")[1:]:
        word = line.replace(" ", "")
        if not word.endswith("</w>"):
            continue
        word = word[: -len("</w>")]
        if len(word) >= 4 and word.isascii() and word.isalpha() and word not in seen:
            seen.add(word)
            words.append(word)
            if len(words) >= limit:
                break
    return words


def build_tiny_blip(spec: CaptionerSpec, seed: int) -> HFCaptioner:
    """A small randomly initialised BLIP whose vocabulary is real words: captions read as words."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    cfg = spec.config or {}
    vocab = SPECIAL_TOKENS + readable_words(int(cfg.get("vocab_words", 2000)))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizer.from_pretrained(tmp, bos_token="[DEC]")
    width, layers, heads = cfg.get("hidden_size", 64), cfg.get("layers", 2), cfg.get("heads", 2)
    block = {
        "hidden_size": width,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 2 * width,
        "initializer_range": cfg.get("initializer_range", 0.02),
    }
    config = BlipConfig(
        text_config={
            **block,
            "vocab_size": len(vocab),
            "encoder_hidden_size": width,
            "bos_token_id": vocab.index("[DEC]"),
            "sep_token_id": vocab.index("[SEP]"),
            "eos_token_id": vocab.index("[SEP]"),
            "pad_token_id": 0,
            "max_position_embeddings": 64,
        },
        vision_config={**block, "image_size": cfg.get("image_size", 64), "patch_size": 16},
        projection_dim=width,
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    size = cfg.get("image_size", 64)
    image_processor = BlipImageProcessor(size={"height": size, "width": size})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return HFCaptioner(model, processor, spec)


@dataclass
class CocaCaptioner:
    """Captions with an open_clip CoCa model by greedy decoding.

    open_clip's own ``generate`` imports ``BeamSearchScorer``, which transformers 5 removed, so
    decoding is done here: greedy, with the model's own forward pass. The start / end token ids
    and the decoding come from the embedder's tokenizer: open_clip's CLIP BPE (49406 / 49407) or
    a Hugging Face tokenizer (its ``bos_token_id`` / ``eos_token_id``), as the ``demo`` preset has.
    """

    embedder: Any  # cdir.models.encoders.ClipEmbedder holding a CoCa model
    spec: CaptionerSpec
    sot_id: int = 49406
    eos_id: int = 49407
    banned: tuple[int, ...] = ()  # never generated besides padding and start (e.g. [UNK])

    def __post_init__(self) -> None:
        hf = getattr(getattr(self.embedder, "tokenizer", None), "tokenizer", None)
        if hf is not None and getattr(hf, "bos_token_id", None) is not None:
            self.sot_id, self.eos_id = int(hf.bos_token_id), int(hf.eos_token_id)
            unk = getattr(hf, "unk_token_id", None)
            self.banned = (int(unk),) if unk is not None else ()

    @property
    def settings_key(self) -> str:
        return self.spec.settings_key()

    def caption(self, images: Sequence[Any]) -> list[str]:
        import torch

        if not images:
            return []
        pixels = torch.stack([self.embedder.preprocess(im) for im in images])
        tokens = run_on_gpu(self._tokens, pixels, kind="caption", n=len(images))
        return [self._decode(row) for row in tokens]

    def _tokens(self, pixels: Any) -> list[list[int]]:
        model, device = self.embedder.model, self.embedder.device
        with inference_context(device):
            return self._greedy(model, pixels.to(device)).tolist()

    def _greedy(self, model: Any, pixels: Any) -> Any:
        import torch

        latent, embs = model._encode_image(pixels)
        out = torch.full((pixels.shape[0], 1), self.sot_id, dtype=torch.long, device=pixels.device)
        done = torch.zeros(pixels.shape[0], dtype=torch.bool, device=pixels.device)
        for _ in range(self.spec.max_new_tokens):
            logits = model(pixels, out, image_latent=latent, image_embs=embs, output_labels=False)[
                "logits"
            ][:, -1]
            logits = self._constrain(logits, out)
            nxt = torch.where(done, self.eos_id, logits.argmax(dim=-1))
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == self.eos_id
            if bool(done.all()):
                break
        return out

    def _constrain(self, logits: Any, out: Any) -> Any:
        """Never padding or start-of-text; no end-of-text before two tokens; repetition penalty."""
        logits[:, [0, self.sot_id, *self.banned]] = -float("inf")
        if out.shape[1] < 3:
            logits[:, self.eos_id] = -float("inf")
        penalty = self.spec.repetition_penalty
        if penalty != 1.0:
            seen = logits.gather(1, out)
            penalised = seen.where(seen < 0, seen / penalty).where(seen >= 0, seen * penalty)
            logits.scatter_(1, out, penalised)
        return logits

    def _decode(self, row: list[int]) -> str:
        ids = [t for t in row[1:] if t not in (self.sot_id, 0)]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        hf = getattr(self.embedder.tokenizer, "tokenizer", None)
        if hf is not None and hasattr(hf, "decode"):
            text = hf.decode(ids, skip_special_tokens=True)
            return " ".join(text.replace(" ,", ",").split())
        from open_clip.tokenizer import _tokenizer

        return _tokenizer.decode(ids).strip()
