"""File types decided by content, not by name: .jfif/.jpe JPEGs, camera MPO named .JPG, AVIF,
HEIC/HEIF through pillow-heif, a PNG named .jpg; the name only picks which files a scan reads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from cdir.imaging import decode
from cdir.imaging.decode import (
    HEIF_SUPPORTED,
    DecodeError,
    load_rgb,
    pixel_sha256,
)
from cdir.imaging.unreadable import HEIF_NEEDS
from cdir.ingest.sources import scan_sources
from tests.shared_cases import case_input

needs_avif = pytest.mark.skipif(not features.check("avif"), reason="this Pillow lacks AVIF")
needs_heif = pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")


def scene(size: tuple[int, int] = (96, 64)) -> Image.Image:
    img = Image.new("RGB", size, (230, 230, 250))
    ImageDraw.Draw(img).ellipse([20, 10, 76, 54], fill=(200, 40, 120))
    return img


def encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def mean_error(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def reason_of(path: Path) -> str:
    with pytest.raises(DecodeError) as info:
        load_rgb(path)
    return info.value.reason


# --- the handed cases ----------------------------------------------------------------------------


def test_case_11_jfif_jpe_and_avif_are_all_read(tmp_path: Path) -> None:
    folder = case_input("11")
    result = scan_sources([folder], tmp_path / "x")
    names = {f.rel_path for f in result.files}
    expected = {"control.jpg", "downloaded.jfif", "old_camera.jpe"}
    if (folder / "phone.avif").exists():
        expected.add("phone.avif")
    assert names == expected and result.rejected == []
    control = load_rgb(folder / "control.jpg")
    for name in sorted(expected):
        image = load_rgb(folder / name)
        assert image.size == (96, 64)
        assert mean_error(image, control) < (6 if name.endswith(".avif") else 0.01), name


def test_case_13_mpo_camera_jpg_is_an_exact_duplicate_of_the_plain_jpeg(tmp_path: Path) -> None:
    folder = case_input("13")
    result = scan_sources([folder], tmp_path / "x")
    assert {f.rel_path for f in result.files} == {"P1000001.JPG", "same_scene_plain.jpg"}
    with Image.open(folder / "P1000001.JPG") as raw:
        assert raw.format == "MPO" and raw.n_frames == 2
    mpo, plain = load_rgb(folder / "P1000001.JPG"), load_rgb(folder / "same_scene_plain.jpg")
    assert mpo.size == (160, 120)  # the primary picture, not the second frame
    assert pixel_sha256(mpo) == pixel_sha256(plain)  # what the exact tier groups by


def test_case_12_exif_rotation_shown_upright(tmp_path: Path) -> None:
    folder = case_input("12")
    baked = load_rgb(folder / "baked_rotation.png")
    assert baked.size == (120, 160)
    for name in ("exif_rotation.png", "exif_rotation.jpg", "baked_rotation.jpg"):
        image = load_rgb(folder / name)
        assert image.size == (120, 160), name
        assert mean_error(image, baked) < 4, name


def test_case_16_16bit_grey_is_not_clipped(tmp_path: Path) -> None:
    folder = case_input("16")
    full = np.asarray(load_rgb(folder / "gradient16_full.png"))[0, :, 0]
    half = np.asarray(load_rgb(folder / "gradient16_half.png"))[0, :, 0]
    assert full[0] == 0 and full[-1] == 255 and (np.diff(full.astype(int)) >= 0).all()
    assert len(np.unique(full)) > 200  # a gradient, not white
    assert half[0] == 0 and 126 <= half[-1] <= 128  # half of the range stays half


# --- built inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.jfif", "b.jpe", "c.JFIF", "d.jif", "e.jfi", "f.JPEG"])
def test_jpeg_under_every_name(tmp_path: Path, name: str) -> None:
    data = encoded(scene(), "JPEG", quality=90)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(data)
    result = scan_sources([tmp_path / "in"], tmp_path / "x")
    assert [f.rel_path for f in result.files] == [name] and result.rejected == []
    assert pixel_sha256(load_rgb(tmp_path / "in" / name)) == pixel_sha256(
        Image.open(io.BytesIO(data)).convert("RGB")
    )


@pytest.mark.parametrize("name", ["photo.jpg", "photo.JPG", "photo.jpeg", "photo.heic"])
def test_png_under_a_jpeg_or_heic_name(tmp_path: Path, name: str) -> None:
    img = scene()
    (tmp_path / name).write_bytes(encoded(img, "PNG"))
    assert pixel_sha256(load_rgb(tmp_path / name)) == pixel_sha256(img)  # lossless: exact


@pytest.mark.parametrize("name", ["P1000002.JPG", "stereo.mpo", "DSCF0001.jpg"])
def test_mpo_gives_its_primary_picture(tmp_path: Path, name: str) -> None:
    primary = scene((160, 120))
    second = Image.new("RGB", (80, 60), (0, 0, 0))
    (tmp_path / name).write_bytes(
        encoded(primary, "MPO", save_all=True, append_images=[second], quality=95)
    )
    image = load_rgb(tmp_path / name)
    assert image.size == (160, 120) and mean_error(image, primary) < 3


@needs_avif
@pytest.mark.parametrize("name", ["phone.avif", "phone.AVIF", "renamed.jpg"])
def test_avif(tmp_path: Path, name: str) -> None:
    img = scene()
    (tmp_path / name).write_bytes(encoded(img, "AVIF", quality=90))
    assert mean_error(load_rgb(tmp_path / name), img) < 6


@needs_heif
@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "IMG_0002.heif", "IMG_0003.hif", "x.jpg"])
def test_heic_through_pillow_heif(tmp_path: Path, name: str) -> None:
    img = scene()
    (tmp_path / name).write_bytes(encoded(img, "HEIF", quality=95))
    assert mean_error(load_rgb(tmp_path / name), img) < 6


@needs_heif
def test_heic_exif_orientation_is_shown_upright(tmp_path: Path) -> None:
    sensor = Image.new("RGB", (60, 30), (0, 0, 255))
    sensor.paste((255, 0, 0), (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.heic"
    path.write_bytes(encoded(sensor, "HEIF", exif=exif.tobytes(), quality=95))
    image = load_rgb(path)
    assert image.size == (30, 60)
    jpeg = tmp_path / "portrait.jpg"
    jpeg.write_bytes(encoded(sensor, "JPEG", exif=exif.tobytes(), quality=95))
    assert mean_error(image, load_rgb(jpeg)) < 6  # upright the same way as a JPEG


def test_heic_without_pillow_heif_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "HEIF_SUPPORTED", False)
    monkeypatch.setattr(
        decode, "SAFE_FORMATS", tuple(f for f in decode.SAFE_FORMATS if f != "HEIF")
    )
    path = tmp_path / "IMG_0001.HEIC"  # an iPhone-style ftyp: major brand heic
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    assert reason_of(path) == HEIF_NEEDS
    other = tmp_path / "IMG_0002.HEIC"  # major brand mif1, heic only among the compatible ones
    other.write_bytes(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    assert reason_of(other) == HEIF_NEEDS
    assert "pillow-heif" in HEIF_NEEDS and "/" not in HEIF_NEEDS.replace("pip install", "")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("notes.jfif", b"just some text\n", "not an image: the file is text"),
        (
            "movie.heic",
            b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomavc1" + b"\0" * 64,
            "video or other ISO media",
        ),
        ("archive.jpe", b"PK\x03\x04" + b"\0" * 64, "zip archive"),
    ],
)
def test_a_name_never_makes_a_file_an_image(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    (tmp_path / name).write_bytes(content)
    assert words in reason_of(tmp_path / name)


def test_the_name_picks_which_files_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jfif", "b.jpe", "c.heic", "d.avif", "e.mpo", "f.apng"):
        (folder / name).write_bytes(encoded(scene(), "PNG"))
    (folder / "g.xcf").write_bytes(b"gimp")
    result = scan_sources([folder], tmp_path / "x")
    assert [f.rel_path for f in result.files] == [
        "a.jfif",
        "b.jpe",
        "c.heic",
        "d.avif",
        "e.mpo",
        "f.apng",
    ]
    assert [name for name, _ in result.rejected] == ["g.xcf"]


# --- through ingest: the duplicates the handed cases expect --------------------------------------


def groups_of(folder: Path, store_dir: Path, tiers: tuple[str, ...]) -> list[set[str]]:
    from cdir.duplicates.finder import DedupConfig, find_groups
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models
    from cdir.store.collection import Store

    ingest(
        [folder],
        store_dir,
        load_models("tiny", device="cpu"),
        IngestConfig(captions="none", predict_domains=False),
    )
    store = Store.load(store_dir)
    assert (store.items["status"] == "ok").all()
    rel = dict(zip(store.items["id"], store.items["rel_path"], strict=True))
    return [{rel[m] for m in g.members} for g in find_groups(store, DedupConfig(tiers=tiers))]


def test_case_13_ingested_as_exact_duplicates(tmp_path: Path) -> None:
    folder = case_input("13")
    assert groups_of(folder, tmp_path / "store", ("exact",)) == [
        {"P1000001.JPG", "same_scene_plain.jpg"}
    ]


def test_case_12_rotations_found_as_duplicates(tmp_path: Path) -> None:
    folder = case_input("12")
    groups = groups_of(folder, tmp_path / "store", ("exact", "perceptual"))
    names = {"baked_rotation.png", "exif_rotation.png", "baked_rotation.jpg", "exif_rotation.jpg"}
    assert {"baked_rotation.png", "exif_rotation.png"} in groups  # the same pixels once upright
    assert any(group == names for group in groups)
