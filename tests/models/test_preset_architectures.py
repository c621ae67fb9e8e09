"""Every preset's architecture matches its weights, checked offline.

A preset pairs an open_clip architecture with a pretrained tag (or a Hugging Face captioner with a
hub id). A mismatch rarely fails: ``ViT-L-14`` with the ``openai`` weights (trained with QuickGELU)
loads, open_clip only warns, and every embedding is wrong. For EVERY preset in the registry:

* ``test_architecture_agrees_with_tag``: the architecture config agrees with the pretrained tag's
  config (open_clip's pretrained cfg): activation (quick_gelu), input image size, mean / std of the
  preprocessing, context length and tokenizer (type, vocabulary size) of the text tower; for a
  Hugging Face captioner, the model class's config type is the hub id's family (BLIP / BLIP-2).
* ``test_loading_the_tag_is_clean``: open_clip's own loading code for the tag runs (on the meta
  device: no memory, no download) on a checkpoint of the real key names and shapes (open_clip's
  layout for the tag's architecture, plus shapes that are public facts of these checkpoints) and
  must report no missing, unexpected or resized keys and no warning (``warnings`` or ``logging``).
* ``test_local_directory_round_trip``: presets that can be built offline (random or bundled
  weights) are saved in the ``--model-dir`` layout and read back through ``load_models``; every
  tensor must come back, with no warning from open_clip or transformers.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdir.models.presets import get_preset, list_presets

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_VOCAB = 49408
HF_FAMILY = {  # hub id pattern -> the transformers config model_type it needs
    r"/blip2-": "blip-2",
    r"/blip-image-captioning-": "blip",
}
# (architecture, key) -> shape in the published checkpoints (public facts of these models)
KNOWN_SHAPES: dict[tuple[str, str], tuple[int, ...]] = {
    ("ViT-B-32", "visual.conv1.weight"): (768, 3, 32, 32),
    ("ViT-B-32", "token_embedding.weight"): (CLIP_VOCAB, 512),
    ("ViT-B-32", "positional_embedding"): (77, 512),
    ("ViT-L-14", "visual.conv1.weight"): (1024, 3, 14, 14),
    ("ViT-L-14", "token_embedding.weight"): (CLIP_VOCAB, 768),
    ("ViT-L-14", "positional_embedding"): (77, 768),
    ("ViT-L-14", "visual.proj"): (1024, 768),
    ("coca_ViT-B-32", "visual.conv1.weight"): (768, 3, 32, 32),
    ("coca_ViT-B-32", "text.token_embedding.weight"): (CLIP_VOCAB, 512),
    ("ViT-B-32-256", "visual.positional_embedding"): (65, 768),  # (256 / 32)^2 + 1 tokens
    ("ViT-B-32-256", "token_embedding.weight"): (CLIP_VOCAB, 512),
    ("ViT-B-16-SigLIP", "text.token_embedding.weight"): (32000, 768),
    ("ViT-B-16-SigLIP", "visual.trunk.patch_embed.proj.weight"): (768, 3, 16, 16),
}
# preprocessing and tokenizers that are not OpenAI CLIP's (public facts of these checkpoints;
# the SigLIP tokenizer is a hub download, so its vocabulary size is checked from the config)
TAG_MEAN_STD = {"timm/ViT-B-16-SigLIP": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))}
HF_TOKENIZER_VOCAB = {"timm/ViT-B-16-SigLIP": 32000}

PRESETS = list_presets()


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    """Fails if a warning is issued or a WARNING (or worse) is logged inside the block, by any
    logger (open_clip logs on the root logger; transformers on its own, which does not propagate).
    """
    # objects other tests left for the garbage collector (an event loop they did not close)
    # warn when collected; collect them now so their ResourceWarning is not blamed on the block
    gc.collect()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    loggers = [logging.getLogger(), logging.getLogger("transformers")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    problems = [f"warning: {w.category.__name__}: {w.message}" for w in caught]
    problems += [f"log {r.levelname} from {r.name}: {r.getMessage()}" for r in records]
    assert not problems, "\n".join(problems)


def base_arch(arch: str) -> str:
    return arch.removesuffix("-quickgelu")


def open_clip_cfg(preset_name: str) -> tuple[dict, dict]:
    """(architecture config, pretrained cfg) of a preset with an open_clip tag."""
    import open_clip

    spec = get_preset(preset_name).embedder
    cfg = open_clip.get_model_config(spec.arch)
    assert cfg is not None, f"open_clip has no architecture {spec.arch!r}"
    tag = open_clip.get_pretrained_cfg(spec.arch, spec.pretrained)
    assert tag, (
        f"{spec.pretrained!r} is not a pretrained tag of {spec.arch!r}; tags: "
        f"{open_clip.list_pretrained_tags_by_model(spec.arch)}"
    )
    return cfg, tag


def tag_image_size(tag: dict) -> int:
    """The input size the tag was trained at: its ``size``, else the ``_224`` of a timm hub name,
    else CLIP's 224."""
    size = tag.get("size")
    if size:
        return int(size[0] if isinstance(size, (tuple, list)) else size)
    found = re.search(r"_(\d{3})[./]", tag.get("hf_hub", "")) or re.search(
        r"-(\d{3})x\d{3}-", tag.get("hf_hub", "")
    )  # ...-256x256-...
    return int(found.group(1)) if found else 224


