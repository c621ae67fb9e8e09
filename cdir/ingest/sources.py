"""Find the images of a source (a folder, a zip file or a list of files) and their labels.

Labels come from the layout ``<root>/<domain>/<class>/<file>`` (Office-Home, DomainNet) and from a
CSV manifest ``path,domain,class[,caption]`` (:mod:`cdir.ingest.manifest`), which overrides the
folders. Zip files are unpacked into ``extract_dir/<zip stem>/`` only (:mod:`cdir.ingest.archives`).
Files that are not images are listed in ``ScanResult.rejected`` with the reason, so the user sees
what was left out.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from cdir.imaging.decode import is_image_name
from cdir.ingest.archives import ArchiveLimits, extract_archive, is_zip_name
from cdir.ingest.hf_datasets import dataset_kind, is_hub_id, scan_dataset
from cdir.ingest.imagefolder import label_imagefolder
from cdir.ingest.layout import Layout, relabel
from cdir.ingest.manifest import apply_manifest, apply_root_manifest, read_manifest
from cdir.ingest.source_files import (
    Rejected,
    ScanResult,
    SourceError,
    SourceFile,
    is_junk,
    labelled,
    layout_labels,
    nfc,
    silently_ignored,
    unsupported_reason,
)

log = logging.getLogger(__name__)


def scan_sources(
    sources: Sequence[Path | str],
    extract_dir: Path,
    limits: ArchiveLimits = ArchiveLimits(),
    manifest: Path | None = None,
    columns: dict[str, str] | None = None,
    zips_in_folders: bool = False,
    layout: Layout | None = None,
) -> ScanResult:
    """List the images of every source, in source order and sorted within a source.

    A source is a folder (walked recursively), a ``.zip`` (extracted into ``extract_dir``) or an
    image file (an item of its own). With ``zips_in_folders`` (ingest, whose ``extract_dir`` is
    inside the store), a zip found in a folder is extracted too and labelled from its own layout
    (see :func:`_scan_folder_zip`); otherwise it is left out with a reason. ``manifest`` applies
    to every file, matched by ``rel_path`` or absolute path. 🤗 datasets (saved folders, Parquet,
    imagefolders, ``hf://datasets/...``) are read by :mod:`cdir.ingest.hf_datasets`, ``columns``
    naming their columns. The files of folders and zips get their domain and class from the
    folder levels that ``layout`` names or, where it says AUTO, that the layout of all of them
    together suggests (:func:`cdir.ingest.layout.guess_layout`; ``result.layout``); a manifest
    beside them wins. Raises :class:`SourceError` for a missing source, a corrupt or oversized
    archive given as a source, a manifest without the expected columns, a dataset that cannot be
    read, or a layout level the files do not have.
    """
    paths = check_sources(sources)
    result = ScanResult()
    loose: list[Path] = []
    laid_out: list[SourceFile] = []  # files of folders and zips: labelled by the layout
    taken: set[str] = set()
    for path in paths:
        kind = dataset_kind(path)
        if kind == "imagefolder":
            files = _scan_folder(path, result.rejected)
            label_imagefolder(files, path, columns or {}, result.rejected)
            result.files += files
        elif kind is not None:
            result.files += scan_dataset(
                path, kind, Path(extract_dir), columns or {}, result.rejected
            )
        elif path.is_dir():
            zips: list[Path] | None = [] if zips_in_folders else None
            found = _scan_folder(path, result.rejected, zips)
            for inner in zips or ():
                found += _scan_folder_zip(
                    inner, path.resolve(), Path(extract_dir), limits, taken, result
                )
            result.files += found
            laid_out += found
        elif is_zip_name(path.name):
            found = _scan_zip(path, Path(extract_dir), limits, taken, result)
            result.files += found
            laid_out += found
        else:
            loose.append(path)
    if laid_out:
        try:
            result.layout = relabel(laid_out, layout or Layout())
        except ValueError as exc:
            raise SourceError(str(exc)) from None
    result.files += _scan_loose(loose, result.rejected)
    if manifest is not None:
        apply_manifest(result.files, read_manifest(_existing(Path(manifest))), str(manifest))
    _make_unique(result.files)
    log.info("found %d images, left out %d files", len(result.files), len(result.rejected))
    return result


def check_sources(sources: Sequence[Path | str] | Path | str) -> list[Path | str]:
    """The sources as paths (hub ids ``hf://datasets/...`` as they are); raises
    :class:`SourceError` for none or a missing one. Cheap, so callers run it before loading
    models or creating a store."""
    if isinstance(sources, str | Path):
        sources = [sources]
    paths = [
        source if is_hub_id(source) else _existing(Path(source).expanduser()) for source in sources
    ]
    if not paths:
        raise SourceError("no source given: pass a folder, a .zip file or image files")
    return paths


def _existing(path: Path) -> Path:
    if not path.exists():
        raise SourceError(
            f"source not found: {path}; give an existing folder, .zip file or image file"
        )
    return path


# --- folders -------------------------------------------------------------------------------------


def _scan_folder(
    root: Path, rejected: Rejected, zips: list[Path] | None = None
) -> list[SourceFile]:
    root = root.resolve()
    if not os.access(root, os.R_OK | os.X_OK):
        raise SourceError(f"cannot read folder {root}: permission denied; check its permissions")
    files = labelled(_walk(root, rejected, zips))
    apply_root_manifest(files, root)
    return files


def _scan_folder_zip(
    path: Path,
    root: Path,
    extract_dir: Path,
    limits: ArchiveLimits,
    taken: set[str],
    result: ScanResult,
) -> list[SourceFile]:
    """The images of a zip found in the folder ``root``: labels from the zip's own layout, as
    for a zip given as a source, with the zip's name standing for the domain folder when its
    images lie less than two folders deep (as for a zip inside a zip); ``rel_path`` keeps the
    folder the zip lies in. A zip that cannot be read is left out with the reason."""
    where = _rel(path, root)
    try:
        target, rels = extract_archive(
            path, extract_dir, limits, taken, result.rejected, result.notes
        )
    except SourceError as exc:
        result.rejected.append((where, str(exc)))
        return []
    images = [rel for rel in rels if is_image_name(rel)]
    shallow = any(len(PurePosixPath(rel).parts) < 3 for rel in images)
    stem, folder = PurePosixPath(where).stem, PurePosixPath(where).parent
    files = labelled((rel, target / rel) for rel in images)
    apply_root_manifest(files, target)
    for file in files:
        if shallow:
            file.rel_path = f"{stem}/{file.rel_path}"
            if file.label_source != "manifest":
                file.domain, file.label, file.label_source = layout_labels(file.rel_path)
        file.layout_path = file.rel_path
        file.rel_path = nfc(str(folder / file.rel_path))
    return files


def _walk(
    root: Path, rejected: Rejected, zips: list[Path] | None = None
) -> Iterator[tuple[str, Path]]:
    """(rel_path, real path) of the images under ``root``, sorted, hidden and junk skipped;
    zips go to ``zips`` when it is given."""

    def on_error(exc: OSError) -> None:
        where = _rel(Path(exc.filename), root) if exc.filename else "?"
        rejected.append((where, f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        here = Path(dirpath)
        dirnames[:] = sorted(name for name in dirnames if _enter_dir(here / name, root, rejected))
        for name in sorted(filenames):
            if zips is not None and is_zip_name(name) and not is_junk(name):
                if _zip_entry(here / name, root, rejected):
                    zips.append(here / name)
                continue
            entry = _folder_entry(here / name, root, rejected)
            if entry is not None:
                yield entry


def _enter_dir(path: Path, root: Path, rejected: Rejected) -> bool:
    if is_junk(path.name):
        return False
    if path.is_symlink():
        where = "inside" if _inside(path.resolve(), root) else "outside"
        reason = f"symlinked folder not followed (it points {where} the source)"
        rejected.append((_rel(path, root), reason))
        return False
    return True


def _folder_entry(path: Path, root: Path, rejected: Rejected) -> tuple[str, Path] | None:
    rel = _rel(path, root)
    if is_junk(path.name) or silently_ignored(path.name):
        return None
    if not is_image_name(path.name):
        rejected.append((rel, unsupported_reason(path.name)))
        return None
    linked = path.is_symlink()
    real = path.resolve() if linked else path
    if linked and not _inside(real, root):
        rejected.append((rel, "symlink skipped: it points outside the source folder"))
        return None
    if not real.is_file():  # a FIFO or device would block the reader
        rejected.append((rel, "broken symlink skipped" if linked else "not a regular file"))
        return None
    return rel, real


def _zip_entry(path: Path, root: Path, rejected: Rejected) -> bool:
    """Whether a zip in a folder is extracted: a regular file, not a link out of the folder."""
    if path.is_symlink() and not _inside(path.resolve(), root):
        rejected.append((_rel(path, root), "symlink skipped: it points outside the source folder"))
        return False
    if not path.resolve().is_file():
        rejected.append((_rel(path, root), "not a regular file"))
        return False
    return True


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _rel(path: Path, root: Path) -> str:
    return nfc(path.relative_to(root).as_posix())


def _scan_zip(
    path: Path, extract_dir: Path, limits: ArchiveLimits, taken: set[str], result: ScanResult
) -> list[SourceFile]:
    """Extract ``path`` (see :func:`extract_archive`) and list its images with their labels."""
    target, rels = extract_archive(path, extract_dir, limits, taken, result.rejected, result.notes)
    files = labelled((rel, target / rel) for rel in rels if is_image_name(rel))
    apply_root_manifest(files, target)
    return files


# --- lists of files ------------------------------------------------------------------------------


def _scan_loose(paths: list[Path], rejected: Rejected) -> list[SourceFile]:
    """Each file is its own item, named by its file name (its folder added when names clash)."""
    files: list[SourceFile] = []
    seen: set[Path] = set()
    for path in paths:
        real = path.resolve()
        if not is_image_name(path.name):
            rejected.append((str(path), unsupported_reason(path.name)))
        elif real in seen:
            rejected.append((str(path), "listed twice: kept once"))
        else:
            seen.add(real)
            files.append(SourceFile(path=real, rel_path=nfc(path.name)))
    clashes = Counter(file.rel_path for file in files)
    for file in files:
        if clashes[file.rel_path] > 1 and file.path.parent.name:
            file.rel_path = nfc(f"{file.path.parent.name}/{file.path.name}")
    return files


def _make_unique(files: list[SourceFile]) -> None:
    """Number the rel_paths that clash across sources: ``cat.jpg``, ``cat (2).jpg``."""
    taken = {file.rel_path for file in files}
    seen: set[str] = set()
    for file in files:
        if file.rel_path in seen:
            file.rel_path = _numbered(file.rel_path, taken)
            taken.add(file.rel_path)
        seen.add(file.rel_path)


def _numbered(rel: str, taken: set[str]) -> str:
    path = PurePosixPath(rel)
    number = 2
    while (candidate := str(path.with_name(f"{path.stem} ({number}){path.suffix}"))) in taken:
        number += 1
    return candidate
