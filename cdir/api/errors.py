"""The errors of the service layer: each carries the one line a user reads."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments or bad input: exit status 2 in the CLI, a message in the app."""


class CollectionBusyError(RuntimeError):
    """The collection is being written (a build or captions) and cannot be deleted now."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the input or the setup is wrong, not cdir: shown to the user as
    their one-line message (the CLI exits with status 2)."""
    from cdir.export.datasets_out import ExportError
    from cdir.export.downloads import DownloadError
    from cdir.ingest.source_files import SourceError
    from cdir.models.presets import UnknownPresetError
    from cdir.models.weights import ModelUnavailableError
    from cdir.retrieval.scoring import ModeError
    from cdir.retrieval.search import QueryError
    from cdir.store.collection import StoreError

    return (UsageError, SourceError, StoreError, QueryError, ModeError, UnknownPresetError,
            ModelUnavailableError, FileNotFoundError, ExportError, DownloadError,
            CollectionBusyError)
