"""Generation metadata hidden in the least significant bits of the pixels ("stealth pnginfo"):
NovelAI writes it into the alpha channel of every image, the sd-webui-stealth-pnginfo extension
and Forge's "stealth infotext" write it too, so that the prompt survives sites that strip PNG
text chunks.

Format (NovelAI/novelai-image-metadata ``nai_meta.py``; ashen-sensored/sd_webui_stealth_pnginfo
``stealth_pnginfo.py``): the pixels are read column by column (x outer, y inner); each gives one
bit, its alpha's lowest bit (``stealth_png*`` signatures), or three, the lowest bits of red, green
and blue (``stealth_rgb*``). The bits make bytes: a 15-byte signature, a 32-bit big-endian payload
length in BITS, then the payload. ``stealth_pnginfo`` / ``stealth_rgbinfo``: plain UTF-8;
``stealth_pngcomp`` / ``stealth_rgbcomp``: gzip. NovelAI's payload is a JSON object of its text
chunks (Description, Software, Source, Comment...); A1111/Forge's is the infotext.

Only lossless formats (PNG, WebP) are read; a file without the signature costs one decode.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ALPHA_SIGNATURES = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
RGB_SIGNATURES = {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True}
SIGNATURE_BYTES = 15
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # real ones are a few KiB; also bounds a gzip bomb
MAX_PIXELS = 64 * 1024 * 1024
FORMATS = ("PNG", "WEBP")


@dataclass
class StealthText:
    """The hidden text and where it was: ``signature`` (``stealth_pngcomp``...)."""

    signature: str
    text: str


class StealthError(ValueError):
    """A signature was found but its payload is damaged (the one-line reason)."""


def read_stealth(path: Path, max_pixels: int = MAX_PIXELS) -> StealthText | None:
    """The stealth text of the image at ``path``; None when there is none (or the file is not a
    lossless image). Raises :class:`StealthError` for a signature with a damaged payload."""
    import numpy as np
    from PIL import Image

    from cdir.imaging.decode import pillow_warnings_logged

    with pillow_warnings_logged(), Image.open(path, formats=FORMATS) as img:
        width, height = img.size
        if width * height > max_pixels or width * height < SIGNATURE_BYTES * 8 // 3 + 1:
            return None
        has_alpha = img.mode in ("RGBA", "LA", "RGBa", "La") or (
            img.mode == "P" and "transparency" in img.info
        )
        if img.mode not in ("RGB", "RGBA", "LA", "L", "P", "RGBa", "La"):
            return None
        pixels = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    columns = pixels.transpose(1, 0, 2)  # x outer, y inner
    if has_alpha:
        found = _read_bits(columns[..., 3].reshape(-1) & 1, ALPHA_SIGNATURES)
        if found is not None:
            return found
    return _read_bits(columns[..., :3].reshape(-1) & 1, RGB_SIGNATURES)


def _read_bits(bits: object, signatures: dict[bytes, bool]) -> StealthText | None:
    import numpy as np

    bits = np.asarray(bits, dtype=np.uint8)
    head = (SIGNATURE_BYTES + 4) * 8
    if bits.size < head:
        return None
    header = np.packbits(bits[:head]).tobytes()
    signature = header[:SIGNATURE_BYTES]
    if signature not in signatures:
        return None
    name = signature.decode("ascii")
    length_bits = int.from_bytes(header[SIGNATURE_BYTES:], "big")
    length = length_bits // 8
    if length_bits % 8 or length == 0 or length > MAX_PAYLOAD_BYTES:
        raise StealthError(
            f"{name}: payload length {length_bits} bits is not a byte count or too large (not read)"
        )
    if head + length * 8 > bits.size:
        raise StealthError(
            f"{name}: payload of {length} bytes runs past the image's pixels (not read)"
        )
    payload = np.packbits(bits[head : head + length * 8]).tobytes()
    if signatures[signature]:
        payload = _gunzip(payload, name)
    try:
        return StealthText(name, payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StealthError(f"{name}: payload is not UTF-8 (not read)") from exc


def _gunzip(data: bytes, name: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise StealthError(f"{name}: payload is not gzip data (not read)") from exc
    if inflater.unconsumed_tail:
        raise StealthError(f"{name}: payload inflates past {MAX_PAYLOAD_BYTES} bytes (not read)")
    return out


def stealth_fields(found: StealthText) -> dict[str, str]:
    """The texts a stealth payload stands for, keyed as the PNG chunks they replace: NovelAI's
    JSON object of chunks as is (a non-text value as JSON), anything else as ``parameters``
    (A1111/Forge infotext)."""
    text = found.text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and any(
            k in data for k in ("Comment", "Description", "Software", "prompt")
        ):
            if "uc" in data and "Comment" not in data:  # NovelAI's Comment object itself
                return {"Comment": text, "Software": "NovelAI"}
            return {
                str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in data.items()
                if v is not None
            }
    return {"parameters": found.text}
