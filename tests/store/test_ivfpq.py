"""The IVF-PQ index for very large collections: recall floors on clustered data, re-ranking from
memory-mapped float vectors, compact saving, and its place in the auto choice."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from cdir.store.faiss_indexes import FaissIVFPQIndex, pq_shape, rerank_exact
from cdir.store.index import build_index, load_index
from cdir.store.vector_index import ExactIndex, IndexConfig
from tests.store.test_index import D, clustered, recall

N, K = 4000, 10


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray, Path]:
    """Gallery (memory-mapped from a .npy file, as a store's image_emb.npy) and queries."""
    path = tmp_path_factory.mktemp("ivfpq") / "vectors.npy"
    np.save(path, clustered(N, seed=0))
    return np.load(path, mmap_mode="r"), clustered(200, seed=1), path


@pytest.fixture(scope="module")
def index(data) -> FaissIVFPQIndex:
    built = FaissIVFPQIndex(D)
    built.add(data[0])
    return built


@pytest.fixture(scope="module")
def truth(data) -> np.ndarray:
    exact = ExactIndex(D)
    exact.add(np.asarray(data[0]))
    return exact.search(data[1], K)[1]


def test_shape_is_compact(index) -> None:
    assert (index.m, index.nbits) == pq_shape(D, 64, 8, N) == (16, 8)
    assert index._index.code_size == 16  # bytes per vector in the inverted lists (+ 8 for the id)
    assert pq_shape(512, 64, 8, 100_000) == (64, 8)  # CLIP ViT-B-32: 64 bytes per vector
    assert pq_shape(768, 64, 8, 100_000) == (64, 8)
    assert pq_shape(64, 64, 8, 100) == (16, 6)  # too few vectors for 256 codes: fewer bits


def test_recall_floor_with_and_without_reranking(index, data, truth, monkeypatch) -> None:
    reranked = recall(index.search(data[1], K)[1], truth)
    monkeypatch.setattr(index, "rerank", 0)
    scores, ids = index.search(data[1], K)
    compressed = recall(ids, truth)
    logging.getLogger(__name__).info(
        "ivfpq recall@10: %.3f re-ranked, %.3f PQ", reranked, compressed
    )
    assert reranked >= 0.95, f"re-ranked recall@10 {reranked:.3f}"
    assert compressed >= 0.6, f"PQ-only recall@10 {compressed:.3f}"
    assert reranked > compressed
    assert (ids >= 0).all() and np.isfinite(scores).all()


def test_reranked_scores_are_exact_inner_products(index, data) -> None:
    scores, ids = index.search(data[1][:20], K)
    exact = np.einsum("qd,qkd->qk", data[1][:20], np.asarray(data[0])[ids])
    assert np.abs(scores - exact).max() < 1e-5
    assert (np.diff(scores, axis=1) <= 1e-7).all()


def test_memory_mapped_vectors_are_saved_by_path(index, data, tmp_path) -> None:
    assert index.vectors_file == str(data[2])
    index.save(tmp_path / "pq.index")
    size = (tmp_path / "pq.index").stat().st_size
    assert size < N * D * 4 / 2, "the float vectors were copied into the index file"
    loaded = load_index(tmp_path / "pq.index")
    assert isinstance(loaded._vectors, np.memmap)
    before, after = index.search(data[1][:20], K), loaded.search(data[1][:20], K)
    assert (before[1] == after[1]).all() and np.allclose(before[0], after[0])


def test_missing_vector_file_falls_back_to_pq_scores(
    index, data, tmp_path, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(index, "vectors_file", str(tmp_path / "moved-away.npy"))
    index.save(tmp_path / "pq.index")
    with caplog.at_level(logging.WARNING, logger="cdir.store.faiss_indexes"):
        loaded = load_index(tmp_path / "pq.index")
    assert loaded._vectors is None and "without re-ranking" in caplog.text
    monkeypatch.setattr(index, "rerank", 0)
    assert (loaded.search(data[1][:10], K)[1] == index.search(data[1][:10], K)[1]).all()


def test_in_memory_vectors_are_referenced_not_copied(data) -> None:
    vectors = np.ascontiguousarray(data[0][:500])
    small = FaissIVFPQIndex(D, nlist=8)
    small.add(vectors)
    assert small._vectors is vectors and small.vectors_file is None
    small.add(vectors[:10])  # a second add appends (now a copy)
    assert len(small) == len(small._vectors) == 510


def test_without_kept_vectors_scores_are_approximate(data) -> None:
    small = FaissIVFPQIndex(D, nlist=8, keep_vectors=False)
    small.add(np.asarray(data[0][:600]))
    assert small._vectors is None
    _, ids = small.search(data[1][:5], K)
    assert (ids >= 0).all()
    allowed = np.zeros(600, dtype=bool)
    allowed[:50] = True
    _, ids = small.search(data[1][:5], K, allowed)  # filtered: PQ reconstructions, still honoured
    assert allowed[ids].all()


def test_rerank_exact_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    candidates = np.array([[3, 7, 1, -1], [0, 49, 2, 5], [-1, -1, -1, -1]])
    scores, ids = rerank_exact(vectors, queries, candidates, 2)
    for q in range(2):
        full = vectors[candidates[q][candidates[q] >= 0]] @ queries[q]
        best = candidates[q][candidates[q] >= 0][np.argsort(-full)[:2]]
        assert ids[q].tolist() == best.tolist()
    assert ids[2].tolist() == [-1, -1] and np.isneginf(scores[2]).all()


def test_config_and_auto_choice(data) -> None:
    vectors = np.asarray(data[0][:800])
    pq = build_index(vectors, IndexConfig(kind="ivfpq", nprobe=5, pq_m=8, rerank=40))
    assert isinstance(pq, FaissIVFPQIndex)
    assert (pq.nprobe, pq.m, pq.rerank, len(pq)) == (5, 8, 40, 800)
    config = IndexConfig(exact_below=100, compressed_above=1000)
    assert [config.resolve(n) for n in (99, 999, 1000)] == ["flat", "hnsw", "ivfpq"]
    assert IndexConfig().resolve(10_000_000) == "ivfpq"
