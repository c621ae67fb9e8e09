"""Every index kind against the numpy reference on clustered synthetic data."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cdir.store import vector_index as index_mod
from cdir.store.faiss_indexes import FaissFlatIndex, FaissHNSWIndex, FaissIVFIndex, default_nlist
from cdir.store.index import INDEX_KINDS, build_index, load_index
from cdir.store.vector_index import ExactIndex, IndexConfig, VectorIndex, exact_search, top_k

N, D, N_QUERIES, K = 5000, 64, 200, 10


def clustered(n: int, seed: int = 0, n_clusters: int = 64, spread: float = 1.5) -> np.ndarray:
    """Unit vectors around ``n_clusters`` centres; spread 1.5 makes the clusters overlap."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).standard_normal((n_clusters, D))
    x = centres[rng.integers(0, n_clusters, n)] + spread * rng.standard_normal((n, D))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [
        len(set(f[f >= 0]) & set(t[t >= 0])) / max((t >= 0).sum(), 1)
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return clustered(N, seed=0), clustered(N_QUERIES, seed=1)


@pytest.fixture(scope="module")
def indexes(data: tuple[np.ndarray, np.ndarray]) -> dict[str, VectorIndex]:
    vectors, _ = data
    built = {}
    for kind, cls in INDEX_KINDS.items():
        built[kind] = cls(D)
        built[kind].add(vectors)
    return built


@pytest.fixture(scope="module")
def truth(indexes: dict[str, VectorIndex], data: tuple[np.ndarray, np.ndarray]):
    return indexes["exact"].search(data[1], K)


# ---------------------------------------------------------------------------- the exact reference


def test_top_k_orders_by_score_then_column_and_pads() -> None:
    scores = np.array([[0.5, 0.9, 0.5, -np.inf, 0.5, np.nan]])
    s, cols = top_k(scores, 8)
    assert cols.tolist() == [[1, 0, 2, 4, -1, -1, -1, -1]]
    assert s[0, :4].tolist() == [0.9, 0.5, 0.5, 0.5]
    assert np.isneginf(s[0, 4:]).all()


def test_top_k_takes_lowest_columns_among_ties_at_the_boundary() -> None:
    scores = np.array([[0.1, 0.7, 0.7, 0.7, 0.7, 0.9]])
    assert top_k(scores, 3)[1].tolist() == [[5, 1, 2]]


def test_exact_index_equals_stable_sort(indexes, data) -> None:
    vectors, queries = data
    s, ids = indexes["exact"].search(queries, K)
    full = queries @ vectors.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :K]
    assert (ids == expected).all()
    assert np.allclose(s, np.take_along_axis(full, expected, 1), atol=1e-6)
    assert s.dtype == np.float32 and ids.dtype == np.int64


def test_exact_search_in_blocks_equals_one_block(data, monkeypatch) -> None:
    vectors, queries = data
    allowed = np.random.default_rng(3).random(N) < 0.3
    whole = exact_search(vectors, queries[:30], K, allowed)
    monkeypatch.setattr(index_mod, "_BLOCK_ELEMENTS", 7 * 333)  # many query and gallery blocks
    blocked = exact_search(vectors, queries[:30], K, allowed)
    assert (whole[1] == blocked[1]).all()
    assert np.allclose(whole[0], blocked[0])


def test_exact_search_breaks_ties_by_id_across_blocks(monkeypatch) -> None:
    vectors = np.zeros((50, 4), dtype=np.float32)
    vectors[:, 0] = 1.0  # every row ties
    monkeypatch.setattr(index_mod, "_BLOCK_ELEMENTS", 7)
    _, ids = exact_search(vectors, np.eye(4, dtype=np.float32)[:1], 5)
    assert ids.tolist() == [[0, 1, 2, 3, 4]]


# ------------------------------------------------------------------------------- kinds vs exact


def test_flat_is_identical_to_exact(indexes, data, truth) -> None:
    s, ids = indexes["flat"].search(data[1], K)
    assert (ids == truth[1]).all()
    assert np.abs(s - truth[0]).max() < 1e-5


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_recall_at_10(kind, indexes, data, truth) -> None:
    s, ids = indexes[kind].search(data[1], K)
    r = recall(ids, truth[1])
    logging.getLogger(__name__).info("%s recall@10 = %.3f", kind, r)
    assert r >= 0.95, f"{kind} recall@10 {r:.3f}"
    assert (ids >= 0).all() and np.isfinite(s).all()


