"""Near-duplicates: the three tiers measured on the generated set, chain-free grouping, the
O(N·k) path, calibration histograms, keep suggestions, rows and export, prompt agreement and
the ``dupes`` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.duplicates.calibration import similarity_histogram
from cdir.duplicates.export import export, export_path
from cdir.duplicates.finder import (
    GROUPING_RULE,
    DedupConfig,
    DupGroup,
    config_with_threshold,
    find_groups,
)
from cdir.duplicates.keep import KeepChoice, choose_keep
from cdir.duplicates.prompt_agreement import prompt_agreement
from cdir.duplicates.rows import decision_rows
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.loaded import Models
from cdir.store.collection import Store, normalise_items

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from calibrate_dupes import PairScores, hashed_store, score_groups  # noqa: E402
from make_dupes_set import EXACT_KINDS, TRANSFORMS, make_set  # noqa: E402

CLASSES = ("car", "tree")  # the set's hardest non-duplicates: simple drawings of cars


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def dupes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("dupes") / "set"
    return root, make_set(root, classes=CLASSES)


@pytest.fixture(scope="module")
def hashed(dupes: tuple[Path, dict]) -> Store:
    """The generated set read with cdir's reader, no model (exact and perceptual tiers)."""
    return hashed_store(*dupes)


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, tiny: Models, dupes: tuple[Path, dict]
) -> Store:
    """The generated set ingested with the tiny preset (semantic tier, prompts, the CLI)."""
    store_dir = tmp_path_factory.mktemp("stores") / "dupes"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("module-cache")))
        ingest([dupes[0]], store_dir, tiny, IngestConfig(captions="none"))
    return Store.load(store_dir)


def memory_store(root: Path, n: int, **columns: object) -> Store:
    """An in-memory collection of ``n`` readable items with the given columns."""
    base = {
        "id": range(n),
        "path": [f"/x/{i}.jpg" for i in range(n)],
        "rel_path": [f"{i}.jpg" for i in range(n)],
        "sha256": [f"s{i}" for i in range(n)],
        "width": 100,
        "height": 100,
        "file_size": 1000,
        "status": "ok",
        "parent_id": -1,
        "tile": -1,
    }
    emb = columns.pop("image_emb", None)
    items = normalise_items(pd.DataFrame({**base, **columns}))
    return Store(root, items=items, image_emb=None if emb is None else np.asarray(emb, np.float32))


def show(tier: str, s: PairScores) -> None:
    cells = ", ".join(f"{k} {v:.2f}" for k, v in s.per_transform.items())
    print(
        f"\n{tier}: precision {s.precision:.3f} recall {s.recall:.3f} "
        f"({s.predicted} pairs found, {s.true} true); recall per transform: {cells}"
    )


# --------------------------------------------------------------------- tiers on the generated set
def test_exact_tier_finds_its_own_kind_perfectly(hashed: Store, dupes: tuple[Path, dict]) -> None:
    groups = find_groups(hashed, DedupConfig(tiers=("exact",)))
    scores = score_groups(hashed, dupes[1], groups, EXACT_KINDS)
    show("exact (copies and lossless re-encodes)", scores)
    assert (scores.precision, scores.recall) == (1.0, 1.0)
    assert all(g.tier == "exact" and len(g) == 3 for g in groups)  # original, copy, png


def test_perceptual_tier_precision_and_recall(hashed: Store, dupes: tuple[Path, dict]) -> None:
    scores = score_groups(hashed, dupes[1], find_groups(hashed, DedupConfig(tiers=("perceptual",))))
    show("perceptual (default threshold)", scores)
    assert scores.precision >= 0.85 and scores.recall >= 0.6
    for kind in ("copy", "png", "resize", "jpeg", "flip"):
        assert scores.per_transform[kind] >= 0.9, kind
    assert set(scores.per_transform) == set(TRANSFORMS)


def test_mirror_hash_finds_flipped_copies(hashed: Store, dupes: tuple[Path, dict]) -> None:
    def flips(mirror: bool) -> float:
        groups = find_groups(hashed, DedupConfig(tiers=("perceptual",), mirror=mirror))
        return score_groups(hashed, dupes[1], groups).per_transform["flip"]

    assert flips(True) >= 0.9 > flips(False) + 0.3


