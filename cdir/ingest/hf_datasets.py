"""🤗 datasets as sources: a folder written by ``Dataset.save_to_disk``, Parquet files with an
image column, and ``hf://datasets/ORG/NAME[:split]`` on the hub (streamed, when online).

Rows are read in batches of :data:`BATCH_ROWS` as Arrow data, never decoded as images and never
all held in memory: each image's bytes are written once into the store's files area
(``<store>/files/<dataset name>/[<split>/]<file name>``), where the pipeline reads it like any
folder image; an image stored as a path to an existing file is read where it is. A second ingest
of the same dataset finds its files already written and its items already present. Labels,
captions, prompts and negative prompts come from the columns (:mod:`cdir.ingest.dataset_columns`).
Imagefolders with ``metadata.jsonl``/``metadata.csv`` are in :mod:`cdir.ingest.imagefolder`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cdir.imaging.decode import is_image_name
from cdir.ingest.dataset_columns import ColumnMap, features_from_schema_metadata, resolve_columns
from cdir.ingest.imagefolder import metadata_files
from cdir.ingest.source_files import Rejected, SourceError, SourceFile, is_junk, nfc
from cdir.models import weights
from cdir.store.collection import atomic_write_bytes

log = logging.getLogger(__name__)

HUB_PREFIX = "hf://datasets/"
BATCH_ROWS = 64
SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
_SPLIT_NAMES = ("train", "test", "validation", "valid", "val", "dev")
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", ".png"),
    (b"\xff\xd8", ".jpg"),
    (b"GIF8", ".gif"),
    (b"BM", ".bmp"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)


def hub_offline() -> bool:
    """Whether the user turned the Hugging Face hub off for datasets (``HF_HUB_OFFLINE`` or
    ``HF_DATASETS_OFFLINE``), read now rather than when ``huggingface_hub`` was imported."""
    return weights.hub_offline("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def is_hub_id(source: object) -> bool:
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def dataset_kind(source: Path | str) -> str | None:
    """``hub``, ``saved``, ``parquet``, ``imagefolder``, or None for an ordinary source."""
    if is_hub_id(source):
        return "hub"
    path = Path(source).expanduser()
    if path.is_file():
        return "parquet" if path.suffix.lower() == ".parquet" else None
    if not path.is_dir():
        return None
    if any((path / name).is_file() for name in SAVED_MARKERS):
        return "saved"
    if metadata_files(path):
        return "imagefolder"
    return "parquet" if not _has_images(path) and _parquet_files(path) else None


def _parquet_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.parquet")
        if p.is_file() and not any(is_junk(part) for part in p.relative_to(root).parts)
    )


def _has_images(root: Path) -> bool:
    for _, _, names in os.walk(root):
        if any(is_image_name(name) for name in names):
            return True
    return False


# --- the rows ------------------------------------------------------------------------------------


@dataclass
class Table:
    """One split of a dataset: its name (None for a single split), its columns, their feature
    descriptions and its rows in batches (each a list of ``{column: cell}``)."""

    split: str | None
    columns: list[str]
    features: dict[str, Any]
    batches: Iterable[list[dict[str, Any]]]
    base: Path | None = None  # where relative image paths in the rows point from


def scan_dataset(
    source: Path | str,
    kind: str,
    extract_dir: Path,
    overrides: Mapping[str, str],
    rejected: Rejected,
) -> list[SourceFile]:
    """The images of a saved dataset, Parquet file(s) or hub dataset, written into
    ``extract_dir`` as they stream by. Raises :class:`SourceError` for an unreadable dataset, a
    missing ``datasets`` package, a hub that cannot be reached, or no image column."""
    if kind == "hub":
        name, tables = _hub_tables(str(source))
    elif kind == "saved":
        name, tables = Path(source).name, _saved_tables(Path(source))
    else:
        name, tables = Path(source).stem, _parquet_tables(Path(source))
    origin = str(source) if kind == "hub" else str(Path(source).resolve())
    writer = ImageWriter(_target_dir(extract_dir, _safe(name), origin))
    files: list[SourceFile] = []
    for table in tables:
        columns = resolve_columns(table.columns, table.features, overrides, name)
        if "image" not in columns.columns:
            raise SourceError(
                f"{name} has no image column (columns: {', '.join(table.columns)}):"
                " name it with --columns image=COLUMN"
            )
        for batch in table.batches:
            for row in batch:
                item = writer.place(table, columns, row, rejected)
                if item is not None:
                    files.append(item)
    log.info("%s: %d images from %d rows", name, len(files), writer.rows)
    return files


def _rows(batch: Any) -> list[dict[str, Any]]:
    """A batch (pyarrow Table/RecordBatch or a dict of lists) as a list of row dicts."""
    if hasattr(batch, "to_pylist"):
        return batch.to_pylist()
    keys = list(batch)
    return [dict(zip(keys, values, strict=True)) for values in zip(*batch.values(), strict=True)]


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise SourceError(
            "reading 🤗 datasets needs the datasets package: pip install 'cdir[hf]' (or datasets)"
        ) from None
    return datasets


def _saved_tables(path: Path) -> Iterator[Table]:
    """The splits of a ``save_to_disk`` folder, read straight from its Arrow files (see
    :func:`_arrow_batches`); a folder without the usual ``state.json`` files goes through
    ``datasets.load_from_disk``."""
    try:
        layout = _saved_layout(path)
    except (OSError, ValueError, KeyError, TypeError):
        layout = None
    if layout is None:
        yield from _loaded_tables(path)
        return
    for split, folder, files, features in layout:
        yield Table(
            split if len(layout) > 1 else None,
            _arrow_columns(files[0]),
            features,
            _arrow_batches(files),
            folder,
        )


def _saved_layout(path: Path) -> list[tuple[str | None, Path, list[Path], dict[str, Any]]] | None:
    """[(split, folder, Arrow files, features)] from ``dataset_dict.json``, ``state.json`` and
    ``dataset_info.json``, or None when the folder is not laid out that way."""
    if (path / "dataset_dict.json").is_file():
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        folders: list[tuple[str | None, Path]] = [(str(s), path / str(s)) for s in splits]
    else:
        folders = [(None, path)]
    layout = []
    for split, folder in folders:
        if not (folder / "state.json").is_file():
            return None
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        files = [folder / PurePosixPath(f["filename"]).name for f in state["_data_files"]]
        if not files or not all(f.is_file() for f in files):
            return None
        info_path = folder / "dataset_info.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        layout.append((split, folder, files, info.get("features") or {}))
    return layout


def _arrow_columns(file: Path) -> list[str]:
    import pyarrow as pa

    with pa.OSFile(str(file)) as source:
        return list(pa.ipc.open_stream(source).schema.names)


def _arrow_batches(files: list[Path]) -> Iterator[list[dict[str, Any]]]:
    """Rows of Arrow stream files, :data:`BATCH_ROWS` at a time, read with plain reads rather
    than a memory map: only the record batch being read is in memory (``datasets`` writes
    image data in batches of 100 rows), where a memory map would keep every page it has read
    resident until the end."""
    import pyarrow as pa

    for file in files:
        with pa.OSFile(str(file)) as source:
            for batch in pa.ipc.open_stream(source):
                for start in range(0, batch.num_rows, BATCH_ROWS):
                    yield batch.slice(start, BATCH_ROWS).to_pylist()


def _loaded_tables(path: Path) -> Iterator[Table]:
    datasets = _datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # a damaged or foreign folder
        raise SourceError(
            f"cannot open the saved dataset {path.name}: {exc}; save it again "
            "with Dataset.save_to_disk"
        ) from None
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {None: loaded}
    for split, ds in splits.items():
        arrow = ds.with_format("arrow")
        yield Table(
            split if len(splits) > 1 else None,
            list(ds.column_names),
            ds.features.to_dict(),
            (_rows(b) for b in arrow.iter(batch_size=BATCH_ROWS)),
            path,
        )


def _parquet_tables(path: Path) -> Iterator[Table]:
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else _parquet_files(path)
    splits = {file: _split_of(file) for file in files}
    several = len(set(splits.values())) > 1
    base = path.parent if path.is_file() else path
    for file in files:
        try:
            handle = pq.ParquetFile(file)
        except Exception as exc:  # not Parquet, truncated
            raise SourceError(f"cannot read {file.name} as Parquet: {exc}") from None
        schema = handle.schema_arrow
        yield Table(
            splits[file] if several else None,
            list(schema.names),
            features_from_schema_metadata(schema.metadata),
            (_rows(b) for b in handle.iter_batches(batch_size=BATCH_ROWS)),
            base,
        )


def _split_of(file: Path) -> str | None:
    """``train`` for ``train-00000-of-00002.parquet`` or ``data/train/x.parquet``."""
    for word in (file.stem.split("-")[0].lower(), file.parent.name.lower()):
        if word in _SPLIT_NAMES:
            return word
    return None


def _hub_tables(source: str) -> tuple[str, Iterator[Table]]:
    repo, _, split = source[len(HUB_PREFIX) :].partition(":")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise SourceError(f"{source}: a hub dataset is hf://datasets/ORG/NAME[:split]")
    if hub_offline():
        raise SourceError(
            f"{source}: the Hugging Face hub is off (HF_HUB_OFFLINE): go online, "
            "or save the dataset with save_to_disk and ingest its folder"
        )
    datasets = _datasets()
    try:
        loaded = datasets.load_dataset(repo, split=split or None, streaming=True)
    except Exception as exc:  # offline, unknown name, gated, no such split
        raise SourceError(
            f"cannot read {source} from the Hugging Face hub "
            f"({type(exc).__name__}): check the name, the split and your "
            "connection, or ingest a folder saved with save_to_disk"
        ) from None
    splits = {split: loaded} if split else dict(loaded)
    return repo.replace("/", "__"), (_hub_table(s, ds, len(splits) > 1) for s, ds in splits.items())


def _hub_table(split: str, ds: Any, several: bool) -> Table:
    features = ds.features.to_dict() if ds.features is not None else {}
    columns = list(ds.column_names or features)
    return Table(
        split if several else None,
        columns,
        features,
        (_rows(b) for b in ds.with_format("arrow").iter(batch_size=BATCH_ROWS)),
    )


# --- writing the images --------------------------------------------------------------------------


@dataclass
class ImageWriter:
    """Writes each row's image into ``target`` under a unique, safe name."""

    target: Path
    rows: int = 0
    used: set[str] = field(default_factory=set)

    def place(
        self, table: Table, columns: ColumnMap, row: Mapping[str, Any], rejected: Rejected
    ) -> SourceFile | None:
        """The SourceFile of ``row``, its image written (once); None (and a ``rejected`` entry)
        for a row without a usable image."""
        self.rows += 1
        where = f"{table.split + '/' if table.split else ''}row {self.rows}"
        data, ref = _image_cell(row.get(columns.columns["image"]))
        name = columns.get(row, "file_name") or (PurePosixPath(ref).name if ref else None)
        if data is None:
            path = _referenced_file(ref, table.base)
            if path is None:
                rejected.append((where, "no image in this row (empty cell or a missing file)"))
                return None
            rel = self._unique(table.split, name or path.name)
        else:
            rel = self._unique(table.split, _with_suffix(name or f"{self.rows:06d}", data))
            path = self.target / rel
            if not (path.is_file() and path.stat().st_size == len(data)):
                atomic_write_bytes(path, data)
        domain, label = columns.get(row, "domain"), columns.get(row, "class")
        return SourceFile(
            path=path,
            rel_path=rel,
            domain=domain,
            label=label,
            label_source="dataset" if label else None,
            caption=columns.get(row, "caption"),
            prompt=columns.get(row, "prompt"),
            negative_prompt=columns.get(row, "negative_prompt"),
        )

    def _unique(self, split: str | None, name: str) -> str:
        rel = nfc("/".join(p for p in (split, _safe_rel(name)) if p))
        candidate, number = rel, 2
        while candidate in self.used:
            path = PurePosixPath(rel)
            candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
            number += 1
        self.used.add(candidate)
        return candidate


