"""Safe zip extraction: images, sidecars and manifests are unpacked under the folder the caller
names and nowhere else, defended against path traversal, symlinks, special files and zip bombs
(declared and actual sizes, compression ratio), into a hidden partial folder swapped in at the end,
so a refused or interrupted extraction leaves nothing behind."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from cdir.imaging.decode import is_image_name
from cdir.ingest.source_files import (
    MANIFEST_NAMES,
    Rejected,
    SourceError,
    is_junk,
    nfc,
    silently_ignored,
    unsupported_reason,
)
from cdir.ingest.zip_names import name_decoder


@dataclass(frozen=True)
class ArchiveLimits:
    """Refuse a whole zip above these; ratios count only for entries of ``ratio_min_bytes``
    or more, so a small blank BMP does not look like a bomb."""

    max_members: int = 200_000
    max_total_bytes: int = 20 * 2**30
    max_ratio: float = 200.0
    max_member_bytes: int = 500 * 2**20
    ratio_min_bytes: int = 2**20


def extract_archive(
    path: Path,
    extract_dir: Path,
    limits: ArchiveLimits,
    taken: set[str],
    rejected: Rejected,
    notes: list[str] | None = None,
) -> tuple[Path, list[str]]:
    """Extract ``path`` into ``extract_dir/<stem>``; return that folder and the POSIX paths of
    what was written, relative to it. ``notes`` receives one line per archive (this one or a
    zip inside it) whose names were read in a legacy code page, e.g. "names in x.zip read as
    cp932".

    The folder is reused only for the same archive (same entries, sizes and CRCs); another zip
    with the same name goes to ``<stem>-2``, so files extracted earlier are never replaced by
    different ones. Raises :class:`SourceError` for an unreadable or refused archive.
    """
    extract_dir.mkdir(parents=True, exist_ok=True)
    with _open_zip(path) as archive:
        fingerprint = _fingerprint(archive)
        target = _extraction_dir(extract_dir, path.stem or "archive", fingerprint, taken)
        rels = _extract_into(archive, path.name, target, fingerprint, limits, rejected, notes)
    return target, rels


def is_zip_name(name: str) -> bool:
    """True for a ``.zip`` file name (any case)."""
    return Path(name).suffix.lower() == ".zip"


def extract_zip(
    path: Path,
    dest: Path,
    limits: ArchiveLimits,
    rejected: Rejected,
    notes: list[str] | None = None,
) -> list[str]:
    """Extract the images, sidecars and manifests of the zip at ``path`` into ``dest``; return
    their POSIX paths relative to ``dest``. A single wrapper folder is dropped, and zips inside
    the zip are unpacked one level deep (see :func:`_nested_prefix` for where)."""
    with _open_zip(path) as archive:
        extractor = _Extractor(path.name, Path(dest), limits, rejected, notes)
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
    notes: list[str] | None = None,
) -> list[str]:
    """Extract into a hidden partial folder, then swap it in for ``target``: a refused or
    interrupted extraction leaves nothing behind."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):  # killed runs
        _remove(stale)
    prefix = f".{target.name}."
    partial = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=target.parent))
    try:
        extractor = _Extractor(name, partial, limits, rejected, notes)
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

    def __init__(
        self,
        archive: str,
        root: Path,
        limits: ArchiveLimits,
        rejected: Rejected,
        notes: list[str] | None = None,
    ):
        self.archive, self.root, self.limits, self.rejected = archive, root, limits, rejected
        self.notes = notes if notes is not None else []
        self._real_root = root.resolve()
        self.members = self.declared = self.actual = self.compressed = 0
        self.written: list[str] = []
        self._taken: set[str] = set()

    def extract(self, zf: zipfile.ZipFile, prefix: PurePosixPath, shown: str, depth: int) -> None:
        """Write the members of ``zf`` under ``root / prefix`` (``shown`` names it to the user)."""
        infos = zf.infolist()
        self._check_declared(infos)
        decoding, decode = name_decoder(infos)
        if decoding.legacy:
            self.notes.append(f"names in {shown} read as {decoding.encoding}")
        members = [
            m for info in infos if (m := self._plan(info, decode(info), shown, depth)) is not None
        ]
        stem = PurePosixPath(shown).stem
        layout = [m.rel for m in members if m.shapes_layout()]
        wrapper = _wrapper(layout, stem, depth > 0)
        if depth:
            prefix = _nested_prefix(prefix, [_strip(rel, wrapper) for rel in layout])
        for member in members:
            rel = prefix / _strip(member.rel, wrapper)
            if member.is_zip:
                self._extract_nested(zf, member, rel)
            else:
                self._write_member(zf, member, rel, renumber=depth > 0)

    def _plan(self, info: zipfile.ZipInfo, name: str, shown: str, depth: int) -> _Member | None:
        """What to do with one entry (``name`` decoded); unwanted entries go to ``rejected``."""
        name = nfc(name)
        shown = f"{shown}/{name}"
        rel = _safe_member_path(name)
        if info.is_dir() or (rel is not None and any(is_junk(part) for part in rel.parts)):
            return None
        reason = _entry_problem(info, rel, depth)
        if reason is not None or rel is None:
            self.rejected.append((shown, reason or "unsafe path"))
            return None
        return _Member(info, shown, rel, is_zip_name(rel.name))

    def _write_member(
        self, zf: zipfile.ZipFile, member: _Member, rel: PurePosixPath, renumber: bool = False
    ) -> None:
        """Write one member; a path already written by another zip in the zip is numbered
        (``a (2).jpg``), a repeated entry of the same zip is skipped."""
        key = rel.as_posix()
        if key in self._taken and renumber:
            rel = _numbered(rel, self._taken)
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
        """Unpack a zip inside the zip beside it (see :func:`_nested_prefix`)."""
        scratch = self.root / f".nested-{len(self.written)}-{self.members}.zip"
        try:
            self._copy(zf, member, scratch)
            with zipfile.ZipFile(scratch) as inner:
                self.extract(inner, rel, member.shown, depth=1)
        except _MEMBER_ERRORS as exc:
            self.rejected.append((member.shown, f"cannot read nested archive: {exc}"))
        finally:
            if scratch.exists():
                self.actual -= scratch.stat().st_size
                scratch.unlink()

    def _copy(self, zf: zipfile.ZipFile, member: _Member, dest: Path) -> None:
        if not dest.parent.resolve().is_relative_to(self._real_root):  # before mkdir: a
            raise SourceError(f"refusing {self.archive}: entry {member.shown} escapes the folder")
        dest.parent.mkdir(parents=True, exist_ok=True)  # symlinked folder must not get one
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
        self.compressed += sum(info.compress_size for info in infos)
        self._check_whole_ratio(self.declared)

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
        self._check_whole_ratio(self.actual)

    def _check_whole_ratio(self, total: int) -> None:
        """The ratio of the whole archive: many small entries of zeros, each under
        ``ratio_min_bytes``, must not add up to a bomb either."""
        limits = self.limits
        ratio = total / max(self.compressed, 1)
        if total >= limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise self._refuse(
                f"it unpacks to {_size(total)} from {_size(self.compressed)}, compressed "
                f"{ratio:.0f}:1, above {limits.max_ratio:.0f}:1 (a zip bomb?)",
                "max_ratio",
            )

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


