"""Duplicate review that stays: the handlers and HTML of the decisions panel of the Browse tab.

Groups come from :func:`cdir.api.find_duplicates` (the same groups, keeps and saved decisions as
the Duplicates tab, the API and the CLI); every click is saved in the collection at once, so a
restart or a re-run with other thresholds keeps it. Exports are written inside the collection
(``dupes/exports/``) and offered for download; cdir never deletes a file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdir import api
from cdir.app import views
from cdir.app.browse import BrowseActions
from cdir.app.views import esc, esc_name, family_block, file_url, shorten

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "json", "sh")
PAGE = 50  # groups shown at a time: undecided first
BUTTONS = (
    ("keep", "keep"),
    ("remove", "remove"),
    ("not_duplicate", "not a duplicate"),
    ("alternate", "alternate"),
)


@dataclass
class DupeActions:
    browse: BrowseActions

    def find(
        self, store: str | None, tiers: Sequence[str], perceptual: float, semantic: float | None
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """(summary, groups HTML, groups state) of a run with these tiers and thresholds."""
        session = self.browse.session(store)
        if not tiers:
            raise _error("Tick at least one tier.")
        config = api.duplicate_config(tiers, perceptual, views.semantic_value(semantic))
        groups = api.find_duplicates(session, config)
        summary, html = self._render(session, groups)
        words = api.semantic_words(session, config)
        return (summary + (f" · {words}" if words else ""), html, api.groups_to_state(groups))

    def _render(self, session: api.Session, groups: Sequence[Any]) -> tuple[str, str]:
        """The summary and the first :data:`PAGE` groups still to decide (then decided ones)."""
        done, total = api.duplicates_progress(session, groups)
        rows = api.duplicate_rows(session, groups)
        by_group: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            by_group.setdefault(row["group"], []).append(row)
        open_first = sorted(
            (g for g in by_group if g is not None),
            key=lambda g: (all(r["decided"] for r in by_group[g]), g),
        )
        shown = [r for g in open_first[:PAGE] for r in by_group[g]] + by_group.get(None, [])
        n_apart = sum(r["decision"] == "not_duplicate" for r in by_group.get(None, []))
        more = f" · showing {PAGE} groups, undecided first" if total > PAGE else ""
        summary = (
            f"**{done:,} of {total:,} groups decided**{more} · "
            f"{sum(r['decided'] for r in rows)} items decided · {n_apart} marked not a "
            "duplicate (kept out of every run)"
        )
        page = open_first[:PAGE]
        families = [
            (words, [page[n] for n in ns])
            for words, ns in api.duplicate_families(session, [groups[g - 1] for g in page])
        ]
        return summary, groups_html(session.store, shown, families)

    def decide(
        self,
        store: str | None,
        clicked: str,
        state: list[dict[str, Any]],
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Save a click ``"<group>|<id>|<decision>:<time>"`` (groups numbered from 1) and show
        the groups again."""
        session = self.browse.writable_session(store)
        parts = (clicked or "").split(":", 1)[0].split("|")
        groups = api.groups_from_state(state)
        if (
            len(parts) != 3
            or not parts[0].isdigit()
            or not 1 <= int(parts[0]) <= len(groups)
            or not parts[1].isdigit()
        ):
            return self.find(store, tiers, perceptual, semantic)
        if parts[2] == "undo":
            api.undecide(session, [int(parts[1])])
        else:
            api.decide(session, groups[int(parts[0]) - 1], int(parts[1]), parts[2])
        return self.find(store, tiers, perceptual, semantic)

    def accept(
        self,
        store: str | None,
        tier: str,
        state: list[dict[str, Any]],
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Accept the keep suggestions of the exact and perceptual groups shown ("all"), or of
        the one tier named (the semantic tier only so)."""
        session = self.browse.writable_session(store)
        api.accept(session, api.groups_from_state(state), None if tier in (None, "all") else [tier])
        return self.find(store, tiers, perceptual, semantic)

    def export(self, store: str | None, fmt: str, state: list[dict[str, Any]]) -> str:
        """Write the decisions (CSV, JSON, or the .sh removal list) inside the collection and
        return its path for download."""
        session = self.browse.session(store)
        if fmt not in EXPORT_FORMATS:
            raise _error(f"Export as one of {', '.join(EXPORT_FORMATS)}.")
        return str(api.export_decisions(session, api.groups_from_state(state), fmt=fmt))


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message)


def groups_html(
    store: Any, rows: Sequence[dict[str, Any]], families: Sequence[tuple[str, list[int]]] = ()
) -> str:
    """Groups as a compact grid (several per row); each member with its thumbnail, distance in
    words, caption, prompt, its decision and the three decision buttons; the groups of one job
    family (``families``: (words, group numbers)) together in one row."""
    if not rows:
        return '<div class="cdir-empty">No near-duplicates at these thresholds.</div>'
    by_group: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_group.setdefault(row["group"], []).append(row)
    parts: dict[Any, str] = {}
    for group, members in by_group.items():
        if group is None:
            title = "Marked not a duplicate or alternate (never in a removal list)"
        else:
            title = (
                f"group {group} · {esc(members[0]['tier'])} · {len(members)} images · keep: "
                f"{esc(next((m['keep_reason'] for m in members if m['keep']), ''))}"
            )
        cards = "".join(_member_html(store, group, m) for m in members)
        parts[group] = (
            f'<div class="cdir-group"><div class="cdir-row-title">{title}</div>'
            f'<div class="cdir-group-members">{cards}</div></div>'
        )
    placed = {g for _, gs in families for g in gs}
    rows_html = [
        family_block(words, [parts[g] for g in gs if g in parts]) for words, gs in families
    ]
    rows_html += [html for g, html in parts.items() if g not in placed]
    return '<div class="cdir-groups">' + "".join(rows_html) + "</div>"


def _member_html(store: Any, group: Any, row: dict[str, Any]) -> str:
    sha = str(store.items.at[row["id"], "sha256"])
    status = ("decided: " if row["decided"] else "suggested: ") + row["decision"].replace("_", " ")
    buttons = (
        ""
        if group is None
        else "".join(
            f'<button class="cdir-decide{" on" if row["decision"] == d else ""}" '
            f'data-decide="{group}|{row["id"]}|{d}">{label}</button>'
            for d, label in BUTTONS
        )
    )
    prompt = (
        f'<div class="prompt">prompt: {esc(shorten(row["prompt"], 70))}</div>'
        if row.get("prompt")
        else ""
    )
    return (
        f'<div class="cdir-card cdir-member {row["decision"]}" data-member="{row["id"]}" '
        'tabindex="0" title="keys: k keep, r remove, a alternate, n not a duplicate, '
        'u undo, j next group">'
        f'<img src="{file_url(str(store.thumb_path(sha)))}" alt="{esc_name(row["file"])}">'
        f'<div class="meta"><b>{esc(row["distance"] or "")}</b></div>'
        f'<div class="file">{esc(shorten(api.shown_name(row["file"]), 36))}</div>'
        f'<div class="cap">{esc(row["caption"] or "")}</div>{prompt}'
        f'<div class="decision">{esc(status)}</div><div class="buttons">{buttons}</div></div>'
    )
