"""🤗 imagefolders: a folder of images with ``metadata.jsonl`` or ``metadata.csv`` files whose
``file_name`` column names an image relative to the metadata file's folder (the layout
``datasets.load_dataset("imagefolder", ...)`` reads and ``push_to_hub`` writes).

The folder is scanned like any other (:mod:`cdir.ingest.sources`); this module then labels its
files the imagefolder way: the class is the image's folder (not a split folder such as
``train/``), and the metadata's domain, class, caption, prompt and negative prompt columns
(:mod:`cdir.ingest.dataset_columns`) override it.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cdir.ingest.dataset_columns import resolve_columns
from cdir.ingest.source_files import Rejected, SourceError, SourceFile, is_junk, nfc

log = logging.getLogger(__name__)

METADATA_NAMES: tuple[str, ...] = ("metadata.jsonl", "metadata.csv")
SPLIT_FOLDERS = frozenset({"train", "test", "validation", "valid", "val", "dev"})


def label_imagefolder(
    files: list[SourceFile], root: Path, overrides: Mapping[str, str], rejected: Rejected
) -> None:
    """Label the scanned ``files`` of the imagefolder at ``root`` in place, and drop the
    metadata files from ``rejected`` (they are read, not left out). Raises
    :class:`SourceError` for unreadable metadata or an override naming a missing column."""
    metas = metadata_files(root)
    read = {nfc(meta.relative_to(root).as_posix()) for meta in metas}
    rejected[:] = [(name, reason) for name, reason in rejected if name not in read]
    for file in files:
        file.domain, file.label, file.label_source = None, None, None
        folders = [
            p for p in PurePosixPath(file.rel_path).parts[:-1] if p.lower() not in SPLIT_FOLDERS
        ]
        if folders:
            file.label, file.label_source = folders[-1], "folder"
    by_rel = {file.rel_path: file for file in files}
    unused = 0
    for meta in metas:
        rows = list(_read_metadata(meta))
        if not rows:
            continue
        columns = resolve_columns(
            list(rows[0]), None, {"file_name": "file_name", **overrides}, meta.name
        )
        folder = meta.parent.relative_to(root).as_posix()
        for row in rows:
            name = columns.get(row, "file_name")
            rel = nfc(str(PurePosixPath(folder) / name)) if name and folder != "." else name
            file = by_rel.get(nfc(rel or ""))
            if file is None:
                unused += 1
                continue
            _apply(file, columns.get(row, "domain"), columns.get(row, "class"), row, columns)
    if unused:
        log.warning("%s: %d metadata rows name no image found", root.name, unused)


def _apply(
    file: SourceFile, domain: str | None, label: str | None, row: Mapping[str, Any], columns: Any
) -> None:
    file.domain = domain or file.domain
    if label:
        file.label, file.label_source = label, "dataset"
    file.caption = columns.get(row, "caption") or file.caption
    file.prompt = columns.get(row, "prompt") or file.prompt
    file.negative_prompt = columns.get(row, "negative_prompt") or file.negative_prompt


def metadata_files(root: Path) -> list[Path]:
    """The imagefolder metadata files at ``root`` and one folder down: every
    ``metadata.jsonl``, and the ``metadata.csv`` files whose header has a ``file_name`` column
    (another CSV of that name is the user's own file, not a dataset's)."""
    try:
        folders = [root, *sorted(d for d in root.iterdir() if d.is_dir() and not is_junk(d.name))]
    except OSError:  # unreadable: the folder scan says so
        return []
    return [
        d / name
        for d in folders
        for name in METADATA_NAMES
        if (d / name).is_file() and _names_files(d / name)
    ]


def _names_files(path: Path) -> bool:
    if path.suffix != ".csv":
        return True
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "file_name" in (name.strip() for name in header)


def _read_metadata(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a metadata file, one at a time; each must have a ``file_name``."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if path.suffix == ".csv":
                reader = csv.DictReader(handle)
                if "file_name" not in (reader.fieldnames or ()):
                    raise SourceError(
                        f"{path.name} needs a file_name column (imagefolder "
                        "metadata): add one naming each image"
                    )
                yield from reader
                return
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield _json_row(line, number, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path.name}: {exc}; save it as UTF-8") from None


def _json_row(line: str, number: int, path: Path) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if not isinstance(row, dict) or "file_name" not in row:
        raise SourceError(
            f"{path.name} line {number} is not a JSON object with a file_name: fix that line"
        )
    return row
