"""Kind 2: generation metadata of each tool in every container, with inputs built here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.metadata.comfyui import graph_metadata, workflow_graph
from cdir.ingest.metadata.extract import extract_metadata

EXIF_IFD, USER_COMMENT = 0x8769, 0x9286
UUID = "5f1c2a9e-3b4d-4e6f-8a7b-9c0d1e2f3a4b"


def png(tmp_path: Path, name: str = "gen.png", itxt: bool = False, **chunks: str) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        (info.add_itxt if itxt else info.add_text)(key, value)
    path = tmp_path / name
    Image.new("RGB", (16, 16), "teal").save(path, pnginfo=info)
    return path


def user_comment_exif(text: str, encoding: str = "utf-16-be") -> bytes:
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"UNICODE\x00" + text.encode(encoding)
    return exif.tobytes()


# --- A1111 / Forge / SD.Next ---------------------------------------------------------------------
INFOTEXT_JA = (
    "桜の木の下で眠る猫, 水彩画\n(masterpiece:1.2)\n"
    "Negative prompt: ぼやけた, 低品質\nlowres\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 42, Size: 512x768, "
    'Model: anime_v3, Lora hashes: "style: abc123, detail: def456", '
    "Version: v1.10.1"
)


@pytest.mark.parametrize(
    ("fmt", "encoding"),
    [("JPEG", "utf-16-be"), ("JPEG", "utf-16-le"), ("WEBP", "utf-16-be"), ("WEBP", "utf-16-le")],
)
def test_a1111_infotext_in_exif_user_comment(tmp_path: Path, fmt: str, encoding: str) -> None:
    path = tmp_path / f"gen.{fmt.lower()}"
    Image.new("RGB", (16, 16)).save(path, fmt, exif=user_comment_exif(INFOTEXT_JA, encoding))
    meta = extract_metadata(path)
    assert meta.prompt == "桜の木の下で眠る猫, 水彩画\n(masterpiece:1.2)"
    assert meta.negative_prompt == "ぼやけた, 低品質\nlowres"
    assert meta.generator == "A1111"
    assert meta.settings["Lora hashes"] == "style: abc123, detail: def456"
    assert meta.settings["Size"] == "512x768" and meta.settings["Version"] == "v1.10.1"


@pytest.mark.parametrize(
    ("version", "generator"),
    [
        ("Version: f2.0.1v1.10.1-previous-313-g8a042934", "Forge"),
        ("App: SD.Next, Version: 2f3c1b9", "SD.Next"),
        ("Version: Fooocus v2.5.5", "Fooocus"),
        ("Version: v1.9.4", "A1111"),
    ],
)
def test_a1111_family_generator_from_its_version(
    tmp_path: Path, version: str, generator: str
) -> None:
    text = f"a knight\nNegative prompt: ugly\nSteps: 20, Sampler: Euler, Seed: 3, {version}"
    meta = extract_metadata(png(tmp_path, parameters=text))
    assert (meta.prompt, meta.negative_prompt, meta.generator) == ("a knight", "ugly", generator)


def test_a1111_lines_after_the_settings_are_settings(tmp_path: Path) -> None:
    text = (
        "a {red|blue} car\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, Seed: 3\n"
        "Template: a {red|blue} car\nNegative Template: blurry"
    )
    meta = extract_metadata(png(tmp_path, parameters=text))
    assert meta.prompt == "a {red|blue} car" and meta.negative_prompt == "blurry"
    assert meta.settings["extra"].startswith("Template:")


def test_a1111_prompt_that_mentions_steps_stays_the_prompt(tmp_path: Path) -> None:
    text = "Steps: a stone staircase in a forest\nSteps: 30, Sampler: Euler, Seed: 1"
    meta = extract_metadata(png(tmp_path, parameters=text))
    assert meta.prompt == "Steps: a stone staircase in a forest"


# --- ComfyUI -------------------------------------------------------------------------------------
def concat_graph() -> dict[str, Any]:
    """Positive: StringConcatenate(subject, style) -> CLIPTextEncode -> ControlNetApplyAdvanced
    -> KSampler; negative: WAS Text Concatenate(neg_a, neg_b) -> CLIPTextEncode, longer."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
        "10": {
            "class_type": "PrimitiveStringMultiline",
            "inputs": {"value": "ネオンの東京の路地, 雨の夜"},
        },
        "11": {"class_type": "String Literal", "inputs": {"string": "cinematic photo"}},
        "12": {
            "class_type": "StringConcatenate",
            "inputs": {"string_a": ["10", 0], "string_b": ["11", 0], "delimiter": ", "},
        },
        "20": {
            "class_type": "Text Multiline",
            "inputs": {"text": "worst quality, low quality, blurry, watermark, text, logo"},
        },
        "21": {
            "class_type": "Text Concatenate",
            "inputs": {
                "text_a": ["20", 0],
                "text_b": "deformed hands, extra fingers",
                "delimiter": " | ",
                "clean_whitespace": "true",
            },
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["12", 0], "clip": ["1", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": ["21", 0], "clip": ["1", 1]}},
        "30": {
            "class_type": "ControlNetApplyAdvanced",
            "inputs": {
                "positive": ["6", 0],
                "negative": ["7", 0],
                "control_net": ["31", 0],
                "image": ["32", 0],
                "strength": 0.8,
            },
        },
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["30", 0],
                "negative": ["30", 1],
                "seed": 11,
                "steps": 25,
                "cfg": 5.0,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
            },
        },
    }


