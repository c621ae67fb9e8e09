"""Duplicates straight from a folder: ``python -m cdir dupes FOLDER --json`` against imagededup's
PHash, side by side, on the same ~5,000 files (bench/dupes_set.py: the examples, flat images,
clipart look-alikes and photo-sized mosaics, each with 8 kinds of copy).

    python bench/bench_dupes_folder.py [--quick] [--reps 3] [--set DIR] [--workers 0]

Both run as whole processes (what a user waits for: start-up, imports, decoding, hashing,
grouping), in alternating order (``common.interleaved``), timed by the wall clock and by the CPU
seconds of the process and its workers (steadier on a shared machine); imagededup also reports
the time after its imports (it imports torch for its CNN method even when only PHash is used).
Scores: pair
precision, recall and F1 against the families (cdir: every pair inside a group; imagededup:
every (file, duplicate) it returns, at its default ``max_distance_threshold=10``), and the
recall of each transform's (original, copy) pairs. The agreement check: the same cdir run
in-process with full decoding (no JPEG draft, every file's pixels hashed for the exact tier),
its F1 and whether its groups are the same. imagededup comes from bench/requirements-bench.txt.
Target (issue 17): cdir's time <= imagededup's, with a higher F1. ``--quick``: ~360 files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import REPO, interleaved, log, median, report
from dupes_set import Truth, load_or_make

sys.path.insert(0, str(REPO))

IMAGEDEDUP = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
from imagededup.methods import PHash
imported = time.perf_counter()
found = PHash(verbose=False).find_duplicates(image_dir=sys.argv[1], recursive=True)
json.dump({"import_s": imported - start, "work_s": time.perf_counter() - imported,
           "pairs": [[a, b] for a, dups in found.items() for b in dups]}, sys.stdout)
"""


def run_cdir(folder: Path, workers: int) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "cdir",
        "dupes",
        str(folder),
        "--json",
        "-q",
        "--workers",
        str(workers),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout)


def run_imagededup(folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", IMAGEDEDUP, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout)


def children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (and theirs: pool workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def group_pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}


def report_pairs(rep: dict) -> set[tuple[str, str]]:
    return group_pairs([[m["file"] for m in g["members"]] for g in rep["groups"]])


def scores(found: set[tuple[str, str]], truth: Truth, only: str | None = None) -> dict:
    """Pair precision / recall / F1 (over the families starting with ``only`` when given) and
    per-transform recall of the (original, copy) pairs."""
    keep = {f for f in truth if only is None or truth[f]["family"].startswith(only)}
    families: dict[str, list[str]] = {}
    for f in keep:
        families.setdefault(truth[f]["family"], []).append(f)
    real = group_pairs(list(families.values()))
    found = {p for p in found if p[0] in keep or p[1] in keep}
    hits = len(found & real)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(real) if real else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per: dict[str, list[bool]] = {}
    for f in keep:
        t = truth[f]
        if t["transform"] != "original":
            per.setdefault(t["transform"], []).append(tuple(sorted((f, t["family"]))) in found)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "per_transform": {k: sum(v) / len(v) for k, v in sorted(per.items())},
    }


def full_decode_check(
    folder: Path, fast_pairs: set[tuple[str, str]], fast_exact: set[tuple[str, str]], truth: Truth
) -> dict:
    """cdir's folder path without draft decoding and with every pixel hashed: the reference."""
    from cdir.duplicates.folder import FolderConfig, find_folder_groups

    result = find_folder_groups([folder], FolderConfig(draft=False, exact_all_pixels=True))
    rel = dict(zip(result.store.items["id"], result.store.items["rel_path"], strict=True))
    pairs = group_pairs([[rel[m] for m in g.members] for g in result.groups])
    exact = group_pairs([[rel[m] for m in g.members] for g in result.groups if g.tier == "exact"])
    return {
        "f1": scores(pairs, truth)["f1"],
        "same_pairs": pairs == fast_pairs,
        "pairs_only_full": len(pairs - fast_pairs),
        "pairs_only_fast": len(fast_pairs - pairs),
        "exact_pairs_full": len(exact),
        "exact_pairs_fast": len(fast_exact),
        "same_exact_pairs": exact == fast_exact,
    }


