"""Midjourney job families on a generated archive (bench/mj_set.py, ~2,100 files): which
pairs each tool links, per relation, and what accepting its suggestions would delete.

Tools, on the same folder:

- cdir: ``cdir dupes FOLDER`` in-process (``cdir.api.find_folder_duplicates``, exact and
  perceptual tiers; grids split into tile regions; keep rule and job-family alternates);
- pHash, czkawka-style: ``imagehash.phash`` of every file, pairs within 8 bits, groups = connected
  pairs, keep the largest file of each group;
- imagededup's PHash (``find_duplicates``, ``max_distance_threshold=10``, and
  ``find_duplicates_to_remove``), run in a subprocess with ``--imagededup PATH`` on its path.

Relations (truth from the generator): tile-of (a U tile file and its grid region), upscale-of (an
upscale and its tile or region), copy (a re-download and its file), variation-of (a Vary
(Subtle) sibling and the picture it varies, or two siblings), unrelated (everything else:
different jobs, also of prompts that share words). Per relation: the share of true pairs a
tool links in one group (for cdir, variation pairs linked as *alternate* count apart).
Precision: linked pairs (as duplicates) showing one picture. Removals: files a tool would
delete by accepting every suggestion, split by whether a copy of that picture is kept.

    python bench/bench_mj_families.py [--jobs 420] [--set DIR] [--imagededup /path/to/site]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import mj_set  # noqa: E402

Pair = frozenset[str]
RELATIONS = ("tile-of", "upscale-of", "copy", "variation-of")

IMAGEDEDUP = """
import json, sys, types
try:
    import matplotlib  # noqa: F401  (imagededup plots with it; nothing is plotted here)
except ImportError:
    sys.modules["imagededup.utils.plotter"] = types.SimpleNamespace(plot_duplicates=None)