def _image_cell(value: Any) -> tuple[bytes | None, str | None]:
    """(bytes, path) of an image cell: an ``Image`` struct ``{bytes, path}``, raw bytes or a
    path string."""
    if isinstance(value, dict):
        return value.get("bytes") or None, value.get("path") or None
    if isinstance(value, bytes | bytearray):
        return bytes(value) or None, None
    if isinstance(value, str):
        return None, value
    return None, None


def _referenced_file(ref: str | None, base: Path | None) -> Path | None:
    if not ref:
        return None
    path = Path(ref)
    if not path.is_absolute() and base is not None:
        path = base / path
    return path.resolve() if path.is_file() and is_image_name(path.name) else None


def _with_suffix(name: str, data: bytes) -> str:
    """``name`` with an image suffix: its own when it has one, else one sniffed from ``data``
    (the pipeline detects the real format from the content anyway)."""
    if is_image_name(name):
        return name
    suffix = next((s for magic, s in _MAGIC if data.startswith(magic)), None)
    if suffix is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        suffix = ".webp"
    return name + (suffix or ".jpg")


def _safe_rel(name: str) -> str:
    """A relative path with no ``..``, no root and no empty parts."""
    parts = [
        p
        for p in PurePosixPath(name.replace("\\", "/")).parts
        if p not in ("", ".", "..", "/") and not p.startswith(".")
    ]
    return "/".join(parts) or "image"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "dataset"


def _target_dir(extract_dir: Path, name: str, origin: str) -> Path:
    """``extract_dir/name``, or ``name (2)``, ... when another source already uses it."""
    number = 1
    while True:
        target = extract_dir / (name if number == 1 else f"{name} ({number})")
        marker = target / ".cdir-source"
        if not target.exists():
            target.mkdir(parents=True)
            marker.write_text(origin, encoding="utf-8")
            return target
        if marker.is_file() and marker.read_text(encoding="utf-8") == origin:
            return target
        number += 1
