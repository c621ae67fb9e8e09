"""Generation prompts read from sidecars, PNG text chunks, EXIF and XMP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.metadata.a1111 import parse_infotext
from cdir.ingest.metadata.comfyui import graph_metadata
from cdir.ingest.metadata.extract import extract_prompt
from cdir.ingest.metadata.text_encodings import decode_user_comment
from cdir.ingest.metadata.xmp import xmp_property

USER_COMMENT, EXIF_IFD, IMAGE_DESCRIPTION = 0x9286, 0x8769, 0x010E


def png_with(tmp_path: Path, name: str = "gen.png", **chunks: str) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    path = tmp_path / name
    Image.new("RGB", (8, 8), "white").save(path, pnginfo=info)
    return path


def jpeg_with(tmp_path: Path, exif: Image.Exif | bytes | None = None, **options: object) -> Path:
    path = tmp_path / "photo.jpg"
    if exif is not None:
        options["exif"] = exif
    Image.new("RGB", (8, 8), "white").save(path, "JPEG", **options)
    return path


def comfy_graph(positive: str, negative: str, via_combine: bool = False) -> dict:
    """A ComfyUI API graph: KSampler(positive <- 6, negative <- 7)."""
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["4", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"seed": 1, "positive": ["6", 0], "negative": ["7", 0], "model": ["4", 0]},
        },
    }
    if via_combine:
        graph["9"] = {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["6", 0]},
        }
        graph["3"]["inputs"]["positive"] = ["9", 0]
    return graph


# --- sidecars ------------------------------------------------------------------------------------


def test_sidecar_by_stem_wins_over_embedded(tmp_path: Path) -> None:
    path = png_with(tmp_path, Description="embedded description")
    (tmp_path / "gen.txt").write_text("\ufeff  a watercolor fox  \n", encoding="utf-8")
    assert extract_prompt(path) == "a watercolor fox"


def test_sidecar_by_full_name(tmp_path: Path) -> None:
    path = png_with(tmp_path)
    (tmp_path / "gen.png.txt").write_text("a castle at dusk", encoding="utf-8")
    assert extract_prompt(path) == "a castle at dusk"


def test_blank_sidecar_is_ignored(tmp_path: Path) -> None:
    path = png_with(tmp_path, Title="the title")
    (tmp_path / "gen.txt").write_text("   \n", encoding="utf-8")
    assert extract_prompt(path) == "the title"


# --- PNG text chunks -----------------------------------------------------------------------------


def test_a1111_parameters_keep_the_positive_prompt(tmp_path: Path) -> None:
    parameters = (
        "a cat in a wizard hat, masterpiece\nhighly detailed\n"
        "Negative prompt: blurry, ugly\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512"
    )
    path = png_with(tmp_path, parameters=parameters)
    assert extract_prompt(path) == "a cat in a wizard hat, masterpiece\nhighly detailed"


def test_a1111_without_negative_prompt() -> None:
    assert parse_infotext("a lighthouse\nSteps: 30, Seed: 5, Sampler: Euler").prompt == (
        "a lighthouse"
    )
    only_negative = parse_infotext("Negative prompt: bad\nSteps: 30, Seed: 5, CFG scale: 7")
    assert only_negative.prompt is None and only_negative.negative_prompt == "bad"


def comfyui_prompt(graph: dict) -> str | None:
    result = graph_metadata(graph)
    return result.prompt if result else None


def test_comfyui_prefers_the_positive_input(tmp_path: Path) -> None:
    graph = comfy_graph("a red fox", "blurry, lowres, watermark, text, extra fingers")
    path = png_with(tmp_path, prompt=json.dumps(graph), workflow="{}")
    assert extract_prompt(path) == "a red fox"


def test_comfyui_traces_through_conditioning_nodes() -> None:
    graph = comfy_graph("a blue whale", "a much longer negative prompt text", via_combine=True)
    assert comfyui_prompt(graph) == "a blue whale"


def test_comfyui_without_sampler_takes_the_longest_text() -> None:
    graph = comfy_graph("short", "the longest text of all")
    del graph["3"]
    assert comfyui_prompt(graph) == "the longest text of all"


def test_comfyui_without_sampler_never_takes_text_that_feeds_a_negative_input() -> None:
    graph = comfy_graph("short", "the longest text of all")
    graph["3"]["inputs"].pop("positive")
    assert comfyui_prompt(graph) == "short"


def test_comfyui_sdxl_encoder() -> None:
    graph = {"1": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "a dragon"}}}
    assert comfyui_prompt(graph) == "a dragon"


def test_plain_prompt_chunk(tmp_path: Path) -> None:
    assert extract_prompt(png_with(tmp_path, prompt=" a quiet harbour ")) == "a quiet harbour"


def test_invokeai_dream(tmp_path: Path) -> None:
    path = png_with(tmp_path, Dream='"a red fox in snow" -s 50 -S 42 -W 512 -H 512')
    assert extract_prompt(path) == "a red fox in snow"


@pytest.mark.parametrize("key", ["Description", "Comment", "Title"])
def test_generic_text_keys(tmp_path: Path, key: str) -> None:
    assert extract_prompt(png_with(tmp_path, **{key: "a sketch of a horse"})) == (
        "a sketch of a horse"
    )


def test_broken_comfyui_json_falls_through(tmp_path: Path) -> None:
    path = png_with(tmp_path, prompt='{"3": {"class_type": ', Description="fallback")
    assert extract_prompt(path) == "fallback"


def test_png_without_metadata(tmp_path: Path) -> None:
    assert extract_prompt(png_with(tmp_path)) is None


# --- EXIF ----------------------------------------------------------------------------------------


def test_exif_image_description(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = "a mountain lake at dawn"
    assert extract_prompt(jpeg_with(tmp_path, exif)) == "a mountain lake at dawn"


def test_camera_placeholder_description_is_ignored(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = "OLYMPUS DIGITAL CAMERA         "
    assert extract_prompt(jpeg_with(tmp_path, exif)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"ASCII\x00\x00\x00a neon city street",
        b"UNICODE\x00" + "a neon city street".encode("utf-16-le"),
        b"UNICODE\x00" + "a neon city street".encode("utf-16-be"),
        b"\x00" * 8 + b"a neon city street",
    ],
)
def test_exif_user_comment(tmp_path: Path, raw: bytes) -> None:
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = raw
    assert extract_prompt(jpeg_with(tmp_path, exif)) == "a neon city street"


def test_user_comment_unicode_text() -> None:
    raw = b"UNICODE\x00" + "ein Fuchs im Schnee, 狐".encode("utf-16-le")
    assert decode_user_comment(raw) == "ein Fuchs im Schnee, 狐"


def test_corrupt_exif_never_raises(tmp_path: Path) -> None:
    path = jpeg_with(tmp_path, b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\x00\x01garbage")
    assert extract_prompt(path) is None


# --- XMP -----------------------------------------------------------------------------------------

XMP = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">a cat &amp; a dog</rdf:li></rdf:Alt>
</dc:description></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_xmp_in_jpeg(tmp_path: Path) -> None:
    assert extract_prompt(jpeg_with(tmp_path, xmp=XMP.encode())) == "a cat & a dog"


def test_xmp_in_png(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP)
    path = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    assert extract_prompt(path) == "a cat & a dog"


def test_xmp_attribute_form() -> None:
    packet = '<rdf:Description dc:description="a &quot;quoted&quot; prompt"/>'
    assert xmp_property(packet, "dc:description") == 'a "quoted" prompt'


def test_xmp_without_description() -> None:
    assert xmp_property("<x:xmpmeta><dc:title>t</dc:title></x:xmpmeta>", "dc:description") is None


# --- files that are not images -------------------------------------------------------------------


def test_not_an_image_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_text("hello")
    assert extract_prompt(path) is None
    assert extract_prompt(tmp_path / "missing.png") is None