def test_ivf_defaults(indexes) -> None:
    ivf = indexes["ivf"]
    assert ivf.nlist == default_nlist(N) == min(int(4 * np.sqrt(N)), N // 39)
    assert default_nlist(1_000_000) == 4000
    assert default_nlist(10) == 1


# ----------------------------------------------------------------------------------- filtering

MASKS = {
    "random-half": lambda rng, q: rng.random(N) < 0.5,
    "random-sparse": lambda rng, q: rng.random(N) < 0.04,
    # the half of the rows least like the query: a target domain far from the query's domain
    "far-half": lambda rng, q: far_rows(q, N // 2),
}


def far_rows(query: np.ndarray, count: int) -> np.ndarray:
    """A mask of the ``count`` rows least similar to ``query``: a filter that starves a search."""
    allowed = np.zeros(N, dtype=bool)
    allowed[np.argsort(clustered(N, seed=0) @ query)[:count]] = True
    return allowed


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("kind", list(INDEX_KINDS))
def test_allowed_is_honoured_exactly_below_the_cutoff(kind, mask_name, indexes, data) -> None:
    """Filters of up to ``filter_exact_below`` rows (all of these) give the exact answer."""
    queries = data[1][:40]
    allowed = MASKS[mask_name](np.random.default_rng(7), queries[0])
    expected = indexes["exact"].search(queries, K, allowed)
    s, ids = indexes[kind].search(queries, K, allowed)
    assert allowed[ids].all(), "a disallowed id was returned"
    assert (ids == expected[1]).all()
    assert np.abs(s - expected[0]).max() < 1e-5


@pytest.mark.parametrize("mask_name", ["random-half", "random-sparse"])
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_allowed_through_faiss_id_selector(kind, mask_name, indexes, data, monkeypatch) -> None:
    monkeypatch.setattr(indexes[kind], "filter_exact_below", 0)
    allowed = MASKS[mask_name](np.random.default_rng(7), None)
    queries = data[1][:50]
    expected = indexes["exact"].search(queries, K, allowed)
    s, ids = indexes[kind].search(queries, K, allowed)
    assert (ids >= 0).all(), "a query came back short although enough rows are allowed"
    assert allowed[ids].all(), "a disallowed id was returned"
    if kind == "flat":
        assert (ids == expected[1]).all() and np.abs(s - expected[0]).max() < 1e-5
    else:
        assert recall(ids, expected[1]) >= 0.95


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_starved_selector_search_retries_until_full(kind, indexes, data, monkeypatch, caplog):
    index = indexes[kind]
    monkeypatch.setattr(index, "filter_exact_below", 0)
    monkeypatch.setattr(index, "ef_search" if kind == "hnsw" else "nprobe", 1)
    query = data[1][:1]
    allowed = far_rows(query[0], N // 2)
    with caplog.at_level(logging.DEBUG, logger="cdir.store.faiss_indexes"):
        _, ids = index.search(query, 50, allowed)
    assert (ids >= 0).all() and allowed[ids].all()
    assert "short of k=50" in caplog.text


def test_exhausted_retries_fall_back_to_exact(indexes, data, monkeypatch) -> None:
    index = indexes["ivf"]
    monkeypatch.setattr(index, "filter_exact_below", 0)
    monkeypatch.setattr(index, "nprobe", 1)
    monkeypatch.setattr(FaissIVFIndex, "_max_effort", lambda self: 1)
    query = data[1][:1]
    allowed = far_rows(query[0], N // 2)
    s, ids = index.search(query, 20, allowed)
    expected_s, expected_ids = exact_search(data[0], query, 20, allowed)
    assert (ids == expected_ids).all() and np.abs(s - expected_s).max() < 1e-5


@pytest.mark.parametrize("kind", list(INDEX_KINDS))
def test_k_larger_than_allowed_pads(kind, indexes, data) -> None:
    allowed = np.zeros(N, dtype=bool)
    allowed[[4, 40, 400, 4000]] = True
    s, ids = indexes[kind].search(data[1][:5], K, allowed)
    assert s.shape == ids.shape == (5, K)
    assert (np.sort(ids[:, :4], axis=1) == [4, 40, 400, 4000]).all()
    assert (ids[:, 4:] == -1).all() and np.isneginf(s[:, 4:]).all()
    assert (np.diff(s[:, :4], axis=1) <= 0).all()


@pytest.mark.parametrize("kind", list(INDEX_KINDS))
def test_nothing_allowed_gives_only_padding(kind, indexes, data) -> None:
    s, ids = indexes[kind].search(data[1][:2], 3, np.zeros(N, dtype=bool))
    assert (ids == -1).all() and np.isneginf(s).all()


def test_all_zero_rows_are_left_out_through_allowed(data) -> None:
    vectors = np.abs(data[0][:100])  # every coordinate positive ...
    vectors[::2] = 0.0  # ... except in the items whose embedding is missing
    index = FaissFlatIndex(D)
    index.add(vectors)
    anti = -np.ones(D, dtype=np.float32) / np.sqrt(D)  # every real row scores below zero
    _, ids = index.search(anti, 5)
    assert (ids % 2 == 0).all(), "zero rows outrank real rows when not filtered"
    _, ids = index.search(anti, 5, allowed=np.any(vectors != 0, axis=1))
    assert (ids % 2 == 1).all()


# ------------------------------------------------------------------------------ input checking


def test_bad_inputs_raise_clear_errors(indexes, data) -> None:
    index = indexes["flat"]
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(data[1][:1], 0)
    with pytest.raises(ValueError, match=r"allowed must be a bool mask of shape \(5000,\)"):
        index.search(data[1][:1], 3, np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match=r"queries must have shape \(N, 64\)"):
        index.search(np.ones((1, 3), dtype=np.float32), 3)


@pytest.mark.parametrize("kind", list(INDEX_KINDS))
def test_empty_index_and_single_vector_query(kind, data) -> None:
    index = INDEX_KINDS[kind](D)
    assert len(index) == 0
    s, ids = index.search(data[1][0], 3)  # a (D,) query is one query
    assert ids.tolist() == [[-1, -1, -1]] and np.isneginf(s).all()


def test_add_appends_with_the_next_ids(data) -> None:
    vectors = data[0][:300]
    index = FaissHNSWIndex(D)
    index.add(vectors[:200])
    index.add(vectors[200:])
    assert len(index) == 300
    _, ids = index.search(vectors[250], 1)
    assert ids.tolist() == [[250]]


# ----------------------------------------------------------------------------- save and load


@pytest.mark.parametrize("kind", list(INDEX_KINDS))
def test_save_load_round_trip(kind, indexes, data, tmp_path) -> None:
    path = tmp_path / "sub" / f"{kind}.index"
    indexes[kind].save(path)
    loaded = load_index(path)
    assert type(loaded) is type(indexes[kind]) and loaded.kind == kind
    assert len(loaded) == N and loaded.dim == D
    before = indexes[kind].search(data[1][:20], K)
    after = loaded.search(data[1][:20], K)
    assert (before[1] == after[1]).all() and np.allclose(before[0], after[0])
    assert [p.name for p in path.parent.iterdir()] == [path.name], "a temp file was left behind"


def test_saved_settings_survive(tmp_path, data) -> None:
    hnsw = build_index(
        data[0][:500], IndexConfig("hnsw", hnsw_m=16, ef_search=77, filter_exact_below=9)
    )
    hnsw.save(tmp_path / "h")
    loaded = load_index(tmp_path / "h")
    assert (loaded.m, loaded.ef_search, loaded.filter_exact_below) == (16, 77, 9)
    ivf = FaissIVFIndex(D, nprobe=5)
    ivf.save(tmp_path / "empty")  # never trained: still round-trips
    assert len(load_index(tmp_path / "empty")) == 0


def test_save_overwrites_atomically(tmp_path, data) -> None:
    path = tmp_path / "x.index"
    small = ExactIndex(D)
    small.add(data[0][:10])
    small.save(path)
    small.add(data[0][10:20])
    small.save(path)
    assert len(load_index(path)) == 20


def test_load_rejects_other_files(tmp_path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"not an index")
    with pytest.raises(ValueError, match="not a readable cdir index file"):
        load_index(path)
    np.savez(tmp_path / "odd.npz", kind=np.array("annoy"), meta=np.array("{}"))
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        load_index(tmp_path / "odd.npz")


# ------------------------------------------------------------------------------------ building


def test_build_index_auto_choice(data) -> None:
    vectors = data[0][:300]
    assert build_index(vectors).kind == "flat"
    assert isinstance(build_index(vectors, IndexConfig(exact_below=300)), FaissHNSWIndex)
    hnsw = build_index(vectors, IndexConfig(exact_below=100, ef_search=40, hnsw_m=8))
    assert (hnsw.ef_search, hnsw.m) == (40, 8)
    ivf = build_index(vectors, IndexConfig(kind="ivf", nprobe=3))
    assert ivf.kind == "ivf" and ivf.nprobe == 3 and len(ivf) == 300


def test_build_index_unknown_kind_lists_the_kinds(data) -> None:
    with pytest.raises(ValueError, match="unknown index kind 'annoy'; choose one of: auto, exact"):
        build_index(data[0][:10], IndexConfig(kind="annoy"))
    with pytest.raises(ValueError, match="must be a"):
        build_index(data[0][0])