def test_comfyui_concatenations_and_controlnet_never_leak_the_negative(tmp_path: Path) -> None:
    meta = extract_metadata(png(tmp_path, itxt=True, prompt=json.dumps(concat_graph())))
    assert meta.prompt == "ネオンの東京の路地, 雨の夜, cinematic photo"
    assert meta.negative_prompt == (
        "worst quality, low quality, blurry, watermark, text, logo | deformed hands, extra fingers"
    )
    assert meta.generator == "ComfyUI" and meta.settings["steps"] == 25


def test_comfyui_flux_guider_and_custom_sampler() -> None:
    graph = {
        "1": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5.safetensors"}},
        "2": {
            "class_type": "CLIPTextEncodeFlux",
            "inputs": {
                "clip_l": "fox",
                "t5xxl": "a red fox in deep snow, telephoto",
                "guidance": 3.5,
                "clip": ["1", 0],
            },
        },
        "3": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["2", 0], "guidance": 3}},
        "4": {"class_type": "BasicGuider", "inputs": {"model": ["9", 0], "conditioning": ["3", 0]}},
        "5": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {"noise": ["6", 0], "guider": ["4", 0], "sampler": ["7", 0]},
        },
        "8": {
            "class_type": "CLIPTextEncode",
            "inputs": {
                "text": "an unused note about lighting that is longer than the prompt",
                "clip": ["1", 0],
            },
        },
    }
    meta = graph_metadata(graph)
    assert meta is not None and meta.prompt == "a red fox in deep snow, telephoto"


def test_comfyui_cfg_guider_negative() -> None:
    graph = {
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["1", 0]}},
        "3": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "fog, blur, noise, grain, overexposed", "clip": ["1", 0]},
        },
        "4": {"class_type": "CFGGuider", "inputs": {"positive": ["2", 0], "negative": ["3", 0]}},
    }
    meta = graph_metadata(graph)
    assert meta.prompt == "a lighthouse" and meta.negative_prompt.startswith("fog")


def ui_workflow() -> dict[str, Any]:
    """A UI graph: PrimitiveNode -> (converted widget) CLIPTextEncode -> Reroute -> KSampler."""
    return {
        "nodes": [
            {
                "id": 1,
                "type": "PrimitiveNode",
                "widgets_values": ["a snowy owl on a branch"],
                "outputs": [{"name": "STRING", "links": [10]}],
            },
            {
                "id": 2,
                "type": "CLIPTextEncode",
                "inputs": [
                    {"name": "clip", "link": 11},
                    {"name": "text", "link": 10, "widget": {"name": "text"}},
                ],
                "widgets_values": ["a snowy owl on a branch"],
            },
            {
                "id": 3,
                "type": "CLIPTextEncode",
                "inputs": [{"name": "clip", "link": 12}],
                "widgets_values": ["cartoon, 3d render, lowres, jpeg artifacts, watermark, text"],
            },
            {"id": 4, "type": "Reroute", "inputs": [{"name": "", "link": 13}]},
            {
                "id": 5,
                "type": "KSampler",
                "inputs": [{"name": "positive", "link": 14}, {"name": "negative", "link": 15}],
                "widgets_values": [7, "fixed", 20, 7, "euler", "normal", 1],
            },
            {
                "id": 6,
                "type": "Note",
                "widgets_values": [
                    "remember to try a longer prompt with more words than anything else"
                ],
            },
        ],
        "links": [
            [10, 1, 0, 2, 1, "STRING"],
            [13, 2, 0, 4, 0, "CONDITIONING"],
            [14, 4, 0, 5, 0, "CONDITIONING"],
            [15, 3, 0, 5, 1, "CONDITIONING"],
        ],
    }