from imagededup.methods import PHash
ph = PHash(verbose=False)
enc = ph.encode_images(image_dir=sys.argv[1])
dup = ph.find_duplicates(encoding_map=enc, max_distance_threshold=10)
rm = ph.find_duplicates_to_remove(encoding_map=enc, max_distance_threshold=10)
print(json.dumps({"pairs": [[a, b] for a, bs in dup.items() for b in bs], "remove": list(rm)}))
"""


def relation(a: dict, b: dict) -> str:
    if a["picture"] == b["picture"]:
        kinds = {a["kind"], b["kind"]}
        if "re-download" in kinds:
            return "copy"
        if "upscale" in kinds:
            return "upscale-of"
        if kinds & {"grid region", "variation region"}:
            return "tile-of"
        return "copy"
    if (
        a.get("varies") == b["picture"]
        or b.get("varies") == a["picture"]
        or (a.get("varies") and a.get("varies") == b.get("varies"))
    ):
        return "variation-of"
    return "unrelated"


def truth_pairs(truth: dict[str, dict]) -> dict[str, set[Pair]]:
    by_picture: dict[str, list[str]] = defaultdict(list)
    by_varied: dict[str, list[str]] = defaultdict(list)
    for name, fact in truth.items():
        by_picture[fact["picture"]].append(name)
        if fact.get("varies"):
            by_varied[fact["varies"]].append(name)
    out: dict[str, set[Pair]] = {r: set() for r in RELATIONS}
    for names in by_picture.values():
        for a, b in itertools.combinations(names, 2):
            out[relation(truth[a], truth[b])].add(frozenset((a, b)))
    for varied, names in by_varied.items():
        for a, b in itertools.chain(
            itertools.combinations(names, 2), ((x, y) for x in names for y in by_picture[varied])
        ):
            if truth[a]["picture"] != truth[b]["picture"]:
                out["variation-of"].add(frozenset((a, b)))
    return out


def run_cdir(folder: Path) -> tuple[set[Pair], set[Pair], list[tuple[str, str]], float]:
    from cdir import api

    start = time.perf_counter()
    config = api.folder_duplicates_config(("exact", "perceptual"), workers=2)
    result = api.find_folder_duplicates([folder], config)
    seconds = time.perf_counter() - start
    names = result.store.items["rel_path"].astype(str).tolist()
    tiles = set(result.store.items.index[result.store.items["tile"] > 0].tolist())
    dup: set[Pair] = set()
    alt: set[Pair] = set()
    decided: dict[int, tuple[str, int]] = {}
    for g in result.groups:
        for a, b in itertools.combinations(g.members, 2):
            pair = frozenset((names[a], names[b]))
            (alt if a in g.alternates or b in g.alternates else dup).add(pair)
        for m in g.members:  # --accept: the first decision of an item stays
            kind = "keep" if m == g.keep else "alternate" if m in g.alternates else "remove"
            decided.setdefault(m, (kind, g.keep))  # type: ignore[arg-type]
    removed = [
        (names[m], names[k])
        for m, (kind, k) in decided.items()
        if kind == "remove" and m not in tiles
    ]
    return dup, alt - dup, removed, seconds


def run_phash(folder: Path) -> tuple[set[Pair], list[tuple[str, str]], float]:
    import imagehash
    import numpy as np
    from PIL import Image
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    start = time.perf_counter()
    files = sorted(p.name for p in folder.glob("*.png"))
    hashes, sizes = [], []
    for name in files:
        with Image.open(folder / name) as img:
            hashes.append(int(str(imagehash.phash(img)), 16))
            sizes.append(img.width * img.height)
    h = np.array(hashes, dtype=np.uint64)
    pairs: set[Pair] = set()
    rows, cols = [], []
    for i in range(len(files)):
        near = np.flatnonzero(np.bitwise_count(h[i + 1 :] ^ h[i]) <= 8) + i + 1
        for j in near:
            pairs.add(frozenset((files[i], files[j])))
            rows.append(i)
            cols.append(j)
    _, labels = connected_components(
        coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(files), len(files)))
    )
    removed = []
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        if len(members) > 1:
            keep = max(members, key=lambda m: (sizes[m], (folder / files[m]).stat().st_size))
            removed += [(files[m], files[keep]) for m in members if m != keep]
    return pairs, removed, time.perf_counter() - start


def run_imagededup(folder: Path, site: str) -> tuple[set[Pair], list[str], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", IMAGEDEDUP, str(folder)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": site, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"},
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return ({frozenset(p) for p in found["pairs"]}, found["remove"], time.perf_counter() - start)


def scores(
    truth: dict[str, dict],
    true: dict[str, set[Pair]],
    linked: set[Pair],
    removed: list[tuple[str, str | None]],
    alt: set[Pair] | None = None,
) -> dict[str, object]:
    same = set().union(*(true[r] for r in ("tile-of", "upscale-of", "copy")))
    known = [p for p in linked if all(n in truth for n in p)]
    out: dict[str, object] = {
        f"linked {r}": round(len(linked & true[r]) / max(1, len(true[r])), 3) for r in RELATIONS
    }
    if alt is not None:
        out["variation-of as alternate"] = round(
            len(alt & true["variation-of"]) / max(1, len(true["variation-of"])), 3
        )
    out["precision"] = round(len([p for p in known if p in same]) / max(1, len(known)), 3)
    out["recall"] = round(len(linked & same) / max(1, len(same)), 3)
    out["unrelated pairs linked"] = len(
        [p for p in known if p not in same and p not in true["variation-of"]]
    )
    kept_by = dict(removed)
    lost = 0
    variations = 0
    for name, keep in removed:
        fact = truth[name]
        if keep is None or truth[keep]["picture"] != fact["picture"]:
            lost += 1
            if keep is not None and relation(fact, truth[keep]) == "variation-of":
                variations += 1
    out["files removed"] = len(removed)
    out["removed with no copy kept (unrelated or variation)"] = lost
    out["of which variations"] = variations
    del kept_by
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=420)
    parser.add_argument("--set", type=Path)
    parser.add_argument("--imagededup", help="a folder holding imagededup (and PyWavelets)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdir-mj-") as tmp:
        folder = args.set or Path(tmp) / "mj"
        if (folder / "truth.json").is_file():
            truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        else:
            truth = mj_set.make(folder, args.jobs)
        true = truth_pairs(truth)
        n_files = len(list(folder.glob("*.png")))
        results: dict[str, dict[str, object]] = {}
        dup, alt, removed, seconds = run_cdir(folder)
        results["cdir dupes FOLDER"] = {
            **scores(truth, true, dup, removed, alt),
            "seconds": round(seconds, 1),
        }
        pairs, removed_p, seconds = run_phash(folder)
        results["pHash <= 8 bits (czkawka-style)"] = {
            **scores(truth, true, pairs, removed_p),
            "seconds": round(seconds, 1),
        }
        print("BENCH-PARTIAL " + json.dumps(results), flush=True)
        if args.imagededup:
            try:
                pairs, rm, seconds = run_imagededup(folder, args.imagededup)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"imagededup did not run: {str(exc)[-300:]}", file=sys.stderr)
            else:
                keeps = _imagededup_keeps(pairs, rm)
                results["imagededup PHash (10 bits)"] = {
                    **scores(truth, true, pairs, [(n, keeps.get(n)) for n in rm]),
                    "seconds": round(seconds, 1),
                }
    keys = list(next(iter(results.values())))
    print(f"{n_files} files; true pairs: " + ", ".join(f"{r} {len(true[r])}" for r in RELATIONS))
    print("| tool | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for tool, row in results.items():
        print(f"| {tool} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    print("BENCH " + json.dumps({"files": n_files, "results": results}))


def _imagededup_keeps(pairs: set[Pair], removed: list[str]) -> dict[str, str | None]:
    """For each removed file, a linked file imagededup keeps (None: none)."""
    gone = set(removed)
    keeps: dict[str, str | None] = {}
    for name in removed:
        keeps[name] = next(
            (o for p in pairs if name in p for o in p if o != name and o not in gone), None
        )
    return keeps


if __name__ == "__main__":
    main()
