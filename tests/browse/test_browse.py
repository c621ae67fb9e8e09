"""The collection grid (filters, sorts, pages) and free tags, on hand-built collections whose
right answers are known."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.browse.grid import Browser, GridQuery
from cdir.store.collection import Store, StoreError, normalise_items
from cdir.store.tags import (
    add_tags,
    export_tags,
    load_tags,
    normalise_tag,
    remove_tags,
    tag_counts,
    tag_rows,
    tagged_mask,
)

ROWS = [  # file, domain, class, label source, caption, prompt, status, size
    ("sketch/cat/a.png", "sketch", "cat", "folder", "a sketch of a cat", None, "ok", 300),
    ("sketch/dog/b.png", "sketch", "dog", "folder", "a drawing of a dog", None, "ok", 100),
    ("photo/cat/c.jpg", "photo", "cat", "manifest", "a photo of a cat on a sofa", "", "ok", 200),
    (
        "photo/dog/d.jpg",
        "photo",
        "dog",
        "predicted",
        "a dog in the park",
        "dog, park, 4k",
        "ok",
        400,
    ),
    ("gen/e.png", "gen", None, "none", None, "a red CAR at night", "ok", 50),
    ("gen/broken.png", "gen", None, "none", None, None, "failed", 10),
]


def make_store(root: Path, emb: np.ndarray | None = None) -> Store:
    files, domains, classes, sources, captions, prompts, status, sizes = zip(*ROWS, strict=True)
    n = len(ROWS)
    items = normalise_items(
        pd.DataFrame(
            {
                "id": range(n),
                "path": [str(root / "src" / f) for f in files],
                "rel_path": files,
                "sha256": [f"s{i}" for i in range(n)],
                "domain": domains,
                "class": classes,
                "label_source": sources,
                "caption": captions,
                "prompt": prompts,
                "status": status,
                "file_size": sizes,
                "width": 64,
                "height": 48,
            }
        )
    )
    root.mkdir(parents=True, exist_ok=True)
    return Store(root, items=items, image_emb=emb)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path / "store")


def ids(browser: Browser, **query: object) -> list[int]:
    return browser.query(GridQuery(page_size=500, **query)).ids


# ---------------------------------------------------------------------------------- filters
def test_every_filter_keeps_exactly_its_items(store: Store) -> None:
    b = Browser(store)
    assert ids(b, domains=("sketch",)) == [0, 1]
    assert ids(b, domains=("sketch", "photo"), classes=("cat",)) == [2, 0]
    assert ids(b, label_sources=("manifest", "predicted")) == [2, 3]
    assert ids(b, has_prompt=True) == [4, 3]  # an empty prompt is no prompt
    assert ids(b, has_prompt=False) == [5, 2, 0, 1]
    assert ids(b, status="failed") == [5]
    assert ids(b, status="ok", domains=("gen",)) == [4]


def test_name_sort_is_case_blind_and_ties_go_by_id(store: Store) -> None:
    assert ids(Browser(store)) == [5, 4, 2, 3, 0, 1]  # gen/broken, gen/e, photo/c, photo/d, ...
    assert ids(Browser(store), descending=True) == [1, 0, 3, 2, 4, 5]


def test_text_filter_reads_file_name_caption_and_prompt_and_needs_every_word(store: Store) -> None:
    b = Browser(store)
    assert ids(b, text="CAT") == [2, 0]  # captions, any case
    assert ids(b, text="car") == [4]  # in the prompt only
    assert ids(b, text="broken") == [5]  # in the file name only
    assert ids(b, text="dog park") == [3]  # both words
    assert ids(b, text="cat sofa") == [2]
    assert ids(b, text="zebra") == []
    assert ids(b, text="cat", domains=("sketch",)) == [0]


def test_sort_by_size_and_by_date(store: Store) -> None:
    b = Browser(store)
    assert ids(b, sort="size") == [5, 4, 1, 2, 0, 3]
    assert ids(b, sort="size", descending=True) == [3, 0, 2, 1, 4, 5]
    src = store.root / "src"
    for n, (file, *_rest) in enumerate(ROWS[:4]):
        path = src / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 + (4 - n) * 10, 1_000_000 + (4 - n) * 10))
    # items 4 and 5 have no file: last; the others newest last
    assert ids(Browser(store), sort="date") == [3, 2, 1, 0, 4, 5]


def test_similarity_sort_ranks_by_cosine_and_puts_items_without_vectors_last(
    tmp_path: Path,
) -> None:
    emb = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0], [0.6, 0.8], [0, 0]], np.float32)
    b = Browser(make_store(tmp_path / "s", emb))
    page = b.query(GridQuery(sort="similarity", page_size=10), query_vector=np.array([2.0, 0.0]))
    assert page.ids == [0, 1, 4, 2, 3, 5]
    assert page.cards[0]["score"] == pytest.approx(1.0)
    assert page.cards[1]["score"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="needs a query"):
        b.query(GridQuery(sort="similarity"))
    with pytest.raises(ValueError, match="3 values"):
        b.query(GridQuery(sort="similarity"), query_vector=np.ones(3))


def test_pages_cover_every_match_once_and_a_page_past_the_end_gives_the_last(store: Store) -> None:
    b = Browser(store)
    pages = [b.query(GridQuery(page=p, page_size=4)) for p in range(2)]
    assert [p.total for p in pages] == [6, 6] and [p.n_pages for p in pages] == [2, 2]
    assert pages[0].ids + pages[1].ids == [5, 4, 2, 3, 0, 1]
    assert b.query(GridQuery(page=9, page_size=4)).ids == [0, 1]
    assert list(pages[0].matched) == [5, 4, 2, 3, 0, 1]
    card = pages[0].cards[2]
    assert card["file"] == "photo/cat/c.jpg" and card["caption"] == "a photo of a cat on a sofa"
    assert card["domain"] == "photo" and card["class"] == "cat" and card["tags"] == []
    assert card["thumb"].endswith("s2.jpg") and card["file_size"] == 200


def test_map_selection_filter_and_facets(store: Store) -> None:
    b = Browser(store)
    assert ids(b, ids=(3, 0, 99)) == [3, 0]
    facets = b.facets()
    assert facets["domains"] == {"sketch": 2, "photo": 2, "gen": 2}
    assert facets["n_failed"] == 1 and facets["n_with_prompt"] == 2


def test_bad_queries_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="sort by one of"):
        GridQuery(sort="colour")
    with pytest.raises(ValueError, match="ok' or 'failed"):
        GridQuery(status="broken")
    with pytest.raises(ValueError, match="page size"):
        GridQuery(page_size=0)


# ------------------------------------------------------------------------------------- tags
def test_tags_are_added_once_removed_and_survive_reloading(store: Store) -> None:
    root = store.root
    assert load_tags(root) == {}
    assert add_tags(root, [0, 2], ["  best   of ", "cat"], n_items=6) == 4
    assert add_tags(root, [2, 3], ["cat"]) == 1  # 2 already has it
    assert load_tags(root) == {0: ["best of", "cat"], 2: ["best of", "cat"], 3: ["cat"]}
    assert json.loads((root / "tags.json").read_text())["version"] == 1
    assert tag_counts(load_tags(root)) == {"cat": 3, "best of": 2}
    assert remove_tags(root, [2], ["cat"]) == 1
    assert remove_tags(root, None, ["best of"]) == 2
    assert load_tags(root) == {0: ["cat"], 3: ["cat"]}  # emptied items leave the file


def test_tag_filter_in_the_grid(store: Store) -> None:
    add_tags(store.root, [0, 3], ["keep"])
    add_tags(store.root, [3, 4], ["later"])
    b = Browser(store)
    assert ids(b, tags=("keep",)) == [3, 0]
    assert ids(b, tags=("keep", "later")) == [4, 3, 0]  # any of them
    assert ids(b, tags=("keep",), domains=("photo",)) == [3]
    assert b.query(GridQuery(tags=("later",))).cards[0]["tags"] == ["later"]
    assert list(tagged_mask(b.tags, ["keep", "later"], 6, match_all=True)) == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_bad_tags_and_ids_write_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        add_tags(store.root, [0], ["   "])
    with pytest.raises(ValueError, match="at most 64"):
        normalise_tag("x" * 65)
    with pytest.raises(ValueError, match="no item with id 9"):
        add_tags(store.root, [0, 9], ["a"], n_items=6)
    assert not (store.root / "tags.json").exists()
    (store.root / "tags.json").write_text("{not json")
    with pytest.raises(StoreError, match="damaged"):
        load_tags(store.root)


def test_tags_export_as_csv_and_json(store: Store, tmp_path: Path) -> None:
    add_tags(store.root, [2, 0], ["x", "y, with comma"])
    rows = tag_rows(load_tags(store.root), {0: "a.png", 2: "c.jpg"})
    assert rows[0] == {"id": 0, "file": "a.png", "tag": "x"}
    csv_text = export_tags(rows, tmp_path / "tags.csv").read_text()
    assert csv_text.splitlines()[:3] == ["id,file,tag", "0,a.png,x", '0,a.png,"y, with comma"']
    assert json.loads(export_tags(rows, tmp_path / "tags.json").read_text()) == rows
    with pytest.raises(ValueError, match=".csv or a .json"):
        export_tags(rows, tmp_path / "tags.png")


def test_filters_written_as_text(store: Store) -> None:
    from cdir.browse.filters import parse_filters

    query = parse_filters(
        [
            "domain=sketch",
            "domain=photo",
            "text=cat",
            "has_prompt=no",
            "status=ok",
            "tag=a",
            "class=cat",
            "label-source=folder",
        ]
    )
    assert query.domains == ("sketch", "photo") and query.text == "cat"
    assert query.has_prompt is False and query.status == "ok" and query.tags == ("a",)
    assert query.classes == ("cat",) and query.label_sources == ("folder",)
    assert ids(Browser(store), **{"domains": query.domains, "text": query.text}) == [2, 0]
    for bad in ("domain", "colour=red", "has_prompt=maybe", "status=gone", "text="):
        with pytest.raises(ValueError, match="filters are KEY=VALUE"):
            parse_filters([bad])
