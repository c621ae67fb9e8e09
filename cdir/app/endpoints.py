"""The app's documented API: one call per user action, each naming its collection, each returning
plain JSON, none depending on an earlier call.

``app.py`` exposes these as ``/list_collections``, ``/open_collection``, ``/build_collection``,
``/search_image``, ``/search_text``, ``/search_item``, ``/find_duplicates`` and
``/delete_collection`` (see the README's gradio_client example). A hit is
``{"rank", "id", "file", "score", "domain", "class", "caption", "prompt", "near_duplicates"}``
(the ids folded under the hit: a search shows one hit per duplicate group unless
``show_duplicates`` is true); ``file`` is the path
inside the collection (``photo/car/a.jpg``), never a server path. ``owner`` is the caller's owner
key: ``/build_collection`` returns one when none is given; pass it back to see that collection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cdir import api
from cdir.api import Hit, SearchOptions, SearchResult
from cdir.app.handlers import AppActions
from cdir.app.views import semantic_value
from cdir.app.workspace import new_owner_key

log = logging.getLogger(__name__)

TIERS = ("exact", "perceptual", "semantic")


def hit_record(hit: Hit) -> dict[str, Any]:
    """A hit as plain JSON: rank, id, file (inside the collection), score, domain, class,
    caption, prompt."""
    return {
        "rank": int(hit.rank),
        "id": int(hit.id),
        "file": hit.rel_path,
        "score": round(float(hit.score), 6),
        "domain": hit.domain,
        "class": hit.label,
        "caption": hit.caption,
        "prompt": hit.prompt,
        "near_duplicates": [int(i) for i in hit.near_duplicates],
    }


def result_record(collection: str, result: SearchResult) -> dict[str, Any]:
    """A search result as plain JSON: the collection, the query (kind, text or id, its caption),
    the options and the hits."""
    q = result.query
    query = {
        "kind": q.kind,
        "text": q.text,
        "id": q.id,
        "caption": q.caption,
        "caption_used": q.caption_used,
    }
    options = {
        "mode": result.options.mode,
        "k": result.options.k,
        "domains": list(result.options.domains),
        "show_duplicates": not result.options.collapse_duplicates,
    }
    return {
        "collection": collection,
        "query": query,
        "options": options,
        "hits": [hit_record(h) for h in result.hits],
    }


def collection_record(info: dict[str, Any]) -> dict[str, Any]:
    """``api.info`` without anything that names the server's disk."""
    keep = (
        "name",
        "preset",
        "n_ok",
        "n_failed",
        "n_captioned",
        "domains",
        "classes",
        "predicted_domains",
        "with_prompt",
        "created",
        "updated",
    )
    record = {k: info.get(k) for k in keep}
    record["images"] = record.pop("n_ok")
    record["failed"] = [{"file": f["file"], "reason": f["reason"]} for f in info["failed"]]
    return record


