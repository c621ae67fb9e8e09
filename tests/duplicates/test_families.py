"""Midjourney job families: job ids and grid positions from settings or Discord file names; a
suggestion keeps an upscale over its tile but never removes a variation, a sibling tile or
another job of a shared prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cdir.duplicates.decisions import accept_suggestions, load_decided
from cdir.duplicates.families import Mark, different_marks, name_mark
from cdir.duplicates.finder import DupGroup
from cdir.duplicates.groups import with_keep
from cdir.duplicates.rows import decision_rows
from cdir.store.collection import Store, normalise_items

JOB_A = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
JOB_B = "11111111-2222-3333-4444-555555555555"
JOB_C = "99999999-8888-7777-6666-555555555555"
JOB_D = "abcdefab-cdef-abcd-efab-cdefabcdefab"


def test_discord_names() -> None:
    assert name_mark(f"kai_a_red_fox_in_snow_{JOB_A}_2.png") == Mark(JOB_A, 2, "a red fox in snow")
    assert name_mark(f"kai_a_red_fox_{JOB_A.upper()}.png").job == JOB_A
    assert name_mark("holiday.jpg") == Mark()
    assert different_marks(Mark(JOB_A, 1), Mark(JOB_A, 2))
    assert not different_marks(Mark(JOB_A, 1), Mark(JOB_A, 1))
    assert different_marks(Mark(prompt="a"), Mark(prompt="b"))
    assert not different_marks(Mark(JOB_A), Mark())  # unknown on one side: no claim


def scene(seed: int, size: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
    return Image.fromarray(arr).resize((size, size), Image.Resampling.BICUBIC)


def test_upscale_kept_variation_never_removed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {
        f"kai_a_red_fox_{JOB_A}_1.png": scene(1, 512),  # U1 of job A
        f"kai_a_red_fox_{JOB_B}.png": scene(1, 1024),  # its 2x upscale (own job)
        f"kai_a_red_fox_{JOB_C}_1.png": np.clip(  # a Vary (Subtle) sibling: close, not equal
            np.asarray(scene(1, 512), np.int16) + np.asarray(scene(7, 512), np.int16) // 4 - 32,
            0,
            255,
        ).astype(np.uint8),
        "fox (1).png": scene(1, 512),  # a re-download without any mark
    }
    for name, image in files.items():
        (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(src / name)
    names = list(files)
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(len(names)),
                "path": [str(src / n) for n in names],
                "rel_path": names,
                "sha256": [f"s{i}" for i in range(len(names))],
                "width": [512, 1024, 512, 512],
                "height": [512, 1024, 512, 512],
                "file_size": [(src / n).stat().st_size for n in names],
                "status": "ok",
            }
        )
    )
    store = Store(tmp_path / "store", items=items)
    (tmp_path / "store").mkdir()
    group = with_keep(store, DupGroup("perceptual", [0, 1, 2, 3], 0, {0: 0, 1: 2, 2: 6, 3: 0}), {})
    assert group.keep == 1  # the upscale: the largest rendering
    assert group.alternates == (2,)  # the variation
    rows = {r["file"]: r["decision"] for r in decision_rows(store, [group], {})}
    assert rows[names[2]] == "alternate" and rows[names[0]] == "remove"
    accept_suggestions(store.root, [group])
    decided = load_decided(store.root)
    assert decided[2].decision == "alternate" and decided[3].decision == "remove"


def test_a_job_family_is_one_review_row(tmp_path: Path) -> None:
    """A grid's tile, its upscale, a Vary (Subtle) sibling and another job of the same prompt
    (two groups) are one row in review, in words, in the Duplicates tab (the one review place);
    the suggestion keeps the upscale and removes neither the variation nor the other job."""
    from cdir.app.views import groups_html as tab_html
    from cdir.duplicates.families import family_rows

    src = tmp_path / "src"
    src.mkdir()
    grid = Image.new("RGB", (1024, 1024))
    for n, seed in enumerate((1, 2, 3, 4)):
        grid.paste(scene(seed, 512), ((n % 2) * 512, (n // 2) * 512))
    sibling = np.clip(
        np.asarray(scene(1, 512), np.int16) + np.asarray(scene(7, 512), np.int16) // 4 - 32, 0, 255
    ).astype(np.uint8)
    files = {
        f"kai_a_red_fox_{JOB_A}.png": grid,
        f"kai_a_red_fox_{JOB_B}.png": scene(1, 1024),  # upscale of U1
        f"kai_a_red_fox_{JOB_C}_1.png": Image.fromarray(sibling),  # variation of U1
        f"kai_a_red_fox_{JOB_D}_2.png": scene(9, 512),  # same prompt, other job
        f"kai_a_red_fox_{JOB_D}_2 (1).png": scene(9, 512),
    }  # and its re-download
    for name, image in files.items():
        image.save(src / name)
    names = list(files)
    rows = [(names[0], names[0], 1024, -1, -1)]
    rows += [(names[0], f"{names[0]}#tile{n}", 512, n, 0) for n in (1, 2, 3, 4)]
    rows += [(n, n, files[n].width, -1, -1) for n in names[1:]]
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(len(rows)),
                "path": [str(src / r[0]) for r in rows],
                "rel_path": [r[1] for r in rows],
                "sha256": [f"s{i}" for i in range(len(rows))],
                "width": [r[2] for r in rows],
                "height": [r[2] for r in rows],
                "tile": [r[3] for r in rows],
                "parent_id": [r[4] for r in rows],
                "file_size": [(src / r[0]).stat().st_size for r in rows],
                "status": "ok",
            }
        )
    )
    store = Store(tmp_path / "store", items=items)
    (tmp_path / "store").mkdir()
    tile, upscale, variation, other, again = 1, 5, 6, 7, 8
    groups = [
        with_keep(
            store,
            DupGroup(
                "perceptual", [tile, upscale, variation], tile, {tile: 0, upscale: 2, variation: 6}
            ),
            {},
        ),
        with_keep(store, DupGroup("exact", [other, again], other, {other: 0, again: 0}), {}),
    ]
    assert groups[0].keep == upscale and groups[0].alternates == (variation,)
    families = family_rows(store, groups)
    assert len(families) == 1 and families[0][1] == [0, 1]
    words = families[0][0]
    assert words == (
        "grid → tiles U1 → 1 upscale · variations of job 0f1e2d3c · same prompt, other job"
    )
    assert "same prompt, other job" in words
    rows_ = decision_rows(store, groups, {})
    decisions = {r["id"]: r["decision"] for r in rows_}
    assert decisions[variation] == "alternate" and decisions[upscale] == "keep"
    assert decisions[other] == "keep"  # the only picture of its kind is never removed
    # one row in review
    tab = tab_html(
        [
            (g.tier, [{**r, "thumb": "", "domain": ""} for r in rows_ if r["group"] == n + 1])
            for n, g in enumerate(groups)
        ],
        families,
    )
    assert tab.count('class="cdir-family"') == 1 and tab.count("Group ") == 2
    assert "job family: grid" in tab
