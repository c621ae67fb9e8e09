"""The errors of the service layer: each carries the one line a user reads.

``CdirError`` is the family: the app shows its message, the CLI prints it and exits with status 2.
The lower floors keep their own user error types (they cannot import this layer); they are mapped
into the family by :func:`user_errors` (what a caller catches) and :func:`as_cdir_error` (one
``CdirError`` carrying the same line)."""

from __future__ import annotations


class CdirError(Exception):
    """An error of the input or the setup, not of cdir: ``str(error)`` is the one line shown."""

    @property
    def message(self) -> str:
        return str(self)


class UsageError(CdirError, ValueError):
    """Bad arguments or bad input: exit status 2 in the CLI, a message in the app."""


class CollectionBusyError(CdirError, RuntimeError):
    """The collection is being written (a build or captions) and cannot be deleted now."""


class UserInputError(CdirError):
    """A user error raised by a lower floor (see :func:`user_errors`), carrying its line; the
    original is its ``__cause__``."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the input or the setup is wrong, not cdir: shown to the user as
    their one-line message (the CLI exits with status 2). ``CdirError`` and the user error
    types of the lower floors, which belong to the family through this tuple."""
    from cdir.export.datasets_out import ExportError
    from cdir.export.downloads import DownloadError
    from cdir.ingest.source_files import SourceError
    from cdir.models.presets import UnknownPresetError
    from cdir.models.weights import ModelUnavailableError
    from cdir.retrieval.scoring import ModeError
    from cdir.retrieval.search import QueryError
    from cdir.store.collection import StoreError

    return (
        CdirError,
        SourceError,
        StoreError,
        QueryError,
        ModeError,
        UnknownPresetError,
        ModelUnavailableError,
        FileNotFoundError,
        ExportError,
        DownloadError,
    )


def as_cdir_error(exc: BaseException) -> CdirError | None:
    """``exc`` as a member of the family: itself when it is a ``CdirError``, a ``UserInputError``
    with its line when it is one of :func:`user_errors`, else None (a bug, not the user's)."""
    if isinstance(exc, CdirError):
        return exc
    if isinstance(exc, user_errors()):
        mapped = UserInputError(str(exc))
        mapped.__cause__ = exc
        return mapped
    return None