def test_comfyui_workflow_only_through_primitive_and_reroute(tmp_path: Path) -> None:
    meta = extract_metadata(png(tmp_path, workflow=json.dumps(ui_workflow())))
    assert meta.prompt == "a snowy owl on a branch"
    assert meta.negative_prompt.startswith("cartoon") and meta.source == "workflow"


def test_comfyui_workflow_links_as_objects() -> None:
    workflow = ui_workflow()
    keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
    workflow["links"] = [dict(zip(keys, link, strict=True)) for link in workflow["links"]]
    meta = graph_metadata(workflow_graph(workflow))
    assert meta.prompt == "a snowy owl on a branch"


def test_comfyui_webp_graph_in_exif_model_tag(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0110] = "prompt:" + json.dumps(concat_graph(), ensure_ascii=True)
    path = tmp_path / "anim.webp"
    Image.new("RGB", (16, 16)).save(path, "WEBP", exif=exif)
    assert extract_metadata(path).prompt.endswith("cinematic photo")


# --- InvokeAI ------------------------------------------------------------------------------------
def test_invokeai_metadata_v3(tmp_path: Path) -> None:
    data = {
        "positive_prompt": "a brass robot reading a book",
        "negative_prompt": "rust",
        "seed": 5,
        "steps": 30,
        "cfg_scale": 7.5,
        "scheduler": "euler",
        "model": {"name": "sdxl-base", "base": "sdxl"},
        "generation_mode": "txt2img",
    }
    meta = extract_metadata(png(tmp_path, invokeai_metadata=json.dumps(data)))
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        "a brass robot reading a book",
        "rust",
        "InvokeAI",
    )
    assert meta.settings["model"] == "sdxl-base"


def test_invokeai_sd_metadata_v2_negative_in_brackets(tmp_path: Path) -> None:
    data = {
        "app_id": "invoke-ai/InvokeAI",
        "app_version": "2.3.5",
        "model_weights": "sd-1.5",
        "image": {
            "prompt": [{"prompt": "a lighthouse at night [blurry, text]", "weight": 1.0}],
            "seed": 9,
            "steps": 50,
            "cfg_scale": 7.5,
        },
    }
    meta = extract_metadata(png(tmp_path, **{"sd-metadata": json.dumps(data)}))
    assert meta.prompt == "a lighthouse at night" and meta.negative_prompt == "blurry, text"
    assert meta.settings["seed"] == 9


def test_invokeai_dream(tmp_path: Path) -> None:
    meta = extract_metadata(png(tmp_path, Dream='"an owl [ugly]" -s 50 -S 42 -W 512 -H 512'))
    assert (meta.prompt, meta.negative_prompt) == ("an owl", "ugly")
    assert meta.settings["S"] == "42"


# --- NovelAI -------------------------------------------------------------------------------------
def test_novelai_comment_json(tmp_path: Path) -> None:
    comment = {
        "prompt": "1girl, silver hair, night sky",
        "uc": "lowres, bad anatomy",
        "steps": 28,
        "scale": 5,
        "seed": 123,
        "sampler": "k_euler_ancestral",
    }
    path = png(
        tmp_path,
        Software="NovelAI",
        Title="NovelAI generated image",
        Description="1girl, silver hair, night sky",
        Comment=json.dumps(comment),
        Source="Stable Diffusion XL C1E1DE52",
    )
    meta = extract_metadata(path)
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        "1girl, silver hair, night sky",
        "lowres, bad anatomy",
        "NovelAI",
    )
    assert meta.settings["sampler"] == "k_euler_ancestral" and meta.settings["model"]


