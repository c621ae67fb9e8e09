"""Duplicate review that stays: the handlers and HTML of the decisions panel of the Browse tab.

Groups come from :func:`cdir.duplicates.decisions.find_decided_groups` (saved "not a duplicate"
decisions honoured); every click is saved in the collection at once
(:mod:`cdir.duplicates.decisions`), so a restart or a re-run with other thresholds keeps it.
Exports are written inside the collection (``dupes/exports/``) and offered for download; cdir
never deletes a file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdir.app.browse import BrowseActions, groups_from_state, groups_to_state
from cdir.app.views import esc, esc_name, file_url, shorten
from cdir.names import shown_name

log = logging.getLogger(__name__)

EXPORT_DIR = Path("dupes") / "exports"
EXPORT_FORMATS = ("csv", "json", "sh")
BUTTONS = (("keep", "keep"), ("remove", "remove"), ("not_duplicate", "not a duplicate"))


@dataclass
class DupeActions:
    browse: BrowseActions

    def find(self, store: str | None, tiers: Sequence[str], perceptual: float, semantic: float
             ) -> tuple[str, str, list[dict[str, Any]]]:
        """(summary, groups HTML, groups state) of a run with these tiers and thresholds."""
        from cdir.duplicates.decisions import find_decided_groups
        from cdir.duplicates.finder import DedupConfig

        session = self.browse.session(store)
        if not tiers:
            raise _error("Tick at least one tier.")
        config = DedupConfig(tiers=tuple(tiers), perceptual_max_distance=int(perceptual),
                             semantic_min_similarity=float(semantic))
        groups = find_decided_groups(session.store, config)
        return (*self._render(session.store, groups), groups_to_state(groups))

    def _render(self, store: Any, groups: Sequence[Any]) -> tuple[str, str]:
        from cdir.duplicates.decisions import decision_rows, load_decided

        decided = load_decided(store.root)
        rows = decision_rows(store, groups, decided)
        n_apart = sum(d.decision == "not_duplicate" for d in decided.values())
        summary = (f"**{len(groups)}** groups · {sum(r['decided'] for r in rows)} items decided"
                   f" · {n_apart} marked not a duplicate (kept out of every run)")
        return summary, groups_html(store, rows)

    def decide(self, store: str | None, clicked: str, state: list[dict[str, Any]],
               tiers: Sequence[str], perceptual: float, semantic: float
               ) -> tuple[str, str, list[dict[str, Any]]]:
        """Save a click ``"<group>|<id>|<decision>:<time>"`` and show the groups again."""
        from cdir.duplicates.decisions import decide

        session = self.browse.session(store)
        parts = (clicked or "").split(":", 1)[0].split("|")
        groups = groups_from_state(state)
        if len(parts) != 3 or not parts[0].isdigit() or not int(parts[0]) < len(groups):
            return self.find(store, tiers, perceptual, semantic)
        decide(session.store.root, groups[int(parts[0])], int(parts[1]), parts[2])
        return self.find(store, tiers, perceptual, semantic)

    def accept(self, store: str | None, tier: str, state: list[dict[str, Any]],
               tiers: Sequence[str], perceptual: float, semantic: float
               ) -> tuple[str, str, list[dict[str, Any]]]:
        """Accept the keep suggestions of every group shown (or of one tier)."""
        from cdir.duplicates.decisions import accept_suggestions

        session = self.browse.session(store)
        accept_suggestions(session.store, groups_from_state(state),
                           None if tier in (None, "all") else tier)
        return self.find(store, tiers, perceptual, semantic)

    def export(self, store: str | None, fmt: str, state: list[dict[str, Any]]) -> str:
        """Write the decisions (CSV, JSON, or the .sh removal list) inside the collection and
        return its path for download."""
        from cdir.duplicates.decision_export import export
        from cdir.duplicates.decisions import decision_rows

        session = self.browse.session(store)
        if fmt not in EXPORT_FORMATS:
            raise _error(f"Export as one of {', '.join(EXPORT_FORMATS)}.")
        rows = decision_rows(session.store, groups_from_state(state))
        out = session.store.root / EXPORT_DIR / f"duplicate-decisions.{fmt}"
        return str(export(session.store, rows, out))


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message)


def groups_html(store: Any, rows: Sequence[dict[str, Any]]) -> str:
    """Groups as a compact grid (several per row); each member with its thumbnail, distance in
    words, caption, prompt, its decision and the three decision buttons."""
    if not rows:
        return '<div class="cdir-empty">No near-duplicates at these thresholds.</div>'
    by_group: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_group.setdefault(row["group"], []).append(row)
    parts = []
    for group, members in by_group.items():
        if group is None:
            title = "Marked not a duplicate (kept out of every run)"
        else:
            title = f"group {group} · {esc(members[0]['tier'])} · {len(members)} images"
        cards = "".join(_member_html(store, group, m) for m in members)
        parts.append(f'<div class="cdir-group"><div class="cdir-row-title">{title}</div>'
                     f'<div class="cdir-group-members">{cards}</div></div>')
    return '<div class="cdir-groups">' + "".join(parts) + "</div>"


def _member_html(store: Any, group: Any, row: dict[str, Any]) -> str:
    sha = str(store.items.at[row["id"], "sha256"])
    status = ("decided: " if row["decided"] else "suggested: ") + row["decision"].replace("_", " ")
    buttons = "" if group is None else "".join(
        f'<button class="cdir-decide{" on" if row["decision"] == d else ""}" '
        f'data-decide="{group}|{row["id"]}|{d}">{label}</button>' for d, label in BUTTONS)
    prompt = (f'<div class="prompt">prompt: {esc(shorten(row["prompt"], 70))}</div>'
              if row.get("prompt") else "")
    return (f'<div class="cdir-card cdir-member {row["decision"]}" data-member="{row["id"]}">'
            f'<img src="{file_url(str(store.thumb_path(sha)))}" alt="{esc_name(row["file"])}">'
            f'<div class="meta"><b>{esc(row["distance"] or "")}</b></div>'
            f'<div class="file">{esc(shorten(shown_name(row["file"]), 36))}</div>'
            f'<div class="cap">{esc(row["caption"] or "")}</div>{prompt}'
            f'<div class="decision">{esc(status)}</div><div class="buttons">{buttons}</div></div>')
