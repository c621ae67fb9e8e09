"""What a file Pillow could not identify most likely is, in words a user understands: HEIC
without pillow-heif, AVIF without Pillow's AVIF support, a video, a PDF, a zip archive, text, SVG.
:func:`cdir.imaging.decode.load_rgb` raises its reason as a ``DecodeError``.
"""

from __future__ import annotations

HEIF_NEEDS = "HEIC needs pillow-heif: install it (pip install pillow-heif) or convert to JPEG"

# ISO-BMFF brands (in the "ftyp" box: the major brand, then the compatible ones).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_IMAGE_CONTAINER_BRANDS = {b"mif1", b"msf1"}


def unidentified_reason(head: bytes, heif: bool, avif: bool) -> str:
    """Say what a file Pillow could not identify most likely is; ``heif`` and ``avif``: whether
    this Pillow reads those formats."""
    if not head:
        return "empty file (0 bytes)"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        if brands & _HEIF_BRANDS:
            return HEIF_NEEDS if not heif else "corrupt HEIC: cannot read its image"
        if brands & _AVIF_BRANDS:
            if not avif:
                return "unsupported format AVIF: this Pillow lacks AVIF, convert to JPEG or PNG"
            return "corrupt AVIF: cannot read its image"
        if brands & _IMAGE_CONTAINER_BRANDS:
            return "unsupported HEIF image coding: convert to JPEG or PNG"
        return "not an image: the file is a video or other ISO media file"
    known = _known_signature(head)
    if known:
        return known
    if _looks_like_text(head):
        lowered = head.lower()
        if b"<svg" in lowered:
            return "unsupported format SVG: convert it to PNG"
        return "not an image: the file is text"
    return f"not an image: the content is not a supported format ({_format_names(heif, avif)})"


def _format_names(heif: bool, avif: bool) -> str:
    names = ["JPEG", "PNG", "WebP", "GIF", "BMP", "TIFF"]
    return ", ".join(names + ["AVIF"] * avif + ["HEIC"] * heif)


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO-BMFF ``ftyp`` box at the start of ``head``."""
    size = int.from_bytes(head[:4], "big")
    end = min(max(size, 16), len(head))
    return {head[8:12]} | {head[i : i + 4] for i in range(16, end - 3, 4)}


def _known_signature(head: bytes) -> str | None:
    signatures = {
        b"%PDF": "unsupported format PDF: export the page as PNG",
        b"8BPS": "unsupported format PSD: export it as PNG or JPEG",
        b"%!PS": "unsupported format PostScript/EPS: convert it to PNG",
        b"PK\x03\x04": "not an image: the file is a zip archive (add it as a zip source)",
    }
    for magic, reason in signatures.items():
        if head.startswith(magic):
            return reason
    if head.lstrip().lower().startswith(b"<svg"):
        return "unsupported format SVG: convert it to PNG"
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True
