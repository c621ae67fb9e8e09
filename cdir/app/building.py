"""The Build buttons' handlers (a part of ``AppActions``): uploads copied into a new collection,
or added to one the visitor built, and ingested; the one line saying under which name."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views
from cdir.app.widgets import gradio_progress
from cdir.app.workspace import (
    copy_uploads,
    files_snapshot,
    new_owner_key,
    saved_as,
    undo_files,
)

log = logging.getLogger(__name__)


class BuildActions:
    """Mixed into ``AppActions``, which provides ``workspace``, ``preset``, ``model_root``,
    ``config``, ``jobs``, ``builds``, ``stale`` and ``collection_view`` (not declared here: a
    stub would hide them)."""

    def build(
        self,
        files: Sequence[str] | None,
        name: str,
        preset: str,
        captions: str,
        progress: Any = None,
        owner: str | None = None,
        add: bool = False,
        levels: tuple[str, str] = ("auto", "auto"),
    ) -> tuple[Any, ...]:
        store, report, note = self.build_store(
            files, name, preset, captions, progress, owner, add, levels
        )
        return self.collection_view(str(store), report.rejected, owner, note)

    def build_store(
        self,
        files: Sequence[Any] | None,
        name: str,
        preset: str,
        captions: str,
        progress: Any = None,
        owner: str | None = None,
        add: bool = False,
        levels: tuple[str, str] = ("auto", "auto"),
    ) -> tuple[Path, Any, str]:
        """Copy uploads into a new collection (or into ``name`` when ``add`` and the caller
        built it) and ingest them: (the collection, the ingest report, the one line saying under
        which name it was saved, :func:`~cdir.app.workspace.saved_as`). Someone else's
        collection of that name is never touched: the caller gets a new one of their own.
        ``levels``: the folder levels of domain and class (``api.layout``: a number, "auto" or
        "none"), as the preview shows them (:meth:`layout_preview`). A build
        that yields no searchable image leaves nothing behind and raises ValueError with the
        reasons."""
        if not files:
            raise ValueError("Drop some images or a zip file into the upload box first.")
        if preset and preset not in api.preset_names():  # names only: never a server-side file
            raise api.UsageError(
                f"unknown preset {preset!r}; choose one of: {', '.join(api.preset_names())}"
            )
        api.preset_info(preset or self.preset)  # an unknown preset fails before anything is copied
        layout = api.layout(*levels)  # so does a level that is no level
        existing = self.workspace.find_own(name, owner) if add else None
        if existing is not None:
            collection = existing
        else:  # a visitor's new name is unguessable and never tells what others built
            collection = self.workspace.new_collection(
                name, unguessable=bool(owner) and not self.workspace.shared
            )
            self.workspace.claim(collection, owner)
        before = files_snapshot(collection)
        try:
            copied = copy_uploads([upload_path(f) for f in files], collection)
            report = self._ingest(
                copied, collection, preset or self.preset, captions, progress, layout
            )
        except BaseException:
            if existing is None:
                self.workspace.discard_if_unusable(collection)  # a refused zip leaves nothing
            else:  # a failed add leaves the collection as it was: its copies go
                undo_files(collection, before)
            raise
        if not existing and self.workspace.discard_if_unusable(collection):
            raise ValueError(views.nothing_usable(report))
        self._caption_in_background(collection, preset or self.preset, captions)
        return collection, report, saved_as(name, collection.name, added=existing is not None)

    def _ingest(
        self,
        sources: Sequence[Path],
        store: Path,
        preset: str,
        captions: str,
        progress: Any,
        layout: api.Layout | None = None,
    ) -> Any:
        config = replace(
            self.config,
            captions="lazy" if captions == "background" else captions,
            layout=layout or api.Layout(),
        )
        return api.ingest(
            sources,
            store,
            preset,
            config,
            self.model_root,
            gradio_progress(progress) if progress is not None else None,
        )

    def _caption_in_background(self, store: Path, preset: str, captions: str) -> None:
        if captions == "background":
            self.jobs.start(
                store, api.get_models(api.collection_preset(store) or preset, self.model_root)
            )

    def name_taken(self, name: str, owner: str | None) -> bool:
        """True when building under ``name`` would meet a collection the caller can see."""
        return self.workspace.find_own(name, owner) is not None

    def build_or_ask(
        self,
        files: Sequence[str] | None,
        name: str,
        preset: str,
        captions: str,
        progress: Any = None,
        owner: str | None = None,
        add: bool | None = None,
        levels: tuple[str, str] = ("auto", "auto"),
    ) -> tuple[Any, ...]:
        """The Build buttons: ``collection_view``, whether to show the question, the owner key
        and the upload box. With ``add`` None and a collection of that name the caller can see,
        every view stays as it is and the question shows (add to it, or make a new one). A page
        that built before its owner key arrived gets one now. A build that succeeds empties the
        upload box (the next build would add the same files again); one that fails raises, and
        the page keeps the files, so nothing is lost. The build runs as a job of its own
        (``api.BuildJobs``) that this page follows: a reloaded page finds it again
        (:meth:`reconnect`)."""
        owner = owner or new_owner_key()
        if add is None and files and self.name_taken(name, owner):
            return (
                *[gr.update()] * (7 + len(self.stale)),
                gr.update(visible=True),
                owner,
                gr.update(),
            )
        job = self.builds.start(
            owner,
            name,
            lambda job: self.build(
                files, name, preset, captions, JobProgress(job), owner, bool(add), levels
            ),
        )
        return (*self.follow(job, progress), gr.update(visible=False), owner, gr.update(value=None))

    def follow(self, job: api.BuildJob, progress: Any = None) -> tuple[Any, ...]:
        """Wait for ``job`` to end, showing its stage and count on ``progress`` (a
        ``gr.Progress``) meanwhile; its ``collection_view``, or its error raised."""
        while not job.wait(0.5):
            if progress is not None and job.total:
                progress((job.done, job.total), desc=job.stage, unit="images")
            elif progress is not None:  # no count yet: the stage alone (waiting for the slot)
                progress(0.0, desc=job.stage)
        return tuple(job.outcome())

    def reconnect(self, owner: str | None, progress: Any = None) -> tuple[Any, ...]:
        """On page load: a build of this visitor still running (the page was reloaded, or opened
        in a new tab) is followed to its end, its progress shown, then its collection opened;
        without one nothing changes."""
        job = self.builds.running(owner)
        if job is None:
            return tuple(gr.update() for _ in range(7 + len(self.stale)))
        log.info("a page came back to build %s", job.id)
        return self.follow(job, progress)

    def layout_preview(
        self, files: Sequence[Any] | None, domain: str = "auto", cls: str = "auto"
    ) -> tuple[Any, str, Any, Any]:
        """The layout box under the upload: (the box shown or hidden, the guess in one line, the
        domain level's choices, the class level's). Hidden for uploads without folders (loose
        images); the line is ``api.guess_layout_of``'s, the one ``cdir ingest`` prints."""
        paths = [upload_path(f) for f in files or []]
        guess = api.guess_layout_of(paths, api.layout(domain, cls))
        if not guess.images:
            return gr.update(visible=False), "", gr.update(value="auto"), gr.update(value="auto")
        choices = [("guess", "auto"), ("none", "none")] + [
            (views.level_choice(n, names), str(n)) for n, names in enumerate(guess.levels, 1)
        ]
        return (
            gr.update(visible=True),
            views.layout_line(guess.describe()),
            gr.update(choices=choices, value=domain or "auto"),
            gr.update(choices=choices, value=cls or "auto"),
        )


class JobProgress:
    """A build job's progress callback in the shape of a ``gr.Progress`` (what
    ``gradio_progress`` calls): the page that follows the job shows it."""

    def __init__(self, job: api.BuildJob) -> None:
        self.job = job

    def __call__(self, value: Any, desc: str | None = None, unit: str = "") -> None:
        done, total = value if isinstance(value, tuple) else (0, 0)
        self.job.report(int(done or 0), int(total or 0), desc or "")


def upload_path(upload: Any) -> str:
    """gradio hands files over as paths (or objects with a ``name``)."""
    return str(getattr(upload, "name", upload))
