"""Find the images of a source (a folder, a zip file or a list of files) and their labels.

Labels come from the layout ``<root>/<domain>/<class>/<file>`` (Office-Home, DomainNet) and from a
CSV manifest ``path,domain,class[,caption]``, which overrides the folders. Zip files are unpacked
into ``extract_dir/<zip stem>/`` only, defended against path traversal, symlinks and zip bombs
(:func:`extract_zip`). Files that are not images are listed in ``ScanResult.rejected`` with
the reason, so the user sees what was left out.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import logging
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from cdir.decode import SUPPORTED_EXTENSIONS, is_image_name

__all__ = [
    "MANIFEST_NAMES",
    "ArchiveLimits",
    "ManifestRow",
    "ScanResult",
    "SourceError",
    "SourceFile",
    "apply_manifest",
    "check_sources",
    "extract_zip",
    "is_zip_name",
    "layout_labels",
    "read_manifest",
    "scan_sources",
]

log = logging.getLogger(__name__)

MANIFEST_NAMES: tuple[str, ...] = ("manifest.csv", "labels.csv")
MANIFEST_COLUMNS = "path,domain,class[,caption]"
_JUNK_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini", "@eaDir", "$RECYCLE.BIN"}
_SILENT_SUFFIXES = {".txt", ".md", ".json"}  # sidecars, READMEs, dataset manifests
_CLASS_ALIASES = ("class", "label")


@dataclass
class SourceFile:
    """One image of a source: the file to read and what the source says about it."""

    path: Path
    rel_path: str
    domain: str | None = None
    label: str | None = None
    label_source: str | None = None
    caption: str | None = None


@dataclass
class ScanResult:
    """The images found, and the (name, reason) of every file left out."""

    files: list[SourceFile] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ManifestRow:
    domain: str | None
    label: str | None
    caption: str | None


Rejected = list[tuple[str, str]]


class SourceError(Exception):
    """A source that cannot be read; the message says what to do."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Refuse a whole zip above these; ratios count only for entries of ``ratio_min_bytes``
    or more, so a small blank BMP does not look like a bomb."""

    max_members: int = 200_000
    max_total_bytes: int = 20 * 2**30
    max_ratio: float = 200.0
    max_member_bytes: int = 500 * 2**20
    ratio_min_bytes: int = 2**20


def scan_sources(
    sources: Sequence[Path | str],
    extract_dir: Path,
    limits: ArchiveLimits = ArchiveLimits(),
    manifest: Path | None = None,
) -> ScanResult:
    """List the images of every source, in source order and sorted within a source.

    A source is a folder (walked recursively), a ``.zip`` (extracted into ``extract_dir``) or an
    image file (an item of its own). ``manifest`` applies to every file, matched by ``rel_path``
    or absolute path. Raises :class:`SourceError` for a missing source, a corrupt or oversized
    archive, or a manifest without the expected columns.
    """
    paths = check_sources(sources)
    result = ScanResult()
    loose: list[Path] = []
    taken: set[str] = set()
    for path in paths:
        if path.is_dir():
            result.files += _scan_folder(path, result.rejected)
        elif is_zip_name(path.name):
            result.files += _scan_zip(path, Path(extract_dir), limits, taken, result.rejected)
        else:
            loose.append(path)
    result.files += _scan_loose(loose, result.rejected)
    if manifest is not None:
        apply_manifest(result.files, read_manifest(_existing(Path(manifest))), str(manifest))
    _make_unique(result.files)
    log.info("found %d images, left out %d files", len(result.files), len(result.rejected))
    return result


def check_sources(sources: Sequence[Path | str] | Path | str) -> list[Path]:
    """The sources as paths; raises :class:`SourceError` for none or a missing one. Cheap, so
    callers run it before loading models or creating a store."""
    if isinstance(sources, str | Path):
        sources = [sources]
    paths = [_existing(Path(source).expanduser()) for source in sources]
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


def _scan_folder(root: Path, rejected: Rejected) -> list[SourceFile]:
    root = root.resolve()
    if not os.access(root, os.R_OK | os.X_OK):
        raise SourceError(f"cannot read folder {root}: permission denied; check its permissions")
    files = _labelled(_walk(root, rejected))
    _apply_root_manifest(files, root)
    return files


def _walk(root: Path, rejected: Rejected) -> Iterator[tuple[str, Path]]:
    """(rel_path, real path) of the images under ``root``, sorted, hidden and junk skipped."""

    def on_error(exc: OSError) -> None:
        where = _rel(Path(exc.filename), root) if exc.filename else "?"
        rejected.append((where, f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        here = Path(dirpath)
        dirnames[:] = sorted(name for name in dirnames if _enter_dir(here / name, root, rejected))
        for name in sorted(filenames):
            entry = _folder_entry(here / name, root, rejected)
            if entry is not None:
                yield entry


def _enter_dir(path: Path, root: Path, rejected: Rejected) -> bool:
    if _is_junk(path.name):
        return False
    if path.is_symlink():
        where = "inside" if _inside(path.resolve(), root) else "outside"
        reason = f"symlinked folder not followed (it points {where} the source)"
        rejected.append((_rel(path, root), reason))
        return False
    return True


def _folder_entry(path: Path, root: Path, rejected: Rejected) -> tuple[str, Path] | None:
    rel = _rel(path, root)
    if _is_junk(path.name) or _silently_ignored(path.name):
        return None
    if not is_image_name(path.name):
        rejected.append((rel, _unsupported_reason(path.name)))
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


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _rel(path: Path, root: Path) -> str:
    return _nfc(path.relative_to(root).as_posix())


# --- zip archives --------------------------------------------------------------------------------


def _scan_zip(
    path: Path, extract_dir: Path, limits: ArchiveLimits, taken: set[str], rejected: Rejected
) -> list[SourceFile]:
    """Extract ``path`` into ``extract_dir/<stem>`` and list its images.

    The folder is reused only for the same archive (same entries, sizes and CRCs); another zip
    with the same name goes to ``<stem>-2``, so files extracted earlier are never replaced by
    different ones.
    """
    extract_dir.mkdir(parents=True, exist_ok=True)
    with _open_zip(path) as archive:
        fingerprint = _fingerprint(archive)
        target = _extraction_dir(extract_dir, path.stem or "archive", fingerprint, taken)
        rels = _extract_into(archive, path.name, target, fingerprint, limits, rejected)
    files = _labelled((rel, target / rel) for rel in rels if is_image_name(rel))
    _apply_root_manifest(files, target)
    return files


def is_zip_name(name: str) -> bool:
    """True for a ``.zip`` file name (any case)."""
    return Path(name).suffix.lower() == ".zip"


def extract_zip(path: Path, dest: Path, limits: ArchiveLimits, rejected: Rejected) -> list[str]:
    """Extract the images, sidecars and manifests of the zip at ``path`` into ``dest``; return
    their POSIX paths relative to ``dest``. A single wrapper folder is dropped, and zips inside
    the zip are unpacked one level deep into a folder named after them."""
    with _open_zip(path) as archive:
        extractor = _Extractor(path.name, Path(dest), limits, rejected)
        extractor.extract(archive, PurePosixPath(), path.name, depth=0)
    return extractor.written


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise SourceError(
            f"cannot read {path.name}: not a valid zip file ({exc}); "
            "re-download it or create it again"
        ) from None


def _extract_into(
    archive: zipfile.ZipFile,
    name: str,
    target: Path,
    fingerprint: str,
    limits: ArchiveLimits,
    rejected: Rejected,
) -> list[str]:
    """Extract into a hidden partial folder, then swap it in for ``target``: a refused or
    interrupted extraction leaves nothing behind."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):  # killed runs
        _remove(stale)
    prefix = f".{target.name}."
    partial = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=target.parent))
    try:
        extractor = _Extractor(name, partial, limits, rejected)
        extractor.extract(archive, PurePosixPath(), name, depth=0)
        (partial / _MARKER).write_text(fingerprint, encoding="utf-8")
        _remove(target)
        os.replace(partial, target)
    finally:
        _remove(partial)
    return extractor.written


