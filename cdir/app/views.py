"""Plain-text and HTML views of cdir results for the web app (no gradio here)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from cdir import api
from cdir.api import Hit, SearchResult, Stage

MODE_LABELS: dict[str, str] = {
    "caption": "Caption matching (CM): query caption → gallery images",
    "image": "Image → image (plain CLIP baseline)",
    "caption-caption": "Caption → caption",
    "fusion": "Fusion of the three (weighted z-scores)",
    "text": "Text → image (a typed query, whatever the mode)",
}


def file_url(path: str) -> str:
    """The relative URL (works when the app is mounted under a sub-path, as on a Space) of a file
    the page shows: a collection's thumbnail through its signed route, a bundled example through
    the public route (``cdir.app.media``). Any other file has no URL: "" (a broken image, never
    a server path)."""
    from cdir.app.media import media_url, public_url

    return media_url(path) or public_url(path) or ""


def card_html(hit: Hit, clickable: bool = True, score: bool = True) -> str:
    """One result: thumbnail, score (unless ``score`` is False: a preview has none), domain,
    class and generator badges, file name, caption, prompt and negative prompt. A clickable card
    is reachable with the keyboard (Tab, then Enter or Space)."""
    attrs = (
        f' data-id="{hit.id}" title="More like this" tabindex="0" role="button"'
        if clickable
        else ""
    )
    badges = "".join(
        f'<span class="badge {kind}">{esc(v)}</span>'
        for kind, v in (("dom", hit.domain), ("cls", hit.label), ("gen", hit.generator))
        if v
    )
    prompt = "".join(
        f'<div class="{kind}" title="{esc(text)}">{label}: {esc(shorten(text, 90))}</div>'
        for kind, label, text in (
            ("prompt", "prompt", hit.prompt),
            ("prompt negative", "negative", hit.negative_prompt),
        )
        if text
    )
    caption = esc(hit.caption) if hit.caption else "<i>caption pending…</i>"
    shown = f'<span class="score">{hit.score:.3f}</span>' if score else ""
    folded = len(hit.near_duplicates)
    dupes = (
        f'<div class="dupes" title="ids {", ".join(map(str, hit.near_duplicates))}">'
        f"+{folded} near-duplicate{'s' if folded > 1 else ''}</div>"
        if folded
        else ""
    )
    name = hit.rel_path.rsplit("/", 1)[-1]
    return (
        f'<div class="cdir-card"{attrs}><img src="{file_url(hit.thumb)}" '
        f'alt="{esc_name(hit.rel_path)}"><div class="meta">{shown}{badges}</div>'
        f'<div class="file" title="{esc_name(hit.rel_path)}">{esc_name(name)}</div>'
        f'<div class="cap">{caption}</div>{prompt}{dupes}</div>'
    )


def cards_row(
    title: str, hits: Sequence[Hit], clickable: bool = True, strip: bool = False, score: bool = True
) -> str:
    """A titled block of cards: a wrapping grid, or one scrollable line (``strip``)."""
    cards = (
        "".join(card_html(h, clickable, score) for h in hits)
        or '<div class="empty">no results</div>'
    )
    kind = "cdir-cards strip" if strip else "cdir-cards"
    return (
        f'<div class="cdir-row"><div class="cdir-row-title">{esc(title)}</div>'
        f'<div class="{kind}">{cards}</div></div>'
    )


def results_html(rows: Sequence[tuple[str, SearchResult]]) -> str:
    """Every row of results (one row, or one per target domain in the cross-domain view)."""
    if not rows:
        return '<div class="cdir-empty">No results.</div>'
    strip = len(rows) > 1
    return "".join(cards_row(title, result.hits, strip=strip) for title, result in rows)


def shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def worked_label(mode: str) -> str:
    """The title of a worked-example row: the mode, and for CM that its style words go."""
    label = MODE_LABELS[mode]
    return label + ", style words removed" if mode == "caption" else label


def worked_summary(rows: Sequence[tuple[str, SearchResult]]) -> str:
    """What each mode's top results are, counted: the right class among the other domains."""
    lines = []
    for mode, result in rows:
        hits = result.hits
        houses = sum(h.label == "house" for h in hits)
        lines.append(
            f"- **{worked_label(mode)}**: {houses} of the top {len(hits)} pictures "
            "in the other styles are houses."
        )
    return "\n".join(lines)


