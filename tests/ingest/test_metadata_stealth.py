"""Generation metadata hidden in the pixels' lowest bits (NovelAI / sd-webui-stealth-pnginfo /
Forge): every signature (alpha or RGB, gzip or plain), PNG and lossless WebP, and damaged
payloads reported in one line without failing the image."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir.ingest.metadata.extract import extract_metadata
from cdir.ingest.metadata.stealth import read_stealth

PROMPT = "1girl, silver hair, reading a book, watercolor"
NEGATIVE = "lowres, bad hands"
INFOTEXT = (
    "a cat asleep on a windowsill, oil painting\nNegative prompt: blurry, watermark\n"
    "Steps: 24, Sampler: DPM++ 2M, CFG scale: 6, Seed: 42, Size: 96x96, "
    "Version: f2.0.1v1.10.1"
)
NAI = {
    "Description": PROMPT,
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4.5",
    "Comment": json.dumps({"prompt": PROMPT, "uc": NEGATIVE, "steps": 28, "seed": 7}),
}


def embed(
    signature: str,
    payload: bytes,
    size: int = 96,
    length_bits: int | None = None,
    mode: str = "RGBA",
) -> Image.Image:
    """What the writers do: bytes -> bits -> LSBs, column by column (x outer, y inner)."""
    bits_per_pixel = 1 if "png" in signature else 3
    length = len(payload) * 8 if length_bits is None else length_bits
    data = signature.encode() + length.to_bytes(4, "big") + payload
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    if bits_per_pixel == 1:
        column = rgba[..., 3].T.reshape(-1).copy()
        column[: bits.size] = (column[: bits.size] & 0xFE) | bits
        rgba[..., 3] = column.reshape(size, size).T
    else:
        rgb = rgba[..., :3].transpose(1, 0, 2).reshape(-1).copy()
        rgb[: bits.size] = (rgb[: bits.size] & 0xFE) | bits
        rgba[..., :3] = rgb.reshape(size, size, 3).transpose(1, 0, 2)
    return Image.fromarray(rgba, "RGBA").convert(mode)


NAI_GZIP = gzip.compress(json.dumps(NAI).encode())


@pytest.mark.parametrize(
    "signature,payload,mode",
    [
        ("stealth_pngcomp", NAI_GZIP, "RGBA"),
        ("stealth_pnginfo", json.dumps(NAI).encode(), "RGBA"),
        ("stealth_rgbcomp", NAI_GZIP, "RGB"),
        ("stealth_rgbinfo", json.dumps(NAI).encode(), "RGB"),
    ],
)
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_novelai_fields_from_every_signature(
    tmp_path: Path, signature: str, payload: bytes, mode: str, fmt: str
) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    embed(signature, payload, mode=mode).save(
        path, fmt, **({"lossless": True} if fmt == "WEBP" else {})
    )
    meta = extract_metadata(path)
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (PROMPT, NEGATIVE, "NovelAI")
    assert meta.settings["steps"] == 28 and meta.settings["model"] == "NovelAI Diffusion V4.5"


@pytest.mark.parametrize("signature", ["stealth_pnginfo", "stealth_rgbinfo"])
def test_forge_infotext_in_the_pixels(tmp_path: Path, signature: str) -> None:
    path = tmp_path / "forge.png"
    embed(signature, INFOTEXT.encode()).save(path)
    meta = extract_metadata(path)
    assert meta.prompt == "a cat asleep on a windowsill, oil painting"
    assert meta.negative_prompt == "blurry, watermark"
    assert meta.generator == "Forge" and meta.settings["Seed"] == "42"


def test_novelai_comment_object_alone_is_read(tmp_path: Path) -> None:
    path = tmp_path / "comment.png"
    embed("stealth_pngcomp", gzip.compress(NAI["Comment"].encode())).save(path)
    meta = extract_metadata(path)
    assert (meta.prompt, meta.negative_prompt, meta.generator) == (PROMPT, NEGATIVE, "NovelAI")


@pytest.mark.parametrize(
    "signature,payload,length_bits,reason",
    [
        ("stealth_pngcomp", b"not gzip at all", None, "not gzip"),
        ("stealth_pnginfo", b"\xff\xfe\xfa", None, "not UTF-8"),
        ("stealth_pnginfo", b"abc", 1 << 30, "too large"),
        ("stealth_pnginfo", b"abc", 13, "not a byte count"),
        ("stealth_pnginfo", b"abc", 8 * 4000, "runs past"),
    ],
)
def test_a_damaged_payload_is_one_reason_and_the_image_still_reads(
    tmp_path: Path, signature: str, payload: bytes, length_bits: int | None, reason: str
) -> None:
    path = tmp_path / "bad.png"
    embed(signature, payload, size=48, length_bits=length_bits).save(path)
    meta = extract_metadata(path)
    assert meta.prompt is None
    issue = meta.fields()["metadata_issue"]
    assert issue is not None and reason in issue and signature in issue and "\n" not in issue


def test_no_signature_no_text(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(
        np.random.default_rng(1).integers(0, 256, (40, 40, 4), dtype=np.uint8), "RGBA"
    ).save(path)
    assert read_stealth(path) is None
    assert extract_metadata(path).prompt is None


def test_text_chunks_win_over_the_pixels(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "chunk prompt\nSteps: 20, Sampler: Euler, Seed: 1")
    path = tmp_path / "both.png"
    embed("stealth_pnginfo", INFOTEXT.encode()).save(path, pnginfo=info)
    assert extract_metadata(path).prompt == "chunk prompt"


def test_tiny_and_lossy_images_are_left_alone(tmp_path: Path) -> None:
    Image.new("RGBA", (1, 1)).save(tmp_path / "one.png")
    embed("stealth_pnginfo", INFOTEXT.encode()).convert("RGB").save(tmp_path / "x.jpg")
    assert read_stealth(tmp_path / "one.png") is None
    assert extract_metadata(tmp_path / "x.jpg").prompt is None


def test_fields_of_each_kind_of_payload() -> None:
    from cdir.ingest.metadata.stealth import StealthText, stealth_fields

    def fields(text: str) -> dict[str, str]:
        return stealth_fields(StealthText("stealth_pnginfo", text))

    comment = {"prompt": "猫", "uc": "x"}
    assert fields(json.dumps({"Description": "猫", "Comment": comment, "Source": None})) == {
        "Description": "猫",
        "Comment": json.dumps(comment, ensure_ascii=False),
    }
    assert fields(json.dumps(comment)) == {"Comment": json.dumps(comment), "Software": "NovelAI"}
    assert fields('{"software": 1}') == {"parameters": '{"software": 1}'}
    assert fields('{"prompt": "a"}') == {"prompt": "a"}
    assert fields("{not json") == {"parameters": "{not json"}
    assert fields("a cat\nSteps: 20") == {"parameters": "a cat\nSteps: 20"}


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_greyscale_with_alpha_and_size_limits(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "la.png"
    embed("stealth_pnginfo", INFOTEXT.encode(), mode=mode).save(path)
    assert read_stealth(path).text == INFOTEXT
    assert read_stealth(path, max_pixels=96 * 96) is not None
    assert read_stealth(path, max_pixels=96 * 96 - 1) is None


def test_a_palette_image_with_transparency_is_read_from_its_alpha(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    image = embed("stealth_pnginfo", b"x" * 8, size=48)
    alpha = np.asarray(image)[..., 3]
    palette = Image.new("P", (48, 48))
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    palette.putdata([1 if a & 1 else 0 for a in alpha.reshape(-1)])
    palette.info["transparency"] = 0
    palette.save(path, transparency=0)
    found = read_stealth(path)  # alpha 0 / 255 from the palette: LSBs are the bits written
    assert found is not None and found.text == "x" * 8
