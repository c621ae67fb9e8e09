"""Model presets: a name -> everything needed to build an embedder and a captioner.

A preset is data. ``cdir.models.loaded.load_models(name)`` turns it into models. The ``tiny``
presets live in the same registry as the real ones (as timm keeps its ``test_*`` models) so that
tests and offline smoke runs go through the same code as real users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UnknownPresetError(ValueError):
    """A preset name that is not in the registry."""


@dataclass(frozen=True)
class EmbedderSpec:
    """An open_clip model: an architecture name and a pretrained tag (or a config for tiny)."""

    arch: str
    pretrained: str | None = None
    config: dict[str, Any] | None = None  # an architecture config built with random weights


@dataclass(frozen=True)
class CaptionerSpec:
    """How captions are made.

    ``kind`` is ``blip`` (transformers BLIP), ``blip2`` (transformers BLIP-2), ``coca`` (the
    embedder itself is an open_clip CoCa model and also captions) or ``none``.
    """

    kind: str
    hub_id: str | None = None
    max_new_tokens: int = 30
    num_beams: int = 1
    repetition_penalty: float = 1.0
    config: dict[str, Any] | None = None  # tiny BLIP config built with random weights

    def settings_key(self) -> str:
        """Identifies the caption-generation settings, for caching captions."""
        return f"{self.kind}:{self.hub_id}:{self.max_new_tokens}:{self.num_beams}"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    embedder: EmbedderSpec
    captioner: CaptionerSpec
    trained: bool = True  # False: random weights, results are meaningless (the app shows a banner)
    needs_gpu: bool = False
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

TINY_COCA_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {
        "image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16,
        "attentional_pool": True, "attn_pooler_heads": 2, "output_tokens": True,
    },
    "text_cfg": {
        "context_length": 76, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2,
        "embed_cls": True, "output_tokens": True,
    },
    "multimodal_cfg": {
        "context_length": 76, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2,
        "attn_pooler_heads": 2, "n_queries": 16,
    },
    "custom_text": True,
}

TINY_BLIP_CONFIG: dict[str, Any] = {
    "image_size": 64,
    "hidden_size": 64,
    "layers": 2,
    "heads": 2,
    "vocab_words": 2000,
    "initializer_range": 0.2,  # larger than BLIP's 0.02 so random captions differ between images
}

_REGISTRY: dict[str, Preset] = {}


def register_preset(preset: Preset) -> Preset:
    _REGISTRY[preset.name] = preset
    return preset


def list_presets() -> list[str]:
    return list(_REGISTRY)


def get_preset(name: str | Preset) -> Preset:
    """Look a preset up by name; an unknown name raises an error listing the valid ones."""
    if isinstance(name, Preset):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownPresetError(
            f"unknown preset {name!r}; choose one of: {', '.join(list_presets())}"
        ) from None


register_preset(Preset(
    name="default",
    description="CLIP ViT-B-32 (LAION-2B) + BLIP base captioner; runs on a CPU",
    embedder=EmbedderSpec("ViT-B-32", "laion2b_s34b_b79k"),
    captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-base", max_new_tokens=30),
))
register_preset(Preset(
    name="quality",
    description="CLIP ViT-L-14 (DataComp-XL) + BLIP large captioner; wants a GPU",
    embedder=EmbedderSpec("ViT-L-14", "datacomp_xl_s13b_b90k"),
    captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-large", num_beams=3),
    needs_gpu=True,
))
register_preset(Preset(
    name="paper",
    description="CLIP ViT-L-14 (OpenAI) + BLIP-2 OPT-2.7b captioner, as in the paper; needs a GPU",
    # OpenAI's weights were trained with QuickGELU: plain ViT-L-14 (GELU) would load them without
    # an error and give wrong embeddings (open_clip only warns)
    embedder=EmbedderSpec("ViT-L-14-quickgelu", "openai"),
    captioner=CaptionerSpec("blip2", "Salesforce/blip2-opt-2.7b", num_beams=3),
    needs_gpu=True,
))
register_preset(Preset(
    name="coca",
    description="open_clip CoCa ViT-B-32: one model that both embeds and captions",
    embedder=EmbedderSpec("coca_ViT-B-32", "mscoco_finetuned_laion2b_s13b_b90k"),
    captioner=CaptionerSpec("coca", max_new_tokens=30),
))
register_preset(Preset(
    name="demo",
    description="small CoCa trained here on drawn domains and shipped in the package "
                "(offline demo: knows 6 drawn classes in 5 styles only)",
    # no hub tag: the weights are read from assets/models/demo/embedder (cdir.models.weights)
    embedder=EmbedderSpec("cdir-demo-coca"),
    captioner=CaptionerSpec("coca", max_new_tokens=12),
))
register_preset(Preset(
    name="tiny",
    description="tiny randomly initialised CLIP + BLIP for tests and offline runs (meaningless)",
    embedder=EmbedderSpec("cdir-tiny-clip", config=TINY_CLIP_CONFIG),
    captioner=CaptionerSpec(
        "blip", max_new_tokens=8, repetition_penalty=1.5, config=TINY_BLIP_CONFIG
    ),
    trained=False,
))
register_preset(Preset(
    name="tiny-coca",
    description="tiny randomly initialised CoCa for tests of the CoCa path (meaningless)",
    embedder=EmbedderSpec("cdir-tiny-coca", config=TINY_COCA_CONFIG),
    captioner=CaptionerSpec("coca", max_new_tokens=8, repetition_penalty=100.0),
    trained=False,
))