def test_novelai_v4_captions(tmp_path: Path) -> None:
    comment = {
        "prompt": "short",
        "uc": "bad",
        "v4_prompt": {
            "caption": {"base_caption": "a fox spirit under red torii gates", "char_captions": []}
        },
        "v4_negative_prompt": {"caption": {"base_caption": "blurry, jpeg artifacts"}},
    }
    meta = extract_metadata(png(tmp_path, Software="NovelAI", Comment=json.dumps(comment)))
    assert meta.prompt == "a fox spirit under red torii gates"
    assert meta.negative_prompt == "blurry, jpeg artifacts"


# --- Fooocus -------------------------------------------------------------------------------------
def test_fooocus_json_in_parameters(tmp_path: Path) -> None:
    data = {
        "Prompt": "a glass greenhouse in the rain",
        "Negative Prompt": "people",
        "Fooocus V2 Expansion": "a glass greenhouse in the rain, intricate",
        "Styles": "['Fooocus V2', 'Fooocus Enhance']",
        "Performance": "Speed",
        "Resolution": "(1024, 1024)",
        "Seed": "99",
        "Version": "Fooocus v2.1.865",
    }
    meta = extract_metadata(png(tmp_path, parameters=json.dumps(data)))
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        "a glass greenhouse in the rain",
        "people",
        "Fooocus",
    )
    assert meta.settings["performance"] == "Speed"


def test_fooocus_scheme_in_jpeg_user_comment(tmp_path: Path) -> None:
    data = {
        "prompt": "ein Schloss im Nebel",
        "negative_prompt": "",
        "metadata_scheme": "fooocus",
        "full_prompt": ["ein Schloss im Nebel, detailed"],
        "version": "Fooocus v2.5.0",
        "base_model": "juggernautXL",
        "steps": 30,
    }
    path = tmp_path / "f.jpg"
    Image.new("RGB", (16, 16)).save(
        path, exif=user_comment_exif(json.dumps(data, ensure_ascii=False))
    )
    meta = extract_metadata(path)
    assert meta.prompt == "ein Schloss im Nebel" and meta.negative_prompt is None
    assert meta.generator == "Fooocus" and meta.settings["base_model"] == "juggernautXL"


# --- Midjourney ----------------------------------------------------------------------------------
def test_midjourney_png_description(tmp_path: Path) -> None:
    text = (
        f"https://s.mj.run/abcd a koi pond in autumn, ukiyo-e --ar 16:9 --v 6.1 "
        f"--style raw Job ID: {UUID}"
    )
    meta = extract_metadata(png(tmp_path, Description=text, Author="someone"))
    assert meta.prompt == "a koi pond in autumn, ukiyo-e" and meta.generator == "Midjourney"
    assert meta.settings["job_id"] == UUID and meta.settings["ar"] == "16:9"
    assert meta.settings["v"] == "6.1" and meta.settings["style"] == "raw"
    assert meta.settings["image_prompts"] == ["https://s.mj.run/abcd"]


def test_midjourney_jpeg_xmp_with_guid(tmp_path: Path) -> None:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
        '02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc'
        '/elements/1.1/" xmlns:iptcExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'iptcExt:DigImageGUID="{UUID}"><dc:description><rdf:Alt><rdf:li '
        'xml:lang="x-default">замок на облаке --ar 2:3 --v 6</rdf:li></rdf:Alt>'
        "</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    path = tmp_path / "mj.jpg"
    Image.new("RGB", (16, 16)).save(path, xmp=packet.encode("utf-8"))
    meta = extract_metadata(path)
    assert meta.prompt == "замок на облаке" and meta.generator == "Midjourney"
    assert meta.settings["job_id"] == UUID and meta.settings["ar"] == "2:3"


# C2PA: tests/test_metadata_c2pa.py (real signed manifests)


def test_plain_photo_has_no_generator(tmp_path: Path) -> None:
    meta = extract_metadata(png(tmp_path, Description="holiday at the lake"))
    assert meta.prompt == "holiday at the lake" and meta.generator is None
    assert meta.fields()["generation_settings"] is None


