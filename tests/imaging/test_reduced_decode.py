"""Reduced (DCT-scaled) decoding of large JPEGs at ingest: the same orientation, full-size width and
height, thumbnails of the right size, and the exact tier grouping what a full decode groups."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdir.duplicates.finder import exact_groups
from cdir.imaging.decode import load_rgb, load_rgb_reduced
from cdir.ingest.exact_keys import FILE_KEY
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.reader import THUMB_SIDE, read_one, reduced_decode_side
from cdir.models.loaded import Models
from cdir.store.collection import Store

ORIENTATION = 0x0112


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth picture whose left, right, top and bottom all look different (so a wrong
    rotation shows), as an RGB uint8 (height, width, 3) array."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.stack([255 * x / width, 255 * y / height, 128 + 60 * np.sin(x / 97 + y / 53)], -1)
    cx, cy = rng.uniform(0.1, 0.3) * width, rng.uniform(0.1, 0.3) * height
    out[(x - cx) ** 2 + (y - cy) ** 2 < (0.08 * width) ** 2] = (250, 250, 20)
    return out.clip(0, 255).astype(np.uint8)


def save_jpeg(path: Path, pixels: np.ndarray, orientation: int = 1, **kw: object) -> Path:
    exif = Image.Exif()
    if orientation != 1:
        exif[ORIENTATION] = orientation
    Image.fromarray(pixels).save(path, quality=90, exif=exif.tobytes(), **kw)
    return path


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def test_a_large_jpeg_decodes_reduced_with_its_full_size(tmp_path: Path) -> None:
    path = save_jpeg(tmp_path / "a.jpg", scene(2000, 1500))
    got = load_rgb_reduced(path, min_side=448)
    assert got.reduced and got.size == (2000, 1500)
    assert got.image.size == (1000, 750)  # 1/2: 1/4 would leave the shorter side below 448
    full = load_rgb(path)
    assert mean_difference(got.image, full.resize(got.image.size, Image.Resampling.BOX)) < 3


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_reduced_decoding_keeps_the_exif_orientation(tmp_path: Path, orientation: int) -> None:
    path = save_jpeg(tmp_path / "r.jpg", scene(2000, 1200), orientation)
    full = load_rgb(path)
    got = load_rgb_reduced(path, min_side=256)
    assert got.reduced and got.size == full.size
    assert got.image.width / got.image.height == pytest.approx(full.width / full.height, rel=0.01)
    small = full.resize(got.image.size, Image.Resampling.BOX)
    assert mean_difference(got.image, small) < 3
    wrong = full.transpose(Image.Transpose.ROTATE_180).resize(got.image.size)
    assert mean_difference(got.image, wrong) > 20


def test_small_jpegs_pngs_and_no_min_side_decode_in_full(tmp_path: Path) -> None:
    small = save_jpeg(tmp_path / "s.jpg", scene(800, 600))
    png = tmp_path / "p.png"
    Image.fromarray(scene(2000, 1500)).save(png)
    large = save_jpeg(tmp_path / "l.jpg", scene(2000, 1500))
    for path, side in ((small, 448), (png, 448), (large, None)):
        got = load_rgb_reduced(path, min_side=side)
        assert not got.reduced and got.image.size == got.size


def test_the_reader_leaves_the_pixel_hash_and_writes_a_full_thumbnail(tmp_path: Path) -> None:
    path = save_jpeg(tmp_path / "a.jpg", scene(3000, 2000), orientation=6)
    result = read_one(0, path, tmp_path / "t.jpg", None, _limits(), reduce_to=448)
    assert result.info.pixel_sha256 is None
    assert (result.info.width, result.info.height) == (2000, 3000)
    with Image.open(tmp_path / "t.jpg") as thumb:
        assert max(thumb.size) == THUMB_SIDE and thumb.height > thumb.width
    full = read_one(0, path, None, None, _limits())
    assert full.info.pixel_sha256 is not None
    assert _bits(result.info.phash, full.info.phash) <= 4


def test_the_reduced_side_follows_the_preprocessing(tiny: Models) -> None:
    side = reduced_decode_side(tiny.embedder.preprocess)
    assert side is not None and side >= THUMB_SIDE
    assert reduced_decode_side(None) is None


@pytest.fixture(scope="module")
def large_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Large files whose exact groups are known: one picture as a JPEG, a copy of it, a PNG of its
    decoded pixels, the same JPEG data with a comment added, and an MPO of it; another picture
    of the same size; a third picture stored sideways with an EXIF rotation, and its
    upright PNG."""
    src = tmp_path_factory.mktemp("large")
    pixels = scene(2000, 1500, seed=1)
    save_jpeg(src / "a.jpg", pixels)
    shutil.copyfile(src / "a.jpg", src / "a_copy.jpg")
    load_rgb(src / "a.jpg").save(src / "a_pixels.png")
    data = (src / "a.jpg").read_bytes()
    (src / "a_comment.jpg").write_bytes(data[:2] + b"\xff\xfe\x00\x07hello" + data[2:])
    second = Image.fromarray(scene(1000, 750, seed=1))
    Image.fromarray(pixels).save(
        src / "a_camera.mpo", format="MPO", save_all=True, append_images=[second], quality=90
    )
    save_jpeg(src / "other.jpg", scene(2000, 1500, seed=2)[:, ::-1].copy())
    save_jpeg(src / "turned.jpg", scene(2000, 1500, seed=3), orientation=6)
    load_rgb(src / "turned.jpg").save(src / "turned_upright.png")
    return src


