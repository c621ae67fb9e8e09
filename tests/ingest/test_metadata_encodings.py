"""Kind 1: text encodings in every metadata source, with inputs built here (other languages,
both UTF-16 byte orders, legacy code pages, XMP language alternatives, zTXt, broken text)."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.metadata.extract import extract_metadata
from cdir.ingest.metadata.text_encodings import (
    TextDecodeError,
    decode_sidecar,
    decode_user_comment,
    decode_utf16,
)

EXIF_IFD, USER_COMMENT = 0x8769, 0x9286
IMAGE_DESCRIPTION, ARTIST, XP_TITLE, XP_COMMENT = 0x010E, 0x013B, 0x9C9B, 0x9C9C
JAPANESE = "夕暮れの岩だらけの海岸に立つ赤い灯台、油絵"
RUSSIAN = "красный маяк на скалистом берегу в сумерках, масляная живопись"
GERMAN = "ein roter Leuchtturm an der Küste, Ölgemälde, Dämmerung"
CHINESE = "黄昏时分岩石海岸上的红色灯塔，油画"
TEXTS = [JAPANESE, RUSSIAN, GERMAN, CHINESE, "a plain ascii prompt"]


def jpeg(
    tmp_path: Path, exif: Image.Exif | None = None, name: str = "x.jpg", **options: object
) -> Path:
    path = tmp_path / name
    if exif is not None:
        options["exif"] = exif
    Image.new("RGB", (8, 8), "white").save(path, "JPEG", **options)
    return path


def with_comment(raw: bytes, byte_order: str = "<") -> bytes:
    """APP1 EXIF bytes holding UserComment ``raw``, in a TIFF header of ``byte_order``: IFD0 with
    the Exif IFD pointer, the Exif IFD with one UNDEFINED entry."""
    e = byte_order
    head = (b"II*\x00" if e == "<" else b"MM\x00*") + struct.pack(e + "I", 8)
    ifd0 = struct.pack(e + "H", 1) + struct.pack(e + "HHII", EXIF_IFD, 4, 1, 26) + b"\x00" * 4
    exif_ifd = (
        struct.pack(e + "H", 1)
        + struct.pack(e + "HHII", USER_COMMENT, 7, len(raw), 44)
        + b"\x00" * 4
    )
    return b"Exif\x00\x00" + head + ifd0 + exif_ifd + raw


# --- EXIF UserComment ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_user_comment_unicode_either_byte_order_in_either_tiff_order(
    tmp_path: Path, text: str, order: str, encoding: str
) -> None:
    raw = b"UNICODE\x00" + text.encode(encoding)
    path = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=with_comment(raw, order))
    meta = extract_metadata(path)
    assert meta.prompt == text and not meta.issues


@pytest.mark.parametrize("bom_encoding", ["utf-16"])
def test_user_comment_bom_decides(bom_encoding: str) -> None:
    raw = b"UNICODE\x00" + "\ufeff".encode("utf-16-be") + RUSSIAN.encode("utf-16-be")
    assert decode_user_comment(raw, "<") == RUSSIAN  # the BOM wins over the TIFF order


def test_utf16_tie_falls_back_to_the_tiff_byte_order() -> None:
    """ "кот" or "㨄㸄䈄": both readings are clean, neither is ASCII, charset-normalizer ties;
    only the TIFF header's byte order decides (an ASCII text would be decided earlier)."""
    for encoding, order in (("utf-16-le", "<"), ("utf-16-be", ">")):
        body = "кот".encode(encoding)
        assert decode_utf16(body, order, "t") == "кот"
    assert decode_utf16("кот".encode("utf-16-le"), None, "t") == "㨄㸄䈄"  # no order: BE


@pytest.mark.parametrize("text", [GERMAN, RUSSIAN, JAPANESE])
def test_user_comment_ascii_header_holding_utf8(text: str) -> None:
    assert decode_user_comment(b"ASCII\x00\x00\x00" + text.encode("utf-8")) == text


def test_user_comment_undefined_header_legacy_code_page() -> None:
    raw = b"\x00" * 8 + RUSSIAN.encode("cp1251")
    assert decode_user_comment(raw) == RUSSIAN


@pytest.mark.parametrize("encoding", ["shift_jis", "euc_jp", "iso2022_jp"])
def test_user_comment_jis(encoding: str) -> None:
    assert decode_user_comment(b"JIS\x00\x00\x00\x00\x00" + JAPANESE.encode(encoding)) == JAPANESE


