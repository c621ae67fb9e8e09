"""BLIP on plain torch (cdir.models.blip_runtime) is transformers' BLIP: the same pixels, image
tokens, logits, token ids and captions from the same saved folder, or it declines and
transformers loads the folder instead."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cdir.models.blip_runtime import BlipRuntimeCaptioner, Unsupported, load_blip_runtime
from cdir.models.blip_runtime.captioner import clean_up_tokenization, special_ids
from cdir.models.blip_runtime.decoding import penalise
from cdir.models.blip_runtime.pixels import pixel_values
from cdir.models.captioners import HFCaptioner, load_hf_captioner
from cdir.models.loaded import load_models, load_own_captioner, save_models
from cdir.models.presets import get_preset
from cdir.models.quantize import quantize_linear_int8


@pytest.fixture(scope="module")
def folder(saved: Path) -> Path:
    return saved / "tiny" / "captioner"


def pictures() -> list[Image.Image]:
    """Sizes above, at and below the captioner's input, twice the same size, and the modes
    transformers converts (transparency onto white, grey, a palette with a transparent colour)."""
    rng = np.random.default_rng(7)

    def noise(*shape: int) -> np.ndarray:
        return rng.integers(0, 256, shape, dtype=np.uint8)

    palette = Image.fromarray(noise(30, 41, 3)).convert("P")
    palette.info["transparency"] = 3
    return [
        Image.fromarray(noise(480, 640, 3)),
        Image.fromarray(noise(64, 64, 3)),
        Image.fromarray(noise(23, 37, 3)),
        Image.fromarray(noise(480, 640, 3)),
        Image.fromarray(noise(50, 70, 4), "RGBA"),
        Image.fromarray(noise(50, 70), "L"),
        palette,
    ]


def both(folder: Path, **changes: object) -> tuple[BlipRuntimeCaptioner, HFCaptioner]:
    spec = replace(get_preset("tiny").captioner, **changes)
    return load_blip_runtime(spec, folder, "cpu"), load_hf_captioner(spec, "tiny", folder, "cpu")


def test_pixels_are_the_image_processors(folder: Path) -> None:
    light, hf = both(folder)
    images = pictures()
    ours = pixel_values(images, light.checkpoint.pixels)
    theirs = hf.processor(images=images, return_tensors="pt")["pixel_values"]
    assert ours.dtype == torch.float32 and torch.equal(ours, theirs)


def test_image_tokens_and_first_logits_are_transformers(folder: Path) -> None:
    light, hf = both(folder)
    pixels = pixel_values(pictures(), light.checkpoint.pixels)
    with torch.inference_mode():
        ours = light.model.vision_model(pixels)
        theirs = hf.model.vision_model(pixel_values=pixels)[0]
        assert torch.equal(ours, theirs)
        text = light.checkpoint.text
        start = torch.full((len(pixels), 1), text.bos_token_id)
        decoder = light.model.text_decoder
        logits = decoder.step(start, decoder.start(ours), 0)
        reference = hf.model.text_decoder(
            input_ids=start, encoder_hidden_states=theirs, use_cache=False
        ).logits[:, -1]
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "changes",
    [{}, {"repetition_penalty": 1.0, "max_new_tokens": 12}, {"max_new_tokens": 1}],
    ids=["tiny-preset", "no-penalty", "one-token"],
)
def test_captions_are_transformers(folder: Path, changes: dict[str, object]) -> None:
    light, hf = both(folder, **changes)
    images = pictures()
    assert light.caption(images) == hf.caption(images)
    assert light.caption(images[:1]) == hf.caption(images[:1]) and light.caption([]) == []


def test_token_ids_are_generates(folder: Path) -> None:
    from cdir.models.blip_runtime.decoding import greedy

    light, hf = both(folder, max_new_tokens=10)
    images = pictures()
    pixels = pixel_values(images, light.checkpoint.pixels)
    with torch.inference_mode():
        ours = greedy(
            light.model.text_decoder,
            light.model.vision_model(pixels),
            10,
            light.spec.repetition_penalty,
        )
        theirs = hf.model.generate(
            pixel_values=pixels,
            max_new_tokens=10,
            num_beams=1,
            do_sample=False,
            repetition_penalty=light.spec.repetition_penalty,
        )
    assert torch.equal(ours, theirs)


def test_int8_copies_caption_alike(folder: Path) -> None:
    light, hf = both(folder)
    light.model = quantize_linear_int8(light.model)
    hf.model = quantize_linear_int8(hf.model)
    images = pictures()
    assert light.caption(images) == hf.caption(images)


def test_repetition_penalty_is_ctrls() -> None:
    scores = torch.tensor([[2.0, -2.0, 1.0, -1.0], [4.0, 0.5, -0.5, 3.0]])
    ids = torch.tensor([[0, 1, 1], [3, 3, 3]])
    expected = torch.tensor([[1.0, -4.0, 1.0, -1.0], [4.0, 0.5, -0.5, 1.5]])
    torch.testing.assert_close(penalise(scores, ids, 2.0), expected)


def test_text_clean_up_is_transformers() -> None:
    from transformers import PreTrainedTokenizerBase

    for text in ["a dog , a cat . why ? yes ! it ' s", "do n't i 'm we 've they 're it 's"]:
        assert clean_up_tokenization(text) == PreTrainedTokenizerBase.clean_up_tokenization(
            None, text
        )


def test_special_tokens_named_in_any_saved_form(folder: Path) -> None:
    light, _ = both(folder)
    tokenizer = light.tokenizer
    settings = {
        "pad_token": "[PAD]",
        "sep_token": {"content": "[SEP]", "special": True},
        "additional_special_tokens": ["[MASK]"],
        "unk_token": "not in the vocabulary",
    }
    names = ("[PAD]", "[SEP]", "[MASK]")
    assert special_ids(tokenizer, settings) == {tokenizer.token_to_id(n) for n in names}


def copy_of(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "captioner"
    shutil.copytree(folder, out)
    return out


def edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change",
    [
        "generation_config.json:no_repeat_ngram_size=3",
        "config.json:model_type=blip-2",
        "processor_config.json:resample",
        "tokenizer.json",
        "model.safetensors:extra tensor",
    ],
)
def test_a_folder_it_does_not_reproduce_is_left_to_transformers(
    folder: Path, tmp_path: Path, change: str
) -> None:
    copy = copy_of(folder, tmp_path)
    if change.startswith("generation_config"):
        edit_json(copy / "generation_config.json", no_repeat_ngram_size=3)
    elif change.startswith("config.json"):
        edit_json(copy / "config.json", model_type="blip-2")
    elif change.startswith("processor_config"):
        data = json.loads((copy / "processor_config.json").read_text())
        data["image_processor"]["resample"] = 2
        (copy / "processor_config.json").write_text(json.dumps(data))
    elif change == "tokenizer.json":
        (copy / "tokenizer.json").unlink()
    else:
        from safetensors.torch import load_file, save_file

        state = load_file(copy / "model.safetensors")
        state["text_encoder.pooler.dense.bias"] = torch.zeros(4)
        save_file(state, copy / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(Unsupported):
        load_blip_runtime(get_preset("tiny").captioner, copy, "cpu")


@pytest.mark.parametrize(
    "changes", [{"num_beams": 3}, {"task_prompt": "a picture of"}, {"kind": "blip2"}]
)
def test_settings_it_does_not_reproduce_are_left_to_transformers(
    folder: Path, changes: dict[str, object]
) -> None:
    with pytest.raises(Unsupported):
        load_blip_runtime(replace(get_preset("tiny").captioner, **changes), folder, "cpu")
    with pytest.raises(Unsupported):
        load_blip_runtime(get_preset("tiny").captioner, folder, "cuda")


def test_the_captioner_loaded_alone_is_the_plain_torch_one_or_transformers(
    saved: Path, tmp_path: Path
) -> None:
    preset = get_preset("tiny")
    alone = load_own_captioner(preset, saved, "cpu", int8=False)
    assert isinstance(alone, BlipRuntimeCaptioner)
    whole = load_models("tiny", saved, device="cpu").captioner
    assert isinstance(whole, HFCaptioner) and alone.caption(pictures()) == whole.caption(pictures())
    # a folder the runtime declines: transformers loads it, nothing fails
    other = tmp_path / "models"
    shutil.copytree(saved, other)
    edit_json(other / "tiny" / "captioner" / "generation_config.json", no_repeat_ngram_size=3)
    assert isinstance(load_own_captioner(preset, other, "cpu", int8=False), HFCaptioner)
    assert isinstance(load_own_captioner(preset, saved, "cpu", int8=True), BlipRuntimeCaptioner)


def test_blip_base_names_and_shapes_are_transformers() -> None:
    # BLIP base's real sizes (transformers' BlipConfig defaults are Salesforce's base
    # checkpoint): every tensor of BlipForConditionalGeneration, by name and shape
    from transformers import BlipConfig, BlipForConditionalGeneration

    from cdir.models.blip_runtime.checkpoint import _shapes
    from cdir.models.blip_runtime.network import BlipCaptioningNetwork
    from cdir.models.blip_runtime.shapes import TIED

    config = BlipConfig()
    with torch.device("meta"):
        theirs = BlipForConditionalGeneration(config).state_dict()
        ours = BlipCaptioningNetwork(*_shapes(config.to_dict())).state_dict()
    skip = (*TIED, "text_decoder.bert.embeddings.position_ids")
    assert {k: tuple(v.shape) for k, v in theirs.items() if k not in skip} == {
        k: tuple(v.shape) for k, v in ours.items() if k not in skip
    }


def test_models_that_adopted_it_save_its_folder(saved: Path, tmp_path: Path) -> None:
    from cdir.models.lazy import LazyModels

    lazy = LazyModels("tiny", saved)
    assert isinstance(lazy.captioner, BlipRuntimeCaptioner)  # loaded alone, then adopted
    models = lazy.load()
    assert models.captioner is lazy.captioner
    out = save_models(models, tmp_path / "again") / "captioner"
    source = saved / "tiny" / "captioner"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in source.iterdir())
    assert (out / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()
