"""The real-world cases of text encodings and generation metadata (../shared/cases, kinds 1-2):
each case's right value, read from its files, and once through a whole ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdir.ingest.metadata.extract import extract_metadata
from tests.shared_cases import case_input


def case(prefix: str) -> Path:
    return case_input(prefix)


LIGHTHOUSE = "a red lighthouse on a rocky coast at dusk, oil painting"


@pytest.mark.parametrize("name", ["a1111.jpg", "a1111.webp", "a1111_control.png"])
def test_case01_a1111_user_comment_utf16_be(name: str) -> None:
    meta = extract_metadata(case("01") / name)
    assert meta.prompt == LIGHTHOUSE
    assert meta.negative_prompt == "blurry, watermark, text"
    assert meta.generator == "A1111"
    assert meta.settings["Steps"] == "20" and meta.settings["Seed"] == "12345"
    assert meta.settings["Sampler"] == "Euler a" and meta.settings["Model"] == "demo"
    assert "Steps:" not in meta.prompt and "Negative" not in meta.prompt


def test_case03_comfyui_workflow_only() -> None:
    meta = extract_metadata(case("03") / "comfy_workflow_only.png")
    assert meta.prompt == "a watercolor fox sleeping under a birch tree"
    assert meta.negative_prompt == "lowres, bad anatomy"
    assert meta.generator == "ComfyUI" and meta.source == "workflow"


def test_case04_comfyui_text_from_a_linked_string_node() -> None:
    meta = extract_metadata(case("04") / "comfy_linked_text.png")
    assert meta.prompt == "an isometric pixel-art castle on a floating island"
    assert meta.negative_prompt == "blurry, lowres"
    assert meta.settings["seed"] == 7 and meta.settings["ckpt_name"] == "demo.safetensors"


def test_case05_text_chunk_after_the_image_data() -> None:
    meta = extract_metadata(case("05") / "text_after_idat.png")
    assert meta.prompt == "a paper-cut diorama of a mountain village"
    assert meta.negative_prompt == "photo" and meta.settings["Steps"] == "25"


@pytest.mark.parametrize("name", ["teapot.png", "teapot_be.png", "teapot_utf8.png"])
def test_case14_sidecars_utf16_with_bom(name: str) -> None:
    meta = extract_metadata(case("14") / name)
    assert meta.prompt == "a ceramic teapot with blue flowers, studio photo"
    assert not meta.issues


def test_case15_comfyui_sdxl_encoder_behind_a_combiner() -> None:
    meta = extract_metadata(case("15") / "comfy_sdxl.png")
    assert meta.prompt == (
        "a cozy reading nook with a cat on a windowsill, soft morning light, film grain"
    )
    assert meta.negative_prompt.startswith("worst quality, low quality")
    assert meta.settings["other_positive_texts"] == ["warm colours"]


NAI_PROMPT = "1girl, silver hair, reading a book in a sunlit library, watercolor, best quality"
NAI_NEGATIVE = "lowres, bad anatomy, bad hands, text, error, missing fingers"
FORGE_PROMPT = "a lighthouse keeper's cat asleep on a windowsill, oil painting"
CABIN = "a small wooden cabin in the snow at night, warm window light"


@pytest.mark.parametrize("name", ["nai_stripped.png", "nai_original.png"])
def test_case20_novelai_stealth_alpha(name: str) -> None:
    meta = extract_metadata(case("20") / name)
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        NAI_PROMPT,
        NAI_NEGATIVE,
        "NovelAI",
    )
    assert meta.settings["seed"] == 1234567890 and not meta.issues


def test_case20_forge_stealth_pnginfo() -> None:
    meta = extract_metadata(case("20") / "a1111_stealth.png")
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        FORGE_PROMPT,
        "blurry, watermark",
        "Forge",
    )
    assert meta.settings["Steps"] == "24" and meta.source == "parameters"


@pytest.mark.parametrize("name", ["cond_switch.png", "text_switch.png"])
def test_case21_comfyui_switch_gives_the_selected_prompt(name: str) -> None:
    meta = extract_metadata(case("21") / name)
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        CABIN,
        "blurry, lowres",
        "ComfyUI",
    )
    assert "cathedral" not in str(meta.settings)


# ------------------------------------------------------------------------- through an ingest
EXPECTED = {
    "01": {"a1111.jpg": LIGHTHOUSE, "a1111.webp": LIGHTHOUSE, "a1111_control.png": LIGHTHOUSE},
    "03": {"comfy_workflow_only.png": "a watercolor fox sleeping under a birch tree"},
    "04": {"comfy_linked_text.png": "an isometric pixel-art castle on a floating island"},
    "05": {"text_after_idat.png": "a paper-cut diorama of a mountain village"},
    "14": {
        n: "a ceramic teapot with blue flowers, studio photo"
        for n in ("teapot.png", "teapot_be.png", "teapot_utf8.png")
    },
    "15": {
        "comfy_sdxl.png": "a cozy reading nook with a cat on a windowsill, soft morning "
        "light, film grain"
    },
    "20": {
        "nai_stripped.png": NAI_PROMPT,
        "nai_original.png": NAI_PROMPT,
        "a1111_stealth.png": FORGE_PROMPT,
    },
    "21": {"cond_switch.png": CABIN, "text_switch.png": CABIN},
}


def test_every_case_through_ingest_and_search(tmp_path: Path) -> None:
    """All eight cases ingested into one collection: prompts stored apart from negative prompts,
    counted in the report, and returned by search."""
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models
    from cdir.retrieval.search import Searcher, SearchOptions
    from cdir.store.collection import Store

    tiny = load_models("tiny", device="cpu")
    sources = [case(n) for n in EXPECTED]
    report = ingest(sources, tmp_path / "store", tiny, IngestConfig(captions="none"))
    assert report.failed == [] and report.counts["n_ok"] == 15
    assert report.metadata["with_prompt"] == 15 and report.metadata["with_negative_prompt"] == 12
    assert report.metadata["generators"] == {"A1111": 4, "ComfyUI": 5, "NovelAI": 2, "Forge": 1}
    assert report.metadata["issues"] == []
    store = Store.load(tmp_path / "store")
    prompts = dict(zip(store.items["rel_path"], store.items["prompt"], strict=True))
    assert prompts == {name: text for files in EXPECTED.values() for name, text in files.items()}
    negatives = set(store.items["negative_prompt"].dropna())
    assert not negatives & set(prompts.values())
    assert "blurry, lowres" in negatives  # case 04's negative: stored, never as the prompt
    hits = Searcher(store, tiny).by_text("a lighthouse", SearchOptions(mode="image", k=10)).hits
    by_file = {h.rel_path: h for h in hits}
    assert by_file["a1111.jpg"].prompt == LIGHTHOUSE
    assert by_file["a1111.jpg"].negative_prompt == "blurry, watermark, text"
    assert by_file["a1111.jpg"].generator == "A1111"
    assert '"Steps": "20"' in by_file["a1111.jpg"].generation_settings
