"""Browsing: the whole collection as a filtered, sorted, paged grid of cards
(:class:`Browser`, :mod:`~cdir.browse.grid`); filters written as ``KEY=VALUE`` text
(:mod:`~cdir.browse.filters`). Reads the store and its tags only.
"""

from cdir.browse.grid import Browser, GridPage, GridQuery

__all__ = ["Browser", "GridPage", "GridQuery"]
