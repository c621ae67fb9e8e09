"""The Duplicates tab's handlers (a part of ``AppActions``): find groups, choose the one to keep,
export the decisions, the nearest-neighbour histogram, prompt agreement.

Groups come from :func:`cdir.api.find_duplicates` (the same groups, keeps and saved decisions as
the Browse panel, the API and the CLI) and are held in the page as :func:`cdir.api.groups_to_state`.
A click on a member card saves it as the group's keep in the collection. Groups are numbered from
1 on screen and in the exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views

PAGE = 50  # groups shown at a time


class DuplicateActions:
    """Mixed into ``AppActions``, which provides ``_session(store)``."""

    workspace: Any  # AppActions's Workspace

    def _session(self, store: str | None) -> api.Session:  # pragma: no cover - AppActions's
        raise NotImplementedError

    def _writable_session(self, store: str | None) -> api.Session:
        """The session of a collection the visitor may change: decisions on the shared examples
        are refused with one line (``Workspace.check_writable``), as tags are."""
        session = self._session(store)
        self.workspace.check_writable(session.store.root)
        return session

    def find_dupes(
        self, store: str | None, tiers: Sequence[str], perceptual: float, semantic: float | None
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """(summary, groups HTML, groups state) for the chosen tiers."""
        return self._find(store, tiers, perceptual, semantic)

    def review_item(
        self,
        store: str | None,
        clicked: str,
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """The review opened at the group of the item ``clicked`` (``"<id>:<time>"``, sent by
        the Browse panel): that group first, then the others as :meth:`find_dupes` orders them."""
        text = str(clicked or "").split(":", 1)[0].strip()
        if not text.isdigit():
            raise gr.Error("Click a card in the Browse panel first, then review its duplicates.")
        return self._find(store, tiers, perceptual, semantic, first=int(text))

    def _find(
        self,
        store: str | None,
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
        first: int | None = None,
    ) -> tuple[str, str, list[dict[str, Any]]]:
        session = self._session(store)
        if not tiers:
            raise gr.Error("Tick at least one tier (exact, perceptual or semantic).")
        config = api.duplicate_config(tiers, perceptual, views.semantic_value(semantic))
        groups = list(api.find_duplicates(session, config))
        lead = ""
        if first is not None:
            at = next((n for n, g in enumerate(groups) if first in g.members), None)
            if at is None:
                lead = f"**Item {first} is in no group at these thresholds.**\n\n"
            else:
                groups.insert(0, groups.pop(at))
                lead = f"**Item {first}: its group is shown first (group 1).**\n\n"
        summary = views.dupes_summary(groups, api.duplicates_progress(session, groups))
        words = api.semantic_words(session, config)
        return (
            lead + summary + (f"\n\n*Semantic tier:* {words}" if words else ""),
            self._groups_html(session, groups),
            api.groups_to_state(groups),
        )

    def choose_keep(
        self,
        store: str | None,
        clicked: str,
        state: list[dict[str, Any]],
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
    ) -> tuple[Any, Any, Any]:
        """A click on a member card (or the key k) saves it as the keep of its group (the
        others: remove, or alternate for another generation); the keys r, a, n and u save it as
        remove, alternate or not a duplicate (kept out of every later run), or drop its decision
        ("<group>-<id>[-<decision>]:<nonce>")."""
        group_no, item_id, decision = _clicked_pair(clicked)
        groups = api.groups_from_state(state)
        if group_no is None or not 0 <= group_no < len(groups):
            return gr.update(), gr.update(), gr.update()
        session = self._writable_session(store)
        group = groups[group_no]
        if item_id not in group.members:
            return gr.update(), gr.update(), gr.update()
        if decision == "undo":
            api.undecide(session, [item_id])
        elif decision in ("remove", "alternate", "not_duplicate"):
            api.decide(session, group, item_id, decision)
        else:
            for member in group.members:  # another generation stays an alternate
                made = (
                    "keep"
                    if member == item_id
                    else "alternate"
                    if member in group.alternates
                    else "remove"
                )
                api.decide(session, group, member, made)
        return self.find_dupes(store, tiers, perceptual, semantic)

    def accept_dupes(
        self,
        store: str | None,
        tier: str,
        state: list[dict[str, Any]],
        tiers: Sequence[str],
        perceptual: float,
        semantic: float | None,
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Accept the keep suggestions of the exact and perceptual groups shown ("all"), or of
        the one tier named (the semantic tier only so); saved in the collection."""
        if not state:
            raise gr.Error("Find near-duplicates first.")
        session = self._writable_session(store)
        api.accept(session, api.groups_from_state(state), None if tier in (None, "all") else [tier])
        return self.find_dupes(store, tiers, perceptual, semantic)

    def export_dupes(self, store: str | None, state: list[dict[str, Any]], fmt: str) -> str:
        """Write the decisions inside the store (never touching the images); returns the file."""
        if not state:
            raise gr.Error("Find near-duplicates first.")
        session = self._session(store)
        return str(api.export_decisions(session, api.groups_from_state(state), fmt=fmt))

    def dupes_histogram(self, store: str | None, tier: str) -> tuple[Any, str]:
        """The nearest-neighbour histogram of a tier, and example pairs near its threshold."""
        session = self._session(store)
        hist = api.duplicates_histogram(session, tier)
        x_title = (
            "cosine similarity to the nearest other image"
            if tier == "semantic"
            else "differing pHash bits to the nearest other image"
        )
        figure = api.histogram_figure(
            hist.edges,
            hist.counts,
            hist.threshold,
            f"{tier}: how close is each image's nearest neighbour?",
            x_title,
        )
        hit = session.searcher.hit
        examples = [
            (
                f"{hist.edges[b]:.3g} – {hist.edges[b + 1]:.3g}",
                [(hit(0, a, v), hit(0, c, v)) for a, c, v in pairs],
            )
            for b, pairs in sorted(hist.examples.items())
            if pairs
        ]
        return figure, views.histogram_examples_html(examples)

    def prompt_drift(self, store: str | None) -> list[list[Any]]:
        """Images with an embedded prompt, those that drifted furthest from it first."""
        table = api.prompt_agreement(self._session(store))
        if table.empty:
            raise gr.Error("No image in this collection carries a generation prompt.")
        return table.round(3).values.tolist()

    def _groups_html(self, session: api.Session, groups: Sequence[Any]) -> str:
        """The first :data:`PAGE` groups as cards."""
        return views.review_html(session.store, groups[:PAGE])


def _clicked_pair(clicked: str | None) -> tuple[int | None, int, str]:
    """(group, item, decision) from a member card's click or key
    ("<group>-<id>[-<decision>]:<nonce>"; keep by default)."""
    head = str(clicked or "").split(":", 1)[0]
    group, _, rest = head.partition("-")
    item, _, decision = rest.partition("-")
    if not (group.isdigit() and item.isdigit()):
        return None, -1, ""
    return int(group), int(item), decision or "keep"
