"""Decoding files into RGB images: every odd or hostile file ends as RGB or a DecodeError."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir.imaging.decode import (
    HEIF_SUPPORTED,
    DecodeError,
    DecodeLimits,
    file_sha256,
    is_image_name,
    load_rgb,
    load_rgb_bytes,
    make_thumbnail,
    pixel_sha256,
    save_jpeg_atomic,
)
from cdir.imaging.unreadable import HEIF_NEEDS

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def save(img: Image.Image, path: Path, fmt: str | None = None, **options: object) -> Path:
    img.save(path, fmt, **options)
    return path


def noise(width: int = 64, height: int = 64) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def close_to(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def reason_of(path: Path, limits: DecodeLimits = DecodeLimits()) -> str:
    with pytest.raises(DecodeError) as info:
        load_rgb(path, limits)
    return info.value.reason


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` 1-bit pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


# --- files that are not (usable) images ----------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert reason_of(path) == "empty file (0 bytes)"


def test_missing_file_is_a_decode_error(tmp_path: Path) -> None:
    assert "file not found" in reason_of(tmp_path / "nope.png")


def test_folder_and_fifo_are_not_images(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")
    assert "not a regular file" in reason_of(tmp_path / "dir.png")
    assert "not a regular file" in reason_of(tmp_path / "pipe.png")


def test_text_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs, ünïcödé\n" * 3, encoding="utf-8")
    assert reason_of(path) == "not an image: the file is text"


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(bytes(range(256)) * 4)
    assert reason_of(path).startswith("not an image")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    path = save(noise(), tmp_path / f"whole.{fmt.lower()}", fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert reason_of(cut) == f"truncated {fmt}"


def test_svg_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "logo.svg"
    path.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>\n')
    assert reason_of(path) == "unsupported format SVG: convert it to PNG"


def test_broken_heic_says_why(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    expected = "corrupt HEIC: cannot read its image" if HEIF_SUPPORTED else HEIF_NEEDS
    assert reason_of(path) == expected


def test_formats_outside_the_allow_list_are_refused(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "picture.tga", "TGA")
    assert reason_of(path).startswith("not an image")


def test_file_size_limit(tmp_path: Path) -> None:
    path = save(noise(), tmp_path / "big.png")
    assert "max_file_bytes" in reason_of(path, DecodeLimits(max_file_bytes=1000))


# --- decompression bombs -------------------------------------------------------------------------


def test_bomb_refused_before_pixels_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(50_000, 50_000))
    reason = reason_of(path)
    assert "2.5 gigapixels" in reason
    assert "above the limit of 100 megapixels" in reason and "max_pixels" in reason


def test_pixel_limit_reports_the_size(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(png_claiming(12_000, 10_000))
    assert reason_of(path) == (
        "image is 12000x10000 = 120 megapixels, above the limit of 100 megapixels "
        "(set max_pixels to raise it)"
    )


def test_lower_pixel_limit(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (40, 30)), tmp_path / "small.png")
    assert "40x30 = 1200 pixels" in reason_of(path, DecodeLimits(max_pixels=1000))
    assert load_rgb(path, DecodeLimits(max_pixels=1200)).size == (40, 30)


# --- images that must decode ---------------------------------------------------------------------


def test_png_named_jpg_is_detected_by_content(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 6), RED), tmp_path / "really_a_png.jpg", "PNG")
    img = load_rgb(path)
    assert img.mode == "RGB" and img.size == (8, 6) and img.getpixel((0, 0)) == RED


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1)])
def test_extreme_shapes(tmp_path: Path, size: tuple[int, int]) -> None:
    path = save(Image.new("RGB", size, BLUE), tmp_path / "thin.png")
    img = load_rgb(path)
    assert img.size == size and img.getpixel((0, 0)) == BLUE


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 256).astype(np.uint16).reshape(1, 256).repeat(4, axis=0)
    path = save(Image.fromarray(ramp), tmp_path / "depth16.png")
    with Image.open(path) as raw:
        assert raw.mode == "I;16"
    red = np.asarray(load_rgb(path))[0, :, 0]
    assert red[0] == 0 and red[-1] == 255
    assert 120 <= red[128] <= 135  # mid-grey, where clipping would give 255
    assert np.all(np.diff(red.astype(int)) >= 0)


def test_32bit_integer_image(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 4000]], dtype=np.int32)
    path = save(Image.fromarray(values, mode="I"), tmp_path / "int32.tif")
    assert list(np.asarray(load_rgb(path))[0, :, 0]) == [0, 4, 16]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "print.jpg", "JPEG")
    img = load_rgb(path)
    assert img.mode == "RGB" and close_to(img.getpixel((8, 8)), RED)


def test_palette_transparency_becomes_white(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0] + [255, 0, 0] + [0] * 762)
    img.putpixel((3, 3), 1)
    path = save(img, tmp_path / "palette.png", transparency=0)
    rgb = load_rgb(path)
    assert rgb.getpixel((0, 0)) == WHITE and rgb.getpixel((3, 3)) == RED


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    img.putpixel((1, 0), (0, 0, 0, 128))
    rgb = load_rgb(save(img, tmp_path / "alpha.png"))
    assert rgb.getpixel((0, 0)) == WHITE
    assert close_to(rgb.getpixel((1, 0)), (127, 127, 127), tolerance=2)


def test_grayscale_with_alpha(tmp_path: Path) -> None:
    rgb = load_rgb(save(Image.new("LA", (3, 3), (0, 0)), tmp_path / "la.png"))
    assert rgb.getpixel((1, 1)) == WHITE


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_gives_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, (0, 255, 0))]
    path = tmp_path / f"anim.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, **options)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    assert close_to(load_rgb(path).getpixel((8, 8)), RED, tolerance=5)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), BLUE)
    img.paste(RED, (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    path = save(img, tmp_path / "phone.jpg", "JPEG", exif=exif, quality=95)
    rgb = load_rgb(path)
    assert rgb.size == (20, 40)
    assert close_to(rgb.getpixel((10, 5)), RED) and close_to(rgb.getpixel((10, 35)), BLUE)


def test_corrupt_exif_keeps_the_image(tmp_path: Path) -> None:
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff broken"
    path = save(Image.new("RGB", (40, 20), RED), tmp_path / "odd.jpg", "JPEG", exif=exif)
    img = load_rgb(path)
    assert img.size == (40, 20) and close_to(img.getpixel((5, 5)), RED)


def test_result_is_independent_of_the_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4), RED), tmp_path / "a.png")
    img = load_rgb(path)
    path.unlink()
    assert img.getpixel((0, 0)) == RED and img.info == {}


def test_load_rgb_bytes(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("L", (3, 2), 200).save(buffer, "BMP")
    img = load_rgb_bytes(buffer.getvalue())
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (200, 200, 200)
    with pytest.raises(DecodeError, match="empty file"):
        load_rgb_bytes(b"")


# --- hashes, thumbnails, names -------------------------------------------------------------------


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert file_sha256(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_pixel_sha256_survives_lossless_reencoding(tmp_path: Path) -> None:
    png = save(noise(10, 7), tmp_path / "a.png")
    with Image.open(png) as img:
        bmp = save(img, tmp_path / "renamed.bmp", "BMP")
    assert file_sha256(png) != file_sha256(bmp)
    assert pixel_sha256(load_rgb(png)) == pixel_sha256(load_rgb(bmp))


def test_pixel_sha256_sees_pixels_and_shape() -> None:
    base = Image.new("RGB", (2, 3), RED)
    changed = base.copy()
    changed.putpixel((1, 1), BLUE)
    assert pixel_sha256(base) != pixel_sha256(changed)
    assert pixel_sha256(base) != pixel_sha256(Image.new("RGB", (3, 2), RED))


def test_make_thumbnail_keeps_aspect() -> None:
    assert make_thumbnail(Image.new("RGB", (1000, 500)), 256).size == (256, 128)
    assert make_thumbnail(Image.new("RGBA", (1, 5000)), 256).size == (1, 256)
    assert make_thumbnail(Image.new("RGB", (10, 10)), 256).size == (10, 10)


def test_save_jpeg_atomic(tmp_path: Path) -> None:
    path = tmp_path / "thumbs" / "t.jpg"
    save_jpeg_atomic(Image.new("RGB", (8, 8), RED), path)
    save_jpeg_atomic(Image.new("RGBA", (8, 8), BLUE + (255,)), path)
    assert close_to(load_rgb(path).getpixel((4, 4)), BLUE)
    assert [p.name for p in path.parent.iterdir()] == ["t.jpg"]


def test_save_jpeg_atomic_leaves_no_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(Image.new("RGB", (8, 8), RED), tmp_path / "kept.jpg", "JPEG")
    before = path.read_bytes()

    def failing_save(self: Image.Image, fp: io.BufferedWriter, *args: object, **kw: object) -> None:
        fp.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_jpeg_atomic(Image.new("RGB", (8, 8)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.jpg"]
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.JPG", True),
        ("x.tiff", True),
        ("dir/b.webp", True),
        ("c.svg", False),
        ("d", False),
        ("e.jfif", True),
        ("f.JPE", True),
        ("g.heic", True),
        ("h.avif", True),
        ("i.mpo", True),
    ],
)
def test_is_image_name(name: str, expected: bool) -> None:
    assert is_image_name(name) is expected
