"""CSV manifests ``path,domain,class[,caption]``: labels and captions for the files of a source,
overriding the folder layout."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdir.ingest.source_files import MANIFEST_NAMES, SourceError, SourceFile, nfc

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = "path,domain,class[,caption]"
_CLASS_ALIASES = ("class", "label")


@dataclass(frozen=True)
class ManifestRow:
    domain: str | None
    label: str | None
    caption: str | None


def apply_root_manifest(files: list[SourceFile], root: Path) -> None:
    for name in MANIFEST_NAMES:
        if (root / name).is_file():
            apply_manifest(files, read_manifest(root / name), name)
            return


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """Rows of a ``path,domain,class[,caption]`` CSV keyed by normalised path."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read manifest {path}: {exc}; save it as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = _manifest_columns(reader.fieldnames, path)
    rows: dict[str, ManifestRow] = {}
    for row in reader:
        key = _manifest_key(row.get(columns["path"]) or "")
        if key:
            rows[key] = ManifestRow(*(_cell(row, columns.get(c)) for c in _ROW_FIELDS))
    return rows


_ROW_FIELDS = ("domain", "class", "caption")


def _manifest_columns(header: Sequence[str] | None, path: Path) -> dict[str, str]:
    """Map the wanted columns to the header's spelling (case and spaces ignored)."""
    found = {name.strip().lower(): name for name in header or [] if name}
    columns = {want: found[want] for want in ("path", "domain", "caption") if want in found}
    alias = next((found[name] for name in _CLASS_ALIASES if name in found), None)
    if alias is not None:
        columns["class"] = alias
    missing = [want for want in ("path", "domain", "class") if want not in columns]
    if missing:
        raise SourceError(
            f"manifest {path} lacks the column(s) {', '.join(missing)}: it needs a header row "
            f"{MANIFEST_COLUMNS}, with paths relative to the source root"
        )
    return columns


def _cell(row: dict[str, str | None], column: str | None) -> str | None:
    value = (row.get(column) or "").strip() if column else ""
    return value or None


def _manifest_key(path: str) -> str:
    key = path.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return nfc(key)


def apply_manifest(files: list[SourceFile], rows: dict[str, ManifestRow], name: str = "") -> None:
    """Let the manifest's non-empty cells override the labels of the files it names."""
    used = 0
    for file in files:
        row = rows.get(file.rel_path) or rows.get(str(file.path))
        if row is None:
            continue
        used += 1
        file.domain = row.domain or file.domain
        if row.label:
            file.label, file.label_source = row.label, "manifest"
        given = {"domain"} if row.domain else set()
        file.from_manifest |= given | ({"class"} if row.label else set())
        file.caption = row.caption or file.caption
    if used < len(rows):
        unused = len(rows) - used
        log.warning("manifest %s: %d of %d rows name no file found", name, unused, len(rows))