@dataclass
class Endpoints:
    """The API calls, on the app's actions (same workspace, models and background jobs)."""

    actions: AppActions

    def list_collections(self, owner: str = "") -> list[dict[str, Any]]:
        """The collections the caller may open (examples, unowned ones, the caller's own),
        newest first: name, images, domains, classes, preset."""
        rows = []
        for name in self.actions.workspace.collections(owner or None):
            record = collection_record(api.info(self.actions.workspace.root / name))
            rows.append(
                {
                    k: record[k]
                    for k in ("name", "images", "n_captioned", "domains", "classes", "preset")
                }
            )
        return rows

    def open_collection(self, name: str, owner: str = "") -> dict[str, Any]:
        """What a collection holds: counts, domains, classes, preset, files that failed."""
        return collection_record(api.info(self.actions.workspace.path(name, owner or None)))

    def build_collection(
        self,
        files: Sequence[str],
        name: str,
        preset: str = "",
        captions: str = "background",
        owner: str = "",
        if_exists: str = "new",
        progress: Any = None,
    ) -> dict[str, Any]:
        """Build a collection from images and zips (``if_exists``: "new" makes ``name-2`` when
        ``name`` is taken, "add" adds to it). Returns the collection, the owner key (a new one
        when none was given), the line saying under which name it was saved (``message``), the
        folder layout that labelled the files (``layout``, as ``cdir ingest`` prints it), the
        files left out and what the collection holds."""
        owner = owner or new_owner_key()
        store, report, note = self.actions.build_store(
            files, name, preset, captions, progress, owner=owner, add=if_exists == "add"
        )
        record = collection_record(api.info(store))
        return {
            "collection": store.name,
            "message": note,
            "layout": report.layout,
            "owner": owner,
            "added": int(report.added),
            "rejected": [{"file": r["file"], "reason": r["reason"]} for r in report.rejected],
            **record,
        }

    def search_image(
        self,
        collection: str,
        image: str,
        mode: str = "caption",
        k: int = 12,
        domains: Sequence[str] = (),
        owner: str = "",
        show_duplicates: bool = False,
    ) -> dict[str, Any]:
        """The ``k`` items closest to a query image (a file), in ``domains`` (empty: all)."""
        if not image:
            raise ValueError("give a query image file")
        query = {"image": image}
        return self._search(collection, query, mode, k, domains, owner, show_duplicates)

    def search_image_stages(
        self,
        collection: str,
        image: str,
        mode: str = "caption",
        k: int = 12,
        domains: Sequence[str] = (),
        owner: str = "",
        show_duplicates: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """The ``k`` items closest to a query image (a file), in ``domains`` (empty: all). In
        caption-matching mode two answers: image → image first (``"stage": "image"``, as soon
        as the image's embedding is ready), then the CM one (``"stage": "final"``); other modes
        answer once. gradio_client's ``predict`` returns the final answer, ``submit`` shows both.
        A caption that fails ends with the image → image hits and a ``"message"``.
        ``show_duplicates`` False (the default): one hit per duplicate group, the ids of the
        others in its ``near_duplicates``."""
        if not image:
            raise ValueError("give a query image file")
        session = self._session(collection, owner)
        options = self._options(mode, k, domains, show_duplicates)
        for stage in api.search_staged(session, image=image, options=options):
            record = result_record(collection, stage.rows[0][1])
            record["stage"] = "final" if stage.final else "image"
            record["showing"] = stage.showing
            if stage.caption_error:
                record["message"] = stage.caption_error
            yield record

    def search_text(
        self,
        collection: str,
        text: str,
        mode: str = "caption",
        k: int = 12,
        domains: Sequence[str] = (),
        owner: str = "",
        show_duplicates: bool = False,
    ) -> dict[str, Any]:
        """The ``k`` items that best match a text query, in ``domains`` (empty: all)."""
        if not str(text or "").strip():
            raise ValueError("give a text to search for, such as 'a red boat'")
        return self._search(collection, {"text": text}, mode, k, domains, owner, show_duplicates)

    def search_item(
        self,
        collection: str,
        item_id: int,
        mode: str = "caption",
        k: int = 12,
        domains: Sequence[str] = (),
        owner: str = "",
        show_duplicates: bool = False,
    ) -> dict[str, Any]:
        """More like item ``item_id`` of the collection (what a click on a result does)."""
        query = {"item_id": int(item_id)}
        return self._search(collection, query, mode, k, domains, owner, show_duplicates)

    def find_duplicates(
        self,
        collection: str,
        tiers: Sequence[str] = ("exact", "perceptual"),
        perceptual: float = 8,
        semantic: float | None = None,
        owner: str = "",
    ) -> dict[str, Any]:
        """Near-duplicate groups, largest first, numbered from 1 (as on screen and in the
        exports): tier, members (hits, representative first), the one to keep and why (the same
        groups and keep as every other surface, saved decisions applied)."""
        session = self._session(collection, owner)
        unknown = sorted(set(tiers) - set(TIERS))
        if not tiers or unknown:
            raise ValueError(f"tiers must be some of {', '.join(TIERS)}")
        config = api.duplicate_config(tiers, perceptual, semantic_value(semantic))
        groups = []
        for number, group in enumerate(api.find_duplicates(session, config), start=1):
            members = [
                session.searcher.hit(rank, int(m), float(group.scores.get(m, 0.0)))
                for rank, m in enumerate(group.members, start=1)
            ]
            groups.append(
                {
                    "group": number,
                    "tier": group.tier,
                    "representative": int(group.representative),
                    "keep": int(group.keep),
                    "keep_reason": group.keep_reason,
                    "members": [hit_record(h) for h in members],
                }
            )
        return {"collection": collection, "groups": groups}

    def delete_collection(self, name: str, owner: str = "") -> list[dict[str, Any]]:
        """Delete a collection the caller built; returns the collections left."""
        self.actions.delete_collection(name, owner or None)
        return self.list_collections(owner)

    def _session(self, collection: str, owner: str) -> api.Session:
        return api.session_for(
            self.actions.workspace.path(collection, owner or None), self.actions.model_root
        )

    def _search(
        self,
        collection: str,
        query: dict[str, Any],
        mode: str,
        k: int,
        domains: Sequence[str],
        owner: str,
        show_duplicates: bool = False,
    ) -> dict[str, Any]:
        session = self._session(collection, owner)
        options = self._options(mode, k, domains, show_duplicates)
        return result_record(collection, api.search(session, options=options, **query))

    @staticmethod
    def _options(
        mode: str, k: int, domains: Sequence[str], show_duplicates: bool = False
    ) -> SearchOptions:
        return SearchOptions(
            mode=mode or "caption",
            k=int(k),
            domains=tuple(d for d in domains or () if d),
            collapse_duplicates=not show_duplicates,
        )
