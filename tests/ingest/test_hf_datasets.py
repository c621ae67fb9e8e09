"""🤗 datasets in and out: each input form built locally with ``datasets`` (no hub), ingested
with the ``tiny`` preset, exported, and opened again with ``datasets.load_from_disk``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from cdir.cli import main
from cdir.duplicates.decisions import decide
from cdir.duplicates.finder import DupGroup
from cdir.export.datasets_out import ExportError, export_store
from cdir.ingest.dataset_columns import parse_column_overrides
from cdir.ingest.hf_datasets import dataset_kind
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.source_files import SourceError
from cdir.ingest.sources import scan_sources
from cdir.models.loaded import Models
from cdir.store.collection import Store

STYLES = ["photo", "sketch"]
CLASSES = ["cat", "dog", "tree"]
# (style, class index, caption, prompt, negative prompt): 6 rows, one of each pair
ROWS = [
    (
        s,
        c,
        f"a {s} of a {CLASSES[c]}",
        f"{CLASSES[c]}, {s} style" if s == "sketch" else None,
        "blurry" if s == "sketch" else None,
    )
    for s in STYLES
    for c in range(len(CLASSES))
]


def _png(n: int, side: int = 24) -> bytes:
    """A distinct image per row (a colour and a stripe at a row-specific place)."""
    rng = np.random.default_rng(n)
    pixels = np.full((side, side, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    pixels[n % side, :, :] = 255 - pixels[0, 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _dataset() -> datasets.Dataset:
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "style": datasets.Value("string"),
            "label": datasets.ClassLabel(names=CLASSES),
            "text": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "negative_prompt": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "image": [{"bytes": _png(n), "path": None} for n in range(len(ROWS))],
            "style": [r[0] for r in ROWS],
            "label": [r[1] for r in ROWS],
            "text": [r[2] for r in ROWS],
            "prompt": [r[3] for r in ROWS],
            "negative_prompt": [r[4] for r in ROWS],
        },
        features=features,
    )


def _expected() -> set[tuple]:
    return {(s, CLASSES[c], cap, p, n) for s, c, cap, p, n in ROWS}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    _dataset().save_to_disk(str(tmp_path / "saved"))
    return tmp_path / "saved"


def _imagefolder(root: Path, fmt: str) -> Path:
    rows = []
    for n, (style, c, caption, prompt, negative) in enumerate(ROWS):
        folder = root / "train" / CLASSES[c]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n}.png").write_bytes(_png(n))
        rows.append(
            {
                "file_name": f"{CLASSES[c]}/{n}.png",
                "style": style,
                "text": caption,
                "prompt": prompt,
                "negative_prompt": negative,
            }
        )
    if fmt == "jsonl":
        (root / "train" / "metadata.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
        )
    else:
        import csv

        with (root / "train" / "metadata.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return root


def _labels(files: list) -> set[tuple]:
    return {(f.domain, f.label, f.caption, f.prompt, f.negative_prompt) for f in files}


# --- detection and scanning (no models) ----------------------------------------------------------


def test_each_form_is_recognised(tmp_path: Path, saved: Path) -> None:
    _dataset().to_parquet(str(tmp_path / "one.parquet"))
    (tmp_path / "pq").mkdir()
    _dataset().to_parquet(str(tmp_path / "pq" / "train-00000-of-00001.parquet"))
    folder = _imagefolder(tmp_path / "imf", "jsonl")
    assert dataset_kind(saved) == "saved"
    assert dataset_kind(tmp_path / "one.parquet") == "parquet"
    assert dataset_kind(tmp_path / "pq") == "parquet"
    assert dataset_kind(folder) == "imagefolder"
    assert dataset_kind("hf://datasets/org/name:train") == "hub"
    assert dataset_kind(folder / "train" / "cat") is None  # a plain folder of images


@pytest.mark.parametrize("form", ["saved", "dict", "parquet", "parquet_dir", "jsonl", "csv"])
def test_scan_maps_columns_by_name(tmp_path: Path, saved: Path, form: str) -> None:
    if form == "saved":
        source = saved
    elif form == "dict":
        source = tmp_path / "dict"
        datasets.DatasetDict({"train": _dataset(), "test": _dataset()}).save_to_disk(str(source))
    elif form == "parquet":
        source = tmp_path / "one.parquet"
        _dataset().to_parquet(str(source))
    elif form == "parquet_dir":
        source = tmp_path / "pq"
        (source / "data").mkdir(parents=True)
        _dataset().select(range(3)).to_parquet(str(source / "data" / "train-0.parquet"))
        _dataset().select(range(3, 6)).to_parquet(str(source / "data" / "train-1.parquet"))
    else:
        source = _imagefolder(tmp_path / "imf", form)
    scan = scan_sources([source], tmp_path / "store" / "files")
    assert _labels(scan.files) == _expected()
    assert len(scan.files) == (12 if form == "dict" else 6)
    assert not scan.rejected
    if form == "dict":
        assert {f.rel_path.split("/")[0] for f in scan.files} == {"train", "test"}
    for file in scan.files:
        assert file.path.is_file() and Image.open(file.path).size == (24, 24)
        if form not in ("jsonl", "csv"):  # dataset bytes land in the store's files area
            assert file.path.is_relative_to(tmp_path / "store" / "files")


def test_column_overrides(tmp_path: Path, saved: Path) -> None:
    overrides = parse_column_overrides("domain=label,class=style,caption=")
    scan = scan_sources([saved], tmp_path / "files", columns=overrides)
    assert {(f.domain, f.label, f.caption) for f in scan.files} == {
        (CLASSES[c], s, None) for s, c, *_ in ROWS
    }
    with pytest.raises(SourceError, match="no column 'nope'.*fix --columns"):
        scan_sources([saved], tmp_path / "files", columns={"class": "nope"})
    with pytest.raises(SourceError, match="roles"):
        parse_column_overrides("colour=style")


def test_second_scan_reuses_the_written_files(tmp_path: Path, saved: Path) -> None:
    first = scan_sources([saved], tmp_path / "files").files
    stamps = {f.path: f.path.stat().st_mtime_ns for f in first}
    second = scan_sources([saved], tmp_path / "files").files
    assert [f.path for f in second] == [f.path for f in first]
    assert {f.path: f.path.stat().st_mtime_ns for f in second} == stamps


def test_hub_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match="hub is off.*save_to_disk") as info:
        scan_sources(["hf://datasets/org/name:train"], tmp_path / "files")
    assert "\n" not in str(info.value)


def test_no_image_column(tmp_path: Path) -> None:
    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError, match="no image column.*--columns image="):
        scan_sources([tmp_path / "d"], tmp_path / "files")


# --- round trip: ingest -> export -> load_from_disk ----------------------------------------------


@pytest.mark.parametrize("form", ["saved", "parquet", "jsonl"])
def test_round_trip(tmp_path: Path, saved: Path, tiny: Models, form: str) -> None:
    if form == "saved":
        source = saved
    elif form == "parquet":
        source = tmp_path / "one.parquet"
        _dataset().to_parquet(str(source))
    else:
        source = _imagefolder(tmp_path / "imf", "jsonl")
    store_dir = tmp_path / "store"
    report = ingest([source], store_dir, tiny, IngestConfig(captions="none"))
    assert report.counts["n_ok"] == 6 and not report.failed
    store = Store.load(store_dir)
    out = tmp_path / "out"
    assert export_store(store_dir, out).rows == 6
    loaded = datasets.load_from_disk(str(out))
    assert {
        "image",
        "file_name",
        "domain",
        "class",
        "caption",
        "prompt",
        "negative_prompt",
        "image_embedding",
        "caption_embedding",
    } <= set(loaded.column_names)
    got = {
        (r["domain"], r["class"], r["caption"], r["prompt"], r["negative_prompt"]) for r in loaded
    }
    assert got == _expected()
    by_name = {str(n): i for i, n in enumerate(store.items["rel_path"])}
    for record in loaded:
        row = by_name[record["file_name"]]
        np.testing.assert_allclose(record["image_embedding"], store.image_emb[row], atol=1e-6)
        np.testing.assert_allclose(record["caption_embedding"], store.caption_emb[row], atol=1e-6)
        assert isinstance(record["image"], Image.Image) and record["image"].size == (24, 24)
    # the export ingests again with the same labels (the loop closes)
    again = tmp_path / "again"
    assert (
        scan_sources([out], again).files
        and _labels(scan_sources([out], again).files) == _expected()
    )


def test_parquet_export_and_cli(
    tmp_path: Path, saved: Path, tiny: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_dir = tmp_path / "store"
    rc = main(
        [
            "ingest",
            str(saved),
            "--store",
            str(store_dir),
            "--preset",
            "tiny",
            "--captions",
            "none",
            "-q",
            "--columns",
            "domain=style,class=label",
        ]
    )
    assert rc == 0
    assert main(["export", str(store_dir), str(tmp_path / "t.parquet"), "--format", "parquet"]) == 0
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.num_rows == 6
    assert set(table.column("class").to_pylist()) == set(CLASSES)
    reread = datasets.Dataset.from_parquet(
        str(tmp_path / "t.parquet"), cache_dir=str(tmp_path / "hfcache")
    )
    assert isinstance(reread.features["image"], datasets.Image)
    # saved near-duplicate decisions travel with the rows
    store = Store.load(store_dir)
    ids = [int(i) for i in store.items["id"][:2]]
    pair = DupGroup("exact", ids, ids[0], dict.fromkeys(ids, 1.0))
    decide(store.root, pair, ids[0], "keep")
    decide(store.root, pair, ids[1], "remove")
    assert main(["export", str(store_dir), str(tmp_path / "with-dupes")]) == 0
    rows = {r["file_name"]: r for r in datasets.load_from_disk(str(tmp_path / "with-dupes"))}
    names = [str(n) for n in store.items["rel_path"]]
    assert (rows[names[0]]["duplicate_group"], rows[names[0]]["duplicate_keep"]) == (ids[0], True)
    assert (rows[names[1]]["duplicate_tier"], rows[names[1]]["duplicate_keep"]) == ("exact", False)
    assert rows[names[2]]["duplicate_group"] is None
    # an output folder that already holds files is refused, nothing overwritten
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["export", str(store_dir), str(tmp_path / "full")]) == 2
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError, match="hub is off"):
        export_store(store_dir, tmp_path / "pushed", push="org/name")


def test_a_users_own_metadata_csv_leaves_a_folder_ordinary(tmp_path: Path) -> None:
    (tmp_path / "src" / "photo" / "cat").mkdir(parents=True)
    (tmp_path / "src" / "photo" / "cat" / "a.png").write_bytes(_png(0))
    (tmp_path / "src" / "metadata.csv").write_text("camera,iso\nx,100\n", encoding="utf-8")
    assert dataset_kind(tmp_path / "src") is None
    scan = scan_sources([tmp_path / "src"], tmp_path / "files")
    assert [(f.domain, f.label) for f in scan.files] == [("photo", "cat")]
    assert [name for name, _ in scan.rejected] == ["metadata.csv"]


def test_tags_travel_as_a_list_column(tmp_path: Path, saved: Path, tiny: Models) -> None:
    from cdir.store.tags import add_tags

    store_dir = tmp_path / "store"
    ingest([saved], store_dir, tiny, IngestConfig(captions="none"))
    untagged = tmp_path / "untagged"
    assert "tags" not in export_store(store_dir, untagged).columns  # no tags: no column
    store = Store.load(store_dir)
    ids = [int(i) for i in store.items["id"]]
    names = {
        int(i): str(n) for i, n in zip(store.items["id"], store.items["rel_path"], strict=True)
    }
    add_tags(store_dir, ids[:2], ["keep", "reviewed"])
    add_tags(store_dir, ids[1:2], ["odd one"])
    want = {names[ids[0]]: ["keep", "reviewed"], names[ids[1]]: ["keep", "reviewed", "odd one"]}
    report = export_store(store_dir, tmp_path / "tagged")
    assert "tags" in report.columns
    rows = {r["file_name"]: r["tags"] for r in datasets.load_from_disk(str(tmp_path / "tagged"))}
    assert rows == {name: want.get(name, []) for name in names.values()}
    export_store(store_dir, tmp_path / "t.parquet", "parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert (
        dict(
            zip(
                table.column("file_name").to_pylist(), table.column("tags").to_pylist(), strict=True
            )
        )
        == rows
    )
