"""Grid filters written as text: ``KEY=VALUE`` pairs (the CLI's ``--filter``) to a GridQuery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cdir.browse.grid import GridQuery

KEYS = {"domain": "domains", "class": "classes", "label_source": "label_sources", "tag": "tags"}
FLAGS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
HELP = (
    "filters are KEY=VALUE: domain=, class=, label_source=, tag= (repeat a key for any of "
    "several values), text= (words in file name, caption or prompt), has_prompt=yes|no, "
    "status=ok|failed"
)


def parse_filters(pairs: Sequence[str], base: GridQuery | None = None) -> GridQuery:
    """``["domain=sketch", "domain=photo", "text=a cat"]`` -> a GridQuery (on top of ``base``).

    Repeated keys of the list fields are ORed; ValueError (with :data:`HELP`) for anything else."""
    query = base or GridQuery()
    lists: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        key, value = key.strip().lower().replace("-", "_"), value.strip()
        if not sep or not value:
            raise ValueError(f"bad filter {pair!r}: {HELP}")
        if key in KEYS:
            lists.setdefault(KEYS[key], []).append(value)
        elif key == "text":
            query = replace(query, text=f"{query.text} {value}".strip())
        elif key == "has_prompt" and value.lower() in FLAGS:
            query = replace(query, has_prompt=FLAGS[value.lower()])
        elif key == "status" and value in ("ok", "failed"):
            query = replace(query, status=value)
        else:
            raise ValueError(f"bad filter {pair!r}: {HELP}")
    return replace(query, **{field: tuple(values) for field, values in lists.items()})
