"""Zip entry names from real tools: legacy code pages without the UTF-8 flag (decided for the whole
archive), 0x5C bytes inside multibyte names, Info-ZIP Unicode Path fields, nested zips' labels,
and the ingest report's note on the encoding assumed."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from cdir.ingest.source_files import ScanResult
from cdir.ingest.sources import scan_sources
from cdir.ingest.zip_names import detect_encoding
from tests.archives import zip_bytes
from tests.shared_cases import case_input


def png_bytes(colour: tuple[int, int, int] = (200, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buffer, "PNG")
    return buffer.getvalue()


def legacy_zip(
    path: Path, names: list[str], encoding: str, extra: dict[str, bytes] | None = None
) -> Path:
    """A zip whose names are ``encoding`` bytes with the UTF-8 flag (bit 11) clear, as Windows'
    own zip, old WinRAR/7-Zip and many cameras write them."""

    class LegacyInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook
            return self.filename.encode(encoding), self.flag_bits & ~0x800

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, name in enumerate(names):
            info = LegacyInfo(name)
            info.extra = (extra or {}).get(name, b"")
            archive.writestr(info, png_bytes((i * 40 % 256, 90, 120)))
    return path


def labels(result: ScanResult) -> dict[str, tuple[str | None, str | None]]:
    return {f.rel_path: (f.domain, f.label) for f in result.files}


# --- the handed cases ----------------------------------------------------------------------------


def test_case_10_cp932_names_and_a_0x5c_byte(tmp_path: Path) -> None:
    result = scan_sources([case_input("10") / "japanese.zip"], tmp_path / "x")
    assert labels(result) == {
        "写真/猫/ねこ1.png": ("写真", "猫"),
        "写真/犬/いぬ1.png": ("写真", "犬"),
        "スケッチ/猫/ねこ2.png": ("スケッチ", "猫"),
        "写真/猫/表紙.png": ("写真", "猫"),  # 表 = 95 5C: not a folder separator
    }
    assert result.notes == ["names in japanese.zip read as cp932"]
    assert result.rejected == []


def test_case_09_macos_zip_skips_resource_forks(tmp_path: Path) -> None:
    result = scan_sources([case_input("09") / "photos.zip"], tmp_path / "x")
    assert labels(result) == {
        "sketch/cat/c1.png": ("sketch", "cat"),
        "sketch/dog/d1.png": ("sketch", "dog"),
        "photo/cat/c2.png": ("photo", "cat"),
    }
    assert result.rejected == [] and result.notes == []


# --- other code pages ----------------------------------------------------------------------------

LAYOUTS = {
    "gbk": ["照片/猫/小猫1.png", "照片/狗/小狗.png", "素描/猫/猫咪.png"],
    "cp1251": ["Фото/Кошки/кошка1.png", "Фото/Собаки/собака.png", "Эскиз/Кошки/рисунок.png"],
    "cp866": ["Фото/Кошки/кошка1.png", "Фото/Собаки/собака.png", "Эскиз/Кошки/рисунок.png"],
    "cp437": ["Bücher/Übersicht/Größe.png", "Fotos/Hunde/Mädchen.png", "Fotos/Katzen/Kätzchen.png"],
    "big5": ["照片/許功蓋/小貓1.png", "照片/狗/許可.png"],  # 許 功 蓋 all end in a 0x5C byte
    "cp949": ["사진/고양이/고양이1.png", "사진/개/강아지.png"],
    "cp852": ["Zdjęcia/Koty/kotek łaciaty.png", "Szkice/Psy/pies.png"],
    "cp737": ["Φωτογραφίες/Γάτες/γάτα.png", "Σκίτσα/Σκύλοι/σκύλος.png"],
}
# What the note names the code page (GBK names are read with its superset GB18030).
NOTE_NAME = {"gbk": "gb18030"}


@pytest.mark.parametrize("encoding", sorted(LAYOUTS))
def test_legacy_code_pages_give_the_folder_labels(tmp_path: Path, encoding: str) -> None:
    names = LAYOUTS[encoding]
    result = scan_sources([legacy_zip(tmp_path / "set.zip", names, encoding)], tmp_path / "x")
    assert sorted(labels(result)) == sorted(names)
    for name in names:
        domain, label = name.split("/")[:2]
        assert labels(result)[name] == (domain, label)
    assert result.notes == [f"names in set.zip read as {NOTE_NAME.get(encoding, encoding)}"]


@pytest.mark.parametrize(
    ("names", "encoding"),
    [
        ([b"plain/ascii.png"], "utf-8"),
        (["Été/Noël/café.png".encode()], "utf-8"),  # UTF-8 without the flag (macOS, Linux)
        (["Fotos/Hunde/Mädchen.png".encode("cp437")], "cp437"),  # one short name suffices
        (["Übung/Straße/Öl.png".encode("cp437")], "cp437"),
        (["Фото/1.jpg".encode("cp866")], "cp866"),
        (["Фото/Кошки/1.png".encode("cp1251")], "cp1251"),
        (["风景/山水/黄山日出.jpg".encode("gbk")], "gb18030"),
        (["表紙.png".encode("cp932")], "cp932"),
    ],
)
def test_detect_encoding(names: list[bytes], encoding: str) -> None:
    assert detect_encoding(names) == encoding


def test_the_whole_archive_is_read_with_one_code_page(tmp_path: Path) -> None:
    """A name alone could be read several ways; the archive's other names decide."""
    names = ["写真/猫/表紙.png", "写真/猫/ねこ.png", "写真/犬/ソファ.png"]  # ソ = 83 5C
    result = scan_sources([legacy_zip(tmp_path / "j.zip", names, "cp932")], tmp_path / "x")
    assert sorted(labels(result)) == sorted(names)