def _nested_prefix(zip_rel: PurePosixPath, layout: list[PurePosixPath]) -> PurePosixPath:
    """Where the content of the zip at ``zip_rel`` (inside the outer zip) goes.

    Labels come from the inner zip's own layout, as for a zip given as a source: when its
    images lie in ``<domain>/<class>/`` folders, the inner zip's name is dropped
    (``outer.zip: inner.zip: photo/car/a.jpg`` is domain ``photo``, class ``car``); when they
    lie less deep, the zip's name stands for the missing domain folder, as DomainNet's
    per-domain zips need (``sketch.zip: aircraft/2.png`` is ``sketch/aircraft/2.png``).
    """
    depths = [
        len(rel.parts) - 1
        for rel in layout
        if rel.name not in MANIFEST_NAMES and not is_zip_name(rel.name)
    ]
    if depths and min(depths) >= 2:
        return zip_rel.parent
    return zip_rel.parent / zip_rel.stem


def _numbered(rel: PurePosixPath, taken: set[str]) -> PurePosixPath:
    number = 2
    while (candidate := rel.with_name(f"{rel.stem} ({number}){rel.suffix}")).as_posix() in taken:
        number += 1
    return candidate


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
    if is_image_name(rel.name) or silently_ignored(rel.name):
        return None
    return unsupported_reason(rel.name)


def _wrapper(rels: list[PurePosixPath], stem: str, nested: bool) -> str | None:
    """The single top-level folder to drop, if every path lies under it and dropping it keeps
    the labels right.

    ``OfficeHome.zip: OfficeHome/Art/Alarm/1.jpg`` drops ``OfficeHome`` (still domain/class
    below it) and ``photos.zip: photos/1.jpg`` drops ``photos``; but DomainNet's
    ``clipart.zip: clipart/aircraft/1.jpg`` keeps ``clipart``, which is the domain. In a zip
    inside a zip, a wrapper named like that zip is dropped too (its name may stand for the
    domain, see :func:`_nested_prefix`), as is one above ``<domain>/<class>/`` folders. A
    manifest moves with the wrapper but does not count towards the depths.
    """
    tops = {rel.parts[0] for rel in rels}
    depths = {len(rel.parts) - 1 for rel in rels if rel.name not in MANIFEST_NAMES}
    if len(tops) != 1 or not depths or any(len(rel.parts) < 2 for rel in rels):
        return None
    top = tops.pop()
    if nested:  # the zip's own name may stand for the domain (see _nested_prefix)
        return top if top.casefold() == stem.casefold() or min(depths) >= 3 else None
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
