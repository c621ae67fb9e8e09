"""Zip extraction called directly (``cdir.ingest.archives``): the copy-time escape check, which
no archive entry can reach on its own (names with ``..`` and symlink entries are refused when
planned), stops a write through a symlink already present in the extraction folder; and
``extract_zip`` writes exactly the planned files under the folder it is given."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cdir.ingest.archives import ArchiveLimits, extract_archive, extract_zip
from cdir.ingest.source_files import SourceError
from tests.archives import make_zip

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)  # content is never decoded here


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_a_symlink_in_the_destination_cannot_lead_a_write_outside(tmp_path: Path) -> None:
    outside, dest = tmp_path / "outside", tmp_path / "dest"
    outside.mkdir()
    dest.mkdir()
    (dest / "cats").symlink_to(outside, target_is_directory=True)
    archive = make_zip(tmp_path / "pets.zip", {"cats/a.png": PNG, "dogs/b.png": PNG})
    with pytest.raises(
        SourceError,
        match=r"refusing pets\.zip: entry pets\.zip/cats/a\.png "
        r"escapes the folder",
    ):
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
    archive = make_zip(
        tmp_path / "set.zip",
        {
            "set/photo/cat/1.png": PNG,
            "set/photo/cat/notes.exe": b"hi",
            "set/../up.png": PNG,
            "set/.DS_Store": b"junk",
            "set/photo/cat/dup.png": PNG,
        },
        links={"set/photo/cat/link.png": "../../../etc/passwd"},
    )
    rejected: list[tuple[str, str]] = []
    written = extract_zip(archive, tmp_path / "out", ArchiveLimits(), rejected)
    assert sorted(written) == ["photo/cat/1.png", "photo/cat/dup.png"]  # wrapper "set" dropped
    assert tree(tmp_path / "out") == {"photo", "photo/cat", "photo/cat/1.png", "photo/cat/dup.png"}
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


# ------------------------------------------------------------- what the mutation check asked for


def test_the_partial_folder_is_hidden_beside_its_target_and_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed extraction leaves ``.<name>.<random>.partial`` beside the target, which the next
    run removes: the partial must be named and placed so."""
    import os
    import re

    from cdir.ingest import archives

    moves: list[tuple[Path, Path]] = []
    real = os.replace

    def spy(src, dst):  # noqa: ANN001, ANN202
        moves.append((Path(src), Path(dst)))
        return real(src, dst)

    monkeypatch.setattr(archives.os, "replace", spy)
    archive = make_zip(tmp_path / "pics.zip", {"1.png": PNG})
    target, _ = extract_archive(archive, tmp_path / "x", ArchiveLimits(), set(), [])
    [(partial, dest)] = moves
    assert dest == target and partial.parent == target.parent
    assert re.fullmatch(r"\.pics\..+\.partial", partial.name), partial.name


def test_a_duplicate_entry_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.png", PNG)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("a.png", PNG + b"second")
    rejected: list[tuple[str, str]] = []
    assert extract_zip(path, tmp_path / "out", ArchiveLimits(), rejected) == ["a.png"]
    assert rejected == [("d.zip/a.png", "duplicate entry in archive: kept the first")]
    assert (tmp_path / "out" / "a.png").read_bytes() == PNG


def test_a_sidecar_beside_a_dropped_wrapper_keeps_its_name(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "set.zip", {"set/photo/cat/1.png": PNG, "notes.txt": b"hi"})
    written = extract_zip(archive, tmp_path / "out", ArchiveLimits(), [])
    assert sorted(written) == ["notes.txt", "photo/cat/1.png"]


def test_the_reasons_for_skipped_entries_in_full(tmp_path: Path) -> None:
    import io

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deeper.zip", b"PK")
        zf.writestr("b.png", PNG)
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../up.png", PNG)
        fifo = zipfile.ZipInfo("pipe.png")
        fifo.external_attr = 0o010644 << 16
        zf.writestr(fifo, b"")
        zf.writestr("inner.zip", inner.getvalue())
    rejected: list[tuple[str, str]] = []
    written = extract_zip(path, tmp_path / "out", ArchiveLimits(), rejected)
    assert written == ["inner/b.png"]
    assert dict(rejected) == {
        "r.zip/../up.png": "unsafe path in archive (absolute, drive letter or '..'): skipped",
        "r.zip/pipe.png": "special file entry skipped",
        "r.zip/inner.zip/deeper.zip": "nested archive skipped: only one level of zips is extracted",
    }


def test_sizes_in_messages() -> None:
    from cdir.ingest.archives import _size

    assert [_size(n) for n in (1023, 1024, 1536, 2**20, 3 * 2**29, 2**30)] == [
        "1023 bytes",
        "1.0 KB",
        "1.5 KB",
        "1.0 MB",
        "1.5 GB",
        "1.0 GB",
    ]


def stored_zip(path: Path, entries: dict[str, bytes]) -> Path:
    return make_zip(path, entries, stored=True)