def query_markdown(result: SearchResult) -> str:
    """What the query was and, for caption modes, the caption that did the matching."""
    q = result.query
    lines = [f"**Mode:** {MODE_LABELS.get(result.options.mode, result.options.mode)}"]
    if q.kind == "text":
        lines.append(f"**Text query:** “{esc(q.text)}”")
    if q.kind == "id":
        lines.append(f"**Query:** item #{q.id} ({esc(q.domain or '?')} / {esc(q.label or '?')})")
    if q.caption:
        lines.append(f"**The query's caption:** “{esc(q.caption)}”")
        if q.caption_used and q.caption_used != q.caption:
            lines.append(f"**After removing style words:** “{esc(q.caption_used)}”")
    if not result.hits:
        lines.append("No results: try another mode, more domains, or a larger k.")
    return "  \n".join(lines)


def generation_markdown(item: dict[str, Any]) -> str:
    """Markdown lines for an item's generator, prompt and negative prompt ("" when it has none;
    values that are not text, such as missing ones, are left out)."""
    lines = []
    for key, label in (
        ("generator", "Generated with"),
        ("prompt", "Prompt"),
        ("negative_prompt", "Negative prompt"),
    ):
        value = item.get(key)
        if isinstance(value, str) and value:
            lines.append(f"**{label}:** {esc(shorten(value, 400))}")
    return "  \n".join(lines)


IMAGE_FIRST = (
    "**Showing: image match** — caption matching in progress… (these image → image "
    "results are replaced as soon as the query's caption is written)"
)


def stage_markdown(stage: Stage) -> str:
    """What a stage of a staged image query shows above its results, in plain words: the image
    match while the caption is being written (no "Mode:" line yet: the search is not done),
    then the caption that did the matching, or why the image match stays."""
    if not stage.final:
        return IMAGE_FIRST
    result = stage.rows[0][1]
    if stage.caption_error:
        return "  \n".join(
            [
                f"**Showing: image match only.** ⚠️ {esc(stage.caption_error)}",
                f"**Mode:** {MODE_LABELS['image']}",
            ]
        )
    if stage.showing != "caption":
        return query_markdown(result)
    return (
        "**Showing: caption matching** — the results match the query's caption  \n"
        + query_markdown(result)
    )


def hits_table(results: Sequence[SearchResult]) -> list[list[Any]]:
    rows = []
    for result in results:
        for h in result.hits:
            rows.append(
                [
                    h.rank,
                    h.id,
                    round(h.score, 4),
                    h.domain,
                    h.label,
                    h.caption,
                    h.prompt or "",
                    h.negative_prompt or "",
                    h.generator or "",
                    h.rel_path,
                ]
            )
    return rows


HITS_HEADERS = [
    "rank",
    "id",
    "score",
    "domain",
    "class",
    "caption",
    "prompt",
    "negative prompt",
    "generator",
    "file",
]


def layout_line(described: str) -> str:
    """Markdown: the folder layout an upload will be labelled by, before the build."""
    return f"**Labels from folders:** {esc(described)}"


def level_choice(level: int, names: Sequence[str]) -> str:
    """A folder level as a dropdown shows it: "level 2: cat, dog, fish, …"."""
    shown = ", ".join(api.shown_name(n) for n in names[:3]) + (", …" if len(names) > 3 else "")
    return f"level {level}: {shown}"


