"""What a search takes and shows beyond its ranking: one card per duplicate group
(``collapsed``), a query image from a URL (``image_from_url``), and which retrieval modes apply
to a query (``mode_note``). Re-exported by ``cdir.api``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from cdir.api.duplicates import duplicate_config, find_duplicates
from cdir.api.errors import UserInputError
from cdir.api.sessions import Session
from cdir.retrieval.collapse import collapse_hits, depth_for, merge_overlapping
from cdir.retrieval.search import SearchOptions, SearchResult
from cdir.retrieval.search import mode_note as _mode_note

# the groups every collection keeps from its ingest (cdir.duplicates.groups.warm_cache)
COLLAPSED_TIERS = ("exact", "perceptual")


def mode_note(kind: str) -> str:
    """One line saying why the retrieval mode does nothing for a query of ``kind`` (``text``:
    a typed query is always matched text → image), or "" when the mode applies (image, sketch,
    item, url)."""
    return _mode_note(kind)


def search_groups(session: Session) -> list[list[int]]:
    """The collection's duplicate groups that a search folds, as lists of item ids: the exact
    and perceptual groups of the one duplicates engine (:func:`cdir.api.find_duplicates`, kept
    in the collection at ingest, saved decisions applied), those sharing a member joined.
    Remembered per collection until its items, its decisions or its kept groups change."""
    root = session.store.root
    stamp = (session.store.meta.get("revision"), *map(_file_stamp, _group_files(root)))
    known = _memo.get(str(root))
    if known is not None and known[0] == stamp:
        return known[1]
    groups = find_duplicates(session.store, duplicate_config(COLLAPSED_TIERS))
    merged = merge_overlapping([g.members for g in groups])
    stamp = (session.store.meta.get("revision"), *map(_file_stamp, _group_files(root)))
    _memo[str(root)] = (stamp, merged)
    return merged


def _group_files(root: Path) -> tuple[Path, Path]:
    """The files a collection's groups come from: its saved decisions and its kept groups."""
    from cdir.duplicates.decisions import DECIDED_FILE
    from cdir.duplicates.groups import CACHE_FILE

    return root / DECIDED_FILE, root / CACHE_FILE


_memo: dict[str, tuple[tuple[Any, ...], list[list[int]]]] = {}


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def collapsed(
    session: Session, options: SearchOptions, run: Callable[[SearchOptions], SearchResult]
) -> SearchResult:
    """``run(options)`` with one card per duplicate group when ``options.collapse_duplicates``
    (:func:`cdir.retrieval.collapse.collapse_hits`): the ranking is fetched deep enough that
    ``options.k`` cards remain, each holding the ids of the near-duplicates folded under it."""
    if not options.collapse_duplicates:
        return run(options)
    groups, deep = _deep(session, options)
    return fold(run(deep), groups, options)


def collapsed_rows(
    session: Session,
    options: SearchOptions,
    run: Callable[[SearchOptions], Iterator[Any]],
) -> Iterator[Any]:
    """``collapsed`` for a staged search (``run`` yields ``Stage``s): every row of every
    stage folded."""
    if not options.collapse_duplicates:
        yield from run(options)
        return
    groups, deep = _deep(session, options)
    for stage in run(deep):
        stage.rows = [(d, fold(r, groups, options)) for d, r in stage.rows]
        yield stage


def fold(result: SearchResult, groups: list[list[int]], options: SearchOptions) -> SearchResult:
    """``result`` folded by ``groups`` to ``options.k`` cards; its options (as the search ran
    them: a text query's mode is ``text``) with the asked k and folding."""
    ran = replace(result.options, k=options.k, collapse_duplicates=options.collapse_duplicates)
    return replace(result, hits=collapse_hits(result.hits, groups, options.k), options=ran)


def _deep(session: Session, options: SearchOptions) -> tuple[list[list[int]], SearchOptions]:
    groups = search_groups(session)
    n_items = int(session.store.ok_mask().sum())
    k = depth_for(options.k, groups, n_items) if groups else options.k
    return groups, replace(options, k=max(k, options.k), collapse_duplicates=False)


def image_from_url(url: str, limits: Any = None) -> Any:
    """The RGB PIL image at an http(s) ``url``, fetched with strict limits and never from a
    loopback, private, link-local or reserved address unless the operator allows it
    (:func:`cdir.imaging.fetch.fetch_image`; ``limits``: a ``FetchLimits``), then decoded as
    every query file is (``QUERY_DECODE_LIMITS``: the same formats and pixel budget). Raises
    UserInputError with the one line that says why the URL cannot be used."""
    from cdir.imaging.decode import QUERY_DECODE_LIMITS, DecodeError, load_rgb_bytes
    from cdir.imaging.fetch import FetchError, fetch_image

    if not str(url or "").strip():
        raise UserInputError("Paste the address of an image (http:// or https://) first.")
    try:
        return load_rgb_bytes(fetch_image(url, limits), QUERY_DECODE_LIMITS)
    except FetchError as exc:
        raise UserInputError(f"Cannot use that URL as a query: {exc}") from None
    except DecodeError as exc:
        raise UserInputError(f"Cannot use that URL as a query: {exc.reason}") from None


def fetch_limits(**limits: Any) -> Any:
    """A :class:`cdir.imaging.fetch.FetchLimits` (timeout_s, max_bytes, max_redirects,
    allow_private)."""
    from cdir.imaging.fetch import FetchLimits

    return FetchLimits(**limits)