def refusal(path: Path, limits: ArchiveLimits, dest: Path) -> str | None:
    try:
        extract_zip(path, dest, limits, [])
    except SourceError as exc:
        return str(exc)
    return None


def test_the_entry_limit_is_inclusive_and_counts_nested_entries(tmp_path: Path) -> None:
    import io

    z = stored_zip(tmp_path / "z.zip", {"a.png": PNG, "b.png": PNG, "c.png": PNG})
    assert refusal(z, ArchiveLimits(max_members=3), tmp_path / "1") is None
    assert refusal(z, ArchiveLimits(max_members=2), tmp_path / "2") == (
        "refusing archive z.zip: it has more than 2 entries; if you trust it, raise "
        "ArchiveLimits.max_members"
    )
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("x.png", PNG)
        zf.writestr("y.png", PNG)
    nested = stored_zip(tmp_path / "n.zip", {"inner.zip": inner.getvalue(), "a.png": PNG})
    assert refusal(nested, ArchiveLimits(max_members=4), tmp_path / "3") is None
    assert "more than 3 entries" in refusal(nested, ArchiveLimits(max_members=3), tmp_path / "4")


def test_the_total_size_limit_is_inclusive_and_counts_nested_entries(tmp_path: Path) -> None:
    import io

    z = stored_zip(tmp_path / "z.zip", {"a.png": bytes(10), "b.png": bytes(20)})
    assert refusal(z, ArchiveLimits(max_total_bytes=30), tmp_path / "1") is None
    assert refusal(z, ArchiveLimits(max_total_bytes=29), tmp_path / "2") == (
        "refusing archive z.zip: it unpacks to 30 bytes, above 29 bytes; if you trust it, "
        "raise ArchiveLimits.max_total_bytes"
    )
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("x.png", bytes(100))
    data = inner.getvalue()
    nested = stored_zip(tmp_path / "n.zip", {"inner.zip": data, "a.png": bytes(10)})
    total = len(data) + 10 + 100  # the inner zip, its entry and the outer entry
    assert refusal(nested, ArchiveLimits(max_total_bytes=total), tmp_path / "3") is None
    assert "unpacks to" in refusal(nested, ArchiveLimits(max_total_bytes=total - 1), tmp_path / "4")


def test_the_entry_size_limit_is_inclusive(tmp_path: Path) -> None:
    z = stored_zip(tmp_path / "z.zip", {"a.png": bytes(20)})
    assert refusal(z, ArchiveLimits(max_member_bytes=20), tmp_path / "1") is None
    assert refusal(z, ArchiveLimits(max_member_bytes=19), tmp_path / "2") == (
        "refusing archive z.zip: entry a.png unpacks to 20 bytes, above 19 bytes; if you trust "
        "it, raise ArchiveLimits.max_member_bytes"
    )


def test_the_ratio_limit_is_inclusive_and_only_for_large_entries(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "z.zip", {"a.png": bytes(100_000)})
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("a.png")
    ratio = info.file_size / info.compress_size
    at = ArchiveLimits(max_ratio=ratio, ratio_min_bytes=100_000)
    assert refusal(z, at, tmp_path / "1") is None
    above = ArchiveLimits(max_ratio=ratio - 1, ratio_min_bytes=100_000)
    assert refusal(z, above, tmp_path / "2") == (
        f"refusing archive z.zip: entry a.png is compressed {ratio:.0f}:1, above "
        f"{ratio - 1:.0f}:1 (a zip bomb?); if you trust it, raise ArchiveLimits.max_ratio"
    )
    small = ArchiveLimits(max_ratio=ratio - 1, ratio_min_bytes=100_001)
    assert refusal(z, small, tmp_path / "3") is None


def test_a_folder_of_the_same_name_that_is_not_an_extraction_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "extracted"
    (out / "pics").mkdir(parents=True)
    (out / "pics" / "mine.png").write_bytes(b"mine")
    (out / ".pics-2.old.partial").write_bytes(b"stale")  # a file left by a killed run
    archive = make_zip(tmp_path / "pics.zip", {"1.png": PNG})
    target, _ = extract_archive(archive, out, ArchiveLimits(), set(), [])
    assert target.name == "pics-2" and (out / "pics" / "mine.png").read_bytes() == b"mine"
    assert not (out / ".pics-2.old.partial").exists()


def test_one_scan_never_extracts_two_archives_into_one_folder(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "pics.zip", {"1.png": PNG})
    taken: set[str] = set()
    out = tmp_path / "new" / "nested"  # created with its parents
    first, _ = extract_archive(archive, out, ArchiveLimits(), taken, [])
    second, _ = extract_archive(archive, out, ArchiveLimits(), taken, [])
    assert (first.name, second.name) == ("pics", "pics-2")


def test_a_corrupt_zip_says_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    assert refusal(bad, ArchiveLimits(), tmp_path / "out") == (
        "cannot read bad.zip: not a valid zip file (File is not a zip file); re-download it or "
        "create it again"
    )