def test_backslash_separators_of_windows_tools(tmp_path: Path) -> None:
    names = ["Fotos\\Katzen\\Größe.png", "Fotos\\Hunde\\a.png"]
    result = scan_sources([legacy_zip(tmp_path / "w.zip", names, "cp437")], tmp_path / "x")
    assert labels(result) == {
        "Fotos/Katzen/Größe.png": ("Fotos", "Katzen"),
        "Fotos/Hunde/a.png": ("Fotos", "Hunde"),
    }


def test_unicode_path_extra_field_wins(tmp_path: Path) -> None:
    """7-Zip and WinRAR add the UTF-8 name in an Info-ZIP Unicode Path field (0x7075)."""
    shown = "Фото/Кошки/1.png"
    stored = shown.encode("cp866")
    body = b"\x01" + struct.pack("<I", zlib.crc32(stored)) + shown.encode()
    extra = {shown: struct.pack("<HH", 0x7075, len(body)) + body}
    result = scan_sources([legacy_zip(tmp_path / "u.zip", [shown], "cp866", extra)], tmp_path / "x")
    assert labels(result) == {shown: ("Фото", "Кошки")}
    assert result.notes == []  # no name needed guessing


def test_flagged_utf8_names_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "utf8.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("写真/猫/表紙.png", png_bytes())  # zipfile sets the UTF-8 flag
    result = scan_sources([path], tmp_path / "x")
    assert labels(result) == {"写真/猫/表紙.png": ("写真", "猫")} and result.notes == []


# --- nested zips ---------------------------------------------------------------------------------


