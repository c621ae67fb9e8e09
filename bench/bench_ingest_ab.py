"""Ingest against the plain DataLoader loop, and against the pipeline of another git revision.

    python bench/bench_ingest_ab.py [--baseline main] [--n 128] [--reps 4]

Three variants, each in a process of its own that builds its model once and then runs on
command, so the rounds alternate them without reloading: ``pipeline`` (this tree's
``cdir.ingest.pipeline.ingest``, ``captions="none"``, as in ``bench_ingest.py``), ``baseline``
(the same from ``git archive <baseline>``: the pipeline as it is on that revision) and
``loader`` (``bench/plain_loader.py``: a ``DataLoader`` with 2 worker processes, batch 32,
open_clip's ViT-B-32). Only one variant runs at a time; the order rotates each round.
"Paired" ratios are the median over rounds of runs made next to each other, the steadiest
figure on a shared machine; the CPU per image counts every process of a variant (the loader's
workers too), and is less sensitive to other work on the machine than images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from common import REPO, log, machine, make_jpegs, median, table


def _cpu_all() -> float:
    """CPU seconds of this process and its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def serve(variant: str, tree: Path, src: Path, work: Path, arch: str) -> None:
    """Build the variant's model, then run it once per ``run`` line on stdin, answering one JSON
    line (wall and CPU seconds) per run."""
    sys.path[:0] = [str(tree), str(tree / "bench")]
    if variant == "loader":
        from plain_loader import loader_run, open_clip_pair

        model, preprocess = open_clip_pair(arch)
        paths = sorted(src.glob("*.jpg"))

        def once() -> None:
            loader_run(model, preprocess, paths)

    else:
        from bench_ingest import build_models
        from common import pipeline_run

        from cdir.ingest.pipeline import IngestConfig

        models = build_models(arch)
        config = IngestConfig(captions="none", predict_domains=False, shared_cache=False)

        def once() -> None:
            pipeline_run(models, src, work, config)

    once()  # warm-up
    print(json.dumps({"ready": variant}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start, cpu = time.perf_counter(), _cpu_all()
        once()
        wall = time.perf_counter() - start
        print(json.dumps({"wall": wall, "cpu": _cpu_all() - cpu}), flush=True)


def baseline_tree(ref: str, into: Path) -> Path:
    """The files of ``cdir/`` and ``bench/`` at git revision ``ref``, unpacked under ``into``."""
    archive = into / "baseline.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), ref, "cdir", "bench"], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "baseline", filter="data")
    return into / "baseline"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--baseline", default="main", help="git revision of the baseline pipeline")
    p.add_argument("--n", type=int, default=128, help="640x480 JPEG files")
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--arch", default="ViT-B-32")
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.tree, args.src, args.work, args.arch)
        return
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-ab-"))
    try:
        run_rounds(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_rounds(args: argparse.Namespace, work: Path) -> None:
    log(f"writing {args.n} JPEG files (640x480) ...")
    make_jpegs(work / "src", args.n)
    trees = {"pipeline": REPO, "baseline": baseline_tree(args.baseline, work), "loader": REPO}
    servers = {}
    for name, tree in trees.items():
        (work / "runs" / name).mkdir(parents=True)
        servers[name] = subprocess.Popen(
            [sys.executable, __file__, "--serve", name, "--tree", str(tree), "--arch", args.arch]
            + ["--src", str(work / "src"), "--work", str(work / "runs" / name)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        json.loads(servers[name].stdout.readline())  # built and warmed up
        log(f"  {name} ready")
    names = list(servers)
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    loads = []
    try:
        for rep in range(args.reps):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                servers[name].stdin.write("run\n")
                servers[name].stdin.flush()
                got = json.loads(servers[name].stdout.readline())
                wall[name].append(got["wall"])
                cpu[name].append(got["cpu"])
                loads.append(os.getloadavg()[0])
                log(
                    f"  round {rep + 1}/{args.reps} {name}: {args.n / got['wall']:.1f} images/s, "
                    f"CPU {1000 * got['cpu'] / args.n:.1f} ms/image (load {loads[-1]:.1f})"
                )
    finally:
        for server in servers.values():
            server.stdin.close()
            server.wait()
    summarise(args, wall, cpu, loads)


def summarise(args: argparse.Namespace, wall: dict, cpu: dict, loads: list[float]) -> None:
    rate = {k: [args.n / t for t in v] for k, v in wall.items()}

    def paired(a: str, b: str) -> float:
        return median([x / y for x, y in zip(rate[a], rate[b], strict=True)])

    rows = [
        [
            k,
            f"{median(rate[k]):.1f}",
            f"{max(rate[k]):.1f}",
            f"{paired(k, 'loader'):.3f}",
            f"{paired(k, 'baseline'):.3f}",
            f"{1000 * median(cpu[k]) / args.n:.1f}",
        ]
        for k in rate
    ]
    print(
        f"\n## ingest A/B ({machine()}, {time.strftime('%Y-%m-%d')}, {args.n} JPEGs 640x480, "
        f"{args.reps} rounds, baseline {args.baseline}, load average {min(loads):.1f}-"
        f"{max(loads):.1f})\n"
    )
    headers = ["variant", "images/s (median)", "images/s (best)", "x loader (paired)"]
    headers += ["x baseline (paired)", "CPU ms/image (all processes)"]
    print(table(headers, rows))
    payload = {
        "bench": "ingest-ab",
        "machine": machine(),
        "baseline": args.baseline,
        "n": args.n,
        "load": [min(loads), max(loads)],
        "wall_s": wall,
        "cpu_s": cpu,
        "x_loader_paired": {k: paired(k, "loader") for k in rate},
    }
    print("BENCH " + json.dumps(payload))


if __name__ == "__main__":
    main()
