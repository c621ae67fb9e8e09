"""The records a source scan produces (:class:`SourceFile`), the error it raises, and the rules
for file names that every kind of source shares: junk and hidden files, sidecars, supported image
types, Unicode normalisation (NFC), and labels from the layout ``<domain>/<class>/<file>``
(Office-Home, DomainNet)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cdir.imaging.decode import SUPPORTED_EXTENSIONS

MANIFEST_NAMES: tuple[str, ...] = ("manifest.csv", "labels.csv")
_JUNK_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini", "@eaDir", "$RECYCLE.BIN"}
_SILENT_SUFFIXES = {".txt", ".md", ".json"}  # sidecars, READMEs, dataset manifests


@dataclass
class SourceFile:
    """One image of a source: the file to read and what the source says about it."""

    path: Path
    rel_path: str
    domain: str | None = None
    label: str | None = None
    label_source: str | None = None
    caption: str | None = None
    prompt: str | None = None  # from a dataset's prompt column (files' own prompts: read later)
    negative_prompt: str | None = None
    # the labels a manifest gave ("domain", "class"): the folder layout leaves them as they are
    from_manifest: frozenset[str] = frozenset()
    # the path whose folders the layout reads, when not rel_path (a zip found in a folder: its own)
    layout_path: str = ""


@dataclass
class ScanResult:
    """The images found, the (name, reason) of every file left out, and notes on how the
    sources were read (e.g. "names in x.zip read as cp932")."""

    files: list[SourceFile] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layout: Any = None  # the LayoutGuess that labelled the folders' and zips' files (or None)


Rejected = list[tuple[str, str]]


class SourceError(Exception):
    """A source that cannot be read; the message says what to do."""


def layout_labels(rel_path: str) -> tuple[str | None, str | None, str | None]:
    """(domain, label, label_source) from ``<domain>/<class>/<file>``; one folder gives only the
    domain, a file at the root gives nothing."""
    folders = PurePosixPath(rel_path).parts[:-1]
    if len(folders) >= 2:
        return folders[0], folders[1], "folder"
    if len(folders) == 1:
        return folders[0], None, None
    return None, None, None


def labelled(entries: Iterable[tuple[str, Path]]) -> list[SourceFile]:
    """SourceFiles sorted by rel_path, labelled from their folders."""
    files = []
    for rel, path in sorted(entries):
        domain, label, label_source = layout_labels(rel)
        files.append(SourceFile(path, rel, domain, label, label_source))
    return files


def is_junk(name: str) -> bool:
    return name.startswith(".") or name in _JUNK_NAMES


def silently_ignored(name: str) -> bool:
    return Path(name).suffix.lower() in _SILENT_SUFFIXES or name.lower() in MANIFEST_NAMES


def unsupported_reason(name: str) -> str:
    suffix = Path(name).suffix.lower() or "(none)"
    if suffix == ".zip":
        return "zip inside a folder skipped: add it as a source of its own"
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    return f"unsupported file type {suffix}: supported are {supported}"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
