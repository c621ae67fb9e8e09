"""What a search shows beyond its ranking: which retrieval modes apply to a query
(``mode_note``). Re-exported by ``cdir.api``."""

from __future__ import annotations

from cdir.retrieval.search import mode_note as _mode_note


def mode_note(kind: str) -> str:
    """One line saying why the retrieval mode does nothing for a query of ``kind`` (``text``:
    a typed query is always matched text → image), or "" when the mode applies (image, sketch,
    item, url)."""
    return _mode_note(kind)