def test_user_comment_that_does_not_decode_is_reported_not_stored(tmp_path: Path) -> None:
    raw = b"UNICODE\x00" + b"\xdc\xdc\xdc\xdc"  # lone surrogates in either byte order
    path = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=with_comment(raw))
    meta = extract_metadata(path)
    assert meta.prompt is None
    assert meta.issues and "EXIF UserComment" in meta.issues[0]
    assert "/" not in meta.fields()["metadata_issue"]  # no path in the reason


# --- EXIF ASCII fields and Windows XP tags --------------------------------------------------------
@pytest.mark.parametrize("text", [GERMAN, RUSSIAN, JAPANESE])
def test_image_description_holding_utf8(tmp_path: Path, text: str) -> None:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = text.encode("utf-8")
    assert extract_metadata(jpeg(tmp_path, exif)).prompt == text


def test_image_description_in_latin1(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = GERMAN.encode("cp1252")
    assert extract_metadata(jpeg(tmp_path, exif)).prompt == GERMAN


@pytest.mark.parametrize("tag", [XP_COMMENT, XP_TITLE])
@pytest.mark.parametrize("text", [JAPANESE, RUSSIAN])
def test_xp_tags_utf16le(tmp_path: Path, tag: int, text: str) -> None:
    exif = Image.Exif()
    exif[tag] = text.encode("utf-16-le") + b"\x00\x00"
    meta = extract_metadata(jpeg(tmp_path, exif))
    assert meta.prompt == text and "\x00" not in meta.prompt


# --- XMP -----------------------------------------------------------------------------------------
def xmp(body: str) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:exif="http://ns.adobe.com/exif/1.0/">{body}</rdf:Description></rdf:RDF>'
        '</x:xmpmeta><?xpacket end="w"?>'
    )


def test_xmp_language_alternative_prefers_x_default(tmp_path: Path) -> None:
    packet = xmp(
        '<dc:description><rdf:Alt><rdf:li xml:lang="ja-JP">'
        + JAPANESE
        + '</rdf:li><rdf:li xml:lang="x-default">'
        + RUSSIAN
        + "</rdf:li></rdf:Alt></dc:description>"
    )
    assert extract_metadata(jpeg(tmp_path, xmp=packet.encode("utf-8"))).prompt == RUSSIAN


def test_xmp_language_alternative_without_default_takes_the_first(tmp_path: Path) -> None:
    packet = xmp(
        '<dc:title><rdf:Alt><rdf:li xml:lang="ja">'
        + JAPANESE
        + '</rdf:li><rdf:li xml:lang="de">'
        + GERMAN
        + "</rdf:li></rdf:Alt></dc:title>"
    )
    assert extract_metadata(jpeg(tmp_path, xmp=packet.encode("utf-8"))).prompt == JAPANESE


def test_xmp_exif_user_comment_in_webp(tmp_path: Path) -> None:
    packet = xmp(
        '<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">'
        + CHINESE
        + "</rdf:li></rdf:Alt></exif:UserComment>"
    )
    path = tmp_path / "x.webp"
    Image.new("RGB", (8, 8)).save(path, "WEBP", xmp=packet.encode("utf-8"))
    assert extract_metadata(path).prompt == CHINESE


def test_xmp_packet_in_utf16(tmp_path: Path) -> None:
    packet = xmp(f"<dc:description>{GERMAN}</dc:description>")
    info = PngInfo()
    path = tmp_path / "x.tif"
    Image.new("RGB", (8, 8)).save(path, "TIFF", tiffinfo={700: packet.encode("utf-16-le")})
    del info
    assert extract_metadata(path).prompt == GERMAN


# --- PNG text chunks -----------------------------------------------------------------------------
def png_bytes(*chunks: tuple[bytes, bytes], after_idat: bool = False) -> bytes:
    buf = BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buf, "PNG")
    png = buf.getvalue()
    at = png.rindex(b"IEND") - 4 if after_idat else 33  # after IHDR
    extra = b"".join(
        struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks
    )
    return png[:at] + extra + png[at:]


def test_png_text_latin1(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"tEXt", b"Description\x00" + GERMAN.encode("latin-1"))))
    assert extract_metadata(path).prompt == GERMAN


def test_png_text_holding_utf8_is_not_stored_as_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"tEXt", b"Description\x00" + RUSSIAN.encode("utf-8"))))
    assert extract_metadata(path).prompt == RUSSIAN


@pytest.mark.parametrize("after_idat", [False, True])
def test_png_ztxt_and_itxt(tmp_path: Path, after_idat: bool) -> None:
    ztxt = b"Title\x00\x00" + zlib.compress(GERMAN.encode("latin-1"))
    itxt = b"Description\x00\x01\x00ja\x00\x00" + zlib.compress(JAPANESE.encode("utf-8"))
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"zTXt", ztxt), (b"iTXt", itxt), after_idat=after_idat))
    assert extract_metadata(path).prompt == JAPANESE  # Description before Title


