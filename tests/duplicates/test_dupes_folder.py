"""``cdir dupes FOLDER``: duplicates straight from a folder or zip, with no store and no model
(cdir.duplicates.folder), on hand-built images whose duplicates are known."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from cdir.cli import main
from cdir.duplicates.file_hashes import hash_file, thumbnail_hashes
from cdir.duplicates.finder import DedupConfig
from cdir.duplicates.folder import (
    FOLDER_TIERS,
    FolderConfig,
    FolderResult,
    find_folder_groups,
)
from cdir.duplicates.low_information import signature
from cdir.imaging.decode import load_rgb, make_thumbnail
from cdir.ingest.reader import centre_hash, perceptual_hash
from tests.shared_cases import case_input

REPO = Path(__file__).resolve().parents[2]


def picture(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A smooth random picture (blurred noise): its pHash is well spread."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(noise).filter(ImageFilter.GaussianBlur(size[0] / 60))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a.jpg with a byte copy, a copy with a JPEG comment, a lossless PNG of its pixels, a
    half-size copy, a mirrored copy and a cropped copy; b.jpg unrelated; two flat images of
    different colours; one broken file."""
    root = tmp_path_factory.mktemp("dupes") / "photos"
    root.mkdir()
    a = picture(1)
    a.save(root / "a.jpg", quality=90)
    (root / "a_copy.jpg").write_bytes((root / "a.jpg").read_bytes())
    data = (root / "a.jpg").read_bytes()  # a JPEG comment: other bytes, the same coefficients
    (root / "a_comment.jpg").write_bytes(data[:2] + b"\xff\xfe\x00\x07hello" + data[2:])
    load_rgb(root / "a.jpg").save(root / "a_pixels.png")
    a.resize((320, 240), Image.Resampling.LANCZOS).save(root / "a_half.jpg", quality=90)
    ImageOps.mirror(a).save(root / "a_flip.jpg", quality=90)
    a.crop((32, 24, 608, 456)).save(root / "a_crop.jpg", quality=90)  # 5 % off every side
    picture(2).save(root / "b.jpg", quality=90)
    Image.new("RGB", (200, 200), (250, 250, 250)).save(root / "white.png")
    Image.new("RGB", (200, 200), (10, 10, 10)).save(root / "black.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def groups_by_file(result: FolderResult) -> list[tuple[str, set[str]]]:
    rel = dict(zip(result.store.items["id"], result.store.items["rel_path"], strict=True))
    return sorted((g.tier, {rel[m] for m in g.members}) for g in result.groups)


def test_folder_groups_are_the_known_duplicates(folder: Path) -> None:
    result = find_folder_groups([folder])
    assert groups_by_file(result) == [
        ("exact", {"a.jpg", "a_copy.jpg", "a_comment.jpg", "a_pixels.png"}),
        (
            "perceptual",
            {
                "a.jpg",
                "a_copy.jpg",
                "a_comment.jpg",
                "a_pixels.png",
                "a_half.jpg",
                "a_flip.jpg",
                "a_crop.jpg",
            },
        ),
    ]
    assert [name for name, _ in result.failed] == ["broken.jpg"]


def test_exact_tier_without_full_decoding_matches_decoding_every_file(folder: Path) -> None:
    dedup = DedupConfig(tiers=("exact",))
    fast = find_folder_groups([folder], FolderConfig(dedup=dedup))
    full = find_folder_groups([folder], FolderConfig(dedup=dedup, exact_all_pixels=True))
    assert groups_by_file(fast) == groups_by_file(full)


def test_draft_decoding_keeps_the_phash_of_a_full_decode(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    picture(3, (2048, 1536)).save(path, quality=92)
    drafted, plain = hash_file(path), hash_file(path, draft=False)
    assert not isinstance(drafted, str) and not isinstance(plain, str)
    assert drafted.drafted and not plain.drafted
    assert (drafted.width, drafted.height) == (plain.width, plain.height) == (2048, 1536)
    thumb = make_thumbnail(load_rgb(path), 256)
    assert plain.phash == perceptual_hash(thumb)  # what ingest stores (cdir.ingest.reader)
    assert plain.phash_centre == centre_hash(thumb)
    assert bin(int(drafted.phash, 16) ^ int(plain.phash, 16)).count("1") <= 4


@pytest.mark.parametrize("size", [(256, 192), (255, 97), (31, 200), (8, 8)])
def test_one_resize_gives_imagehash_bits_and_the_signature(size: tuple[int, int]) -> None:
    for seed in range(3):
        thumb = picture(seed, size) if seed else Image.new("RGB", size, (30, 200, 90))
        phash, mirror, sig = thumbnail_hashes(thumb)
        assert phash == str(imagehash.phash(thumb))
        assert mirror == str(imagehash.phash(ImageOps.mirror(thumb)))
        ref = signature(thumb)
        assert sig.detail == pytest.approx(ref.detail, abs=1e-9)
        assert np.array_equal(sig.thumb, ref.thumb) and np.array_equal(sig.mirror, ref.mirror)


def test_threads_and_processes_give_the_same_groups(folder: Path) -> None:
    many = FolderConfig(workers=2)
    import cdir.duplicates.folder as folder_module

    old = folder_module._INLINE_BELOW
    folder_module._INLINE_BELOW = 0  # use the pool even for these few files
    try:
        by_process = find_folder_groups([folder], many)
        by_thread = find_folder_groups([folder], FolderConfig(workers=2, executor="thread"))
    finally:
        folder_module._INLINE_BELOW = old
    assert (
        groups_by_file(by_process)
        == groups_by_file(by_thread)
        == groups_by_file(find_folder_groups([folder]))
    )


def test_flat_images_case_matches_the_store_answer() -> None:
    """Shared case 06: the same answer as `cdir dupes STORE`
    (tests/duplicates/test_flat_dupes.py)."""
    result = find_folder_groups([case_input("06")])
    assert [files for _, files in groups_by_file(result)] == [{"tree.png", "tree_small.jpg"}]


def test_a_zip_gives_the_same_groups_and_leaves_nothing(folder: Path, tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"photos/{path.name}")
    result = find_folder_groups([archive])
    assert [files for _, files in groups_by_file(result)] == [
        {n for n in ("a.jpg", "a_copy.jpg", "a_comment.jpg", "a_pixels.png")},
        {
            n
            for n in (
                "a.jpg",
                "a_copy.jpg",
                "a_comment.jpg",
                "a_pixels.png",
                "a_half.jpg",
                "a_flip.jpg",
                "a_crop.jpg",
            )
        },
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.zip"]


def test_cli_json_has_the_store_shape(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dupes", str(folder), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tiers"] == list(FOLDER_TIERS) and report["store"] is None
    assert {"thresholds", "grouping_rule", "n_groups", "groups"} <= set(report)
    exact = next(g for g in report["groups"] if g["tier"] == "exact")
    assert {m["file"] for m in exact["members"]} == {
        "a.jpg",
        "a_copy.jpg",
        "a_comment.jpg",
        "a_pixels.png",
    }
    assert report["failed"][0]["file"] == "broken.jpg"
    assert not any(p.name == "dupes.json" for p in folder.rglob("*"))  # nothing written


def test_cli_store_keeps_the_result(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kept"
    assert main(["dupes", str(folder), "--store", str(out), "--json", "-q"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((out / "dupes.json").read_text()) == printed
    assert [p.name for p in out.iterdir()] == ["dupes.json"]


@pytest.mark.parametrize("extra", [["--tier", "semantic"], ["--decide", "1=keep"], ["--show"]])
def test_cli_folder_refuses_what_needs_a_collection(
    folder: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dupes", str(folder), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cdir ingest" in err and str(folder.parent) not in err


def test_cli_missing_folder_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dupes", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: nowhere not found: give a folder of images, a .zip, or a collection "
        "made by `cdir ingest`"
    )
    (tmp_path / "notes.txt").write_text("hi")
    assert main(["dupes", str(tmp_path / "notes.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a folder, a .zip or a collection" in err and str(tmp_path) not in err
    assert main(["dupes", str(tmp_path), "--store", str(tmp_path / "notes.txt")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_folder_path_loads_no_model_library(folder: Path) -> None:
    """The whole command in a fresh interpreter: torch, open_clip and transformers stay out."""
    code = (
        "import sys, io, contextlib\n"
        "from cdir.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['dupes', {str(folder)!r}, '--json', '-q', '--workers', '2'])\n"
        "heavy = [m for m in ('torch', 'open_clip', 'transformers') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "0 []"