def collection_summary(info: dict[str, Any], note: str = "") -> str:
    """Markdown: images, domains, classes and failures (with reasons) of a collection; ``note``
    (under which name a build saved it) as a line below its name."""
    domains = ", ".join(f"{esc(k)} ({v})" for k, v in info["domains"].items()) or "none"
    classes = ", ".join(f"{esc(k)} ({v})" for k, v in info["classes"].items()) or "none"
    lines = [
        f"### {esc(info['name'])}",
        f'<p class="cdir-note" id="build-note">{esc(note)}</p>\n' if note else "",
        f"**{info['n_ok']} images** searchable{_tiles_note(info)} · {info['n_captioned']} "
        "captioned · "
        f"{info['n_failed']} failed · preset {esc(info['preset'])}\n",
        f"**Domains:** {domains}"
        + (" *(predicted zero-shot)*" if info["predicted_domains"] else "")
        + "\n",
        f"**Classes:** {classes}\n",
    ]
    if info.get("with_prompt"):
        lines.append(f"**With a generation prompt:** {info['with_prompt']}")
    if info.get("generators"):
        made = ", ".join(f"{esc(k)} ({v})" for k, v in info["generators"].items())
        lines.append(f"**Generated with:** {made}")
    if info["failed"]:
        lines.append("\n**Files that could not be used:**\n")
        lines.append("| file | reason |\n|---|---|")
        lines += [f"| {esc(f['file'])} | {esc(f['reason'])} |" for f in info["failed"][:50]]
        if len(info["failed"]) > 50:
            lines.append(f"\n…and {len(info['failed']) - 50} more (see `python -m cdir info`).")
    return "\n".join(lines)


def _tiles_note(info: dict[str, Any]) -> str:
    """Why the count of images can exceed the count of files: tiles of grid images."""
    tiles = int(info.get("n_tiles") or 0)
    return (
        f" ({info['n_ok'] - tiles} files and {tiles} tiles cut from grid images)" if tiles else ""
    )


def rejected_markdown(rejected: Sequence[dict[str, str]]) -> str:
    if not rejected:
        return ""
    rows = "\n".join(f"| {esc(r['file'])} | {esc(r['reason'])} |" for r in rejected[:30])
    more = f"\n…and {len(rejected) - 30} more." if len(rejected) > 30 else ""
    return f"\n\n**Left out of the upload:**\n\n| file | reason |\n|---|---|\n{rows}{more}"


def nothing_usable(report: Any) -> str:
    """One line for a build that gave no searchable image: why, for the first files, and what
    to do (``report``: an IngestReport; its ``failed`` and ``rejected`` rows name files inside
    the upload, never a server path)."""
    reasons = [f"{r['file']}: {r['reason']}" for r in [*report.failed, *report.rejected]]
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    why = f" ({shown})" if shown else ""
    return (
        f"No collection was made: none of the uploaded files is an image cdir can read{why}."
        " Drop JPEG, PNG, WebP or GIF images, or a zip of them."
    )


_SERVER_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\"/:|]+/)+([^\s'\"/:|]*)")


