"""Shared helpers of the benchmarks: synthetic data, interleaved timing, a table and a JSON line.

The machines these run on are shared and noisy (±20-30 % between runs), so every benchmark
compares variants measured in the same run, alternating their order, and reports medians and
ratios; absolute times are printed for orientation only.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

DIM = 512  # CLIP ViT-B-32 embedding width
SPREAD, NOISE = 1.0, 0.5  # see clustered()
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/x.py` without installing cdir


def machine() -> str:
    """CPU model and core count, e.g. 'AMD EPYC, 2 cores'."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def clustered(n: int, seed: int, n_clusters: int, chunk: int = 100_000) -> np.ndarray:
    """``n`` unit vectors, like CLIP embeddings of a collection: clusters ("classes") in groups of
    ten siblings (cosine ~0.6 between sibling centres), members spread along 32 shared directions
    (norm SPREAD) plus isotropic noise (norm NOISE) around their centre (norm 1)."""
    structure = np.random.default_rng(1234)  # the same centres for the gallery and the queries
    parents = structure.standard_normal((-(-n_clusters // 10), DIM)).astype(np.float32)
    centres = np.repeat(parents, 10, axis=0)[:n_clusters] / np.sqrt(DIM)
    centres += 0.8 / np.sqrt(DIM) * structure.standard_normal((n_clusters, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis = np.linalg.qr(structure.standard_normal((DIM, 32)))[0].T.astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = centres[rng.integers(0, n_clusters, m)]
        x += SPREAD / np.sqrt(32) * rng.standard_normal((m, 32), dtype=np.float32) @ basis
        x += NOISE / np.sqrt(DIM) * rng.standard_normal((m, DIM), dtype=np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def photo_like(rng: np.random.Generator, width: int = 640, height: int = 480) -> np.ndarray:
    """An RGB uint8 array with smooth gradients, shapes and sensor-like noise (compresses and
    decodes like a photo, unlike pure noise or flat colour)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 6.28, 3)
    waves = [127 + 100 * np.sin(x / (60 + 40 * i) + y / 90 + phase[i]) for i in range(3)]
    base = np.stack(waves, -1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 120)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        base[mask] = rng.uniform(0, 255, 3)
    base += rng.normal(0, 8, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def make_jpegs(
    folder: Path, n: int, size: tuple[int, int] = (640, 480), seed: int = 0
) -> list[Path]:
    """``n`` distinct photo-like JPEG files (quality 90) in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:05d}.jpg"
        Image.fromarray(photo_like(rng, *size)).save(path, quality=90)
        paths.append(path)
    return paths


def interleaved(
    variants: dict[str, Callable[[], float | None]], reps: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run every variant ``reps`` times, rotating the order each round.

    Returns (wall seconds, CPU seconds of this process) per run. A variant may return its own
    measured wall seconds (to leave set-up out); else it is timed whole. On a shared machine the
    CPU seconds are the steadier figure: other processes slow the wall clock, not the work done.
    """
    names = list(variants)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            start, start_cpu = time.perf_counter(), time.process_time()
            own = variants[name]()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(own if own is not None else time.perf_counter() - start)
            log(
                f"  rep {rep + 1}/{reps} {name}: {wall[name][-1]:.2f} s, CPU {cpu[name][-1]:.2f} s"
                f" (load average {os.getloadavg()[0]:.1f})"
            )
    return wall, cpu


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def report(name: str, headers: list[str], rows: list[list[object]], results: dict) -> None:
    """Print the table, then one JSON line (``BENCH {...}``) for scripts to collect."""
    print(
        f"\n## {name}  ({machine()}, {time.strftime('%Y-%m-%d')}, "
        f"load average {os.getloadavg()[0]:.1f})\n"
    )
    print(table(headers, rows))
    payload = {
        "bench": name,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_avg_1min": os.getloadavg()[0],
        **results,
    }
    print("BENCH " + json.dumps(payload, default=float))


def pipeline_run(models, src: Path, work: Path, config) -> float:
    """``cdir.ingest.pipeline.ingest`` of ``src`` into a fresh ``work/store`` (nothing cached);
    returns the wall seconds of the ingest alone (removing the last run's store is left out).
    ``models``: a loaded :class:`cdir.models.loaded.Models`; ``config``: an ``IngestConfig``."""
    import shutil

    from cdir.ingest.pipeline import ingest

    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    start = time.perf_counter()
    ingest([src], store, models, config)
    return time.perf_counter() - start