def check_text_tower(cfg: dict, tokenizer: object | None) -> None:
    text = cfg["text_cfg"]
    if tokenizer is None:  # a Hugging Face tokenizer that only the hub has: its public facts
        assert text["vocab_size"] == HF_TOKENIZER_VOCAB[text["hf_tokenizer_name"]]
        return
    assert tokenizer.context_length == text["context_length"]
    hf = getattr(tokenizer, "tokenizer", None)
    if text.get("hf_tokenizer_name"):
        assert hf is not None, "the config names a Hugging Face tokenizer; open_clip gave another"
        assert len(hf) == text["vocab_size"], "tokenizer and token embedding sizes differ"
    else:
        assert type(tokenizer).__name__ == "SimpleTokenizer"
        assert len(tokenizer.encoder) == text["vocab_size"] == CLIP_VOCAB


@pytest.mark.parametrize("name", PRESETS)
def test_architecture_agrees_with_tag(name: str) -> None:
    import open_clip

    from cdir.models.captioners import _hf_classes
    from cdir.models.weights import BUNDLED_MODEL_DIR, component_dir

    preset = get_preset(name)
    spec = preset.embedder
    if spec.pretrained:
        cfg, tag = open_clip_cfg(name)
        assert bool(cfg.get("quick_gelu", False)) == bool(tag.get("quick_gelu", False)), (
            f"{spec.arch} has quick_gelu={cfg.get('quick_gelu', False)} but the "
            f"{spec.pretrained!r} weights were trained with quick_gelu={tag.get('quick_gelu')}"
        )
        assert cfg["vision_cfg"]["image_size"] == tag_image_size(tag)
        mean, std = TAG_MEAN_STD.get(tag.get("hf_hub", "").strip("/"), (OPENAI_MEAN, OPENAI_STD))
        assert tuple(tag.get("mean", OPENAI_MEAN)) == pytest.approx(mean)
        assert tuple(tag.get("std", OPENAI_STD)) == pytest.approx(std)
        hf_name = cfg["text_cfg"].get("hf_tokenizer_name")
        check_text_tower(
            cfg, None if hf_name in HF_TOKENIZER_VOCAB else open_clip.get_tokenizer(spec.arch)
        )
    elif spec.config is not None:  # random weights: the config is all there is
        assert open_clip.get_model_config(spec.arch) in (None, spec.config)
    else:  # bundled weights: the config shipped with them is the tag
        folder = component_dir(BUNDLED_MODEL_DIR, name, "embedder")
        assert folder is not None, f"preset {name!r} has neither a tag nor bundled weights"
        import json

        shipped = json.loads((folder / "open_clip_config.json").read_text())
        cfg, pre = shipped["model_cfg"], shipped["preprocess_cfg"]
        size = pre["size"][0] if isinstance(pre["size"], list) else pre["size"]
        assert size == cfg["vision_cfg"]["image_size"]
        assert tuple(pre["mean"]) == pytest.approx(OPENAI_MEAN)
        assert tuple(pre["std"]) == pytest.approx(OPENAI_STD)
        assert not cfg.get("quick_gelu", False)
        check_text_tower(cfg, open_clip.get_tokenizer(f"local-dir:{folder}"))
    cap = preset.captioner
    if cap.kind in ("blip", "blip2") and cap.hub_id:
        wanted = [t for pattern, t in HF_FAMILY.items() if re.search(pattern, cap.hub_id)]
        assert wanted, f"unknown captioner family for {cap.hub_id!r}: add it to HF_FAMILY"
        assert _hf_classes(cap.kind)[0].config_class.model_type == wanted[0]
    if cap.kind == "coca" and cap.pretrained:  # a captioning checkpoint of its own
        arch = cap.arch or spec.arch
        assert arch.startswith("coca") and open_clip.get_pretrained_cfg(arch, cap.pretrained), (
            f"{cap.pretrained!r} is not a pretrained tag of the CoCa architecture {arch!r}"
        )
        assert open_clip.get_model_config(arch) == open_clip.get_model_config(spec.arch) or (
            not spec.arch.startswith("coca")
        ), "the captioner's preprocessing is the embedder's"
    elif cap.kind == "coca":
        assert spec.arch.startswith(("coca", "cdir-")) and (spec.config or {}).get(
            "multimodal_cfg", True
        ), "a CoCa captioner needs a CoCa embedder"