def _fingerprint(archive: zipfile.ZipFile) -> str:
    """Identifies an archive's content from its directory, without reading the data."""
    digest = hashlib.sha256()
    for info in archive.infolist():
        digest.update(f"{info.filename}\0{info.CRC}\0{info.file_size}\n".encode())
    return digest.hexdigest()


def _extraction_dir(extract_dir: Path, stem: str, fingerprint: str, taken: set[str]) -> Path:
    """``<stem>``, ``<stem>-2``, ...: the first that is free or holds this same archive."""
    name, number = stem, 1
    while name in taken or not _reusable(extract_dir / name, fingerprint):
        number += 1
        name = f"{stem}-{number}"
    taken.add(name)
    return extract_dir / name


def _reusable(folder: Path, fingerprint: str) -> bool:
    if not folder.exists() and not folder.is_symlink():
        return True
    marker = folder / _MARKER
    if folder.is_symlink() or not marker.is_file():
        return False
    return marker.read_text(encoding="utf-8", errors="replace").strip() == fingerprint


@dataclass
class _Member:
    info: zipfile.ZipInfo
    shown: str
    rel: PurePosixPath
    is_zip: bool

    def shapes_layout(self) -> bool:
        """Whether the member counts when looking for a wrapper folder."""
        return self.is_zip or is_image_name(self.rel.name) or self.rel.name in MANIFEST_NAMES


