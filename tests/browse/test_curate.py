"""Saved views, corrected labels, downloads of a selection, a diverse subset and two duplicates
compared: on hand-built collections (real image files, hand-built embeddings) whose right
answers are known."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cdir import api
from cdir.browse.diverse import diverse_rows
from cdir.browse.grid import Browser, GridQuery
from cdir.browse.labels import correct_labels
from cdir.browse.saved_views import (
    delete_view,
    get_view,
    load_views,
    rename_view,
    save_view,
)
from cdir.duplicates.compare import compare, zoomed
from cdir.export.selection import export_selection
from cdir.store.collection import Store, StoreError

D = 8


def _write_images(src: Path) -> list[tuple[str, int, int, int]]:
    """Four real files: (relative path, width, height, size in bytes)."""
    src.mkdir(parents=True, exist_ok=True)
    made = []
    specs = [
        ("photo/cat/a.png", "PNG", (40, 30), None),
        ("photo/dog/b.jpg", "JPEG", (40, 30), {0x0110: "Camera A"}),
        ("sketch/cat/c.jpg", "JPEG", (80, 60), {0x0110: "Camera B"}),
        ("sketch/dog/d.png", "PNG", (20, 20), None),
    ]
    for i, (name, fmt, size, exif) in enumerate(specs):
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", size, (60 * i, 100, 200 - 40 * i))
        kwargs = {}
        if exif:
            data = Image.Exif()
            data.update(exif)
            kwargs["exif"] = data
        image.save(path, fmt, **kwargs)
        made.append((name, size[0], size[1], path.stat().st_size))
    return made


@pytest.fixture
def store(tmp_path: Path) -> Store:
    files = _write_images(tmp_path / "src")
    root = tmp_path / "store"
    store = Store.create(root, "tiny", "k", D)
    store.items = pd.DataFrame(
        {
            "id": range(4),
            "path": [str(tmp_path / "src" / f[0]) for f in files],
            "rel_path": [f[0] for f in files],
            "sha256": [f"sha{i}" for i in range(4)],
            "width": [f[1] for f in files],
            "height": [f[2] for f in files],
            "file_size": [f[3] for f in files],
            "domain": ["photo", "photo", "sketch", "sketch"],
            "class": ["cat", "dog", "cat", "dog"],
            "label_source": "folder",
            "caption": ["a cat", "a dog", "a cat drawn", "a dog drawn"],
            "prompt": [None, "a dog, 4k", "a dog, 8k", None],
            "generation_settings": [
                None,
                '{"seed": 1, "steps": 20}',
                '{"seed": 2, "steps": 20}',
                None,
            ],
            "status": "ok",
            "parent_id": -1,
            "tile": -1,
        }
    )
    store.image_emb = np.eye(D, dtype=np.float32)[:4]
    store.caption_emb = np.eye(D, dtype=np.float32)[:4]
    store.write()
    return Store.load(root)


# ----------------------------------------------------------------------------- saved views
def test_a_view_is_saved_listed_opened_renamed_and_deleted(store: Store) -> None:
    query = GridQuery(domains=("sketch",), text="cat", sort="size", descending=True, page=3)
    save_view(store.root, "sketch cats", query, selection=[2, 3])
    save_view(store.root, "  all   photos ", GridQuery(domains=("photo",)))
    assert list(load_views(store.root)) == ["sketch cats", "all photos"]
    view = get_view(store.root, "sketch cats")
    assert view.query.page == 0 and view.selection == (2, 3)
    assert view.query.domains == ("sketch",) and view.query.sort == "size"
    assert view.query.descending and view.query.text == "cat"
    # the view gives the same grid it was saved from
    shown = Browser(store).query(view.query.__class__(**{**view.query.__dict__, "ids": (2, 3)}))
    assert shown.ids == [2]
    rename_view(store.root, "sketch cats", "cats drawn")
    assert list(load_views(store.root)) == ["cats drawn", "all photos"]
    with pytest.raises(ValueError, match="exists"):
        rename_view(store.root, "cats drawn", "all photos")
    with pytest.raises(KeyError, match="saved: cats drawn, all photos"):
        get_view(store.root, "nope")
    assert delete_view(store.root, "cats drawn") and not delete_view(store.root, "cats drawn")
    assert list(load_views(store.root)) == ["all photos"]
    with pytest.raises(ValueError, match="empty"):
        save_view(store.root, "  ", GridQuery())


def test_a_damaged_views_file_says_how_to_recover(store: Store) -> None:
    (store.root / "views.json").write_text("{not json")
    with pytest.raises(StoreError, match="move it away"):
        load_views(store.root)


def test_views_through_the_api(store: Store, tiny) -> None:  # noqa: ANN001
    session = api.session_for(store.root)
    api.save_view(session, "v", GridQuery(classes=("dog",)), similar="3", selection=[1, 9])
    assert [v.name for v in api.list_views(session)] == ["v"]
    assert api.open_view(session, "v").selection == (1,)  # 9 is past the collection
    with pytest.raises(api.UsageError, match="no saved view"):
        api.open_view(session, "w")
    api.rename_view(session, "v", "w")
    assert api.delete_view(session, "w")


# ------------------------------------------------------------------------- corrected labels
def test_a_corrected_label_is_kept_and_counted_as_given(store: Store) -> None:
    assert correct_labels(store.root, [1], cls="cat") == 1
    again = Store.load(store.root)
    assert again.items.at[1, "class"] == "cat" and again.items.at[1, "label_source"] == "corrected"
    assert Browser(again).facets()["classes"] == {"cat": 3, "dog": 1}
    assert correct_labels(store.root, [1], cls="cat") == 0  # already so: nothing written
    with pytest.raises(ValueError, match="no item with id 7"):
        correct_labels(store.root, [7], domain="photo")
    with pytest.raises(ValueError, match="domain or class"):
        correct_labels(store.root, [1], "", " ")


def test_correcting_a_wrong_class_changes_precision_at_k(tmp_path: Path, tiny) -> None:  # noqa: ANN001
    """Photos: p0 (e0) cat, p1 (e1) dog. Sketches: s0 ≈ e0, s1 ≈ e1, but s0 is labelled dog
    (wrong) and s1 cat. Image → image, photo → sketch: p0's nearest sketch is s0, labelled dog,
    so precision@1 is 0 for both queries; correcting s0 to cat and s1 to dog makes it 100."""
    root = tmp_path / "eval"
    store = Store.create(root, "tiny", tiny.caption_key, D)
    e = np.eye(D, dtype=np.float32)
    store.items = pd.DataFrame(
        {
            "id": range(4),
            "path": [str(tmp_path / f"{i}.png") for i in range(4)],
            "rel_path": [f"{i}.png" for i in range(4)],
            "sha256": [f"s{i}" for i in range(4)],
            "width": 8,
            "height": 8,
            "domain": ["photo", "photo", "sketch", "sketch"],
            "class": ["cat", "dog", "dog", "cat"],
            "label_source": "folder",
            "status": "ok",
            "parent_id": -1,
        }
    )
    store.image_emb = np.stack([e[0], e[1], (e[0] + 0.1 * e[2]), (e[1] + 0.1 * e[2])])
    store.image_emb /= np.linalg.norm(store.image_emb, axis=1, keepdims=True)
    store.write()
    session = api.session_for(root, None)
    config = api.EvalConfig(modes=("image",), ks=(1,))

    def p_at_1() -> float:
        report, _ = api.evaluate(session, config)
        (pair,) = [
            p
            for p in report.pairs
            if (p.variant, p.query_domain, p.gallery_domain) == ("image", "photo", "sketch")
        ]
        return round(pair.precision[1], 6)

    assert p_at_1() == 0.0
    assert api.correct_label(session, [2], cls="cat") == 1
    assert api.correct_label(session, [3], cls="dog") == 1
    assert session.store.items["class"].tolist() == ["cat", "dog", "cat", "dog"]
    assert p_at_1() == 100.0


# -------------------------------------------------------------------------------- downloads
def test_a_selection_exports_as_a_file_list_originals_and_a_dataset(
    store: Store, tmp_path: Path
) -> None:
    import datasets

    listed = export_selection(store.root, [3, 1], "csv")
    assert listed.path.parent == store.root / "exports"
    rows = list(csv.DictReader(io.StringIO(listed.path.read_text())))
    assert [(r["id"], r["file"], r["class"]) for r in rows] == [
        ("3", "sketch/dog/d.png", "dog"),
        ("1", "photo/dog/b.jpg", "dog"),
    ]
    assert str(tmp_path) not in listed.path.read_text()  # no server path
    originals = export_selection(store.root, [3, 1], "zip")
    with zipfile.ZipFile(originals.path) as archive:
        assert sorted(archive.namelist()) == ["1-b.jpg", "3-d.png"]
        assert archive.read("1-b.jpg") == (tmp_path / "src/photo/dog/b.jpg").read_bytes()
    dataset = export_selection(store.root, [3, 1], "datasets")
    assert dataset.path.suffix == ".zip" and dataset.rows == 2
    with zipfile.ZipFile(dataset.path) as archive:
        archive.extractall(tmp_path / "out")
    loaded = datasets.load_from_disk(str(tmp_path / "out" / dataset.path.stem))
    assert loaded["file_name"] == ["sketch/dog/d.png", "photo/dog/b.jpg"]
    left = sorted(p.name for p in (store.root / "exports").iterdir())
    assert len(left) == 3 and all(n.endswith((".csv", ".zip")) for n in left)
    with pytest.raises(ValueError, match="no item to export"):
        export_selection(store.root, [], "csv")
    with pytest.raises(ValueError, match="no item with id 9"):
        export_selection(store.root, [9], "csv")


# --------------------------------------------------------------------------- diverse subset
def test_the_diverse_subset_covers_every_well_separated_cluster() -> None:
    """Five clusters of very different sizes (100, 40, 10, 3, 1 points) around orthogonal
    centres: five items, one from each, whatever the seed; a random draw of five would mostly
    miss the small ones."""
    rng = np.random.default_rng(0)
    sizes = [100, 40, 10, 3, 1]
    centres = np.eye(16)[:5] * 10
    points = np.concatenate(
        [c + rng.normal(scale=0.3, size=(n, 16)) for c, n in zip(centres, sizes, strict=True)]
    )
    cluster = np.repeat(np.arange(5), sizes)
    for seed in range(8):
        chosen = diverse_rows(points, 5, seed)
        assert sorted(cluster[chosen].tolist()) == [0, 1, 2, 3, 4]
        assert np.array_equal(chosen, diverse_rows(points, 5, seed))  # deterministic
    assert len(set(diverse_rows(points, 12, 0).tolist())) == 12
    assert len(diverse_rows(points[:3], 10, 0)) == 3
    with pytest.raises(ValueError, match="at least 1"):
        diverse_rows(points, 0)


def test_the_diverse_subset_through_the_api_keeps_to_the_filter(store: Store) -> None:
    session = api.session_for(store.root)
    assert sorted(api.diverse_subset(session, 4, seed=0)) == [0, 1, 2, 3]
    assert sorted(api.diverse_subset(session, 2, ids=[1, 2, 3])) in ([1, 2], [1, 3], [2, 3])
    with pytest.raises(api.UsageError, match="no embedded item"):
        api.diverse_subset(session, 2, ids=[])


# ------------------------------------------------------------------------------- comparison
def test_two_duplicates_compared_show_what_differs(store: Store) -> None:
    result = compare(store, 1, 2)
    rows = {name: (a, b, differs) for name, a, b, differs in result.rows}
    assert rows["resolution"] == ("40×30 px", "80×60 px", True)
    assert rows["format"] == ("JPEG", "JPEG", False)
    assert rows["file size"][2] == (result.a.file_size != result.b.file_size)
    assert rows["prompt"] == ("a dog, 4k", "a dog, 8k", True)
    assert rows["settings.seed"] == ("1", "2", True) and rows["settings.steps"][2] is False
    assert rows["exif.Model"] == ("Camera A", "Camera B", True)
    assert set(result.differing) >= {"resolution", "prompt", "settings.seed", "exif.Model"}
    assert "format" not in result.differing
    assert compare(store, 0, 3).rows[2][1:] == ("PNG", "PNG", False)
    with pytest.raises(ValueError, match="two different"):
        compare(store, 1, 1)
    image = Image.new("RGB", (100, 50))
    image.putpixel((50, 25), (255, 0, 0))  # the centre pixel becomes a 4x4 block
    big = zoomed(image, 4)
    assert big.size == (100, 50) and zoomed(image, 1) is image
    red = [(x, y) for x in range(100) for y in range(50) if big.getpixel((x, y)) == (255, 0, 0)]
    assert len(red) == 16
    with pytest.raises(ValueError, match="zoom runs"):
        zoomed(image, 40)
    json.dumps(result.rows)  # plain values, for a page


def test_a_correction_during_a_build_says_so_instead_of_waiting(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from cdir.browse import labels
    from cdir.store.locking import collection_lock

    monkeypatch.setattr(labels, "LOCK_TIMEOUT_S", 0.2)
    held, done = threading.Event(), threading.Event()

    def build() -> None:  # another thread holds the collection, as an ingest does
        with collection_lock(store.root):
            held.set()
            done.wait(30)

    worker = threading.Thread(target=build)
    worker.start()
    try:
        held.wait(30)
        with pytest.raises(ValueError, match="being built"):
            correct_labels(store.root, [1], cls="cat")
    finally:
        done.set()
        worker.join()
    assert Store.load(store.root).items.at[1, "class"] == "dog"  # nothing written
