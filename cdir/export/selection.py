"""Downloads of a part of a collection (the grid's current filter, a map selection, a diverse
subset): a file list (CSV), a zip of the original images, or a 🤗 ``datasets`` folder (zipped).

The dataset is written by the one exporter (:func:`cdir.export.datasets_out.export_store` with
``ids``); the originals are the same bytes it puts in its ``image`` column
(:meth:`cdir.export.table.ExportTable.image_bytes`). Every file goes into ``<store>/exports/``
under a new name (:func:`cdir.export.downloads.new_export_path`) and nowhere else; no file holds a
server path.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cdir.export.datasets_out import export_store
from cdir.export.downloads import DownloadError, new_export_path
from cdir.export.table import ExportTable
from cdir.store.collection import Store, atomic_write_bytes

log = logging.getLogger(__name__)

SELECTION_FORMATS = ("csv", "zip", "datasets")
LIST_COLUMNS = (
    "id",
    "file",
    "domain",
    "class",
    "label_source",
    "caption",
    "prompt",
    "width",
    "height",
    "file_size",
    "status",
    "tags",
)


@dataclass
class SelectionExport:
    """A written download: ``path`` (inside ``<store>/exports/``), ``rows`` items in it and the
    ``skipped`` ones (file name and reason: unreadable, or gone since ingest)."""

    path: Path
    rows: int
    skipped: list[dict[str, str]] = field(default_factory=list)


def export_selection(
    store_root: str | Path, ids: Sequence[int], fmt: str, stem: str = "selection"
) -> SelectionExport:
    """Write the items ``ids`` (table rows, in that order) of the collection at ``store_root`` as
    ``fmt`` (:data:`SELECTION_FORMATS`): ``csv`` one row per item (:data:`LIST_COLUMNS`, failed
    items included), ``zip`` the originals (a grid's tile as PNG), ``datasets`` a zipped
    ``save_to_disk`` folder (``datasets.load_from_disk`` opens it once unzipped). Raises
    :class:`DownloadError` for another format or no item, ValueError for an unknown id."""
    if fmt not in SELECTION_FORMATS:
        raise DownloadError(f"a selection downloads as {', '.join(SELECTION_FORMATS)}, not {fmt!r}")
    ids = [int(i) for i in ids]
    if not ids:
        raise DownloadError("no item to export: change the filters or the selection")
    store = Store.load(store_root)
    table = ExportTable.of(store, ids)
    if fmt == "csv":
        path = new_export_path(store.root, stem, "csv")
        atomic_write_bytes(path, file_list(table).encode("utf-8"))
        return SelectionExport(path, len(table.ids or ()))
    if fmt == "zip":
        path = new_export_path(store.root, f"{stem}-originals", "zip")
        rows = originals_zip(table, path)
        return SelectionExport(path, rows, table.skipped)
    folder = new_export_path(store.root, f"{stem}-dataset", "")
    try:
        report = export_store(store.root, folder, "datasets", ids=ids)
        path = zip_folder(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the zip is the download
    return SelectionExport(path, report.rows, report.skipped)


def file_list(table: ExportTable) -> str:
    """The items of ``table`` (every one asked for, readable or not) as CSV text."""
    ids = list(dict.fromkeys(table.ids or ()))
    rows = table.store.items.iloc[ids]
    frame = rows[["rel_path", "domain", "class", "label_source", "caption", "prompt"]].copy()
    frame.columns = ["file", "domain", "class", "label_source", "caption", "prompt"]
    frame.insert(0, "id", ids)
    for column in ("width", "height", "file_size", "status"):
        frame[column] = rows[column].to_numpy()
    frame["tags"] = [";".join(table.tags.get(int(i), [])) for i in ids]
    out = io.StringIO()
    frame[list(LIST_COLUMNS)].to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


def originals_zip(table: ExportTable, path: Path) -> int:
    """Zip the original images of ``table``'s readable items into ``path`` as
    ``<id>-<file name>`` (a tile: ``<id>-<name>-tile<n>.png``), written beside it and renamed;
    returns how many went in."""
    items = table.store.items
    part = path.with_name(path.name + ".part")
    rows = 0
    try:
        # stored, not deflated: images are compressed already
        with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as archive:
            for row in table.chosen_rows():
                data = table.image_bytes(int(row))
                if data is None:
                    continue
                name = PurePosixPath(str(items.at[row, "rel_path"]).replace("\\", "/")).name
                tile = int(items.at[row, "tile"])
                if tile >= 1:
                    name = f"{PurePosixPath(name).stem}-tile{tile}.png"
                archive.writestr(f"{int(row)}-{name}", data)
                rows += 1
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return rows


def zip_folder(folder: Path) -> Path:
    """``folder`` as ``<folder>.zip`` next to it (entries under the folder's name; written to a
    temporary name and renamed, so a half-written zip never shows)."""
    out = folder.with_name(folder.name + ".zip")
    part = folder.with_name(folder.name + ".zip.part")
    try:
        # level 1: the images inside are compressed already; a higher level costs CPU for little
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, Path(folder.name) / path.relative_to(folder))
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return out