class _Extractor:
    """Writes the members of one archive (and of the zips inside it) under ``root``, keeping
    count of members and bytes against the limits across all of them."""

    def __init__(self, archive: str, root: Path, limits: ArchiveLimits, rejected: Rejected):
        self.archive, self.root, self.limits, self.rejected = archive, root, limits, rejected
        self._real_root = root.resolve()
        self.members = self.declared = self.actual = 0
        self.written: list[str] = []
        self._taken: set[str] = set()

    def extract(self, zf: zipfile.ZipFile, prefix: PurePosixPath, shown: str, depth: int) -> None:
        """Write the members of ``zf`` under ``root / prefix`` (``shown`` names it to the user)."""
        infos = zf.infolist()
        self._check_declared(infos)
        members = [m for info in infos if (m := self._plan(info, shown, depth)) is not None]
        stem = PurePosixPath(shown).stem
        wrapper = _wrapper([m.rel for m in members if m.shapes_layout()], stem, depth > 0)
        for member in members:
            rel = prefix / _strip(member.rel, wrapper)
            if member.is_zip:
                self._extract_nested(zf, member, rel)
            else:
                self._write_member(zf, member, rel)

    def _plan(self, info: zipfile.ZipInfo, shown: str, depth: int) -> _Member | None:
        """What to do with one entry; unwanted entries are recorded in ``rejected``."""
        name = _member_name(info)
        shown = f"{shown}/{name}"
        rel = _safe_member_path(name)
        if info.is_dir() or (rel is not None and any(_is_junk(part) for part in rel.parts)):
            return None
        reason = _entry_problem(info, rel, depth)
        if reason is not None or rel is None:
            self.rejected.append((shown, reason or "unsafe path"))
            return None
        return _Member(info, shown, rel, is_zip_name(rel.name))

    def _write_member(self, zf: zipfile.ZipFile, member: _Member, rel: PurePosixPath) -> None:
        key = rel.as_posix()
        if key in self._taken:
            self.rejected.append((member.shown, "duplicate entry in archive: kept the first"))
            return
        try:
            self._copy(zf, member, self.root / rel)
        except _MEMBER_ERRORS as exc:
            self.rejected.append((member.shown, f"cannot extract: {exc}"))
            return
        self._taken.add(key)
        self.written.append(key)

    def _extract_nested(self, zf: zipfile.ZipFile, member: _Member, rel: PurePosixPath) -> None:
        """Unpack a zip inside the zip into the folder ``<its name without .zip>``."""
        scratch = self.root / f".nested-{len(self.written)}-{self.members}.zip"
        try:
            self._copy(zf, member, scratch)
            with zipfile.ZipFile(scratch) as inner:
                self.extract(inner, rel.parent / rel.stem, member.shown, depth=1)
        except _MEMBER_ERRORS as exc:
            self.rejected.append((member.shown, f"cannot read nested archive: {exc}"))
        finally:
            if scratch.exists():
                self.actual -= scratch.stat().st_size
                scratch.unlink()

    def _copy(self, zf: zipfile.ZipFile, member: _Member, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.parent.resolve().is_relative_to(self._real_root):
            raise SourceError(f"refusing {self.archive}: entry {member.shown} escapes the folder")
        with dest.open("xb") as out:
            try:
                with zf.open(member.info) as src:
                    self._stream(src, out, member)
            except BaseException:
                out.close()
                dest.unlink()
                raise

    def _stream(self, src: IO[bytes], out: IO[bytes], member: _Member) -> None:
        """Copy while counting the real bytes, so a header that lies cannot bomb the disk."""
        written = 0
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            self.actual += len(chunk)
            self._check_actual(member, written)
            out.write(chunk)

    def _check_declared(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self.limits
        self.members += len(infos)
        if self.members > limits.max_members:
            raise self._refuse(f"it has more than {limits.max_members} entries", "max_members")
        self.declared += sum(info.file_size for info in infos)
        if self.declared > limits.max_total_bytes:
            raise self._refuse(
                f"it unpacks to {_size(self.declared)}, above {_size(limits.max_total_bytes)}",
                "max_total_bytes",
            )
        for info in infos:
            self._check_size(info.filename, info.file_size, info.compress_size)

    def _check_actual(self, member: _Member, written: int) -> None:
        if written > member.info.file_size:
            raise self._refuse(
                f"entry {member.shown} unpacks to more than the {member.info.file_size} bytes "
                "its header declares (a corrupt or hostile archive)"
            )
        if self.actual > self.limits.max_total_bytes:
            raise self._refuse(
                f"it unpacks to more than {_size(self.limits.max_total_bytes)}", "max_total_bytes"
            )
        self._check_size(member.shown, written, member.info.compress_size)

    def _check_size(self, name: str, size: int, compressed: int) -> None:
        limits = self.limits
        if size > limits.max_member_bytes:
            raise self._refuse(
                f"entry {name} unpacks to {_size(size)}, above {_size(limits.max_member_bytes)}",
                "max_member_bytes",
            )
        ratio = size / max(compressed, 1)
        if size >= limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise self._refuse(
                f"entry {name} is compressed {ratio:.0f}:1, above {limits.max_ratio:.0f}:1 "
                "(a zip bomb?)",
                "max_ratio",
            )

    def _refuse(self, why: str, limit: str | None = None) -> SourceError:
        advice = f"; if you trust it, raise ArchiveLimits.{limit}" if limit else ""
        return SourceError(f"refusing archive {self.archive}: {why}{advice}")


_CHUNK = 1 << 20
_MARKER = ".cdir-archive"
_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,  # encrypted entry
    NotImplementedError,  # unsupported compression method
    ValueError,
)
_DRIVE = re.compile(r"^[A-Za-z]:")


def _member_name(info: zipfile.ZipInfo) -> str:
    """The entry's name with ``/`` separators; UTF-8 names stored without the UTF-8 flag (as
    some zip tools do) are decoded as UTF-8 rather than cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return _nfc(name.replace("\\", "/"))


def _safe_member_path(name: str) -> PurePosixPath | None:
    """The entry's relative path, or None when it is absolute, has a drive letter or ``..``."""
    if "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def _entry_problem(info: zipfile.ZipInfo, rel: PurePosixPath | None, depth: int) -> str | None:
    """Why an entry is skipped, or None to extract it."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symlink entry skipped"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "special file entry skipped"
    if rel is None:
        return "unsafe path in archive (absolute, drive letter or '..'): skipped"
    if is_zip_name(rel.name):
        return "nested archive skipped: only one level of zips is extracted" if depth else None
    if is_image_name(rel.name) or _silently_ignored(rel.name):
        return None
    return _unsupported_reason(rel.name)


def _wrapper(rels: list[PurePosixPath], stem: str, nested: bool) -> str | None:
    """The single top-level folder to drop, if every path lies under it and dropping it keeps
    the labels right.

    ``OfficeHome.zip: OfficeHome/Art/Alarm/1.jpg`` drops ``OfficeHome`` (still domain/class
    below it) and ``photos.zip: photos/1.jpg`` drops ``photos``; but DomainNet's
    ``clipart.zip: clipart/aircraft/1.jpg`` keeps ``clipart``, which is the domain. A zip inside
    a zip is unpacked into a folder named after it, so there only a wrapper of that same name
    is dropped. A manifest moves with the wrapper but does not count towards the depths.
    """
    tops = {rel.parts[0] for rel in rels}
    depths = {len(rel.parts) - 1 for rel in rels if rel.name not in MANIFEST_NAMES}
    if len(tops) != 1 or not depths or any(len(rel.parts) < 2 for rel in rels):
        return None
    top = tops.pop()
    if nested:
        return top if top.casefold() == stem.casefold() else None
    return top if min(depths) >= 3 or max(depths) == 1 else None


def _strip(rel: PurePosixPath, wrapper: str | None) -> PurePosixPath:
    if wrapper is not None and len(rel.parts) >= 2 and rel.parts[0] == wrapper:
        return PurePosixPath(*rel.parts[1:])
    return rel


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _size(size: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


# --- lists of files ------------------------------------------------------------------------------


def _scan_loose(paths: list[Path], rejected: Rejected) -> list[SourceFile]:
    """Each file is its own item, named by its file name (its folder added when names clash)."""
    files: list[SourceFile] = []
    seen: set[Path] = set()
    for path in paths:
        real = path.resolve()
        if not is_image_name(path.name):
            rejected.append((str(path), _unsupported_reason(path.name)))
        elif real in seen:
            rejected.append((str(path), "listed twice: kept once"))
        else:
            seen.add(real)
            files.append(SourceFile(path=real, rel_path=_nfc(path.name)))
    clashes = Counter(file.rel_path for file in files)
    for file in files:
        if clashes[file.rel_path] > 1 and file.path.parent.name:
            file.rel_path = _nfc(f"{file.path.parent.name}/{file.path.name}")
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


# --- labels from the layout ----------------------------------------------------------------------


def layout_labels(rel_path: str) -> tuple[str | None, str | None, str | None]:
    """(domain, label, label_source) from ``<domain>/<class>/<file>``; one folder gives only the
    domain, a file at the root gives nothing."""
    folders = PurePosixPath(rel_path).parts[:-1]
    if len(folders) >= 2:
        return folders[0], folders[1], "folder"
    if len(folders) == 1:
        return folders[0], None, None
    return None, None, None


def _labelled(entries: Iterable[tuple[str, Path]]) -> list[SourceFile]:
    """SourceFiles sorted by rel_path, labelled from their folders."""
    files = []
    for rel, path in sorted(entries):
        domain, label, label_source = layout_labels(rel)
        files.append(SourceFile(path, rel, domain, label, label_source))
    return files


# --- manifests -----------------------------------------------------------------------------------


def _apply_root_manifest(files: list[SourceFile], root: Path) -> None:
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
    return _nfc(key)


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
        file.caption = row.caption or file.caption
    if used < len(rows):
        unused = len(rows) - used
        log.warning("manifest %s: %d of %d rows name no file found", name, unused, len(rows))


# --- names ---------------------------------------------------------------------------------------


def _is_junk(name: str) -> bool:
    return name.startswith(".") or name in _JUNK_NAMES


def _silently_ignored(name: str) -> bool:
    return Path(name).suffix.lower() in _SILENT_SUFFIXES or name.lower() in MANIFEST_NAMES


def _unsupported_reason(name: str) -> str:
    suffix = Path(name).suffix.lower() or "(none)"
    if suffix == ".zip":
        return "zip inside a folder skipped: add it as a source of its own"
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    return f"unsupported file type {suffix}: supported are {supported}"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
