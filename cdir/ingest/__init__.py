"""Ingest: from files to a searchable collection.

Sources (folders, zips, file lists: :mod:`~cdir.ingest.sources`, with safe zip extraction in
:mod:`~cdir.ingest.archives` and CSV labels in :mod:`~cdir.ingest.manifest`) are decoded
(:mod:`~cdir.imaging.decode`), hashed, thumbnailed and read for prompts
(:mod:`~cdir.ingest.metadata`) by :mod:`~cdir.ingest.reader`; Midjourney-style grids become tile
items (:mod:`~cdir.ingest.grids`); :func:`ingest` (:mod:`~cdir.ingest.pipeline`) embeds images
first (the collection is searchable), then captions and embeds the captions
(:mod:`~cdir.models.text_embeddings`). :class:`CaptionJobs` captions in the background;
:func:`ingest_ray` runs the same worker on Ray Data (:mod:`~cdir.ingest.ray_engine`,
:mod:`~cdir.ingest.shards`). Imports only imaging, models and store.
"""

from cdir.ingest.jobs import CaptionJobs
from cdir.ingest.pipeline import IngestConfig, IngestReport, ingest
from cdir.ingest.ray_engine import ingest_ray
from cdir.ingest.source_files import SourceError
from cdir.ingest.sources import check_sources, scan_sources

__all__ = [
    "CaptionJobs",
    "IngestConfig",
    "IngestReport",
    "SourceError",
    "check_sources",
    "ingest",
    "ingest_ray",
    "scan_sources",
]
