"""Thumbnails served to the page through signed URLs, never through gradio's ``file=`` route.

gradio serves every file under its ``allowed_paths`` to anyone who names the path. A collection's
files (its table, embeddings, cache, uploads, originals and thumbnails) must reach only visitors
who may see that collection, so the workspace is not an allowed path. Instead each thumbnail a
page shows is given a URL that the server signed when it rendered the page for a visitor allowed
to see it::

    cdir-media/<collection>/<sha256>.jpg?e=<expiry hour>&s=<signature>

The signature is an HMAC-SHA256 (RFC 2104, :mod:`hmac`) over the collection name, the file name
and the expiry, keyed with 256 random bits drawn when the process starts; it expires after
``LIFETIME_HOURS``. The route answers only files named like a thumbnail inside
``<workspace>/<collection>/thumbs/``; a wrong signature, an expired one and a missing file all get
the same 404, so the route tells a prober nothing. A URL names no server path.

Such a URL is a capability: whoever holds it can fetch that one thumbnail until it expires (as
with a link to a shared document). ``docs/security.md`` states this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path
from typing import Any

from cdir.assets import EXAMPLES_DIR

ROUTE = "cdir-media"
PUBLIC_ROUTE = "cdir-public"
THUMBS = "thumbs"
# Folders anyone may read (bundled, public files), by the name their URLs use
PUBLIC_DIRS: dict[str, Path] = {"examples": EXAMPLES_DIR}
LIFETIME_HOURS = 24
_SECRET = secrets.token_bytes(32)
_COLLECTION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126})$")
_THUMB_NAME = re.compile(r"^[0-9a-f]{16,128}\.jpg$")


def _signature(collection: str, name: str, expiry: int) -> str:
    message = f"{collection}\0{name}\0{expiry}".encode()
    digest = hmac.new(_SECRET, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _current_expiry(now: float | None = None) -> int:
    """The expiry hour of URLs made now: at least ``LIFETIME_HOURS`` ahead, the same value for a
    whole hour, so a page drawn twice reuses the browser's cached thumbnails."""
    hour = int((time.time() if now is None else now) // 3600)
    return hour + LIFETIME_HOURS + 1


def media_url(path: str | Path, now: float | None = None) -> str | None:
    """The signed, relative URL of a thumbnail ``<workspace>/<collection>/thumbs/<sha>.jpg``,
    or None when ``path`` is not one (the caller decides what else may be shown)."""
    parts = Path(path).parts
    if len(parts) < 3 or parts[-2] != THUMBS:
        return None
    collection, name = parts[-3], parts[-1]
    if not (_COLLECTION.match(collection) and _THUMB_NAME.match(name)):
        return None
    expiry = _current_expiry(now)
    return f"{ROUTE}/{collection}/{name}?e={expiry}&s={_signature(collection, name, expiry)}"


def public_url(path: str | Path) -> str | None:
    """The relative URL of a file inside one of ``PUBLIC_DIRS`` (the bundled examples), naming
    the folder by its public name, never by its place on the server; None for any other file."""
    from urllib.parse import quote

    resolved = Path(path).resolve()
    for public, folder in PUBLIC_DIRS.items():
        if resolved.is_relative_to(folder.resolve()) and resolved.is_file():
            inside = resolved.relative_to(folder.resolve()).as_posix()
            return f"{PUBLIC_ROUTE}/{public}/{quote(inside)}"
    return None


def verify(
    collection: str, name: str, expiry: str, signature: str, now: float | None = None
) -> bool:
    """True when ``signature`` was made by :func:`media_url` of this process for exactly this
    collection, file and expiry, and the expiry has not passed."""
    if not (_COLLECTION.match(collection) and _THUMB_NAME.match(name) and expiry.isdigit()):
        return False
    if int(expiry) * 3600 < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(_signature(collection, name, int(expiry)), signature)


def media_routes(workspace_root: str | Path) -> list[Any]:
    """The starlette routes that serve signed thumbnails of ``workspace_root``'s collections
    and the files of ``PUBLIC_DIRS`` (pass as ``app_kwargs={"routes": ...}`` to
    ``Blocks.launch``)."""
    from starlette.responses import FileResponse, PlainTextResponse, Response
    from starlette.routing import Route

    root = Path(workspace_root).resolve()

    async def serve(request: Any) -> Response:
        collection = request.path_params["collection"]
        name = request.path_params["name"]
        query = request.query_params
        if verify(collection, name, query.get("e", ""), query.get("s", "")):
            path = root / collection / THUMBS / name
            if path.is_file() and not path.is_symlink():
                return FileResponse(
                    path,
                    media_type="image/jpeg",
                    headers={
                        "Cache-Control": "private, max-age=3600",
                        "X-Content-Type-Options": "nosniff",
                    },
                )
        return PlainTextResponse("not found", status_code=404)

    async def serve_public(request: Any) -> Response:
        folder = PUBLIC_DIRS.get(request.path_params["public"])
        if folder is not None:
            base = folder.resolve()
            path = (base / request.path_params["path"]).resolve()
            if path.is_relative_to(base) and path.is_file():
                return FileResponse(
                    path,
                    headers={
                        "Cache-Control": "public, max-age=3600",
                        "X-Content-Type-Options": "nosniff",
                    },
                )
        return PlainTextResponse("not found", status_code=404)

    return [
        Route(f"/{ROUTE}/{{collection}}/{{name}}", serve, methods=["GET", "HEAD"]),
        Route(f"/{PUBLIC_ROUTE}/{{public}}/{{path:path}}", serve_public, methods=["GET", "HEAD"]),
    ]
