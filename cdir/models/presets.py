"""Model presets: a name -> everything needed to build an embedder and a captioner.

A preset is data. ``cdir.models.loaded.load_models(name)`` turns it into models. The ``tiny``
presets live in the same registry as the real ones (as timm keeps its ``test_*`` models) so that
tests and offline smoke runs go through the same code as real users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdir.models.captioner_kinds import captioner_kind
from cdir.models.published import CAPTIONERS, EmbedderQuality, embedder_quality


class UnknownPresetError(ValueError):
    """A preset name that is not in the registry."""


@dataclass(frozen=True)
class EmbedderSpec:
    """An open_clip model: an architecture name and a pretrained tag (or a config for tiny, or a
    folder of weights in open_clip's ``local-dir:`` layout for a user's preset file)."""

    arch: str
    pretrained: str | None = None
    config: dict[str, Any] | None = None  # an architecture config built with random weights
    weights: str | None = None  # a local folder: open_clip_config.json + open_clip_model.*


@dataclass(frozen=True)
class CaptionerSpec:
    """How captions are made.

    ``kind`` is ``blip`` (transformers BLIP), ``blip2`` (transformers BLIP-2), ``florence2``
    (transformers Florence-2, which needs ``task_prompt``, e.g. ``<CAPTION>``), ``coca`` (an
    open_clip CoCa model: its own checkpoint ``arch`` / ``pretrained`` when given, else the
    embedder itself) or ``none``. ``hub_id`` may also be a local folder (``save_pretrained``).
    """

    kind: str
    hub_id: str | None = None
    max_new_tokens: int = 30
    num_beams: int = 1
    repetition_penalty: float = 1.0
    config: dict[str, Any] | None = None  # tiny BLIP config built with random weights
    arch: str | None = None  # coca: the captioning checkpoint's open_clip architecture ...
    pretrained: str | None = None  # ... and tag (e.g. the MSCOCO fine-tune)
    task_prompt: str | None = None  # text given with the image (Florence-2 task, BLIP prefix)

    def settings_key(self) -> str:
        """Identifies the caption-generation settings, for caching captions (the weights'
        fingerprint is added by :mod:`cdir.models.fingerprint`)."""
        key = f"{self.kind}:{self.hub_id}:{self.max_new_tokens}:{self.num_beams}"
        if self.pretrained:
            key += f":{self.arch}/{self.pretrained}"
        return key + (f":{self.task_prompt}" if self.task_prompt else "")

    @property
    def card_id(self) -> str | None:
        """The key of the captioner's model card in :data:`cdir.models.published.CAPTIONERS`."""
        if captioner_kind(self.kind).from_embedder and self.pretrained:
            return f"open_clip:{self.arch}/{self.pretrained}"
        return self.hub_id


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
    licence: str = ""  # of the weights, from their model cards
    research_only: bool = False  # some weights' licence forbids commercial use: never a default
    source_file: str | None = None  # the TOML / JSON file a user's preset came from

    @property
    def quality(self) -> EmbedderQuality | None:
        """The embedder's published figures (:mod:`cdir.models.published`); None when it has no
        pretrained tag in open_clip's tables (random, bundled or local weights)."""
        return embedder_quality(self.embedder.arch, self.embedder.pretrained)

    @property
    def captioner_card(self) -> str:
        """The captioner's model card, in one line ('' when there is none)."""
        card = CAPTIONERS.get(self.captioner.card_id or "")
        return f"{card.trained_on}; licence {card.licence} ({card.source})" if card else ""


TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