def _groups(store: Store) -> set[frozenset[str]]:
    names = store.items["rel_path"].tolist()
    return {frozenset(names[m] for m in g.members) for g in exact_groups(store)}


def test_exact_groups_are_those_of_a_full_decode(
    tmp_path: Path, tiny: Models, large_set: Path
) -> None:
    got = {}
    for reduced in (True, False):
        config = IngestConfig(
            captions="none", predict_domains=False, shared_cache=False, reduced_decode=reduced
        )
        ingest([large_set], tmp_path / f"store{reduced}", tiny, config)
        got[reduced] = Store.load(tmp_path / f"store{reduced}")
    expected = {
        frozenset({"a.jpg", "a_copy.jpg", "a_pixels.png", "a_comment.jpg", "a_camera.mpo"}),
        frozenset({"turned.jpg", "turned_upright.png"}),
    }
    assert _groups(got[False]) == expected
    assert _groups(got[True]) == expected
    keys = got[True].items.set_index("rel_path")["pixel_sha256"]
    assert (
        keys["other.jpg"]
        == FILE_KEY + got[True].items.set_index("rel_path").at["other.jpg", "sha256"]
    )  # nothing else looks like it: never decoded in full
    full = got[False].items.set_index("rel_path")
    assert keys["a.jpg"] == full.at["a.jpg", "pixel_sha256"]
    assert (got[True].items["width"].tolist(), got[True].items["height"].tolist()) == (
        got[False].items["width"].tolist(),
        got[False].items["height"].tolist(),
    )


def test_a_png_added_later_joins_the_exact_group_of_a_reduced_jpeg(
    tmp_path: Path, tiny: Models, large_set: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(large_set / "other.jpg", src / "other.jpg")
    config = IngestConfig(captions="none", predict_domains=False, shared_cache=False)
    store_dir = tmp_path / "store"
    ingest([src], store_dir, tiny, config)
    assert _groups(Store.load(store_dir)) == set()
    load_rgb(src / "other.jpg").save(src / "other.png")
    ingest([src], store_dir, tiny, config)
    assert _groups(Store.load(store_dir)) == {frozenset({"other.jpg", "other.png"})}


def _limits():  # noqa: ANN202
    from cdir.imaging.decode import DecodeLimits

    return DecodeLimits()


def _bits(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_look_alikes_need_the_same_size_another_file_and_a_near_phash() -> None:
    import pandas as pd

    from cdir.ingest.exact_keys import PHASH_SLACK, look_alikes

    a, b = "0" * 16, f"{(1 << PHASH_SLACK) - 1:016x}"  # PHASH_SLACK bits apart
    c = "ffffffff00000000"  # 32 bits from a, 44 from b
    items = pd.DataFrame(
        {
            "width": [100, 100, 100, 100, 100, 50, 70, 70, 100],
            "height": [80, 80, 80, 80, 80, 40, 70, 70, 80],
            "sha256": ["a", "a", "b", "c", "c", "e", "f", "g", "h"],
            "phash": [a, a, b, c, c, a, None, a, c],
        }
    )
    ok = np.array([True] * 8 + [False])  # the last one failed: it is no one's peer
    # 0, 1 and 2 are near (other files); 3 and 4 are one file, far from the rest; 5 is alone
    # at its size; 6 has no pHash, so it and 7 (same size) cannot be told apart
    assert look_alikes(range(8), items, ok) == [0, 1, 2, 6, 7]
    items.loc[2, "width"] = 90
    assert look_alikes(range(3), items, ok) == []  # 0 and 1 are copies of one file
