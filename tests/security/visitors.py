"""The server the attacks of ``tests/security/`` talk to, and a build through its API."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdir.app.workspace import Workspace


@dataclass
class Server:
    url: str  # without the trailing slash
    demo: Any
    workspace: Workspace
    base: Path  # the folder holding the workspace (and a secret beside it)
    client: Any  # a gradio_client.Client
    a_key: str
    a_name: str  # visitor A's collection
    b_key: str
    b_name: str  # visitor B's collection
    examples: str  # the shared example collection's name

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` (relative to the server) as a stranger would: (status, body)."""
        try:
            with urllib.request.urlopen(
                f"{self.url}/{path.lstrip('/')}",  # noqa: S310
                timeout=30,
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def call(self, api_name: str, *args: Any) -> Any:
        return self.client.predict(*args, api_name=api_name)


def build(
    client: Any,
    files: list[Path],
    name: str,
    owner: str = "",
    if_exists: str = "new",
    captions: str = "lazy",
) -> dict[str, Any]:
    from gradio_client import handle_file

    return client.predict(
        [handle_file(str(p)) for p in files],
        name,
        "tiny",
        captions,
        owner,
        if_exists,
        api_name="/build_collection",
    )