TINY_COCA_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {
        "image_size": 64,
        "layers": 2,
        "width": 64,
        "head_width": 32,
        "patch_size": 16,
        "attentional_pool": True,
        "attn_pooler_heads": 2,
        "output_tokens": True,
    },
    "text_cfg": {
        "context_length": 76,
        "vocab_size": 49408,
        "width": 64,
        "heads": 2,
        "layers": 2,
        "embed_cls": True,
        "output_tokens": True,
    },
    "multimodal_cfg": {
        "context_length": 76,
        "vocab_size": 49408,
        "width": 64,
        "heads": 2,
        "layers": 2,
        "attn_pooler_heads": 2,
        "n_queries": 16,
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
COSTS_FILE = Path(__file__).with_name("preset_costs.json")  # bench/bench_preset_costs.py writes it


def measured_costs() -> dict[str, Any]:
    """What each preset costs on the machine bench/bench_preset_costs.py last ran on: its CPU,
    load, method, and per preset ``embed_s_per_image`` / ``caption_s_per_image`` ({} if none)."""
    import json

    try:
        return dict(json.loads(COSTS_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def register_preset(preset: Preset) -> Preset:
    _REGISTRY[preset.name] = preset
    return preset


def list_presets() -> list[str]:
    return list(_REGISTRY)


def get_preset(name: str | Preset) -> Preset:
    """Look a preset up by name, or read a preset file (a name ending in ``.toml`` / ``.json``:
    :mod:`cdir.models.preset_file`, registered under the name it declares); an unknown name
    raises an error listing the valid ones."""
    if isinstance(name, Preset):
        return name
    if str(name).lower().endswith((".toml", ".json")) and name not in _REGISTRY:
        from cdir.models.preset_file import PresetFileError, load_preset_file

        preset = load_preset_file(Path(name))
        known = _REGISTRY.get(preset.name)
        if known is not None and known.source_file != preset.source_file:
            raise PresetFileError(
                f"preset file {Path(name).name}: the name {preset.name!r} is "
                "taken by another preset; give the file another name"
            )
        return register_preset(preset)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownPresetError(
            f"unknown preset {name!r}; choose one of: {', '.join(list_presets())}"
        ) from None


# Licences: open_clip's LAION / DataComp / OpenAI / CoCa weights MIT; SigLIP (timm/ViT-B-16-SigLIP)
# Apache-2.0; BLIP BSD-3-Clause; BLIP-2 MIT with OPT-2.7b under Meta's non-commercial OPT licence.
register_preset(
    Preset(
        name="default",
        description="CLIP ViT-B-32 (LAION-2B) + BLIP base captioner; runs on a CPU",
        embedder=EmbedderSpec("ViT-B-32", "laion2b_s34b_b79k"),
        captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-base", max_new_tokens=30),
        licence="MIT (CLIP weights), BSD-3-Clause (BLIP)",
    )
)
register_preset(
    Preset(
        name="fast",
        description="CLIP ViT-B-32-256 (DataComp-1B) + BLIP base: +7 ImageNet-Sketch over default "
        "at ~1.2x its embedding compute; a CPU choice",
        embedder=EmbedderSpec("ViT-B-32-256", "datacomp_s34b_b86k"),
        captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-base", max_new_tokens=30),
        licence="MIT (DataComp CLIP weights), BSD-3-Clause (BLIP)",
    )
)
register_preset(
    Preset(
        name="siglip",
        description="SigLIP ViT-B-16 (WebLI) + BLIP base: +14 ImageNet-Sketch and ImageNet-R over "
        "default at ~3x its embedding compute",
        embedder=EmbedderSpec("ViT-B-16-SigLIP", "webli"),
        captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-base", max_new_tokens=30),
        licence="Apache-2.0 (SigLIP weights), BSD-3-Clause (BLIP)",
    )
)
register_preset(
    Preset(
        name="quality",
        description="CLIP ViT-L-14 (DataComp-XL) + BLIP large captioner; wants a GPU",
        embedder=EmbedderSpec("ViT-L-14", "datacomp_xl_s13b_b90k"),
        captioner=CaptionerSpec("blip", "Salesforce/blip-image-captioning-large", num_beams=3),
        needs_gpu=True,
        licence="MIT (DataComp CLIP weights), BSD-3-Clause (BLIP)",
    )
)
register_preset(
    Preset(
        name="paper",
        description="CLIP ViT-L-14 (OpenAI) + BLIP-2 OPT-2.7b captioner, as in the paper; "
        "needs a GPU",
        # OpenAI's weights were trained with QuickGELU: plain ViT-L-14 (GELU) would load them
        # without an error and give wrong embeddings (open_clip only warns)
        embedder=EmbedderSpec("ViT-L-14-quickgelu", "openai"),
        captioner=CaptionerSpec("blip2", "Salesforce/blip2-opt-2.7b", num_beams=3),
        needs_gpu=True,
        licence="MIT (OpenAI CLIP), MIT (BLIP-2) with OPT-2.7b under Meta's OPT licence "
        "(non-commercial research only)",
        research_only=True,
    )
)
register_preset(
    Preset(
        name="coca",
        description="open_clip CoCa ViT-B-32: the contrastive LAION-2B checkpoint embeds, its "
        "MSCOCO fine-tune captions",
        # the MSCOCO fine-tune lost the image-text alignment (Flickr text -> image R@1 0.74 %,
        # against 63.4 % before fine-tuning: cdir.models.published), so it only captions
        embedder=EmbedderSpec("coca_ViT-B-32", "laion2b_s13b_b90k"),
        captioner=CaptionerSpec(
            "coca",
            max_new_tokens=30,
            arch="coca_ViT-B-32",
            pretrained="mscoco_finetuned_laion2b_s13b_b90k",
        ),
        licence="MIT (open_clip CoCa weights)",
    )
)
register_preset(
    Preset(
        name="demo",
        description="small CoCa trained here on drawn domains and shipped in the package "
        "(offline demo: knows 6 drawn classes in 6 styles only)",
        # no hub tag: the weights are read from cdir/assets/models/demo/embedder
        # (cdir.models.weights)
        embedder=EmbedderSpec("cdir-demo-coca"),
        captioner=CaptionerSpec("coca", max_new_tokens=12),
        licence="same as cdir (trained here on drawings made by scripts/make_examples.py)",
    )
)
register_preset(
    Preset(
        name="tiny",
        description="tiny randomly initialised CLIP + BLIP for tests and offline runs "
        "(meaningless)",
        embedder=EmbedderSpec("cdir-tiny-clip", config=TINY_CLIP_CONFIG),
        captioner=CaptionerSpec(
            "blip", max_new_tokens=8, repetition_penalty=1.5, config=TINY_BLIP_CONFIG
        ),
        trained=False,
        licence="none needed: random weights built from a config",
    )
)
register_preset(
    Preset(
        name="tiny-coca",
        description="tiny randomly initialised CoCa for tests of the CoCa path (meaningless)",
        embedder=EmbedderSpec("cdir-tiny-coca", config=TINY_COCA_CONFIG),
        captioner=CaptionerSpec("coca", max_new_tokens=8, repetition_penalty=100.0),
        trained=False,
        licence="none needed: random weights built from a config",
    )
)