def test_comfyui_efficient_loader_and_prompt_styler_give_the_side_they_are_reached_from() -> None:
    graph = {
        "1": {
            "class_type": "Efficient Loader",
            "inputs": {
                "ckpt_name": "m.safetensors",
                "positive": ["5", 0],
                "negative": "a very long negative prompt text, lowres, blurry, bad",
            },
        },
        "5": {
            "class_type": "SDXL Prompt Styler",
            "inputs": {
                "text_positive": "a tiny house in a meadow",
                "text_negative": "the styler's own negative words",
                "style": "photo",
            },
        },
        "2": {
            "class_type": "KSampler (Efficient)",
            "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2], "seed": 3},
        },
    }
    meta = graph_metadata(graph)
    assert meta.prompt == "a tiny house in a meadow"
    assert meta.negative_prompt == "a very long negative prompt text, lowres, blurry, bad"


def test_comfyui_shared_concatenations_cost_linear_time() -> None:
    """Each concatenation joins the previous one twice: 2**60 parts if not memoised."""
    graph: dict[str, Any] = {"0": {"class_type": "PrimitiveString", "inputs": {"value": "x"}}}
    for n in range(1, 61):
        graph[str(n)] = {
            "class_type": "StringConcatenate",
            "inputs": {"string_a": [str(n - 1), 0], "string_b": [str(n - 1), 0], "delimiter": ""},
        }
    graph["e"] = {"class_type": "CLIPTextEncode", "inputs": {"text": ["60", 0], "clip": ["c", 0]}}
    graph["s"] = {"class_type": "KSampler", "inputs": {"positive": ["e", 0]}}
    meta = graph_metadata(graph)
    assert meta.prompt == "x" * 100_000  # capped length


# --- SwarmUI, Easy Diffusion, graphs in comments --------------------------------------------------
def test_swarmui_json_parameters(tmp_path: Path) -> None:
    data = {
        "sui_image_params": {
            "prompt": "a paper boat on a puddle",
            "negativeprompt": "dark",
            "model": "sdxl_base",
            "seed": 17,
            "steps": 30,
        },
        "sui_extra_data": {"date": "2024-05-01"},
    }
    meta = extract_metadata(png(tmp_path, parameters=json.dumps(data)))
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        "a paper boat on a puddle",
        "dark",
        "SwarmUI",
    )
    assert meta.settings["seed"] == 17


def test_easy_diffusion_one_chunk_per_field(tmp_path: Path) -> None:
    meta = extract_metadata(
        png(
            tmp_path,
            prompt="a lantern in the fog",
            negative_prompt="text, watermark",
            seed="5",
            use_stable_diffusion_model="sd-v1-5",
        )
    )
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (
        "a lantern in the fog",
        "text, watermark",
        "Easy Diffusion",
    )


def test_comfyui_graph_in_a_jpeg_user_comment(tmp_path: Path) -> None:
    wrapper = {"prompt": concat_graph(), "workflow": {"nodes": []}}
    path = tmp_path / "saved.jpg"
    Image.new("RGB", (16, 16)).save(path, exif=user_comment_exif(json.dumps(wrapper)))
    meta = extract_metadata(path)
    assert meta.prompt == "ネオンの東京の路地, 雨の夜, cinematic photo"
    assert meta.generator == "ComfyUI"


def test_comfyui_workflow_with_the_sampler_inside_a_subgraph() -> None:
    inner = ui_workflow()
    workflow = {
        "nodes": [{"id": 90, "type": "a1b2c3-subgraph", "inputs": []}],
        "links": [],
        "definitions": {"subgraphs": [{"id": "a1b2c3-subgraph", **inner}]},
    }
    meta = graph_metadata(workflow_graph(workflow))
    assert meta.prompt == "a snowy owl on a branch" and meta.negative_prompt.startswith("cartoon")


def test_comfyui_odd_workflow_values_do_not_break_parsing() -> None:
    workflow = ui_workflow()
    workflow["nodes"][1]["inputs"].append({"name": "odd", "link": [1, 2]})
    workflow["links"].append([[5], 1, 0, 2, 0, "X"])
    assert graph_metadata(workflow_graph(workflow)).prompt == "a snowy owl on a branch"