def test_semantic_tier_on_the_generated_set(ingested: Store, dupes: tuple[Path, dict]) -> None:
    """Random tiny CLIP: the numbers are printed, not judged, except that identical pixels
    (identical embeddings) are always found."""
    groups = find_groups(ingested, DedupConfig(tiers=("semantic",)))
    scores = score_groups(ingested, dupes[1], groups)
    show("semantic (tiny preset: random weights, not meaningful)", scores)
    assert scores.per_transform["copy"] == scores.per_transform["png"] == 1.0


def test_tiers_together_do_not_repeat_stricter_groups(hashed: Store) -> None:
    groups = find_groups(hashed, DedupConfig(tiers=("exact", "perceptual")))
    exact = [set(g.members) for g in groups if g.tier == "exact"]
    assert exact
    for g in groups:
        if g.tier == "perceptual":
            assert not any(set(g.members) <= e for e in exact)
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)


# ------------------------------------------------------------------------------------ grouping
def chain(n: int, step_cos: float, dim: int = 8) -> np.ndarray:
    """Unit vectors on one great circle, each ``step_cos`` from the previous one."""
    angles = np.arange(n) * np.arccos(step_cos)
    emb = np.zeros((n, dim), np.float32)
    emb[:, 0], emb[:, 1] = np.cos(angles), np.sin(angles)
    return emb


def test_a_chain_does_not_join_far_ends(tmp_path: Path) -> None:
    emb = chain(3, 0.96)  # a~b 0.96, b~c 0.96, a~c 0.84
    store = memory_store(tmp_path, 3, image_emb=emb)
    groups = find_groups(store, DedupConfig(tiers=("semantic",), semantic_min_similarity=0.95))
    assert len(groups) == 1 and groups[0].representative == 1  # b links both
    assert not {0, 2} <= set(groups[0].members)


def test_a_long_chain_gives_groups_whose_every_pair_passes(tmp_path: Path) -> None:
    emb = chain(60, 0.985)
    store = memory_store(tmp_path, 60, image_emb=emb)
    groups = find_groups(store, DedupConfig(tiers=("semantic",), semantic_min_similarity=0.95))
    assert len(groups) > 5
    for g in groups:
        sims = emb[g.members] @ emb[g.members].T
        assert sims.min() >= 0.95 - 1e-6


def test_perceptual_chain_does_not_join_far_ends(tmp_path: Path) -> None:
    a = 0x0F0F0F0F0F0F0F0F
    b = a ^ 0b111111  # 6 bits from a
    c = b ^ (0b111111 << 20)  # 6 more: 12 bits from a
    store = memory_store(
        tmp_path,
        3,
        phash=[f"{h:016x}" for h in (a, b, c)],
        phash_mirror=[f"{~h & (2**64 - 1):016x}" for h in (a, b, c)],
    )
    groups = find_groups(store, DedupConfig(tiers=("perceptual",), perceptual_max_distance=8))
    assert len(groups) == 1 and not {0, 2} <= set(groups[0].members)


def test_grouping_rule_is_explained() -> None:
    assert "Every pair" in GROUPING_RULE and "representative" in GROUPING_RULE


