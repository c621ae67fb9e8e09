"""Hostile files through the whole ingest (issue 7 §1), in one collection with the ``tiny`` preset.

``tests/imaging/test_decode.py`` checks the decoder on each file (pixel values, exact reasons); here
every case goes through scanning, hashing, decoding, thumbnails, embedding and the store, and the
test checks what a user sees: a failure with a clear reason in ``api.info(store)["failed"]`` for
each bad file, a searchable item for each good one, and nothing else disturbed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir import api
from cdir.imaging.decode import DecodeLimits
from cdir.ingest.pipeline import IngestConfig, IngestReport, ingest
from cdir.models.loaded import Models
from cdir.retrieval.search import SearchOptions
from cdir.store.collection import Store
from tests.drawn import draw_image

PIXEL_LIMIT = 4_000_000  # small, so a real 9-megapixel image is a "bomb" for this collection
RED, BLUE = (255, 0, 0), (0, 0, 255)

# rel_path -> words the failure reason must contain
BAD: dict[str, str] = {
    "bad/zero bytes.jpg": "empty file (0 bytes)",
    "bad/truncated.jpg": "truncated JPEG",
    "bad/truncated.png": "truncated PNG",
    "bad/notes.jpg": "not an image: the file is text",
    "bad/bomb 9mp.png": "above the limit of 4 megapixels (set max_pixels to raise it)",
    "bad/bomb header 2.5gp.png": "2.5 gigapixels, above the limit",
    "bad/logo-as.png": "unsupported format SVG: convert it to PNG",
    "bad/iphone.jpg": "HEIC",  # a broken HEIC: "corrupt HEIC" (or "HEIC needs pillow-heif")
    "bad/IMG_0001.HEIC": "HEIC",
}
# Left out by the scan (not images by name): listed in the report, shown after the upload.
REJECTED: dict[str, str] = {
    "bad/logo.svg": "unsupported file type .svg",
}
# rel_path -> (width, height) after decoding (EXIF orientation applied)
GOOD: dict[str, tuple[int, int]] = {
    "ok/really a png.jpg": (8, 6),
    "ok/dot 1x1.png": (1, 1),
    "ok/needle 1x5000.png": (1, 5000),
    "ok/haystack 5000x1.png": (5000, 1),
    "ok/depth16.png": (256, 4),
    "ok/print cmyk.jpg": (16, 16),
    "ok/palette transparent.png": (4, 4),
    "ok/animated.gif": (16, 16),
    "ok/animated.webp": (16, 16),
    "ok/phone rotated.jpg": (20, 40),
    "ok/corrupt exif.jpg": (40, 20),
    "ok/naïve café – ünïcödé.png": (96, 96),
    "ok/emoji 🐱🎨.png": (96, 96),
    "ok/name with   spaces .png": (96, 96),
    "a/cat.png": (96, 96),
    "b/cat.png": (96, 96),
    "c/cat.png": (96, 96),  # the same bytes as a/cat.png
}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A 60-byte PNG whose header claims ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + _png_chunk(b"IEND", b"")
    )


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _animation(path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in (RED, BLUE, (0, 255, 0))]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=80, **extra)


def _write_bad(root: Path) -> None:
    bad = root / "bad"
    bad.mkdir(parents=True)
    (bad / "zero bytes.jpg").write_bytes(b"")
    for fmt, name in (("JPEG", "truncated.jpg"), ("PNG", "truncated.png")):
        whole = root / f"whole.{fmt}"
        _noise(64, 64).save(whole, fmt)
        (bad / name).write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        whole.unlink()
    (bad / "notes.jpg").write_text("my holiday notes, not a picture\n" * 4, encoding="utf-8")
    Image.new("L", (3000, 3000), 128).save(bad / "bomb 9mp.png")
    (bad / "bomb header 2.5gp.png").write_bytes(_png_claiming(50_000, 50_000))
    svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9"></svg>\n'
    (bad / "logo.svg").write_text(svg, encoding="utf-8")
    (bad / "logo-as.png").write_text(svg, encoding="utf-8")
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    (bad / "IMG_0001.HEIC").write_bytes(heic)
    (bad / "iphone.jpg").write_bytes(heic)


def _write_odd_but_good(ok: Path) -> None:
    ok.mkdir(parents=True)
    Image.new("RGB", (8, 6), RED).save(ok / "really a png.jpg", "PNG")
    Image.new("RGB", (1, 1), BLUE).save(ok / "dot 1x1.png")
    Image.new("RGB", (1, 5000), BLUE).save(ok / "needle 1x5000.png")
    Image.new("RGB", (5000, 1), RED).save(ok / "haystack 5000x1.png")
    ramp = np.linspace(0, 65535, 256).astype(np.uint16).reshape(1, 256).repeat(4, axis=0)
    Image.fromarray(ramp).save(ok / "depth16.png")
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(ok / "print cmyk.jpg", "JPEG")
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((3, 3), 1)
    palette.save(ok / "palette transparent.png", transparency=0)
    _animation(ok / "animated.gif", "GIF")
    _animation(ok / "animated.webp", "WEBP")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown 20 wide, 40 high
    Image.new("RGB", (40, 20), RED).save(ok / "phone rotated.jpg", "JPEG", exif=exif)
    broken_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff broken"
    Image.new("RGB", (40, 20), BLUE).save(ok / "corrupt exif.jpg", "JPEG", exif=broken_exif)
    for n, name in enumerate(
        ("naïve café – ünïcödé.png", "emoji 🐱🎨.png", "name with   spaces .png")
    ):
        draw_image("clipart", "circle", n).save(ok / name)


def _write_same_names(root: Path) -> None:
    for folder, variant in (("a", 0), ("b", 1), ("c", 0)):
        (root / folder).mkdir()
        draw_image("photo", "square", variant).save(root / folder / "cat.png")


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, tiny_shared: Models
) -> tuple[IngestReport, Path]:
    root = tmp_path_factory.mktemp("hostile")
    _write_bad(root)
    _write_odd_but_good(root / "ok")
    _write_same_names(root)
    config = IngestConfig(captions="lazy", decode_limits=DecodeLimits(max_pixels=PIXEL_LIMIT))
    store = tmp_path_factory.mktemp("stores") / "hostile"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", "off")
        report = ingest([root], store, tiny_shared, config)
    return report, store


def test_every_bad_file_is_a_failure_with_its_reason(hostile: tuple[IngestReport, Path]) -> None:
    failed = {f["file"]: f["reason"] for f in api.info(hostile[1])["failed"]}
    assert set(failed) == set(BAD)
    for name, words in BAD.items():
        assert words in failed[name], (name, failed[name])


def test_files_that_are_not_images_by_name_are_reported(
    hostile: tuple[IngestReport, Path],
) -> None:
    rejected = {r["file"]: r["reason"] for r in hostile[0].rejected}
    assert set(rejected) == set(REJECTED)
    for name, words in REJECTED.items():
        assert words in rejected[name]


def test_every_odd_but_valid_file_is_searchable(hostile: tuple[IngestReport, Path]) -> None:
    info = api.info(hostile[1])
    assert (info["n_ok"], info["n_failed"]) == (len(GOOD), len(BAD))
    store = Store.load(hostile[1])
    ok = store.items[store.items["status"] == "ok"].set_index("rel_path")
    assert set(ok.index) == set(GOOD)
    for name, size in GOOD.items():
        assert (ok.at[name, "width"], ok.at[name, "height"]) == size, name
    norms = np.linalg.norm(store.image_emb, axis=1)
    np.testing.assert_allclose(norms[store.ok_mask()], 1.0, atol=1e-4)
    assert not norms[~store.ok_mask()].any()  # failures have no vector to match


def test_each_good_item_finds_neighbours_and_no_failure(
    hostile: tuple[IngestReport, Path],
) -> None:
    session = api.session_for(hostile[1])
    ok_ids = set(session.store.items.loc[session.store.ok_mask(), "id"])
    options = SearchOptions(mode="image", k=len(GOOD))
    for item_id in sorted(ok_ids):
        hits = api.search(session, item_id=item_id, options=options).hits
        assert hits and {h.id for h in hits} <= ok_ids - {item_id}
    by_text = api.search(session, text="a blue line", options=SearchOptions(k=50)).hits
    assert {h.id for h in by_text} <= ok_ids and len(by_text) >= len(GOOD) - 2


def test_unicode_names_keep_their_files_and_thumbnails(hostile: tuple[IngestReport, Path]) -> None:
    store = Store.load(hostile[1])
    for _, row in store.items[store.items["status"] == "ok"].iterrows():
        assert store.image_path(row).is_file(), row["rel_path"]
        with Image.open(store.thumb_path(row["sha256"])) as thumb:
            assert max(thumb.size) <= 256
            assert (thumb.width >= thumb.height) == (row["width"] >= row["height"])


def test_the_same_name_in_different_folders_gives_different_items(
    hostile: tuple[IngestReport, Path],
) -> None:
    items = Store.load(hostile[1]).items.set_index("rel_path")
    cats = items.loc[["a/cat.png", "b/cat.png", "c/cat.png"]]
    assert cats["id"].nunique() == cats["path"].nunique() == 3
    assert cats.at["a/cat.png", "sha256"] == cats.at["c/cat.png", "sha256"]
    assert cats.at["a/cat.png", "sha256"] != cats.at["b/cat.png", "sha256"]


def test_a_higher_pixel_limit_accepts_the_large_image(tmp_path: Path, tiny_shared: Models) -> None:
    (tmp_path / "src").mkdir()
    Image.new("L", (3000, 3000), 128).save(tmp_path / "src" / "large.png")
    config = IngestConfig(captions="none", decode_limits=DecodeLimits(max_pixels=10_000_000))
    report = ingest([tmp_path / "src"], tmp_path / "store", tiny_shared, config)
    assert report.failed == [] and report.counts["n_ok"] == 1


def test_a_needle_image_is_cropped_before_the_model_upscales_it(
    tiny_shared: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_clip scales the shorter side up to the input size: a 1 x 200,000 image (a few
    hundred bytes, far below any pixel limit) would become 64 x 12.8 million pixels (2.5 GB) on
    the way; for ViT-B-32, 224 x 44.8 million (30 GB). No resize may make more than a 4:1 strip
    of the input size."""
    from tests.waits import largest_resize

    needle = Image.new("RGB", (1, 200_000), BLUE)
    with largest_resize(monkeypatch) as most:
        tensor = tiny_shared.embedder.preprocess(needle)
    assert 0 < most[0] <= 64 * 64 * 4
    assert tuple(tensor.shape) == (3, 64, 64)
    square = Image.new("RGB", (64, 64), BLUE)
    expected = tiny_shared.embedder.preprocess(square).numpy()
    np.testing.assert_allclose(tensor.numpy(), expected, atol=1e-5)