def without_paths(text: str) -> str:
    """``text`` with every absolute path reduced to its last part (``/srv/ws/a/b.png`` ->
    ``b.png``): no message or report shown to a visitor names a place on the server."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "…", str(text))


# Markdown's punctuation, written as HTML character references: text escaped this way shows
# as itself in HTML (attributes included) and in Markdown alike, where a reference is never
# syntax (CommonMark 0.31, "Entity and numeric character references"). So a folder named
# "[CLICK](https://evil.example)" or "**x**" is shown, never a link or bold text.
_MARKDOWN_SPECIALS = {c: f"&#{ord(c)};" for c in "\\`*_[]#|~:"}


def esc(text: Any) -> str:
    """``text`` safe to put in HTML and in Markdown: &, <, >, quotes and Markdown punctuation
    written as character references."""
    escaped = html.escape(str(text))
    return "".join(_MARKDOWN_SPECIALS.get(c, c) for c in escaped)


def esc_name(name: Any) -> str:
    """A file name as HTML text: control and bidi characters shown as escapes
    (:func:`cdir.names.shown_name`), then HTML-escaped."""
    return esc(api.shown_name(name))


def banner_html(trained: bool, preset: str) -> str:
    """The warning shown whenever results come from untrained models."""
    if trained:
        return ""
    return (
        '<div class="cdir-banner" id="untrained-banner"><b>Untrained models.</b> This app runs the '
        f"<code>{html.escape(preset)}</code> preset: randomly initialised models, so captions are "
        "random words and rankings mean nothing. It shows how cdir works, not what it finds. "
        "For real results start it with <code>python app.py --preset default</code> on a machine "
        "with internet access once (weights go to the Hugging Face cache), or point "
        "<code>--model-dir</code> / <code>CDIR_MODEL_DIR</code> at weights saved with "
        "<code>python -m cdir models save</code>.</div>"
    )


def status_line(info: dict[str, Any] | None, job: str | None) -> str:
    if info is None:
        return "No collection open yet: load the example collection or upload images."
    text = (
        f"**Collection:** {esc(info['name'])} · {info['n_ok']} images · "
        f"{len(info['domains'])} domains · {len(info['classes'])} classes · "
        f"{info['n_captioned']} captioned"
    )
    return text + (f" · *{esc(job)}*" if job else "")


# ------------------------------------------------------------------------------ duplicates
def _size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"


def member_card(group_no: int, member: dict[str, Any]) -> str:
    """A near-duplicate: thumbnail, resolution, file size, domain, caption, keep/score badges."""
    keep = (
        f'<span class="badge keep" title="{esc(member.get("keep_reason") or "")}">keep</span>'
        if member["keep"]
        else ""
    )
    rep = '<span class="badge rep">representative</span>' if member["representative"] else ""
    score = member["score"]
    score_text = "" if score is None else f'<span class="score">{score:g}</span>'
    cls = "cdir-card kept" if member["keep"] else "cdir-card"
    decision = member.get("decision") or ""
    made = (
        f'<span class="badge decided">{esc(decision.replace("_", " "))}</span>'
        if member.get("decided") and decision != "keep"
        else ""
    )
    return (
        f'<div class="{cls} {esc(decision)}" data-id="{member["id"]}" '
        f'data-group="{group_no}" tabindex="0" role="button" title="Click (or k) to keep '
        "this one; keys: r remove, a alternate, n not a duplicate, u undo, c compare, "
        'j: next group">'
        f'<img src="{file_url(member["thumb"])}" '
        f'alt="{esc_name(member["file"])}">'
        f'<div class="meta">{score_text}{keep}{rep}{made}</div>'
        f'<div class="cap"><b>{esc(member["resolution"])}</b> · '
        f"{_size_text(member['file_size'])} · {esc(member['domain'] or '')}<br>"
        f"{esc_name(member['file'])}<br><i>{esc(member['caption'] or '')}</i></div></div>"
    )


def semantic_label(trained: bool) -> str:
    """The label of the semantic threshold field: empty means the threshold calibrated for the
    collection (the same the CLI and the API use); "off" for an embedder with random weights."""
    if not trained:
        return "semantic: off: random weights"
    return "semantic: least cosine similarity (0 or empty: calibrated for this collection)"


def semantic_value(value: Any) -> float | None:
    """The semantic threshold a field holds: None (calibrated) when left empty (a browser
    sends an empty number field as 0, no cosine anyone sets)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value) or None


def dupes_summary(groups: Sequence[Any], progress: tuple[int, int] | None = None) -> str:
    from collections import Counter

    from cdir import api

    if not groups:
        return "No near-duplicate groups at these thresholds."
    counts = Counter(g.tier for g in groups)
    per_tier = ", ".join(f"{n} {tier}" for tier, n in counts.items())
    images = sum(len(g) for g in groups)
    done = f" · **{progress[0]:,} of {progress[1]:,} groups decided**" if progress else ""
    return (
        f"**{len(groups)} groups** ({per_tier}) · {images} images{done}. Largest first. "
        f"Click an image to keep it (saved in the collection; the others are marked "
        f"remove). The suggested keep is the original the others derive from: the largest "
        f"rendering without overlay, crop or colour change, then richer generation "
        f"metadata, then a name that does not say copy, then the oldest file."
        f"\n\n*How groups are made:* {api.grouping_rule()}"
    )