def make_outer(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_nested_zip_labels_come_from_its_own_layout(tmp_path: Path) -> None:
    inner = zip_bytes({"photo/car/a.png": png_bytes(), "sketch/car/b.png": png_bytes()})
    outer = make_outer(tmp_path / "outer.zip", {"inner.zip": inner})
    assert labels(scan_sources([outer], tmp_path / "x")) == {
        "photo/car/a.png": ("photo", "car"),
        "sketch/car/b.png": ("sketch", "car"),
    }


def test_nested_zip_under_a_wrapper_folder(tmp_path: Path) -> None:
    inner = zip_bytes({"Dataset/photo/car/a.png": png_bytes()})
    outer = make_outer(tmp_path / "outer.zip", {"outer/inner.zip": inner})
    assert labels(scan_sources([outer], tmp_path / "x")) == {"photo/car/a.png": ("photo", "car")}


def test_nested_zips_with_the_same_layout_keep_every_image(tmp_path: Path) -> None:
    first = zip_bytes({"photo/car/a.png": png_bytes((1, 2, 3))})
    second = zip_bytes({"photo/car/a.png": png_bytes((4, 5, 6))})
    outer = make_outer(tmp_path / "outer.zip", {"one.zip": first, "two.zip": second})
    result = scan_sources([outer], tmp_path / "x")
    assert labels(result) == {
        "photo/car/a.png": ("photo", "car"),
        "photo/car/a (2).png": ("photo", "car"),
    }
    assert result.rejected == []


def test_per_domain_nested_zips_use_their_name_as_domain(tmp_path: Path) -> None:
    """DomainNet ships one zip per domain: ``sketch.zip: aircraft/1.png``."""
    outer = make_outer(
        tmp_path / "domainnet.zip",
        {
            "sketch.zip": zip_bytes({"aircraft/1.png": png_bytes()}),
            "clipart.zip": zip_bytes({"clipart/aircraft/2.png": png_bytes()}),
        },
    )
    assert labels(scan_sources([outer], tmp_path / "x")) == {
        "sketch/aircraft/1.png": ("sketch", "aircraft"),
        "clipart/aircraft/2.png": ("clipart", "aircraft"),
    }


def test_nested_zip_with_legacy_names_is_noted(tmp_path: Path) -> None:
    inner_path = legacy_zip(tmp_path / "inner.zip", LAYOUTS["cp1251"], "cp1251")
    outer = make_outer(tmp_path / "outer.zip", {"inner.zip": inner_path.read_bytes()})
    result = scan_sources([outer], tmp_path / "x")
    assert sorted(labels(result)) == sorted(LAYOUTS["cp1251"])
    assert result.notes == ["names in outer.zip/inner.zip read as cp1251"]


# --- through ingest ------------------------------------------------------------------------------


def test_ingest_report_names_the_assumed_code_page(tmp_path: Path) -> None:
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models
    from cdir.store.collection import Store

    archive = legacy_zip(tmp_path / "gbk.zip", LAYOUTS["gbk"], "gbk")
    report = ingest(
        [archive],
        tmp_path / "store",
        load_models("tiny", device="cpu"),
        IngestConfig(captions="none", predict_domains=False),
    )
    assert report.notes == ["names in gbk.zip read as gb18030"]
    assert report.to_dict()["notes"] == report.notes  # what ingest --json prints
    items = Store.load(tmp_path / "store").items
    assert sorted(zip(items["domain"], items["class"], strict=True)) == [
        ("照片", "狗"),
        ("照片", "猫"),
        ("素描", "猫"),
    ]


# --- zips found inside a source folder (ingest) --------------------------------------------------


@pytest.mark.parametrize("case", ["09", "10"])
def test_cases_09_10_as_folders_holding_the_zip(tmp_path: Path, case: str) -> None:
    folder = case_input(case)
    result = scan_sources([folder], tmp_path / "x", zips_in_folders=True)
    expected = {
        "09": {
            "sketch/cat/c1.png": ("sketch", "cat"),
            "sketch/dog/d1.png": ("sketch", "dog"),
            "photo/cat/c2.png": ("photo", "cat"),
        },
        "10": {
            "写真/猫/ねこ1.png": ("写真", "猫"),
            "写真/犬/いぬ1.png": ("写真", "犬"),
            "スケッチ/猫/ねこ2.png": ("スケッチ", "猫"),
            "写真/猫/表紙.png": ("写真", "猫"),
        },
    }
    assert labels(result) == expected[case] and result.rejected == []


def test_zips_in_a_folder_are_labelled_from_their_layout(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sets").mkdir(parents=True)
    (folder / "loose.png").write_bytes(png_bytes())
    (folder / "sets" / "sketch.zip").write_bytes(zip_bytes({"sketch/aircraft/1.png": png_bytes()}))
    (folder / "sets" / "photos.zip").write_bytes(
        zip_bytes({"cat/3.png": png_bytes(), "dog/4.png": png_bytes()})
    )
    (folder / "sets" / "office.zip").write_bytes(zip_bytes({"Art/Alarm/2.png": png_bytes()}))
    legacy_zip(folder / "ru.zip", LAYOUTS["cp1251"][:1], "cp1251")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    result = scan_sources([folder], tmp_path / "x", zips_in_folders=True)
    assert labels(result) == {
        "loose.png": (None, None),
        "sets/sketch/aircraft/1.png": ("sketch", "aircraft"),
        "sets/photos/cat/3.png": ("photos", "cat"),  # shallow: the zip's name is the domain
        "sets/photos/dog/4.png": ("photos", "dog"),
        "sets/Art/Alarm/2.png": ("Art", "Alarm"),
        "Фото/Кошки/кошка1.png": ("Фото", "Кошки"),
    }
    assert "not a valid zip" in dict(result.rejected)["broken.zip"]
    assert result.notes == ["names in ru.zip read as cp1251"]


def test_without_the_option_a_zip_in_a_folder_is_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "set.zip").write_bytes(zip_bytes({"a/b/1.png": png_bytes()}))
    result = scan_sources([folder], folder)  # as cdir.evaluation scans a tree: nothing written
    assert result.files == [] and "add it as a source" in dict(result.rejected)["set.zip"]
    assert sorted(p.name for p in folder.iterdir()) == ["set.zip"]
