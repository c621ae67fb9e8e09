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


# ------------------------------------------------------------------ waits on conditions
# A browser test waits for what it needs to have happened, never for a number of milliseconds:
# the machine that runs the suite may be idle or running 25 other jobs.


def open_tab(page, name: str) -> None:
    """Click the tab named ``name`` and wait until it is the selected one and its panel is
    shown (gradio renders a tab's panel the first time it is selected)."""
    page.get_by_role("tab", name=name, exact=True).click()
    page.get_by_role("tab", name=name, exact=True, selected=True).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=tabpanel]')]"
        ".some(p => p.offsetParent !== null && p.children.length)"
    )


def upload_files(page, box: str, files: list) -> None:
    """Put ``files`` (paths) into the upload box ``box`` (a selector) and wait until gradio has
    uploaded them: one row per file in the box, no "Uploading" line left."""
    page.set_input_files(f"{box} input[type=file]", [str(p) for p in files])
    page.wait_for_function(
        "([box, n]) => { const e = document.querySelector(box);"
        " return e.querySelectorAll('tr.file').length === n"
        " && !e.innerText.includes('Uploading'); }",
        arg=[box, len(files)],
    )


def clear_upload(page, box: str) -> None:
    """Empty the upload box ``box`` with its Clear button, if it holds anything; wait until it
    shows no file."""
    clear = page.locator(f"{box} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
        page.wait_for_function(
            "box => !document.querySelector(box).querySelector('tr.file')", arg=box
        )


# an output of a running gradio event: its block or something in it is marked pending
BUSY = "(e => !!(e.closest('.pending, .generating') || e.querySelector('.pending, .generating')))"


def after_event(page, output: str, action) -> None:
    """Do ``action()`` (a click, a key) and wait until the gradio event it starts has shown its
    output ``output`` (a selector) busy and then done. For an event whose output may come back
    the same as before, where waiting for a change would not end: a MutationObserver, set up
    before the action, notes the busy state however briefly it lasts."""
    page.evaluate(
        "s => { const e = document.querySelector(s), busy = " + BUSY + ";"
        " window._cdirBusySeen = window._cdirBusySeen || {};"
        " window._cdirBusySeen[s] = false;"
        " const seen = new MutationObserver(() => {"
        "   if (busy(e)) { window._cdirBusySeen[s] = true; seen.disconnect(); } });"
        " seen.observe(e, { attributes: true, childList: true, subtree: true }); }",
        output,
    )
    action()
    page.wait_for_function(
        "s => window._cdirBusySeen[s] && !" + BUSY + "(document.querySelector(s))", arg=output
    )


def plot_drawn(page, plot: str, title: str = "") -> None:
    """Wait until Plotly has drawn the figure in ``plot`` (a selector around a gradio Plot): its
    points and every annotation of its layout are in the page, and its title includes
    ``title`` (a figure's title names what it shows, so a new figure is told from the last)."""
    page.wait_for_function(
        "([s, title]) => { const g = document.querySelector(s + ' .js-plotly-plot');"
        " if (!g || !g.layout || !g._fullLayout) return false;"
        " const t = g.querySelector('.gtitle');"
        " const notes = (g.layout.annotations || []).length;"
        " return g.querySelectorAll('.scatterlayer .point').length > 0"
        " && g.querySelectorAll('.annotation').length >= notes"
        " && (!title || (t && t.textContent.includes(title))); }",
        arg=[plot, title],
    )
