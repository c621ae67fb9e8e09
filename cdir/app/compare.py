"""Two members of a duplicate group side by side (the Duplicates tab's "Compare" panel): both
images at one zoom, their resolution, file size and format, and a metadata diff with the fields
that differ highlighted. The facts come from :func:`cdir.api.compare_items`; the images are
decoded on the server and shown through gradio's image component (no new file URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdir import api
from cdir.app.views import esc, esc_name


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message)


def pair_of(
    state: Sequence[dict[str, Any]], group_no: float | None, ids: str, clicked: str = ""
) -> tuple[int, int]:
    """The two items to compare: two ids typed (``"12 40"``), else the card pressed with ``c``
    (``"<group>-<id>:<time>"``, groups from 0) against its group's keep (or the next member when
    it is the keep), else the keep and the next member of group ``group_no`` (from 1)."""
    typed = [int(t) for t in str(ids or "").replace(",", " ").split() if t.isdigit()]
    if typed:
        if len(typed) != 2:
            raise _error("Type two item ids, such as 12 40 (or leave the field empty).")
        return typed[0], typed[1]
    head = str(clicked or "").split(":", 1)[0]
    group_text, _, item_text = head.partition("-")
    if group_text.isdigit() and item_text.isdigit():
        number, item = int(group_text), int(item_text)
    else:
        number, item = int(group_no or 1) - 1, None
    if not state:
        raise _error("Find near-duplicates first, then compare two members of a group.")
    if not 0 <= number < len(state):
        raise _error(f"Groups run 1..{len(state)}: choose one of them.")
    members = [int(m) for m in state[number]["members"]]
    keep = int(state[number].get("keep", members[0]))
    first = keep if item is None else item
    other = next(m for m in [keep, *members] if m != first)
    return first, other


def compare_html(result: Any) -> str:
    """The comparison as a table: one row per field, those that differ highlighted."""
    head = (
        f"<tr><th></th><th>item {result.a.id}: {esc_name(result.a.file)}</th>"
        f"<th>item {result.b.id}: {esc_name(result.b.file)}</th></tr>"
    )
    rows = "".join(
        f'<tr class="{"differs" if differs else "same"}"><td>{esc(name)}</td>'
        f"<td>{esc(a) or '—'}</td><td>{esc(b) or '—'}</td></tr>"
        for name, a, b, differs in result.rows
    )
    n = len(result.differing)
    return (
        f'<div class="cdir-compare"><p><b>{n} field{"s" if n != 1 else ""} differ</b> '
        f"(highlighted)</p><table>{head}{rows}</table></div>"
    )


def compare_view(
    session: api.Session,
    state: Sequence[dict[str, Any]],
    group_no: float | None,
    ids: str,
    clicked: str,
    zoom: float,
) -> tuple[Any, Any, str]:
    """(left image, right image, the diff table HTML) at ``zoom`` (1: whole images)."""
    a, b = pair_of(state, group_no, ids, clicked)
    result = api.compare_items(session, a, b)
    items = session.store.items
    images = []
    for item in (a, b):
        image = api.item_image(session, items.iloc[item])
        images.append(api.zoomed(image, zoom) if hasattr(image, "crop") else image)
    return images[0], images[1], compare_html(result)
