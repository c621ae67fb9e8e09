"""Zip archives for the tests that ingest them (collection, hostile archives)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def make_zip(
    path: Path, entries: dict[str, bytes], stored: bool = False, links: dict[str, str] | None = None
) -> Path:
    """A zip of ``entries`` (deflated, or ``stored``) plus symlink entries ``name -> target``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return path


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """The bytes of a deflated zip of ``entries``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
