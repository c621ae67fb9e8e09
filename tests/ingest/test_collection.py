"""Finding the images of folders, zips and file lists, with their labels, safely."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from cdir.ingest.archives import ArchiveLimits
from cdir.ingest.source_files import ScanResult, SourceError, SourceFile, layout_labels
from cdir.ingest.sources import scan_sources
from tests.archives import make_zip, zip_bytes


def png_bytes(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buffer, "PNG")
    return buffer.getvalue()


def write_files(root: Path, names: list[str], data: bytes | None = None) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes() if data is None else data)
    return root


def by_rel(result: ScanResult) -> dict[str, SourceFile]:
    return {file.rel_path: file for file in result.files}


def labels(result: ScanResult) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {f.rel_path: (f.domain, f.label, f.label_source) for f in result.files}


def reasons(result: ScanResult) -> dict[str, str]:
    return dict(result.rejected)


def all_files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file() or path.is_symlink()}


@pytest.fixture
def extract_dir(tmp_path: Path) -> Path:
    return tmp_path / "extracted"


# --- folders -------------------------------------------------------------------------------------


def test_folder_layout_gives_domain_and_class(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(
        tmp_path / "OfficeHome",
        ["Art/Alarm/1.jpg", "Art/Alarm/2.png", "Clipart/Bike/sub/3.png", "Art/top.png", "x.png"],
    )
    result = scan_sources([root], extract_dir)
    assert labels(result) == {
        "Art/Alarm/1.jpg": ("Art", "Alarm", "folder"),
        "Art/Alarm/2.png": ("Art", "Alarm", "folder"),
        "Art/top.png": ("Art", None, None),
        "Clipart/Bike/sub/3.png": ("Clipart", "Bike", "folder"),
        "x.png": (None, None, None),
    }
    assert [f.rel_path for f in result.files] == sorted(f.rel_path for f in result.files)
    assert all(f.path.is_absolute() and f.path.is_file() for f in result.files)
    assert not extract_dir.exists()


def test_hidden_junk_and_non_images(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(
        tmp_path / "src",
        ["a/b/ok.png", ".DS_Store", "__MACOSX/a/._ok.png", ".cache/x.png", "a/b/._ok.png"],
    )
    write_files(root, ["a/b/ok.txt", "notes.pdf", "Thumbs.db", "inner.zip"], data=b"data")
    result = scan_sources([root], extract_dir)
    assert [f.rel_path for f in result.files] == ["a/b/ok.png"]
    assert set(reasons(result)) == {"notes.pdf", "inner.zip"}
    assert "unsupported file type .pdf" in reasons(result)["notes.pdf"]
    assert "add it as a source of its own" in reasons(result)["inner.zip"]


def test_unicode_emoji_spaces_and_repeated_names(tmp_path: Path, extract_dir: Path) -> None:
    names = ["Été/Réveil matin/🐱 chat 1.png", "Été/Vélo/🐱 chat 1.png", "Art/A/my photo.JPG"]
    result = scan_sources([write_files(tmp_path / "ñ src", names)], extract_dir)
    files = by_rel(result)
    assert set(files) == set(names)
    bike = files["Été/Vélo/🐱 chat 1.png"]
    assert (bike.domain, bike.label) == ("Été", "Vélo")


def test_symlinks_outside_the_root_are_skipped(tmp_path: Path, extract_dir: Path) -> None:
    outside = write_files(tmp_path / "outside", ["secret.png", "dir/s.png"])
    root = write_files(tmp_path / "src", ["Art/Alarm/real.png"])
    (root / "Art/Alarm/escape.png").symlink_to(outside / "secret.png")
    (root / "Art/Alarm/alias.png").symlink_to(root / "Art/Alarm/real.png")
    (root / "Art/linked_dir").symlink_to(outside / "dir")
    (root / "Art/Alarm/broken.png").symlink_to(root / "missing.png")
    result = scan_sources([root], extract_dir)
    files = by_rel(result)
    assert set(files) == {"Art/Alarm/real.png", "Art/Alarm/alias.png"}
    assert files["Art/Alarm/alias.png"].path == (root / "Art/Alarm/real.png").resolve()
    rejected = reasons(result)
    assert "outside" in rejected["Art/Alarm/escape.png"]
    assert "not followed" in rejected["Art/linked_dir"]
    assert "broken symlink" in rejected["Art/Alarm/broken.png"]


def test_fifo_in_folder_is_rejected(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(tmp_path / "src", ["a.png"])
    os.mkfifo(root / "pipe.png")
    result = scan_sources([root], extract_dir)
    assert [f.rel_path for f in result.files] == ["a.png"]
    assert reasons(result) == {"pipe.png": "not a regular file"}


def test_missing_source(tmp_path: Path, extract_dir: Path) -> None:
    with pytest.raises(SourceError, match="source not found"):
        scan_sources([tmp_path / "nope"], extract_dir)
    with pytest.raises(SourceError, match="no source"):
        scan_sources([], extract_dir)


# --- manifests -----------------------------------------------------------------------------------


def test_root_manifest_overrides_folder_labels(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(tmp_path / "src", ["Art/Alarm/1.png", "Art/Alarm/2.png", "x.png"])
    (root / "manifest.csv").write_text(
        "Path,Domain,Class,Caption\n"
        "Art/Alarm/1.png,Painting,Clock,a painted clock\n"
        "./x.png,Photo,,\n"
        "gone.png,Photo,Dog,\n",
        encoding="utf-8",
    )
    files = by_rel(scan_sources([root], extract_dir))
    first, loose = files["Art/Alarm/1.png"], files["x.png"]
    assert (first.domain, first.label, first.label_source) == ("Painting", "Clock", "manifest")
    assert first.caption == "a painted clock"
    assert (loose.domain, loose.label, loose.label_source) == ("Photo", None, None)
    assert files["Art/Alarm/2.png"].label_source == "folder"
    assert "manifest.csv" not in files


def test_labels_csv_and_label_alias(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(tmp_path / "src", ["a.png"])
    (root / "labels.csv").write_text("path,domain,label\na.png,sketch,cat\n", encoding="utf-8")
    file = scan_sources([root], extract_dir).files[0]
    assert (file.domain, file.label, file.label_source) == ("sketch", "cat", "manifest")


def test_explicit_manifest_argument(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(tmp_path / "src", ["a.png"])
    manifest = tmp_path / "mine.csv"
    manifest.write_text("path,domain,class\na.png,clipart,cat\n", encoding="utf-8")
    file = scan_sources([root], extract_dir, manifest=manifest).files[0]
    assert (file.domain, file.label) == ("clipart", "cat")


def test_bad_manifest_names_the_expected_columns(tmp_path: Path, extract_dir: Path) -> None:
    root = write_files(tmp_path / "src", ["a.png"])
    (root / "manifest.csv").write_text("file,category\na.png,cat\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"path, domain, class.*path,domain,class\[,caption\]"):
        scan_sources([root], extract_dir)


# --- lists of files ------------------------------------------------------------------------------


def test_list_of_files_disambiguates_names(tmp_path: Path, extract_dir: Path) -> None:
    write_files(tmp_path, ["one/photo.jpg", "two/photo.jpg", "three/pic 🐶.png"])
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    sources = [
        tmp_path / "one/photo.jpg",
        str(tmp_path / "two/photo.jpg"),
        tmp_path / "three/pic 🐶.png",
        tmp_path / "one/photo.jpg",
        tmp_path / "doc.pdf",
    ]
    result = scan_sources(sources, extract_dir)
    assert [f.rel_path for f in result.files] == ["one/photo.jpg", "two/photo.jpg", "pic 🐶.png"]
    assert all(f.domain is None and f.label is None for f in result.files)
    assert "listed twice" in reasons(result)[str(tmp_path / "one/photo.jpg")]
    assert "unsupported" in reasons(result)[str(tmp_path / "doc.pdf")]


def test_clashes_across_sources_are_numbered(tmp_path: Path, extract_dir: Path) -> None:
    first = write_files(tmp_path / "a", ["cat.png"])
    second = write_files(tmp_path / "b", ["cat.png"])
    result = scan_sources([first, second], extract_dir)
    assert [f.rel_path for f in result.files] == ["cat.png", "cat (2).png"]
    assert result.files[1].path == (second / "cat.png").resolve()


# --- zips ----------------------------------------------------------------------------------------


def test_zip_with_wrapper_folder(tmp_path: Path, extract_dir: Path) -> None:
    archive = make_zip(
        tmp_path / "OfficeHome.zip",
        {
            "OfficeHome/Art/Alarm/1.jpg": png_bytes(),
            "OfficeHome/Art/Alarm/1.txt": b"a sidecar prompt",
            "OfficeHome/Clipart/Bike/2.png": png_bytes("blue"),
            "__MACOSX/OfficeHome/Art/Alarm/._1.jpg": b"junk",
        },
    )
    result = scan_sources([archive], extract_dir)
    assert labels(result) == {
        "Art/Alarm/1.jpg": ("Art", "Alarm", "folder"),
        "Clipart/Bike/2.png": ("Clipart", "Bike", "folder"),
    }
    assert result.rejected == []
    first = by_rel(result)["Art/Alarm/1.jpg"]
    assert first.path == extract_dir / "OfficeHome" / "Art/Alarm/1.jpg"
    assert first.path.read_bytes() == png_bytes()
    assert (first.path.parent / "1.txt").read_text() == "a sidecar prompt"


def test_domainnet_zip_keeps_its_domain_folder(tmp_path: Path, extract_dir: Path) -> None:
    archive = make_zip(
        tmp_path / "clipart.zip",
        {"clipart/aircraft/1.jpg": png_bytes(), "clipart/bee/2.jpg": png_bytes()},
    )
    assert labels(scan_sources([archive], extract_dir)) == {
        "clipart/aircraft/1.jpg": ("clipart", "aircraft", "folder"),
        "clipart/bee/2.jpg": ("clipart", "bee", "folder"),
    }


def test_zip_wrapper_unicode_names_and_manifest(tmp_path: Path, extract_dir: Path) -> None:
    entries = {
        "data/Art/Réveil/🐱 1.png": png_bytes(),
        "data/Art/Réveil/🐱 2.png": png_bytes(),
        "data/manifest.csv": "path,domain,class\nArt/Réveil/🐱 1.png,art,alarm\n".encode(),
        "data/readme.md": b"hello",
        "data/notes.docx": b"hello",
    }
    result = scan_sources([make_zip(tmp_path / "set.zip", entries)], extract_dir)
    assert labels(result) == {
        "Art/Réveil/🐱 1.png": ("art", "alarm", "manifest"),
        "Art/Réveil/🐱 2.png": ("Art", "Réveil", "folder"),
    }
    assert "set.zip/data/readme.md" not in reasons(result)  # READMEs are expected: ignored quietly
    assert "unsupported file type .docx" in reasons(result)["set.zip/data/notes.docx"]


def test_zip_manifest_beside_the_wrapper_keeps_it(tmp_path: Path, extract_dir: Path) -> None:
    entries = {
        "data/Art/Alarm/1.png": png_bytes(),
        "manifest.csv": b"path,domain,class\ndata/Art/Alarm/1.png,art,clock\n",
    }
    file = scan_sources([make_zip(tmp_path / "set.zip", entries)], extract_dir).files[0]
    assert (file.rel_path, file.domain, file.label) == ("data/Art/Alarm/1.png", "art", "clock")


def test_zip_root_manifest(tmp_path: Path, extract_dir: Path) -> None:
    entries = {
        "Art/Alarm/1.png": png_bytes(),
        "labels.csv": b"path,domain,class,caption\nArt/Alarm/1.png,art,clock,a clock\n",
    }
    file = scan_sources([make_zip(tmp_path / "set.zip", entries)], extract_dir).files[0]
    assert (file.domain, file.label, file.label_source, file.caption) == (
        "art",
        "clock",
        "manifest",
        "a clock",
    )


def test_zip_slip_and_symlink_entries(tmp_path: Path, extract_dir: Path) -> None:
    archive = tmp_path / "evil.zip"
    unsafe = ["../evil.png", "/abs.png", "C:/win.png", "a\\..\\..\\back.png", "ok/../../x.png"]
    with zipfile.ZipFile(archive, "w") as zf:
        for name in unsafe:
            zf.writestr(name, png_bytes())
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "../../../../etc/passwd")
        zf.writestr("fine.png", png_bytes())
    before = all_files(tmp_path)
    result = scan_sources([archive], extract_dir)
    assert [f.rel_path for f in result.files] == ["fine.png"]
    rejected = reasons(result)
    for name in ["../evil.png", "/abs.png", "C:/win.png", "a/../../back.png", "ok/../../x.png"]:
        assert "unsafe path" in rejected[f"evil.zip/{name}"]
    assert rejected["evil.zip/link.png"] == "symlink entry skipped"
    new = all_files(tmp_path) - before
    assert new and all(path.is_relative_to(extract_dir) for path in new)
    assert not any(path.is_symlink() for path in new)


def test_zip_bomb_by_ratio_is_refused(tmp_path: Path, extract_dir: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"big.bmp": bytes(8 * 2**20), "a.png": png_bytes()})
    assert archive.stat().st_size < 100_000
    with pytest.raises(SourceError, match=r"bomb\.zip.*compressed \d+:1.*max_ratio"):
        scan_sources([archive], extract_dir)
    assert list(extract_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (ArchiveLimits(max_members=3), "more than 3 entries.*max_members"),
        (ArchiveLimits(max_total_bytes=3000), "max_total_bytes"),
        (ArchiveLimits(max_member_bytes=1000), "entry .* unpacks to .*max_member_bytes"),
        (ArchiveLimits(max_ratio=2.0, ratio_min_bytes=100), "max_ratio"),
    ],
)
def test_archive_limits_refuse_the_whole_zip(
    tmp_path: Path, extract_dir: Path, limits: ArchiveLimits, message: str
) -> None:
    entries = {f"Art/Alarm/{i}.bmp": bytes(1500) for i in range(5)}
    archive = make_zip(tmp_path / "many.zip", entries)
    with pytest.raises(SourceError, match=message):
        scan_sources([archive], extract_dir, limits)
    assert list(extract_dir.iterdir()) == []


def test_lying_header_cannot_write_more_than_declared(tmp_path: Path, extract_dir: Path) -> None:
    payload = os.urandom(200_000)
    archive = make_zip(tmp_path / "liar.zip", {"a.bmp": payload, "b.png": png_bytes()}, stored=True)
    data = bytearray(archive.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, 1000)  # uncompressed size, central directory
    archive.write_bytes(bytes(data))
    result = scan_sources([archive], extract_dir)
    assert [f.rel_path for f in result.files] == ["b.png"]
    assert "cannot extract" in reasons(result)["liar.zip/a.bmp"]
    assert all(path.stat().st_size <= 1000 for path in all_files(extract_dir))


def test_real_bytes_are_counted_while_extracting(
    tmp_path: Path, extract_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_zip(tmp_path / "liar.zip", {"a.bmp": bytes(1000)})
    real_open = zipfile.ZipFile.open

    def lying_open(self: zipfile.ZipFile, name: object, *args: object, **kw: object) -> object:
        real_open(self, name, *args, **kw).close()
        return io.BytesIO(bytes(5 * 2**20))  # a reader that yields more than declared

    monkeypatch.setattr(zipfile.ZipFile, "open", lying_open)
    with pytest.raises(SourceError, match="more than the 1000 bytes"):
        scan_sources([archive], extract_dir)
    assert list(extract_dir.iterdir()) == []


def test_nested_zips_one_level_deep(tmp_path: Path, extract_dir: Path) -> None:
    clipart = zip_bytes({"clipart/aircraft/1.png": png_bytes()})
    deeper = zip_bytes({"x.png": png_bytes()})
    sketch = zip_bytes({"aircraft/2.png": png_bytes(), "deeper.zip": deeper})
    archive = make_zip(
        tmp_path / "outer.zip",
        {"clipart.zip": clipart, "sketch.zip": sketch, "broken.zip": b"not a zip at all"},
    )
    result = scan_sources([archive], extract_dir)
    assert labels(result) == {
        "clipart/aircraft/1.png": ("clipart", "aircraft", "folder"),
        "sketch/aircraft/2.png": ("sketch", "aircraft", "folder"),
    }
    rejected = reasons(result)
    assert "only one level" in rejected["outer.zip/sketch.zip/deeper.zip"]
    assert "nested archive" in rejected["outer.zip/broken.zip"]
    assert not any(path.suffix == ".zip" for path in all_files(extract_dir))


def test_nested_zip_counts_against_the_limits(tmp_path: Path, extract_dir: Path) -> None:
    inner = zip_bytes({f"{i}.png": png_bytes() for i in range(10)})
    archive = make_zip(tmp_path / "outer.zip", {"inner.zip": inner})
    with pytest.raises(SourceError, match="max_members"):
        scan_sources([archive], extract_dir, ArchiveLimits(max_members=5))


@pytest.mark.parametrize("content", [b"this is not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_corrupt_zip(tmp_path: Path, extract_dir: Path, content: bytes) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(content)
    with pytest.raises(SourceError, match="bad.zip: not a valid zip file.*re-download"):
        scan_sources([archive], extract_dir)


def test_truncated_zip(tmp_path: Path, extract_dir: Path) -> None:
    whole = zip_bytes({f"{i}.png": png_bytes() for i in range(3)})
    archive = tmp_path / "cut.zip"
    archive.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SourceError, match="not a valid zip"):
        scan_sources([archive], extract_dir)


def test_rescanning_the_same_zip_reuses_its_folder(tmp_path: Path, extract_dir: Path) -> None:
    archive = make_zip(tmp_path / "set.zip", {"a.png": png_bytes()})
    first = scan_sources([archive], extract_dir).files
    again = scan_sources([archive], extract_dir).files
    assert [f.path for f in again] == [f.path for f in first] == [extract_dir / "set/a.png"]
    assert sorted(p.name for p in extract_dir.iterdir()) == ["set"]


def test_another_zip_of_the_same_name_never_replaces_files(
    tmp_path: Path, extract_dir: Path
) -> None:
    archive = make_zip(tmp_path / "set.zip", {"a.png": png_bytes("red")})
    scan_sources([archive], extract_dir)
    make_zip(archive, {"a.png": png_bytes("blue"), "b.png": png_bytes()})
    result = scan_sources([archive], extract_dir)
    assert [f.path.relative_to(extract_dir).as_posix() for f in result.files] == [
        "set-2/a.png",
        "set-2/b.png",
    ]
    assert (extract_dir / "set/a.png").read_bytes() == png_bytes("red")


def test_stale_partial_extraction_is_cleaned(tmp_path: Path, extract_dir: Path) -> None:
    write_files(extract_dir / ".set.k1lled.partial", ["half.png"])
    archive = make_zip(tmp_path / "set.zip", {"a.png": png_bytes()})
    scan_sources([archive], extract_dir)
    assert sorted(p.name for p in extract_dir.iterdir()) == ["set"]


def test_two_zips_with_one_stem(tmp_path: Path, extract_dir: Path) -> None:
    first = make_zip(write_files(tmp_path, []) / "set.zip", {"a.png": png_bytes("red")})
    (tmp_path / "other").mkdir()
    second = make_zip(tmp_path / "other" / "set.zip", {"a.png": png_bytes("blue")})
    result = scan_sources([first, second], extract_dir)
    assert [f.rel_path for f in result.files] == ["a.png", "a (2).png"]
    assert [f.path.parent.name for f in result.files] == ["set", "set-2"]
    assert result.files[1].path.read_bytes() == png_bytes("blue")


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("a.png", (None, None, None)),
        ("Art/a.png", ("Art", None, None)),
        ("Art/Alarm/a.png", ("Art", "Alarm", "folder")),
        ("Art/Alarm/deep/a.png", ("Art", "Alarm", "folder")),
    ],
)
def test_layout_labels(rel: str, expected: tuple[str | None, str | None, str | None]) -> None:
    assert layout_labels(rel) == expected
