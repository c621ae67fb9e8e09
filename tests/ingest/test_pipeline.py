"""Ingest end to end with the ``tiny`` preset: labels, captions, failures, caching and resuming."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.pipeline import STEP_DELAY_ENV, IngestConfig, IngestReport, ingest
from cdir.ingest.source_files import SourceError
from cdir.models.loaded import Models
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.cache import CACHE_FILE
from cdir.store.collection import FILES_DIR, ITEMS_FILE, THUMBS_DIR, Store
from tests.drawn import CLASSES, DOMAINS, draw_collection, draw_image

REPO = Path(__file__).resolve().parents[2]
N_DRAWN = len(DOMAINS) * len(CLASSES) * 3


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drawn")
    draw_collection(root)
    return root


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, tiny: Models, drawn: Path
) -> tuple[IngestReport, Path]:
    store = tmp_path_factory.mktemp("stores") / "drawn"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("module-cache")))
        report = ingest([drawn], store, tiny)
    return report, store


@pytest.fixture
def caption_calls(tiny: Models, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each call of the captioner received."""
    calls: list[int] = []
    captioner = tiny.captioner
    real = captioner.caption

    def spy(images):  # noqa: ANN001, ANN202
        calls.append(len(images))
        return real(images)

    monkeypatch.setattr(captioner, "caption", spy)
    return calls


def small(root: Path, classes: tuple[str, ...] = CLASSES[:2], per_class: int = 2) -> Path:
    draw_collection(root, domains=("photo",), classes=classes, per_class=per_class)
    return root


# -------------------------------------------------------------------------------- end to end
def test_ingest_counts_and_report(ingested: tuple[IngestReport, Path]) -> None:
    report, store_dir = ingested
    n_items = report.counts["n_items"]  # the files, plus the tiles of any grid image
    assert report.preset == "tiny"
    assert (report.added, report.already_present) == (N_DRAWN, 0)
    assert (report.embedded, report.captioned) == (n_items, n_items)
    assert report.failed == [] and report.rejected == []
    assert report.counts == {
        "n_items": n_items,
        "n_ok": n_items,
        "n_failed": 0,
        "n_captioned": n_items,
    }
    assert Store.load(store_dir).counts() == report.counts


def test_plain_drawings_are_not_split_as_grids(ingested: tuple[IngestReport, Path]) -> None:
    items = Store.load(ingested[1]).items
    split = sorted(items.loc[items["parent_id"] != -1, "rel_path"])
    assert split == [], f"single drawings taken for 2x2 grids: {split}"
    assert len(items) == N_DRAWN


def test_labels_come_from_the_folders(ingested: tuple[IngestReport, Path]) -> None:
    items = Store.load(ingested[1]).items
    assert items["id"].tolist() == list(range(len(items)))
    for row in items.to_dict("records"):
        domain, cls, _ = Path(row["rel_path"].split("#")[0]).parts
        assert (row["domain"], row["class"], row["label_source"]) == (domain, cls, "folder")
        assert Path(row["path"]).is_absolute() and Path(row["path"]).is_file()
    assert sorted(items["domain"].unique()) == sorted(DOMAINS)
    assert sorted(items["class"].unique()) == sorted(CLASSES)


def test_every_item_has_a_caption_and_normalised_embeddings(
    ingested: tuple[IngestReport, Path],
) -> None:
    store = Store.load(ingested[1])
    assert store.items["caption"].notna().all()
    assert (store.items["caption"].str.len() > 0).all()
    assert (store.items["caption_source"] == "model").all()
    for matrix in (store.image_emb, store.caption_emb):
        assert matrix.shape == (len(store.items), store.meta["dim"])
        assert matrix.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)


def test_thumbnails_exist_inside_the_store(ingested: tuple[IngestReport, Path]) -> None:
    store = Store.load(ingested[1])
    for sha in store.items["sha256"]:
        thumb = store.thumb_path(sha)
        assert thumb.is_file() and thumb.parent == store.root / THUMBS_DIR
        with Image.open(thumb) as img:
            assert img.format == "JPEG" and max(img.size) <= 256


def test_reingesting_the_same_folder_computes_nothing(
    ingested: tuple[IngestReport, Path], tiny: Models, drawn: Path, caption_calls: list[int]
) -> None:
    before = Store.load(ingested[1])
    report = ingest([drawn], ingested[1], tiny)
    assert len(Store.load(ingested[1]).items) == len(before.items)
    assert (report.added, report.already_present) == (0, N_DRAWN)
    assert (report.embedded, report.captioned) == (0, 0)
    assert caption_calls == []
    after = Store.load(ingested[1])
    assert after.items["caption"].tolist() == before.items["caption"].tolist()
    np.testing.assert_array_equal(after.image_emb, before.image_emb)


