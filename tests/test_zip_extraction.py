"""Zip extraction called directly (``cdir.ingest.archives``): the copy-time escape check, which
no archive entry can reach on its own (names with ``..`` and symlink entries are refused when
planned), stops a write through a symlink already present in the extraction folder; and
``extract_zip`` writes exactly the planned files under the folder it is given."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from archives import make_zip

from cdir.ingest.archives import ArchiveLimits, extract_archive, extract_zip
from cdir.ingest.source_files import SourceError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)  # content is never decoded here


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_a_symlink_in_the_destination_cannot_lead_a_write_outside(tmp_path: Path) -> None:
    outside, dest = tmp_path / "outside", tmp_path / "dest"
    outside.mkdir()
    dest.mkdir()
    (dest / "cats").symlink_to(outside, target_is_directory=True)
    archive = make_zip(tmp_path / "pets.zip", {"cats/a.png": PNG, "dogs/b.png": PNG})
    with pytest.raises(SourceError, match=r"refusing pets\.zip: entry pets\.zip/cats/a\.png "
                                          r"escapes the folder"):
        extract_zip(archive, dest, ArchiveLimits(), [])
    assert list(outside.iterdir()) == []


def test_a_symlinked_wrapper_inside_the_destination_is_refused_too(tmp_path: Path) -> None:
    outside, dest = tmp_path / "outside", tmp_path / "dest"
    (outside / "deep").mkdir(parents=True)
    (dest / "a" / "b").mkdir(parents=True)
    (dest / "a" / "b" / "c").symlink_to(outside / "deep", target_is_directory=True)
    archive = make_zip(tmp_path / "x.zip", {"a/b/c/d/e.png": PNG, "a/f.png": PNG})
    with pytest.raises(SourceError, match="escapes the folder"):
        extract_zip(archive, dest, ArchiveLimits(), [])
    assert tree(outside) == {"deep"}


def test_extract_zip_writes_the_planned_files_and_reports_the_rest(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "set.zip", {
        "set/photo/cat/1.png": PNG, "set/photo/cat/notes.exe": b"hi", "set/../up.png": PNG,
        "set/.DS_Store": b"junk", "set/photo/cat/dup.png": PNG},
        links={"set/photo/cat/link.png": "../../../etc/passwd"})
    rejected: list[tuple[str, str]] = []
    written = extract_zip(archive, tmp_path / "out", ArchiveLimits(), rejected)
    assert sorted(written) == ["photo/cat/1.png", "photo/cat/dup.png"]  # wrapper "set" dropped
    assert tree(tmp_path / "out") == {"photo", "photo/cat", "photo/cat/1.png",
                                      "photo/cat/dup.png"}
    assert (tmp_path / "out/photo/cat/1.png").read_bytes() == PNG
    reasons = dict(rejected)
    assert reasons["set.zip/set/photo/cat/link.png"] == "symlink entry skipped"
    assert "unsafe path" in reasons["set.zip/set/../up.png"]
    assert reasons["set.zip/set/photo/cat/notes.exe"].startswith("unsupported file type .exe")
    assert not any(".DS_Store" in name for name in reasons)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "photo").mkdir(parents=True)
    (dest / "photo" / "1.png").write_bytes(b"mine")
    rejected: list[tuple[str, str]] = []
    archive = make_zip(tmp_path / "p.zip", {"photo/1.png": PNG, "sketch/2.png": PNG})
    assert extract_zip(archive, dest, ArchiveLimits(), rejected) == ["sketch/2.png"]
    assert (dest / "photo" / "1.png").read_bytes() == b"mine"
    assert len(rejected) == 1 and rejected[0][0] == "p.zip/photo/1.png"
    assert rejected[0][1].startswith("cannot extract: ")


def test_extract_archive_reuses_only_the_same_archive(tmp_path: Path) -> None:
    a = make_zip(tmp_path / "one" / "pics.zip", {"1.png": PNG})
    b = make_zip(tmp_path / "two" / "pics.zip", {"1.png": PNG + b"other"})
    out = tmp_path / "extracted"
    first, rels = extract_archive(a, out, ArchiveLimits(), set(), [])
    again, _ = extract_archive(a, out, ArchiveLimits(), set(), [])
    other, _ = extract_archive(b, out, ArchiveLimits(), set(), [])
    assert (first.name, again.name, other.name, rels) == ("pics", "pics", "pics-2", ["1.png"])
    assert (first / "1.png").read_bytes() == PNG and (other / "1.png").read_bytes() != PNG
    assert sorted(p.name for p in out.iterdir()) == ["pics", "pics-2"]  # no partial left


def test_a_name_taken_in_this_scan_goes_to_the_next_folder(tmp_path: Path) -> None:
    a = make_zip(tmp_path / "pics.zip", {"1.png": PNG})
    target, _ = extract_archive(a, tmp_path / "x", ArchiveLimits(), {"pics", "pics-2"}, [])
    assert target.name == "pics-3"


def test_utf8_names_without_the_utf8_flag_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "u.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("café/é.png")
        zf.writestr(info, PNG)
    # clear the UTF-8 flag in the local and central headers, as some zip tools leave it
    raw = path.read_bytes().replace(b"\x00\x08", b"\x00\x00", 2)
    (tmp_path / "raw.zip").write_bytes(raw)
    with zipfile.ZipFile(tmp_path / "raw.zip") as zf:
        assert not zf.infolist()[0].flag_bits & 0x800
        assert zf.infolist()[0].filename != "café/é.png"  # cp437 mojibake
    written = extract_zip(tmp_path / "raw.zip", tmp_path / "out", ArchiveLimits(), [])
    assert written == ["é.png"]  # decoded as UTF-8; the single wrapper folder dropped