def test_png_itxt_written_by_pillow(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_itxt(
        "parameters",
        CHINESE + "\nNegative prompt: 模糊\nSteps: 20, Seed: 1, Sampler: Euler",
        zip=True,
    )
    path = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    meta = extract_metadata(path)
    assert meta.prompt == CHINESE and meta.negative_prompt == "模糊"


def test_png_itxt_with_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"iTXt", b"Description\x00\x00\x00\x00\x00\xff\xfe\xfa bad")))
    meta = extract_metadata(path)
    assert meta.prompt is None and "not valid UTF-8" in meta.issues[0]


def test_png_ztxt_bomb_is_refused(tmp_path: Path) -> None:
    from cdir.ingest.metadata import png_chunks

    bomb = b"Comment\x00\x00" + zlib.compress(b"a" * (png_chunks.MAX_TEXT_BYTES + 10))
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"zTXt", bomb)))
    meta = extract_metadata(path)
    assert meta.prompt is None and "larger than the limit" in meta.issues[0]


# --- sidecars ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32"]
)
def test_sidecar_with_byte_order_marks(tmp_path: Path, text: str, encoding: str) -> None:
    if encoding.endswith("-bom"):
        codec = encoding[:-4]
        data = "\ufeff".encode(codec) + text.encode(codec)
    else:
        data = text.encode(encoding)
    path = jpeg(tmp_path, name="img.jpg")
    (tmp_path / "img.txt").write_bytes(data)
    meta = extract_metadata(path)
    assert meta.prompt == text and not meta.issues


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (RUSSIAN, "cp1251"),
        (GERMAN, "cp1252"),
        (CHINESE + "，" + CHINESE, "gb18030"),
        ("夕暮れの岩だらけの海岸にある赤い灯台、油絵、静かな風景です。", "shift_jis"),
    ],
)
def test_caption_sidecar_in_a_legacy_code_page(tmp_path: Path, text: str, encoding: str) -> None:
    path = jpeg(tmp_path, name="img.jpg")
    (tmp_path / "img.caption").write_bytes(text.encode(encoding))
    assert extract_metadata(path).prompt == text


def test_sidecar_that_cannot_be_decoded_is_reported(tmp_path: Path) -> None:
    path = jpeg(tmp_path, name="img.jpg")
    (tmp_path / "img.txt").write_bytes(b"\xff\xfe" + b"\x00\xdc" * 3)  # lone low surrogates
    meta = extract_metadata(path)
    assert meta.prompt is None and "sidecar img.txt" in meta.issues[0]


def test_decoders_never_return_nul() -> None:
    for data in (b"abc\x00def", b"\x00\x00abc", "a\x00b".encode("utf-16-le")):
        try:
            text = decode_sidecar(data, "t")
        except TextDecodeError:
            continue
        assert "\x00" not in text


def test_prompt_already_holding_replacement_marks_is_reported_not_stored(tmp_path: Path) -> None:
    path = jpeg(tmp_path, name="img.jpg")
    (tmp_path / "img.txt").write_text("a caf\ufffd on the corner", encoding="utf-8")
    meta = extract_metadata(path)
    assert meta.prompt is None and "replacement marks" in meta.issues[0]


@pytest.mark.parametrize("text", [RUSSIAN, JAPANESE, "a ceramic teapot with blue flowers"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_sidecar_utf16_without_bom(tmp_path: Path, text: str, encoding: str) -> None:
    path = jpeg(tmp_path, name="img.jpg")
    (tmp_path / "img.jpg.txt").write_bytes(text.encode(encoding))
    assert extract_metadata(path).prompt == text


@pytest.mark.parametrize("text", [JAPANESE, RUSSIAN, "a plain ascii prompt"])
def test_user_comment_unicode_header_with_a_utf8_body(text: str) -> None:
    assert decode_user_comment(b"UNICODE\x00" + text.encode("utf-8")) == text


def test_png_text_in_windows_1252(tmp_path: Path) -> None:
    text = "\u201ca caf\u00e9\u201d \u2013 night\u2026"
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes((b"tEXt", b"Description\x00" + text.encode("cp1252"))))
    assert extract_metadata(path).prompt == text


def test_xmp_empty_default_falls_back_to_a_language_with_text(tmp_path: Path) -> None:
    packet = xmp(
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default"></rdf:li>'
        '<rdf:li xml:lang="ru">' + RUSSIAN + "</rdf:li></rdf:Alt></dc:description>"
    )
    assert extract_metadata(jpeg(tmp_path, xmp=packet.encode("utf-8"))).prompt == RUSSIAN