def executors(folder: Path, reps: int) -> None:
    """Hashing alone, in this process: a process pool against a thread pool (PIL releases the
    GIL while decoding, numpy and Python do not), two workers each, and one worker."""
    from cdir.duplicates.folder import FolderConfig, hash_files

    paths = sorted(p for p in folder.rglob("*") if p.suffix in (".jpg", ".png"))
    variants = {
        name: (lambda c=config: hash_files(paths, c) and None)
        for name, config in (
            ("2 processes", FolderConfig(workers=2)),
            ("2 threads", FolderConfig(workers=2, executor="thread")),
            ("1 process", FolderConfig(workers=1)),
        )
    }
    wall, _ = interleaved(variants, reps)
    base = median(wall["2 processes"])
    rows = [[name, median(w), median(w) / base, len(paths) / median(w)] for name, w in wall.items()]
    report(
        f"hashing {len(paths)} files: processes or threads",
        ["variant", "wall s (median)", "vs 2 processes", "files/s"],
        rows,
        {"wall_s": wall},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="~360 files, one rep")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--set",
        type=Path,
        help="where the set is (made there if absent; default: a folder in the temp dir)",
    )
    parser.add_argument("--workers", type=int, default=0, help="cdir hashing processes")
    parser.add_argument(
        "--no-executors", action="store_true", help="skip the processes-or-threads table"
    )
    args = parser.parse_args()
    n_originals = 40 if args.quick else 555
    reps = 1 if args.quick else args.reps
    folder = args.set or Path(tempfile.gettempdir()) / f"cdir-bench-dupes-{n_originals}"
    log(f"set: {folder}")
    truth = load_or_make(folder, n_originals)
    log(f"{len(truth)} files")
    last: dict[str, dict] = {}
    cpu: dict[str, list[float]] = {"cdir": [], "imagededup": []}

    def timed(name: str, run: Callable[[], dict]) -> Callable[[], float]:
        def variant() -> float:
            before, start = children_cpu(), time.perf_counter()
            last[name] = run()
            wall = time.perf_counter() - start
            cpu[name].append(children_cpu() - before)
            return wall

        return variant

    wall, _ = interleaved(
        {
            "cdir": timed("cdir", lambda: run_cdir(folder, args.workers)),
            "imagededup": timed("imagededup", lambda: run_imagededup(folder)),
        },
        reps,
    )
    cdir_pairs = report_pairs(last["cdir"])
    ided_pairs = {tuple(sorted(p)) for p in last["imagededup"]["pairs"]}
    found = {"cdir": cdir_pairs, "imagededup": ided_pairs}
    score = {name: scores(pairs, truth) for name, pairs in found.items()}
    flat = {name: scores(pairs, truth, "flat/")["f1"] for name, pairs in found.items()}
    log("agreement check: full decoding, every pixel hashed")
    fast_exact = group_pairs(
        [[m["file"] for m in g["members"]] for g in last["cdir"]["groups"] if g["tier"] == "exact"]
    )
    check = full_decode_check(folder, cdir_pairs, fast_exact, truth)
    transforms = sorted(score["cdir"]["per_transform"])
    headers = [
        "variant",
        "wall s (median)",
        "vs imagededup",
        "CPU s (median)",
        "vs imagededup",
        "precision",
        "recall",
        "F1",
        "F1 flat",
        *[f"R {t}" for t in transforms],
    ]
    rows = []
    for name in ("cdir", "imagededup"):
        s = score[name]
        rows.append(
            [
                name,
                median(wall[name]),
                median(wall[name]) / median(wall["imagededup"]),
                median(cpu[name]),
                median(cpu[name]) / median(cpu["imagededup"]),
                s["precision"],
                s["recall"],
                s["f1"],
                flat[name],
                *[s["per_transform"][t] for t in transforms],
            ]
        )
    ided = last["imagededup"]
    print(
        f"\nimagededup: import {ided['import_s']:.2f} s, hashing and search "
        f"{ided['work_s']:.2f} s (last run)"
    )
    print(
        f"cdir with full decoding: F1 {check['f1']:.4f}, same pairs as draft decoding: "
        f"{check['same_pairs']} ({check['pairs_only_full']} pairs only with full decoding, "
        f"{check['pairs_only_fast']} only with draft); exact tier: {check['exact_pairs_fast']} "
        f"pairs, {check['exact_pairs_full']} with full decoding, the same: "
        f"{check['same_exact_pairs']}"
    )
    report(
        f"cdir dupes FOLDER vs imagededup PHash, {len(truth)} files",
        headers,
        rows,
        {
            "files": len(truth),
            "reps": reps,
            "wall_s": wall,
            "cpu_s": cpu,
            "scores": score,
            "f1_flat": flat,
            "imagededup_import_s": ided["import_s"],
            "imagededup_work_s": ided["work_s"],
            "full_decode_check": check,
        },
    )
    if not args.no_executors:
        executors(folder, reps)


if __name__ == "__main__":
    main()
