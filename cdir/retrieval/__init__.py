"""Retrieval: the paper's caption matching and its relatives, for one query at a time.

:mod:`~cdir.retrieval.scoring` defines the modes (image, caption = CM, caption-caption, fusion,
text) as score matrices; :mod:`~cdir.retrieval.ranking` ranks a gallery with an index, target
domains and exclusions; :class:`Searcher` (:mod:`~cdir.retrieval.search`) turns a query image, an
item id or text into :class:`SearchResult` hits with captions and scores.
"""

from cdir.retrieval.scoring import MODES, FusionWeights, ModeError
from cdir.retrieval.search import Hit, QueryError, Searcher, SearchOptions, SearchResult

__all__ = [
    "MODES",
    "FusionWeights",
    "Hit",
    "ModeError",
    "QueryError",
    "SearchOptions",
    "SearchResult",
    "Searcher",
]
