"""Browsing: the whole collection as a filtered, sorted, paged grid of cards
(:class:`Browser`, :mod:`~cdir.browse.grid`). Reads the store and its tags only.
"""

from cdir.browse.grid import Browser, GridPage, GridQuery

__all__ = ["Browser", "GridPage", "GridQuery"]
