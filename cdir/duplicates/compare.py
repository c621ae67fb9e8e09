"""Two members of a duplicate group side by side: what tells them apart.

For each item: its resolution (pixels), file size (bytes), file format (as Pillow reads the
file's header, not its name) and its metadata: the prompt, negative prompt and generator stored
with the collection, the generation settings (the tool's JSON, one field per key) and the EXIF
fields of the file (Pillow's ``getexif``, named by ``PIL.ExifTags.TAGS``). Fields whose values
differ between the two are flagged, so a page can highlight them. :func:`zoomed` cuts the same
centre region of two images, to look at both at one zoom.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdir.store.collection import Store

log = logging.getLogger(__name__)

MAX_ZOOM = 16.0
MAX_VALUE_CHARS = 300
_STORED = ("prompt", "negative_prompt", "generator")


@dataclass
class Side:
    """One item of a comparison."""

    id: int
    file: str  # its path inside its source (for display, never a server path)
    width: int
    height: int
    file_size: int  # bytes
    format: str  # PNG, JPEG, WEBP...; "?" when the file cannot be read
    fields: dict[str, str] = field(default_factory=dict)  # metadata field -> value


@dataclass
class Comparison:
    """Two items and their metadata fields: ``rows`` is (field, value of a, value of b,
    differs), the basic facts first, then stored metadata, settings and EXIF fields by name."""

    a: Side
    b: Side
    rows: list[tuple[str, str, str, bool]]

    @property
    def differing(self) -> list[str]:
        return [name for name, _, _, differs in self.rows if differs]


def _text(value: Any) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text[:MAX_VALUE_CHARS] if text else None


def _settings(value: Any) -> dict[str, str]:
    text = _text(value)
    if text is None:
        return {}
    try:
        data = json.loads(str(value))
    except ValueError:
        return {"settings": text}
    if not isinstance(data, dict):
        return {"settings": text}
    return {f"settings.{k}": v for k, v in ((k, _text(v)) for k, v in data.items()) if v}


def _file_facts(path: Path) -> tuple[str, dict[str, str]]:
    """(format, EXIF fields by name) of the file at ``path``; ("?", {}) when unreadable."""
    from PIL import ExifTags, Image

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            named = {
                f"exif.{ExifTags.TAGS.get(tag, tag)}": _text(value)
                for tag, value in exif.items()
                if not isinstance(value, bytes)
            }
            return str(image.format or "?"), {k: v for k, v in named.items() if v}
    except Exception as exc:  # gone, moved or not an image any more
        log.info("cannot read %s for a comparison: %s", path.name, type(exc).__name__)
        return "?", {}


def side(store: Store, item: int) -> Side:
    """The facts of item ``item`` (a table row). ValueError for an unknown id."""
    items = store.items
    if not 0 <= int(item) < len(items):
        raise ValueError(f"no item with id {item} (ids run 0..{len(items) - 1})")
    row = items.iloc[int(item)]
    fmt, exif = _file_facts(store.item_path(int(item)))
    if int(row["tile"]) >= 1:
        fmt = f"{fmt} (tile {int(row['tile'])} of a grid)"
    stored = {k: v for k, v in ((k, _text(row[k])) for k in _STORED) if v}
    return Side(
        int(item),
        str(row["rel_path"]),
        int(row["width"]),
        int(row["height"]),
        int(row["file_size"]),
        fmt,
        {**stored, **_settings(row["generation_settings"]), **exif},
    )


def compare(store: Store, a: int, b: int) -> Comparison:
    """Compare the items ``a`` and ``b`` of ``store``. ValueError for an unknown id or a == b."""
    if int(a) == int(b):
        raise ValueError("choose two different items to compare")
    left, right = side(store, a), side(store, b)
    rows: list[tuple[str, str, str, bool]] = []
    basics = (
        ("resolution", f"{left.width}×{left.height} px", f"{right.width}×{right.height} px"),
        ("file size", f"{left.file_size:,} bytes", f"{right.file_size:,} bytes"),
        ("format", left.format, right.format),
    )
    rows += [(name, x, y, x != y) for name, x, y in basics]
    names = sorted(set(left.fields) | set(right.fields), key=lambda n: (n.count("."), n))
    for name in names:
        x, y = left.fields.get(name, ""), right.fields.get(name, "")
        rows.append((name, x, y, x != y))
    return Comparison(left, right, rows)


def zoomed(image: Any, zoom: float) -> Any:
    """The centre 1/``zoom`` of a PIL ``image`` enlarged back to the image's size (zoom 1: the
    image as it is), for two images to be looked at at the same zoom; ValueError outside
    1..:data:`MAX_ZOOM`."""
    zoom = float(zoom)
    if not 1.0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom runs 1..{MAX_ZOOM:g}, not {zoom:g}")
    if zoom == 1.0 or image is None:
        return image
    width, height = image.size
    w, h = max(1, round(width / zoom)), max(1, round(height / zoom))
    left, top = (width - w) // 2, (height - h) // 2
    crop = image.crop((left, top, left + w, top + h))
    # shown at the image's own size, each pixel a block (nearest): compression and resizing
    # artefacts stay visible instead of being smoothed away
    return crop.resize((width, height), resample=0)