def planted(n: int, n_pairs: int, dim: int, seed: int = 0) -> tuple[np.ndarray, set]:
    """Clustered unit vectors, the last ``n_pairs`` rows near-copies (cos ~0.99) of others."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dim))
    x = centres[rng.integers(0, 64, n)] + 1.5 * rng.standard_normal((n, dim))
    sources = rng.choice(n - n_pairs, n_pairs, replace=False)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    copies = x[sources] + 0.1 / np.sqrt(dim) * rng.standard_normal((n_pairs, dim))
    x[n - n_pairs :] = copies / np.linalg.norm(copies, axis=1, keepdims=True)
    return x.astype(np.float32), {(int(s), n - n_pairs + i) for i, s in enumerate(sources)}


def test_20k_items_take_memory_in_n_times_k_not_n_squared(tmp_path: Path) -> None:
    n = 20_000
    emb, pairs = planted(n, 500, 64)
    hashes = np.random.default_rng(1).integers(0, 2**63, n, dtype=np.int64)
    store = memory_store(tmp_path, n, image_emb=emb, phash=[f"{h:016x}" for h in hashes])
    config = DedupConfig(tiers=("perceptual", "semantic"), mirror=False)
    tracemalloc.start()
    start = time.perf_counter()
    groups = find_groups(store, config)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    found = {(min(g.members), max(g.members)) for g in groups if g.tier == "semantic"}
    print(
        f"\n20k items, two tiers: {seconds:.1f}s, peak traced {peak / 2**20:.0f} MiB, "
        f"planted pairs found {len(found & pairs)}/{len(pairs)}"
    )
    assert peak < n * n * 4 / 16  # an N x N float32 matrix would be 1.6 GB
    assert len(found & pairs) == len(pairs)


# ----------------------------------------------------------------------------- keep and rows
def test_the_keep_prefers_resolution_then_less_compression_and_files_over_tiles(
    tmp_path: Path,
) -> None:
    store = memory_store(
        tmp_path,
        4,
        width=[100, 200, 200, 400],
        height=[100, 200, 200, 400],
        file_size=[900, 500, 800, 10],
        tile=[-1, -1, -1, 2],
        parent_id=[-1, -1, -1, 0],
    )
    assert choose_keep(store, "perceptual", [0, 1, 2]).item == 2
    assert choose_keep(store, "perceptual", [0, 1]) == KeepChoice(1, "larger")
    assert choose_keep(store, "perceptual", [1, 3]).item == 1  # the tile is no file
    assert choose_keep(store, "perceptual", [3]).item == 3


def test_rows_show_the_groups_keep(tmp_path: Path) -> None:
    store = memory_store(
        tmp_path,
        3,
        width=[10, 20, 30],
        height=[10, 20, 30],
        caption=["a", None, "c"],
        domain="photo",
    )
    group = DupGroup(
        "semantic", [1, 0, 2], 1, {1: 1.0, 0: 0.97, 2: 0.96}, keep=2, keep_reason="larger"
    )
    rows = decision_rows(store, [group], {})
    assert [r["id"] for r in rows] == [1, 0, 2]
    assert [r["keep"] for r in rows] == [False, False, True]
    assert rows[0]["resolution"] == "20x20" and rows[0]["caption"] is None
    assert rows[0]["representative"] and rows[1]["score"] == 0.97


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_decisions_inside_the_store(tmp_path: Path, fmt: str) -> None:
    store = memory_store(tmp_path, 4, width=[10, 20, 30, 40], height=[10, 20, 30, 40])
    groups = [
        DupGroup("perceptual", [0, 1], 0, {0: 0.0, 1: 2.0}, keep=1),
        DupGroup("exact", [2, 3], 2, {2: 1.0, 3: 1.0}, keep=2),
    ]
    rows = decision_rows(store, groups, {})
    out = export(store, rows, export_path(store, fmt))
    assert out.parent.parent.parent == store.root and out.suffix == f".{fmt}"
    assert [r["keep"] for r in rows] == [False, True, True, False]
    assert not list(out.parent.glob(".*.tmp"))


def test_export_refuses_a_suffix_that_is_not_a_format(tmp_path: Path) -> None:
    store = memory_store(tmp_path, 1)
    with pytest.raises(ValueError, match=".csv, .json or .sh"):
        export(store, [], tmp_path / "photo.jpg")
    with pytest.raises(ValueError, match="one of csv, json, sh"):
        export_path(store, "jpg")


# --------------------------------------------------------------------------------- calibration
@pytest.mark.parametrize("tier", ["perceptual", "semantic"])
def test_histogram_of_nearest_neighbours(ingested: Store, tier: str) -> None:
    hist = similarity_histogram(ingested, tier, bins=20)
    assert sum(hist.counts) == int(ingested.ok_mask().sum())
    assert len(hist.edges) == len(hist.counts) + 1 and np.all(np.diff(hist.edges) > 0)
    assert hist.threshold == DedupConfig().threshold(tier)
    for b, pairs in hist.examples.items():
        assert hist.counts[b] > 0 and 1 <= len(pairs) <= 3
        for a, c, value in pairs:
            assert a < c and hist.edges[b] <= value <= hist.edges[b + 1]
    if tier == "perceptual":
        assert hist.counts[0] > 0 and not hist.higher_is_closer  # copies at distance 0


def test_histogram_has_no_exact_tier(hashed: Store) -> None:
    with pytest.raises(ValueError, match="no threshold"):
        similarity_histogram(hashed, "exact")


def test_threshold_applies_to_one_tier() -> None:
    assert config_with_threshold(("perceptual",), 6).perceptual_max_distance == 6
    assert config_with_threshold(("exact", "semantic"), 0.9).semantic_min_similarity == 0.9
    with pytest.raises(ValueError, match="one tier"):
        config_with_threshold(("perceptual", "semantic"), 6)
    with pytest.raises(ValueError, match="number of bits"):
        config_with_threshold(("perceptual",), 6.5)
    with pytest.raises(ValueError, match="unknown tier"):
        DedupConfig(tiers=("fuzzy",))


# ---------------------------------------------------------------------------- prompts and CLI
def test_prompt_agreement(ingested: Store, tiny: Models, tmp_path: Path) -> None:
    from cdir.store.cache import Cache

    cache = Cache.for_store(tmp_path, shared=False)
    try:
        table = prompt_agreement(ingested, tiny, cache)
    finally:
        cache.close()
    prompted = ingested.items[ingested.items["prompt"].notna()]
    assert len(table) == len(prompted) > 0
    assert list(table.columns[:3]) == ["id", "file", "prompt"]
    assert table["prompt_image_sim"].is_monotonic_increasing
    assert table["prompt_image_sim"].between(-1.0001, 1.0001).all()
    assert table["prompt_caption_sim"].isna().all()  # ingested without captions


@pytest.mark.slow
def test_cli_dupes_json(ingested: Store) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cdir",
            "dupes",
            str(ingested.root),
            "--tier",
            "exact",
            "perceptual",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tiers"] == ["exact", "perceptual"] and report["groups"]
    assert report["thresholds"] == {"perceptual": float(DedupConfig().perceptual_max_distance)}
    for g in report["groups"]:
        ids = [m["id"] for m in g["members"]]
        assert g["representative"] == ids[0] and g["keep"] in ids and g["tier"] in report["tiers"]
        assert all(set(m) == {"id", "file", "score", "distance", "decision"} for m in g["members"])


def test_partitioned_search_finds_the_planted_pairs_of_flat_search() -> None:
    from cdir.store.knn import cosine_knn, partitioned_knn

    emb, truth = planted(6000, 300, 64, seed=3)
    sims, nbr = partitioned_knn(emb, 5)
    flat_sims, flat_nbr = cosine_knn(emb, 5)
    found = {
        (min(a, int(b)), max(a, int(b)))
        for a in range(len(emb))
        for b, s in zip(nbr[a], sims[a], strict=True)
        if b >= 0 and s >= 0.95
    }
    assert truth <= found
    assert np.mean(nbr[:, 0] == flat_nbr[:, 0]) > 0.95  # nearest neighbours mostly exact
    assert np.mean(np.isclose(sims[:, 0], flat_sims[:, 0], atol=1e-5)) > 0.95


def test_mirror_hash_from_thumbnails_for_items_ingested_before_it_was_stored(
    tmp_path: Path,
) -> None:
    from PIL import ImageOps

    from cdir.imaging.decode import load_rgb, make_thumbnail, save_jpeg_atomic
    from cdir.ingest.reader import perceptual_hash

    photo = load_rgb(REPO / "cdir/assets/examples/photo/boat/photo_boat_01.jpg")
    other = load_rgb(REPO / "cdir/assets/examples/painting/house/painting_house_02.jpg")
    images = [photo, ImageOps.mirror(photo), other]
    thumbs = [make_thumbnail(image) for image in images]
    store = memory_store(tmp_path, 3, phash=[perceptual_hash(t) for t in thumbs])
    for sha, thumb in zip(store.items["sha256"], thumbs, strict=True):
        save_jpeg_atomic(thumb, store.thumb_path(sha))
    groups = find_groups(store, DedupConfig(tiers=("perceptual",)))
    assert [sorted(g.members) for g in groups] == [[0, 1]]
