"""The Duplicates tab's handlers (a part of ``AppActions``): find groups, choose the one to keep,
export the decisions, the nearest-neighbour histogram, prompt agreement.

Groups are numbered from 1 on screen and in the exports; the keep choices of a review are kept
by the group's position (from 0) in the browser session's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views


class DuplicateActions:
    """Mixed into ``AppActions``, which provides ``_session(store)``."""

    def _session(self, store: str | None) -> api.Session:  # pragma: no cover - AppActions's
        raise NotImplementedError

    def find_dupes(self, store: str | None, tiers: Sequence[str], perceptual: float,
                   semantic: float) -> tuple[str, str, list[dict[str, Any]], dict[int, int]]:
        """(summary, groups HTML, groups state, keep choices) for the chosen tiers."""
        from cdir.duplicates.finder import DedupConfig, find_groups

        session = self._session(store)
        if not tiers:
            raise gr.Error("Tick at least one tier (exact, perceptual or semantic).")
        config = DedupConfig(tiers=tuple(tiers), perceptual_max_distance=int(perceptual),
                             semantic_min_similarity=float(semantic))
        groups = find_groups(session.store, config)
        state = [{"tier": g.tier, "members": list(map(int, g.members)),
                  "representative": int(g.representative),
                  "scores": {int(k): float(v) for k, v in g.scores.items()}} for g in groups]
        return (views.dupes_summary(groups), self._groups_html(session, state, {}), state, {})

    def choose_keep(self, store: str | None, clicked: str, state: list[dict[str, Any]],
                    keeps: dict[int, int]) -> tuple[Any, Any]:
        """A click on a member card makes it the one to keep in its group."""
        group_no, item_id = _clicked_pair(clicked)
        if group_no is None or not 0 <= group_no < len(state):
            return gr.update(), gr.update()
        keeps = {**keeps, group_no: item_id}
        return self._groups_html(self._session(store), state, keeps), keeps

    def export_dupes(self, store: str | None, state: list[dict[str, Any]],
                     keeps: dict[int, int], fmt: str) -> str:
        """Write the decisions inside the store (never touching the images); returns the file."""
        from cdir.duplicates.review import decision_rows, decisions_path, export_decisions

        if not state:
            raise gr.Error("Find near-duplicates first.")
        session = self._session(store)
        rows = decision_rows(session.store, _dup_groups(state), keeps)
        return str(export_decisions(rows, decisions_path(session.store, fmt), fmt))

    def dupes_histogram(self, store: str | None, tier: str) -> tuple[Any, str]:
        """The nearest-neighbour histogram of a tier, and example pairs near its threshold."""
        from cdir.duplicates.calibration import similarity_histogram
        from cdir.maps.plots import histogram_figure

        session = self._session(store)
        hist = similarity_histogram(session.store, tier)
        x_title = ("cosine similarity to the nearest other image" if tier == "semantic"
                   else "differing pHash bits to the nearest other image")
        figure = histogram_figure(hist.edges, hist.counts, hist.threshold,
                                  f"{tier}: how close is each image's nearest neighbour?", x_title)
        hit = session.searcher.hit
        examples = [(f"{hist.edges[b]:.3g} – {hist.edges[b + 1]:.3g}",
                     [(hit(0, a, v), hit(0, c, v)) for a, c, v in pairs])
                    for b, pairs in sorted(hist.examples.items()) if pairs]
        return figure, views.histogram_examples_html(examples)

    def prompt_drift(self, store: str | None) -> list[list[Any]]:
        """Images with an embedded prompt, those that drifted furthest from it first."""
        from cdir.duplicates.prompt_agreement import prompt_agreement
        from cdir.store.cache import Cache

        session = self._session(store)
        cache = Cache.for_store(session.store.root)
        try:
            table = prompt_agreement(session.store, session.models, cache)
        finally:
            cache.close()
        if table.empty:
            raise gr.Error("No image in this collection carries a generation prompt.")
        return table.round(3).values.tolist()

    def _groups_html(self, session: api.Session, state: list[dict[str, Any]],
                     keeps: dict[int, int]) -> str:
        from cdir.duplicates.review import review_table

        tables = [(g.tier, review_table(session.store, g, keeps.get(n)))
                  for n, g in enumerate(_dup_groups(state))]
        return views.groups_html(tables)


def _dup_groups(state: list[dict[str, Any]]) -> list[Any]:
    from cdir.duplicates.finder import DupGroup

    return [DupGroup(g["tier"], list(g["members"]), g["representative"],
                     {int(k): v for k, v in g["scores"].items()}) for g in state]


def _clicked_pair(clicked: str | None) -> tuple[int | None, int]:
    """(group, item) from a member-card click ("<group>-<id>:<nonce>")."""
    head = str(clicked or "").split(":", 1)[0]
    group, _, item = head.partition("-")
    return (int(group), int(item)) if group.isdigit() and item.isdigit() else (None, -1)
