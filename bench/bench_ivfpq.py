"""IVF-PQ for 10M+ collections: build time, bytes per vector, latency and recall on 1M vectors.

    python bench/bench_ivfpq.py [--n 1000000] [--queries 500] [--train 100000] [--quick]

1M synthetic CLIP-like 512-d vectors in clusters (``common.clustered``: uniform random vectors make
recall meaningless), written to a .npy file and memory-mapped as a store's image_emb.npy would be.
``cdir.store.index.FaissIVFPQIndex``: nlist = 4·sqrt(N), 64 sub-quantisers of 8 bits, trained on a
random sample of ``--train`` vectors. For several ``nprobe``: recall@10 against exact search, and
the median latency of one query at a time, with the compressed scores alone and with exact
re-ranking of the best 100 candidates read from the memory-mapped float vectors. Then the same
figures worked out on paper for 10M vectors. Keeps to ~3 GB of RAM (the 2 GB of floats are a memory
map) and ~10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DIM, clustered, log, peak_rss_mb, percentile, report

from cdir.store.faiss_indexes import FaissIVFPQIndex, default_nlist

K, RERANK, M = 10, 100, 64
NPROBES = (1, 2, 4, 8, 16, 32, 64)


def write_gallery(path: Path, n: int, n_clusters: int) -> np.ndarray:
    """``n`` clustered vectors in a .npy file, generated in pieces; returned memory-mapped."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    step = 100_000
    for start in range(0, n, step):
        count = min(step, n - start)
        out[start : start + count] = clustered(
            count, seed=1000 + start // step, n_clusters=n_clusters
        )
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-K ids by brute force (faiss.knn reads the memory map in blocks, no copy)."""
    import faiss

    return faiss.knn(queries, vectors, K, metric=faiss.METRIC_INNER_PRODUCT)[1]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def build(vectors: np.ndarray, train: int) -> tuple[FaissIVFPQIndex, float, float]:
    index = FaissIVFPQIndex(DIM, m=M, rerank=0, train_size=train)
    start = time.perf_counter()
    index._prepare(vectors)  # training alone, timed apart from adding
    trained = time.perf_counter()
    index.add(vectors)
    return index, trained - start, time.perf_counter() - trained


def index_bytes(index: FaissIVFPQIndex) -> int:
    import faiss

    return len(faiss.serialize_index(index._index))


def latency_ms(index: FaissIVFPQIndex, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q, K)
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 50)


def sweep(
    index: FaissIVFPQIndex, queries: np.ndarray, truth: np.ndarray, n_latency: int
) -> list[dict[str, float]]:
    rows = []
    for rerank in (0, RERANK):
        for nprobe in NPROBES:
            index.nprobe, index.rerank = nprobe, rerank
            start = time.perf_counter()
            found = index.search(queries, K)[1]
            batch_ms = (time.perf_counter() - start) * 1000 / len(queries)
            rows.append(
                {
                    "nprobe": nprobe,
                    "rerank": rerank,
                    "recall_at_10": recall_at_k(found, truth),
                    "p50_ms": latency_ms(index, queries[:n_latency]),
                    "batch_ms_per_query": batch_ms,
                }
            )
            log(
                f"  nprobe {nprobe} rerank {rerank}: recall@10 {rows[-1]['recall_at_10']:.3f}, "
                f"p50 {rows[-1]['p50_ms']:.2f} ms"
            )
    return rows


def extrapolate(
    n: int, measured_n: int, bytes_per_vector: float, train_s: float, add_s: float
) -> dict[str, float]:
    """The 10M figures on paper: memory from the code layout; times as upper bounds scaled by
    the work (coarse k-means and assignment grow with nlist; PQ training does not)."""
    nlist, nlist_m = default_nlist(n), default_nlist(measured_n)
    centroids = nlist * DIM * 4
    codes = n * (M + 8)  # 64 bytes of PQ code + an 8-byte id per vector in the inverted lists
    return {
        "n": n,
        "nlist": nlist,
        "index_gb": (codes + centroids) / 1e9,
        "floats_on_disk_gb": n * DIM * 4 / 1e9,
        "flat_in_ram_gb": n * DIM * 4 / 1e9,
        "hnsw_in_ram_gb": n * (DIM * 4 + 32 * 2 * 4) / 1e9,
        "train_s_at_most": train_s * nlist / nlist_m,  # the same 100k sample
        "add_s_at_most": add_s * (n / measured_n) * (nlist / nlist_m),
        "scan_factor": (n / nlist) / (measured_n / nlist_m),  # codes per list, same nprobe
        "measured_bytes_per_vector": bytes_per_vector,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="100k vectors, 300 queries")
    args = parser.parse_args()
    if args.quick:
        args.n, args.queries, args.latency_queries = 100_000, 200, 100
    clusters = max(10, args.n // 1000)  # ~1000 items per class
    with tempfile.TemporaryDirectory(prefix="bench-ivfpq-") as tmp:
        run(Path(tmp), args, clusters)


def run(tmp: Path, args: argparse.Namespace, clusters: int) -> None:
    start = time.perf_counter()
    vectors = write_gallery(tmp / "image_emb.npy", args.n, clusters)
    queries = clustered(args.queries, seed=7, n_clusters=clusters)
    log(f"{args.n} x {DIM} vectors in {clusters} clusters: {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    truth = exact_truth(vectors, queries)
    exact_s = time.perf_counter() - start
    log(f"exact top-{K} of {args.queries} queries: {exact_s:.1f} s")
    index, train_s, add_s = build(vectors, args.train)
    size = index_bytes(index)
    log(f"trained in {train_s:.0f} s, added in {add_s:.0f} s, {size / args.n:.1f} bytes/vector")
    rows = sweep(index, queries, truth, args.latency_queries)
    paper = extrapolate(10_000_000, args.n, size / args.n, train_s, add_s)
    summary(args, index, train_s, add_s, size, exact_s, rows, paper)


def summary(
    args: argparse.Namespace,
    index: FaissIVFPQIndex,
    train_s: float,
    add_s: float,
    size: int,
    exact_s: float,
    rows: list[dict[str, float]],
    paper: dict[str, float],
) -> None:
    table = [
        [
            r["nprobe"],
            "yes" if r["rerank"] else "no",
            r["recall_at_10"],
            r["p50_ms"],
            r["batch_ms_per_query"],
        ]
        for r in rows
    ]
    report(
        f"IVF-PQ, {args.n:,} clustered {DIM}-d vectors (nlist {index.nlist}, m {index.m} x "
        f"{index.nbits} bits, trained on {min(args.train, args.n):,})",
        [
            "nprobe",
            "re-rank 100 (mmap floats)",
            "recall@10",
            "p50 ms (1 query)",
            "ms/query (batch of queries)",
        ],
        table,
        {
            "n": args.n,
            "nlist": index.nlist,
            "m": index.m,
            "nbits": index.nbits,
            "train_s": train_s,
            "add_s": add_s,
            "index_bytes": size,
            "bytes_per_vector": size / args.n,
            "exact_ms_per_query": exact_s * 1000 / args.queries,
            "peak_rss_mb": peak_rss_mb(),
            "sweep": rows,
            "paper_10m": paper,
        },
    )
    print(
        f"\nbuild: train {train_s:.0f} s + add {add_s:.0f} s; index {size / 1e6:.1f} MB = "
        f"{size / args.n:.1f} bytes/vector (float32: {DIM * 4}); exact search "
        f"{exact_s * 1000 / args.queries:.1f} ms/query (faiss brute force, batched); peak RSS "
        f"{peak_rss_mb():.0f} MiB"
    )
    print(
        f"10M on paper: nlist {paper['nlist']}, index {paper['index_gb']:.2f} GB in RAM "
        f"(flat {paper['flat_in_ram_gb']:.1f} GB, HNSW M=32 ~{paper['hnsw_in_ram_gb']:.1f} GB), "
        f"float vectors {paper['floats_on_disk_gb']:.1f} GB on disk for re-ranking; train "
        f"<= {paper['train_s_at_most']:.0f} s (same sample), add <= "
        f"{paper['add_s_at_most']:.0f} s; {paper['scan_factor']:.1f}x the codes per list, so "
        f"~{paper['scan_factor']:.1f}x the scan time at the same nprobe"
    )


if __name__ == "__main__":
    main()