def groups_html(
    tables: Sequence[tuple[str, list[dict[str, Any]]]],
    families: Sequence[tuple[str, list[int]]] | None = None,
) -> str:
    """Every group as a row of member cards (``tables``: (tier, review rows) per group); the
    groups of one job family (``families``: (words, group indices)) together in one row."""
    if not tables:
        return '<div class="cdir-empty">No near-duplicates at these thresholds.</div>'
    blocks = []
    for n, (tier, members) in enumerate(tables):
        cards = "".join(member_card(n, m) for m in members)
        blocks.append(
            f'<div class="cdir-row"><div class="cdir-row-title">Group {n + 1} · {tier} '
            f'· {len(members)} images</div><div class="cdir-cards strip">{cards}'
            "</div></div>"
        )
    return "".join(
        family_block(words, [blocks[n] for n in ns])
        for words, ns in families or [("", [n]) for n in range(len(blocks))]
    )


def review_html(store: Any, groups: Sequence[Any]) -> str:
    """The duplicate ``groups`` of ``store`` (an ``api.Store``) as rows of member cards, the
    groups of a job family together, then the items marked not a duplicate."""
    import pandas as pd

    rows = api.duplicate_rows(store, groups)
    sha, domain = store.items["sha256"], store.items["domain"]
    tables: list[tuple[str, list[dict[str, Any]]]] = [(g.tier, []) for g in groups]
    apart = []
    for row in rows:
        shown = {**row, "thumb": str(store.thumb_path(str(sha.iat[row["id"]])))}
        if row["group"] is not None:
            value = domain.iat[row["id"]]
            shown["domain"] = None if pd.isna(value) else str(value)
            tables[row["group"] - 1][1].append(shown)
        elif row["decision"] == "not_duplicate":
            apart.append(shown)
    return groups_html(tables, api.duplicate_families(store, groups)) + apart_html(apart)


def apart_html(rows: Sequence[dict[str, Any]]) -> str:
    """The items marked not a duplicate (kept out of every run, never in a removal list), as
    small cards after the groups; "" when there is none."""
    if not rows:
        return ""
    cards = "".join(
        f'<div class="cdir-card cdir-apart" data-apart="{int(r["id"])}">'
        f'<img src="{file_url(r["thumb"])}" alt="{esc_name(r["file"])}">'
        f'<div class="cap">{esc_name(r["file"])}</div></div>'
        for r in rows
    )
    return (
        '<div class="cdir-row" id="dupe-apart"><div class="cdir-row-title">Marked not a '
        f"duplicate (kept out of every run, never in a removal list)</div>"
        f'<div class="cdir-cards strip">{cards}</div></div>'
    )


def family_block(words: str, blocks: Sequence[str]) -> str:
    """The groups of one job family as one row titled by the family in words (a group of no
    family as it is)."""
    if not words:
        return "".join(blocks)
    return (
        f'<div class="cdir-family"><div class="cdir-family-title">job family: {esc(words)}'
        f"</div>{''.join(blocks)}</div>"
    )


def histogram_examples_html(examples: Sequence[tuple[str, Sequence[tuple[Hit, Hit]]]]) -> str:
    """Example nearest-neighbour pairs per histogram bin: look, then set the threshold."""
    rows = []
    for title, pairs in examples:
        cards = "".join(card_html(a, False) + card_html(b, False) for a, b in pairs)
        rows.append(
            f'<div class="cdir-row"><div class="cdir-row-title">{esc(title)}</div>'
            f'<div class="cdir-cards strip pairs">{cards}</div></div>'
        )
    return "".join(rows) or '<div class="cdir-empty">No pairs.</div>'