# ---------------------------------------------------------------------------------- failures
def test_broken_files_are_listed_with_reasons(tmp_path: Path, tiny: Models) -> None:
    src = small(tmp_path / "src", classes=("circle",))
    folder = src / "photo" / "circle"
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("these are my holiday notes, not a picture\n" * 5)
    png = (folder / "circle_0.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    report = ingest([src], tmp_path / "store", tiny, IngestConfig(captions="none"))
    reasons = {f["file"]: f["reason"] for f in report.failed}
    assert set(reasons) == {
        "photo/circle/empty.png",
        "photo/circle/notes.jpg",
        "photo/circle/truncated.png",
    }
    assert "empty" in reasons["photo/circle/empty.png"]
    assert all(len(reason) > 10 for reason in reasons.values())
    assert report.counts["n_ok"] == 2 and report.counts["n_failed"] == 3
    store = Store.load(tmp_path / "store")
    ok = store.items[store.items["status"] == "ok"]
    assert sorted(ok["rel_path"]) == ["photo/circle/circle_0.png", "photo/circle/circle_1.png"]
    assert store.items.loc[store.items["status"] == "failed", "error"].notna().all()


def test_a_missing_source_creates_no_store(tmp_path: Path, tiny: Models) -> None:
    with pytest.raises(SourceError, match="source not found"):
        ingest([tmp_path / "nowhere"], tmp_path / "store", tiny)
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------- incremental
def test_adding_files_computes_only_the_new_ones(
    tmp_path: Path, tiny: Models, caption_calls: list[int]
) -> None:
    src = small(tmp_path / "src")
    first = ingest([src], tmp_path / "store", tiny)
    assert (first.added, first.embedded, first.captioned) == (4, 4, 4)
    draw_collection(src, domains=("photo",), classes=("cross",), per_class=2)
    caption_calls.clear()
    second = ingest([src], tmp_path / "store", tiny)
    assert (second.added, second.already_present) == (2, 4)
    assert (second.embedded, second.captioned) == (2, 2)
    assert sum(caption_calls) == 2
    store = Store.load(tmp_path / "store")
    assert store.counts()["n_captioned"] == 6
    assert store.items.loc[4:, "rel_path"].tolist() == [
        "photo/cross/cross_0.png",
        "photo/cross/cross_1.png",
    ]


def test_a_second_collection_reuses_the_shared_cache(
    tmp_path: Path, tiny: Models, caption_calls: list[int]
) -> None:
    src = small(tmp_path / "src")
    ingest([src], tmp_path / "one", tiny)
    caption_calls.clear()
    report = ingest([src], tmp_path / "two", tiny)
    assert (report.added, report.embedded, report.captioned) == (4, 0, 0)
    assert caption_calls == []
    one, two = Store.load(tmp_path / "one"), Store.load(tmp_path / "two")
    assert two.items["caption"].tolist() == one.items["caption"].tolist()
    np.testing.assert_array_equal(two.image_emb, one.image_emb)
    assert all(two.thumb_path(sha).is_file() for sha in two.items["sha256"])


# ------------------------------------------------------------------------------- resuming
def test_an_interrupted_ingest_resumes_without_recomputing(
    tmp_path: Path, tiny: Models, caption_calls: list[int]
) -> None:
    src = small(tmp_path / "src", classes=CLASSES[:3], per_class=2)  # 6 images
    config = IngestConfig(caption_batch_size=2, workers=1)

    def interrupt(done: int, total: int, stage: str) -> None:
        if stage == "captioning" and done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest([src], tmp_path / "store", tiny, config, interrupt)
    assert caption_calls == [2]
    stopped = Store.load(tmp_path / "store")  # searchable by image already
    assert stopped.counts()["n_ok"] == 6 and stopped.image_emb.shape[0] == 6

    caption_calls.clear()
    report = ingest([src], tmp_path / "store", tiny, config)
    assert (report.embedded, report.captioned) == (0, 4)
    assert sum(caption_calls) == 4
    assert Store.load(tmp_path / "store").counts()["n_captioned"] == 6


def _cached_captions(store: Path) -> int:
    try:
        with sqlite3.connect(store / CACHE_FILE, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM caption").fetchone()[0])
    except sqlite3.Error:
        return 0


def _start_cli_ingest(src: Path, store: Path, log: Path) -> subprocess.Popen[bytes]:
    # a pause after each batch (the pipeline's test-only hook): the kill below always lands
    # while captioning is under way, never after the ingest ended
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CDIR_CACHE_DIR": "off",
        STEP_DELAY_ENV: "0.3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "cdir",
        "ingest",
        str(src),
        "--store",
        str(store),
        "--preset",
        "tiny",
        "-q",
    ]
    with log.open("wb") as err:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.slow
def test_a_killed_ingest_resumes_to_the_same_store(
    tmp_path: Path, tiny: Models, drawn: Path, caption_calls: list[int]
) -> None:
    store = tmp_path / "killed"
    proc = _start_cli_ingest(drawn, store, tmp_path / "stderr.txt")
    deadline = time.monotonic() + 300
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if (store / ITEMS_FILE).is_file() and _cached_captions(store) > 0:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()
    done_before = _cached_captions(store)
    assert 0 < done_before < N_DRAWN

    config = IngestConfig(shared_cache=False)
    resumed = ingest([drawn], store, tiny, config)
    n_items = resumed.counts["n_items"]
    assert (resumed.added, resumed.embedded) == (0, 0)
    assert resumed.captioned == sum(caption_calls) == n_items - done_before

    whole = ingest([drawn], tmp_path / "whole", tiny, config)
    assert whole.captioned == whole.counts["n_captioned"] == n_items
    got, want = Store.load(store), Store.load(tmp_path / "whole")
    columns = ["id", "path", "sha256", "domain", "class", "caption", "status"]
    assert got.items[columns].equals(want.items[columns])
    np.testing.assert_allclose(got.image_emb, want.image_emb, atol=1e-6)
    np.testing.assert_allclose(got.caption_emb, want.caption_emb, atol=1e-6)


# -------------------------------------------------------------------------- caption modes
def test_lazy_captions_are_computed_for_the_query_on_demand(
    tmp_path: Path, tiny: Models, caption_calls: list[int]
) -> None:
    src = small(tmp_path / "src")
    report = ingest([src], tmp_path / "store", tiny, IngestConfig(captions="lazy"))
    assert report.captioned == 0 and caption_calls == []
    store = Store.load(tmp_path / "store")
    assert store.items["caption"].isna().all() and store.counts()["n_captioned"] == 0

    result = Searcher(store, tiny).by_id(0, SearchOptions(mode="caption", k=3))
    assert caption_calls == [1]
    assert result.query.caption and result.query.caption_used == result.query.caption
    assert len(result.hits) == 3 and 0 not in [hit.id for hit in result.hits]

    again = Searcher(Store.load(tmp_path / "store"), tiny).by_id(0, SearchOptions(mode="caption"))
    assert caption_calls == [1]  # the query's caption was cached by content hash
    assert again.query.caption == result.query.caption


def test_no_captions_still_searches_by_image(
    tmp_path: Path, tiny: Models, caption_calls: list[int]
) -> None:
    src = small(tmp_path / "src")
    report = ingest([src], tmp_path / "store", tiny, IngestConfig(captions="none"))
    assert report.counts["n_ok"] == 4 and report.counts["n_captioned"] == 0
    result = Searcher(Store.load(tmp_path / "store"), tiny).by_id(
        1, SearchOptions(mode="image", k=3)
    )
    assert [hit.rank for hit in result.hits] == [1, 2, 3]
    assert caption_calls == []


# ------------------------------------------------------------------------ sources and labels
def test_an_embedded_prompt_lands_in_the_prompt_column(tmp_path: Path, tiny: Models) -> None:
    folder = tmp_path / "src" / "generated" / "castle"
    folder.mkdir(parents=True)
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle on a hill, oil painting\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7",
    )
    draw_image("clipart", "square", 0).save(folder / "made.png", pnginfo=info)
    draw_image("photo", "circle", 0).save(folder / "plain.png")
    ingest([tmp_path / "src"], tmp_path / "store", tiny, IngestConfig(captions="none"))
    items = Store.load(tmp_path / "store").items.set_index("rel_path")
    assert items.at["generated/castle/made.png", "prompt"] == "a castle on a hill, oil painting"
    assert items["prompt"].isna().sum() == 1


