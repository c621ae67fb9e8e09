"""Write a collection as a 🤗 dataset (``save_to_disk`` folder) or as Parquet, and push it to
the hub; the table is :class:`cdir.export.table.ExportTable`.

``datasets.load_from_disk(out)`` opens a ``datasets`` export; ``datasets.load_dataset(
"parquet", data_files=out)`` (or pandas/pyarrow) reads a Parquet one with the same types. Rows
stream through in record batches: memory stays bounded however large the collection.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdir.export.table import ExportTable
from cdir.ingest.hf_datasets import hub_offline
from cdir.store.collection import Store, StoreError

log = logging.getLogger(__name__)

FORMATS = ("datasets", "parquet")
PARQUET_NAME = "data.parquet"


class ExportError(ValueError):
    """An export that cannot be written or pushed; the message says what to do."""


@dataclass
class ExportReport:
    out: str
    format: str
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    pushed_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def export_store(
    store_dir: str | Path,
    out: str | Path,
    fmt: str = "datasets",
    push: str | None = None,
    ids: Sequence[int] | None = None,
) -> ExportReport:
    """Write the collection at ``store_dir`` to ``out`` as ``fmt`` (:data:`FORMATS`); with
    ``push`` (``ORG/NAME``) also push it to the Hugging Face hub. ``datasets``: ``out`` is a new
    (or empty) folder. ``parquet``: ``out`` is a ``.parquet`` file, or a folder that receives
    ``data.parquet``. ``ids``: only those items (a grid filter or selection), in that order.
    Raises :class:`ExportError` for an unknown format, an ``out`` that holds
    other files, a missing ``datasets`` package or an unreachable hub; :class:`StoreError` for
    a store that cannot be read."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: choose {' or '.join(FORMATS)}")
    _datasets()
    store = Store.load(store_dir)
    table = ExportTable.of(store, ids)
    out = Path(out).expanduser()
    if _inside(out, store.root) and not _inside(out, store.root / "exports"):
        raise ExportError("write the export outside the store (or under its exports/ folder)")
    report = ExportReport(str(out), fmt, columns=list(table.features()))
    if fmt == "parquet":
        path = out if out.suffix.lower() == ".parquet" else out / PARQUET_NAME
        report.out, report.rows = str(path), write_parquet(table, path)
    else:
        report.rows = write_saved_dataset(table, out)
    report.skipped = table.skipped
    if push:
        report.pushed_to = push_to_hub(out if fmt == "datasets" else Path(report.out), fmt, push)
    log.info("exported %d rows to %s", report.rows, report.out)
    return report


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ExportError(
            "exporting needs the datasets package: pip install 'cdir[hf]' (or datasets)"
        ) from None
    return datasets


def write_parquet(table: ExportTable, path: Path) -> int:
    """Stream ``table`` into the Parquet file ``path`` (written beside it, then renamed);
    returns the number of rows."""
    import pyarrow.parquet as pq

    if path.is_dir():
        raise ExportError(f"{path.name} is a folder: give a .parquet file name or a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = table.features().arrow_schema
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for batch in table.batches():
                writer.write_batch(batch)
                rows += batch.num_rows
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return rows


def write_saved_dataset(table: ExportTable, out: Path) -> int:
    """Write ``table`` as a ``save_to_disk`` folder at ``out`` (new or empty); returns the number
    of rows. The rows go to an Arrow file in a temporary folder beside ``out``, which
    ``datasets`` memory-maps and saves (sharded) into ``out``; the temporary folder is removed."""
    import pyarrow as pa

    datasets = _datasets()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(
            f"{out.name} already exists and is not an empty folder: choose a new output folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    rows = 0
    try:
        arrow = work / "rows.arrow"
        schema = table.features().arrow_schema
        with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for batch in table.batches():
                writer.write_batch(batch)
                rows += batch.num_rows
        dataset = datasets.Dataset.from_file(str(arrow))
        dataset.save_to_disk(str(out))
        del dataset
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def push_to_hub(out: Path, fmt: str, repo: str) -> str:
    """Push the written export to the hub dataset ``repo`` (``ORG/NAME``); returns its URL.
    Raises :class:`ExportError` offline or when the hub refuses (not logged in, no rights)."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ExportError(f"--push takes ORG/NAME, not {repo!r}")
    if hub_offline():
        raise ExportError(
            "cannot push: the Hugging Face hub is off (HF_HUB_OFFLINE); the export "
            "is written, push it later when online"
        )
    datasets = _datasets()
    try:
        if fmt == "datasets":
            dataset = datasets.load_from_disk(str(out))
        else:
            dataset = datasets.Dataset.from_parquet(str(out))
        dataset.push_to_hub(repo)
    except Exception as exc:  # offline, not logged in, no write access
        raise ExportError(
            f"cannot push to {repo} ({type(exc).__name__}): check your "
            "connection and `hf auth login`; the export is written"
        ) from None
    return f"https://huggingface.co/datasets/{repo}"


__all__ = ["FORMATS", "ExportError", "ExportReport", "StoreError", "export_store"]
