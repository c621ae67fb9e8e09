"""An answer in words when the server's disk is full, for requests that never reach a handler.

gradio saves an upload before any cdir code runs; on a full disk that fails inside gradio and
the visitor got a bare "500 Internal Server Error". This ASGI middleware (the ASGI 3 interface,
as starlette's own middlewares) turns an ``OSError`` ENOSPC/EDQUOT that escapes a request into
``507 Insufficient Storage`` (RFC 4918 §11.5) with one line saying what to do. Handlers' own
disk-full errors already come back as their one-line messages (``cdir.api.ingest``).
"""

from __future__ import annotations

import errno
import logging
from typing import Any

log = logging.getLogger(__name__)

DISK_FULL_MESSAGE = (
    "The server's disk is full, so nothing was saved: try again later, or "
    "ask whoever runs this app to free some space."
)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError that means no space (or quota) is left, anywhere in its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _DISK_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DiskFullAnswer:
    """ASGI middleware: a disk-full error that escapes a request becomes a 507 with
    :data:`DISK_FULL_MESSAGE` (when no response has started; otherwise it is re-raised)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not is_disk_full(exc):
                raise
            log.warning("disk full while answering %s", scope.get("path"))
            from starlette.responses import PlainTextResponse

            await PlainTextResponse(DISK_FULL_MESSAGE, status_code=507)(scope, receive, send)
