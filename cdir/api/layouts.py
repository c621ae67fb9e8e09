"""Which folder level of an upload means the domain and which the class: the guess shown before a
build (the web app's preview, ``cdir ingest``'s line) and the choice that overrides it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdir.api.errors import UsageError
from cdir.ingest.layout import AUTO as AUTO
from cdir.ingest.layout import Layout as Layout
from cdir.ingest.layout import LayoutGuess as LayoutGuess
from cdir.ingest.layout import guess_layout, listed_rel_paths


def layout_of(level: str | int | None) -> int | None:
    """A level as a user gives it: "auto" (or "", 0) → AUTO, "none" → None, "2" → 2. Raises
    UsageError for anything else."""
    text = str(level if level is not None else "none").strip().lower()
    if text in ("", "auto", "0"):
        return AUTO
    if text == "none":
        return None
    if text.isdigit():
        return int(text)
    raise UsageError(f"a folder level is a number from 1, 'auto' or 'none', not {level!r}")


def layout(
    domain_level: str | int | None = "auto", class_level: str | int | None = "auto"
) -> Layout:
    """The layout a user chose: each level a number from 1, "auto" (the guess) or "none"."""
    return Layout(layout_of(domain_level), layout_of(class_level))


def guess_layout_of(sources: Sequence[str | Path], chosen: Layout | None = None) -> LayoutGuess:
    """What an ingest of ``sources`` will take as domain and class (``chosen`` where given, the
    guess where AUTO), read without extracting or writing anything: folders are walked, zips'
    listings read (:func:`cdir.ingest.layout.guess_layout`, the function the ingest uses). Loose
    image files have no folders and count for nothing here. Raises UsageError for a level the
    files do not have."""
    try:
        return guess_layout(listed_rel_paths(sources), chosen or Layout())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
