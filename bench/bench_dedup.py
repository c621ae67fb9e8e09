"""Near-duplicate grouping at scale: the semantic tier over 100,000 synthetic embeddings.

    python bench/bench_dedup.py [--n 100000] [--dim 512] [--sets 2000] [--threshold 0.95]

The collection: unit vectors around 1,000 cluster centres (two items of one cluster have cosine
~0.74, like CLIP images of one subject), plus ``--sets`` planted near-duplicate sets of 2-4 copies
of an item (cosine ~0.98 to it, ~0.96-0.98 to each other). ``find_groups`` runs the semantic tier
exactly as the app does (kNN graph through ``cdir.store.index``: HNSW at this size, then components
and complete linkage). Printed: wall and CPU time of the grouping, peak RSS of the process (data
included), and precision / recall of the planted pairs.
Targets: under 60 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import log, peak_rss_mb, report

from cdir.duplicates.finder import DedupConfig, find_groups
from cdir.store.collection import Store, normalise_items


def clustered(
    n: int,
    dim: int,
    rng: np.random.Generator,
    n_clusters: int = 1000,
    spread: float = 0.6,
    chunk: int = 10_000,
) -> np.ndarray:
    """Unit vectors around random centres, made in chunks (no temporaries of the full size)."""
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        part = centres[rng.integers(0, n_clusters, min(chunk, n - start))]
        part += spread / np.sqrt(dim) * rng.standard_normal(part.shape, dtype=np.float32)
        x[start : start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return x


def plant(
    x: np.ndarray, n_sets: int, rng: np.random.Generator, noise: float = 0.15
) -> list[list[int]]:
    """Overwrite the last rows with 1-3 noisy copies of ``n_sets`` sources; returns the sets."""
    dim, sizes = x.shape[1], rng.integers(1, 4, n_sets)
    free = len(x) - int(sizes.sum())
    sources = rng.choice(free, n_sets, replace=False)
    sets, row = [], free
    for source, size in zip(sources, sizes, strict=True):
        members = [int(source)]
        for _ in range(size):
            copy = x[source] + noise / np.sqrt(dim) * rng.standard_normal(dim, dtype=np.float32)
            x[row] = copy / np.linalg.norm(copy)
            members.append(row)
            row += 1
        sets.append(members)
    return sets


def memory_store(emb: np.ndarray) -> Store:
    n = len(emb)
    items = pd.DataFrame(
        {
            "id": np.arange(n),
            "rel_path": [f"{i}.jpg" for i in range(n)],
            "status": "ok",
            "width": 512,
            "height": 512,
            "file_size": 1000,
            "parent_id": -1,
            "tile": -1,
        }
    )
    return Store(Path("."), items=normalise_items(items), image_emb=emb)


def pairs(groups: list[list[int]]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for g in groups for a, b in itertools.combinations(g, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--sets", type=int, default=2000)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    emb = clustered(args.n, args.dim, rng)
    truth = pairs(plant(emb, args.sets, rng))
    store = memory_store(emb)
    log(
        f"{args.n} x {args.dim} embeddings, {len(truth)} planted pairs; "
        f"RSS so far {peak_rss_mb():.0f} MiB"
    )
    config = DedupConfig(tiers=("semantic",), semantic_min_similarity=args.threshold, k=args.k)
    start, start_cpu = time.perf_counter(), time.process_time()
    groups = find_groups(store, config)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    found = pairs([g.members for g in groups])
    hits = len(found & truth)
    precision, recall = hits / max(len(found), 1), hits / max(len(truth), 1)
    rss = peak_rss_mb()
    row = [args.n, args.dim, len(groups), wall, cpu, rss, precision, recall]
    report(
        "dedup-semantic",
        ["items", "dim", "groups", "wall s", "CPU s", "peak RSS MiB", "precision", "recall"],
        [row],
        {
            "n": args.n,
            "dim": args.dim,
            "groups": len(groups),
            "wall_s": wall,
            "cpu_s": cpu,
            "peak_rss_mib": rss,
            "precision": precision,
            "recall": recall,
            "targets_met": wall < 60 and rss < 2048,
        },
    )


if __name__ == "__main__":
    main()