def test_a_csv_manifest_sets_labels(tmp_path: Path, tiny: Models) -> None:
    src = tmp_path / "flat"
    src.mkdir()
    draw_image("sketch", "circle", 0).save(src / "a.png")
    draw_image("photo", "square", 1).save(src / "b.png")
    manifest = tmp_path / "labels.csv"
    with manifest.open("w", newline="") as f:
        csv.writer(f).writerows(
            [
                ["path", "domain", "class", "caption"],
                ["a.png", "sketch", "circle", "a drawn circle"],
                ["b.png", "photo", "square", ""],
            ]
        )
    config = IngestConfig(captions="none", manifest=manifest)
    ingest([src], tmp_path / "store", tiny, config)
    store = Store.load(tmp_path / "store")
    items = store.items.set_index("rel_path")
    assert items.loc["a.png", ["domain", "class", "label_source"]].tolist() == [
        "sketch",
        "circle",
        "manifest",
    ]
    assert items.loc["b.png", ["domain", "class"]].tolist() == ["photo", "square"]
    assert items.at["a.png", "caption"] == "a drawn circle"
    assert items.at["a.png", "caption_source"] == "manifest"
    assert store.counts()["n_captioned"] == 1


def test_a_zip_source_is_extracted_inside_the_store(tmp_path: Path, tiny: Models) -> None:
    src = small(tmp_path / "src")
    archive = tmp_path / "shapes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*.png")):
            zf.write(path, path.relative_to(src).as_posix())
    report = ingest([archive], tmp_path / "store", tiny, IngestConfig(captions="none"))
    assert report.counts["n_ok"] == 4
    store = Store.load(tmp_path / "store")
    files = (tmp_path / "store" / FILES_DIR).resolve()
    for _, row in store.items.iterrows():
        path = store.image_path(row).resolve()
        assert path.is_file() and path.is_relative_to(files)
        assert not Path(row["path"]).is_absolute()  # the store can move with its files
    assert sorted(store.items["class"].unique()) == ["circle", "square"]
    assert set(store.items["domain"]) == {"photo"}
