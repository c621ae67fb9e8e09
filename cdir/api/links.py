"""A search as a link: the collection, the query (a text, an item of the collection or an image
URL), the mode and k in a URL's query string, and back. The link names the collection by its
name only: never an owner key, a server path or a file; whoever opens it sees the collection
only if they could open it anyway (the app checks, with the same words as for a missing one).
Re-exported by ``cdir.api``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from cdir.api.errors import UserInputError
from cdir.retrieval.scoring import DEFAULT_MODE, MODES

LINK_KINDS = ("text", "item", "url")  # an uploaded image or a sketch has no link
NO_LINK = (
    "An uploaded image or a sketch cannot be put in a link: search with a text, an image URL or "
    "a result to share it."
)
MAX_K = 48  # the most results a page shows (the Search tab's k)


@dataclass(frozen=True)
class QueryLink:
    """One search as a link: ``collection`` (its name), ``kind`` (text, item or url), ``value``
    (the text, the item id as digits, or the image's address), ``mode``, ``k``."""

    collection: str
    kind: str
    value: str
    mode: str = DEFAULT_MODE
    k: int = 12

    def query_string(self) -> str:
        """``?collection=…&text=…&mode=…&k=…`` (percent-encoded)."""
        return "?" + urlencode(
            {"collection": self.collection, self.kind: self.value, "mode": self.mode, "k": self.k}
        )


def query_link(collection: str, kind: str, value: str | int, mode: str, k: int) -> QueryLink:
    """The link of a search; UserInputError (one line) for a query that has none (an upload,
    a sketch) or an empty one."""
    if kind not in LINK_KINDS:
        raise UserInputError(NO_LINK)
    if not str(value).strip():
        raise UserInputError("Search for something first, then copy its link.")
    return _checked(QueryLink(str(collection), kind, str(value).strip(), mode, int(k)))


def parse_query_link(params: Mapping[str, str]) -> QueryLink | None:
    """The search a page address asks for (its query parameters), or None when it names no
    collection. UserInputError, in one line, for a link that names no query, several, an
    unknown mode or a k that is not a whole number from 1 to 48."""
    collection = str(params.get("collection") or "").strip()
    if not collection:
        return None
    given = [kind for kind in LINK_KINDS if str(params.get(kind) or "").strip()]
    if len(given) != 1:
        raise UserInputError(
            "A search link names one query: text=…, item=… or url=… (this one names "
            f"{len(given) or 'none'}); copy the link again from the Search tab."
        )
    raw_k = str(params.get("k") or "12").strip()
    if not raw_k.isdigit():
        raise UserInputError(f"k in the link must be a whole number from 1 to {MAX_K}")
    kind = given[0]
    value = str(params[kind]).strip()
    mode = str(params.get("mode") or DEFAULT_MODE).strip()
    return _checked(QueryLink(collection, kind, value, mode, int(raw_k)))


def _checked(link: QueryLink) -> QueryLink:
    if link.mode not in MODES:
        raise UserInputError(f"unknown mode {link.mode!r} in the link; one of {', '.join(MODES)}")
    if not 1 <= link.k <= MAX_K:
        raise UserInputError(f"k in the link must be a whole number from 1 to {MAX_K}")
    if link.kind == "item" and not link.value.isdigit():
        raise UserInputError("item in the link must be an item number, such as item=12")
    return link
