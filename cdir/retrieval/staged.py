"""A query image answered in two stages: image → image results as soon as its embedding is
ready, then caption-matching (CM) results once its caption is ready.

Captioning the query (BLIP: seconds on a CPU) is what a CM query waits for; its image embedding
(CLIP: a tenth of that) is enough to rank the gallery by image similarity. So a CM query first
yields the image → image ranking, then the CM ranking. A caption that fails keeps the image
results and says so in one line. Any other mode is answered in one stage, as
``Searcher.by_picture`` answers it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cdir.retrieval.search import Query, Searcher, SearchOptions, SearchResult

log = logging.getLogger(__name__)

STAGED_MODES = ("caption",)  # modes whose query first shows image → image results
FIRST_MODE = "image"


@dataclass
class Stage:
    """One answer of a staged query.

    ``rows``: [(target domain, or None for one row over ``options.domains``, SearchResult)];
    ``showing``: the mode the rows were ranked by (``"image"`` in the first stage of a CM
    query); ``final``: no further stage follows; ``caption_error``: a one-line message when the
    query's caption failed (the rows are then the image → image ones)."""

    rows: list[tuple[str | None, SearchResult]]
    showing: str
    final: bool
    caption_error: str | None = None

    @property
    def waiting_for_caption(self) -> bool:
        """True for the first stage of a CM query: its caption is being made."""
        return not self.final


def is_staged(options: SearchOptions) -> bool:
    """True when a picture query under ``options`` is answered in two stages."""
    return options.mode in STAGED_MODES


def staged_search(
    searcher: Searcher,
    image: Any,
    options: SearchOptions,
    sha: str | None = None,
    domains: Sequence[str] | None = None,
) -> Iterator[Stage]:
    """Rank the gallery for an RGB PIL ``image``: in CM mode two stages (image → image, then
    CM), else one. ``sha``: the image's cache key (a file's SHA-256; default its pixels').
    ``domains``: one row per target domain (the cross-domain view); None for one row.

    The first stage comes after one image embedding (cached by ``sha``); the CM stage after the
    query's caption (cached too) and its text embedding. Raises QueryError for an unknown
    domain before anything is yielded; a failing caption ends the query with the image rows
    and ``caption_error`` set (the exception is logged with its stack trace)."""
    query, sha = searcher.picture_query(image, sha)
    if not is_staged(options):
        if searcher.needs_caption(options):
            query.caption = searcher.image_caption(image, sha)
        yield Stage(_rows(searcher, query, options, domains), options.mode, final=True)
        return
    first = _rows(searcher, query, replace(options, mode=FIRST_MODE), domains)
    yield Stage(first, FIRST_MODE, final=False)
    try:
        caption = searcher.image_caption(image, sha)
    except Exception as exc:  # any captioner failure: the image results stay useful
        log.exception("captioning a query failed; keeping its image → image results")
        yield Stage(first, FIRST_MODE, final=True, caption_error=caption_failed(exc))
        return
    captioned = replace(query, vectors=dict(query.vectors), caption=caption)
    yield Stage(_rows(searcher, captioned, options, domains), options.mode, final=True)


def caption_failed(exc: BaseException) -> str:
    """The one-line message shown when a query's caption could not be made."""
    return (
        f"The caption of this query could not be made ({type(exc).__name__}), so these "
        "are image → image results; search again, or choose the Image → image mode."
    )


def _rows(
    searcher: Searcher, query: Query, options: SearchOptions, domains: Sequence[str] | None
) -> list[tuple[str | None, SearchResult]]:
    if domains is None:
        return [(None, searcher.rank_query(query, options))]
    return [(d, searcher.rank_query(query, replace(options, domains=(d,)))) for d in domains]
