"""The real app served on a free localhost port, as ``python app.py`` runs it (tiny preset).

Shared by the tests that talk to a running server (browser, many users, security).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cdir.app.workspace import Workspace
from tests.required import missing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip without Chromium, except under CI where it must be (tests/required.py)."""
    if not Path(CHROMIUM).exists():
        missing("Chromium", "apt-get install chromium; .ci/run installs it")


@contextmanager
def browser(**launch: Any) -> Iterator[Any]:
    """A headless Chromium (Playwright), closed on exit."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, **launch)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_app(workspace: Workspace, cache_dir: Path, **options: Any) -> Iterator[tuple[str, Any]]:
    """Yield (URL, gradio Blocks) of the app serving ``workspace``, with its own cache folder
    (``options``: more AppActions fields, such as ``notice``).
    The server stops on exit. It runs in a ``MonkeyPatch`` context because module fixtures run
    outside conftest's per-test guard."""
    from cdir.app import main as app
    from cdir.app.handlers import AppActions

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDIR_CACHE_DIR", str(cache_dir))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        mp.delenv("GRADIO_TEMP_DIR", raising=False)
        app.keep_uploads_in(workspace)  # as `python app.py` does
        actions = AppActions(workspace, options.pop("preset", "tiny"), **options)
        demo = app.build_app(actions)
        demo.cdir_actions = actions  # the tests reach the app's jobs and settings through it
        demo.queue(**app.QUEUE_OPTIONS)
        port = free_port()
        demo.launch(
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=port,
            quiet=True,
            **app.launch_options(workspace),
        )
        try:
            yield f"http://127.0.0.1:{port}/", demo
        finally:
            demo.close()


def collection_name(page, pattern: str) -> str:
    """The summary's first line once it matches ``pattern`` (a JavaScript regular expression):
    while the summary updates, gradio's pending timer ("0.4s") can stand first."""
    page.wait_for_function(
        "p => new RegExp(p).test("
        "document.querySelector('#collection-summary').innerText.trim().split('\\n')[0].trim())",
        arg=pattern,
    )
    return page.inner_text("#collection-summary").strip().splitlines()[0].strip()