def _checkpoints() -> list[tuple[str, str, str]]:
    """(preset, architecture, tag) of every open_clip checkpoint a preset loads: its embedder's
    and, for a CoCa captioner with a checkpoint of its own, that one."""
    out = []
    for name in PRESETS:
        preset = get_preset(name)
        if preset.embedder.pretrained:
            out.append((name, preset.embedder.arch, preset.embedder.pretrained))
        cap = preset.captioner
        if cap.kind == "coca" and cap.pretrained:
            out.append((name, cap.arch or preset.embedder.arch, cap.pretrained))
    return out


@pytest.mark.parametrize(("name", "arch", "pretrained"), _checkpoints())
def test_loading_the_tag_is_clean(
    name: str, arch: str, pretrained: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import open_clip
    import torch
    from open_clip import factory

    from cdir.models.presets import EmbedderSpec

    spec = EmbedderSpec(arch, pretrained)
    cfg = open_clip.get_model_config(arch)
    assert cfg is not None and open_clip.get_pretrained_cfg(arch, pretrained), (name, arch)
    with torch.device("meta"):  # the checkpoint: open_clip's layout for the tag's architecture
        reference = open_clip.create_model(base_arch(spec.arch), pretrained=None, device="meta")
    checkpoint = {k: torch.empty(v.shape, device="meta") for k, v in reference.state_dict().items()}
    for (arch, key), shape in KNOWN_SHAPES.items():
        if arch == base_arch(spec.arch):
            assert tuple(checkpoint[key].shape) == shape, f"{key}: published shape {shape}"
    monkeypatch.setattr(factory, "download_pretrained", lambda *a, **k: "checkpoint.safetensors")
    monkeypatch.setattr(factory, "load_state_dict", lambda *a, **k: dict(checkpoint))
    seen: dict[str, object] = {}
    real_load = factory.load_checkpoint

    def load_checkpoint(model, path, strict=True, **kwargs):  # noqa: ANN001, ANN202
        seen["strict"] = strict
        seen["result"] = real_load(model, path, strict=strict, **kwargs)
        return seen["result"]

    monkeypatch.setattr(factory, "load_checkpoint", load_checkpoint)
    with no_warnings(), torch.device("meta"):
        model = open_clip.create_model(spec.arch, pretrained=spec.pretrained, device="meta")
    assert seen.get("strict") is True, "open_clip did not load the checkpoint strictly"
    result = seen["result"]
    assert not result.missing_keys and not result.unexpected_keys
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        k: tuple(v.shape) for k, v in checkpoint.items()
    }


def test_the_openai_tag_on_plain_vit_l_14_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above does catch the mismatch this file exists for."""
    import open_clip
    import torch
    from open_clip import factory

    monkeypatch.setattr(factory, "download_pretrained", lambda *a, **k: "checkpoint.safetensors")
    monkeypatch.setattr(factory, "load_checkpoint", lambda *a, **k: None)
    with pytest.raises(AssertionError, match="QuickGELU"), no_warnings(), torch.device("meta"):
        open_clip.create_model("ViT-L-14", pretrained="openai", device="meta")
    cfg = open_clip.get_model_config("ViT-L-14")
    assert (
        not cfg.get("quick_gelu")
        and open_clip.get_pretrained_cfg("ViT-L-14", "openai")["quick_gelu"]
    )


OFFLINE = [
    p
    for p in PRESETS
    if not get_preset(p).embedder.pretrained and not get_preset(p).captioner.hub_id
]


@pytest.mark.parametrize("name", OFFLINE)
def test_local_directory_round_trip(name: str, tmp_path: Path) -> None:
    import torch

    from cdir.models.captioners import HFCaptioner
    from cdir.models.loaded import load_models, save_models

    # a random preset's first build warns, rightly, that no weights were loaded; the bundled
    # ones load from a local directory and must not warn
    with no_warnings() if get_preset(name).trained else contextlib.nullcontext():
        models = load_models(name, device="cpu")
        captioner = models.captioner
    save_models(models, tmp_path)
    with no_warnings():
        again = load_models(name, tmp_path, device="cpu")
        again_captioner = again.captioner
    pairs = [(models.embedder.model, again.embedder.model)]
    if isinstance(captioner, HFCaptioner):
        pairs.append((captioner.model, again_captioner.model))
    for before, after in pairs:
        a, b = before.state_dict(), after.state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].shape == b[key].shape, key
            assert torch.equal(a[key].float(), b[key].float()), key
