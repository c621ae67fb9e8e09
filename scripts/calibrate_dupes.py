"""Measure the near-duplicate tiers on the generated set (``make_dupes_set.py``) and sweep the
perceptual threshold: the numbers behind ``cdir.duplicates.finder``'s defaults.

Reads images with cdir's own reader (the same pixel hash, pHash and mirrored pHash as ingest), so
no model is needed for the exact and perceptual tiers; ``--semantic PRESET`` also ingests the set
with a model preset and reports the semantic tier (meaningless with ``tiny``: random weights).

With ``--flat`` the set also holds 40 low-information originals (solid colours, near-flat
gradients, blank pages, black frames, faded frames) and their copies; the perceptual tier is then
measured twice: pHash only (as before ``cdir.duplicates.low_information``) and with the pixel
check for flat images, with precision and recall per transform, over all files and over the
flat families alone.

    python scripts/calibrate_dupes.py [--out DIR] [--flat] [--semantic tiny]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from make_dupes_set import EXACT_KINDS, TRANSFORMS, make_set  # noqa: E402

from cdir.duplicates.finder import (  # noqa: E402
    DedupConfig,
    DupGroup,
    find_groups,
    hamming_metric,
    hex_to_uint64,
)
from cdir.duplicates.linkage import Metric  # noqa: E402
from cdir.duplicates.low_information import LowInfoConfig, PixelCheck  # noqa: E402
from cdir.imaging.decode import DecodeLimits  # noqa: E402
from cdir.ingest.reader import read_one  # noqa: E402
from cdir.store.collection import Store, normalise_items  # noqa: E402

Truth = dict[str, dict[str, str]]
PIXEL_CHECK = LowInfoConfig()


def hashed_store(root: Path, truth: Truth) -> Store:
    """An in-memory store of the set's files with the reader's hashes (no embeddings)."""
    rows = []
    for n, rel in enumerate(sorted(truth)):
        result = read_one(n, root / rel, None, None, DecodeLimits())
        info = result.info
        rows.append(
            {
                "id": n,
                "path": str(root / rel),
                "rel_path": rel,
                "sha256": rel,
                "pixel_sha256": info.pixel_sha256,
                "phash": info.phash,
                "phash_mirror": info.phash_mirror,
                "phash_centre": info.phash_centre,
                "width": info.width,
                "height": info.height,
                "file_size": (root / rel).stat().st_size,
                "status": "ok",
                "parent_id": -1,
                "tile": -1,
            }
        )
    return Store(root, items=normalise_items(pd.DataFrame(rows)))


# ------------------------------------------------------------------------------------ scores
@dataclass
class PairScores:
    precision: float
    recall: float
    per_transform: dict[str, float]
    predicted: int
    true: int


def pairs_of(groups: Iterable[list[int]]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for g in groups for a, b in itertools.combinations(g, 2)}


def true_pairs(store: Store, truth: Truth, kinds: frozenset[str] | None) -> set[tuple[int, int]]:
    """Pairs within a family; with ``kinds``, only among the original and those transforms."""
    families: dict[str, list[int]] = {}
    for item_id, rel in zip(store.items["id"], store.items["rel_path"], strict=True):
        t = truth[rel]
        if kinds is None or t["transform"] == "original" or t["transform"] in kinds:
            families.setdefault(t["family"], []).append(int(item_id))
    return pairs_of(families.values())


def score_groups(
    store: Store, truth: Truth, groups: list[DupGroup], kinds: frozenset[str] | None = None
) -> PairScores:
    """Pair precision and recall of ``groups`` against the families (restricted to ``kinds``),
    and the recall of each transform's (original, copy) pairs."""
    found, real = pairs_of(g.members for g in groups), true_pairs(store, truth, kinds)
    rel = store.items["rel_path"].tolist()
    origin = {
        truth[r]["family"]: i for i, r in enumerate(rel) if truth[r]["transform"] == "original"
    }
    per: dict[str, list[bool]] = {}
    for i, r in enumerate(rel):
        t = truth[r]
        if t["transform"] != "original" and (kinds is None or t["transform"] in kinds):
            pair = (min(i, origin[t["family"]]), max(i, origin[t["family"]]))
            per.setdefault(t["transform"], []).append(pair in found)
    hits = len(found & real)
    return PairScores(
        hits / len(found) if found else 1.0,
        hits / len(real) if real else 1.0,
        {k: float(np.mean(v)) for k, v in per.items()},
        len(found),
        len(real),
    )


# ------------------------------------------------------------------------------ distances
def transform_distances(store: Store, truth: Truth) -> dict[str, list[int]]:
    """pHash distance (mirror-aware) from each original to each of its copies, per transform."""
    metric = _metric(store)
    rel = store.items["rel_path"].tolist()
    origin = {
        truth[r]["family"]: i for i, r in enumerate(rel) if truth[r]["transform"] == "original"
    }
    found: dict[str, list[int]] = {}
    for i, r in enumerate(rel):
        t = truth[r]
        if t["transform"] != "original":
            d = metric.score(origin[t["family"]], np.array([i]))[0]
            found.setdefault(t["transform"], []).append(int(d))
    return found


def non_duplicate_distances(store: Store, truth: Truth) -> np.ndarray:
    """pHash distances (mirror-aware) between every two different originals."""
    metric = _metric(store)
    rel = store.items["rel_path"].tolist()
    rows = np.array([i for i, r in enumerate(rel) if truth[r]["transform"] == "original"])
    return np.concatenate([metric.score(int(a), rows[n + 1 :]) for n, a in enumerate(rows)])


def _metric(store: Store) -> Metric:
    items = store.items
    return hamming_metric(hex_to_uint64(items["phash"]), hex_to_uint64(items["phash_mirror"]), 0)


def sweep(
    store: Store,
    truth: Truth,
    thresholds: Iterable[int],
    low_info: LowInfoConfig | None = PIXEL_CHECK,
) -> list[tuple[int, PairScores]]:
    return [
        (
            t,
            score_groups(
                store,
                truth,
                find_groups(
                    store,
                    DedupConfig(
                        tiers=("perceptual",), perceptual_max_distance=t, low_info=low_info
                    ),
                ),
            ),
        )
        for t in thresholds
    ]


# ----------------------------------------------------------------------------------- report
def report(store: Store, truth: Truth) -> None:
    exact = score_groups(
        store, truth, find_groups(store, DedupConfig(tiers=("exact",))), EXACT_KINDS
    )
    print(
        f"exact tier on its own kind ({', '.join(sorted(EXACT_KINDS))}): precision "
        f"{exact.precision:.3f} recall {exact.recall:.3f} ({exact.true} true pairs)"
    )
    print("\npHash distance original -> copy (mirror-aware): min / median / max")
    for name, values in transform_distances(store, truth).items():
        print(f"  {name:<10} {min(values):>3} {np.median(values):>6.1f} {max(values):>4}")
    non = non_duplicate_distances(store, truth)
    print(
        f"\nbetween different originals ({len(non)} pairs): min {non.min():.0f}, 1st pct "
        f"{np.percentile(non, 1):.1f}, median {np.median(non):.0f}"
    )
    flat = any(rel.startswith("flat/") for rel in truth)
    if flat:
        pixel_distances(store, truth)
    for low_info, title in ([(None, "pHash only (before the pixel check)")] if flat else []) + [
        (PIXEL_CHECK, "with the pixel check for flat images")
    ]:
        print(
            f"\nperceptual tier, {title}; recall per transform (pHash distances are even: "
            "imagehash's pHash sets the 32 of 64 bits above the median)"
        )
        print(
            " t  pairs<=t  precision recall    F1  " + "  ".join(f"{k[:6]:>6}" for k in TRANSFORMS)
        )
        results = sweep(store, truth, range(0, 17, 2), low_info)
        for t, s in results:
            cells = "  ".join(f"{s.per_transform.get(k, float('nan')):6.2f}" for k in TRANSFORMS)
            print(
                f"{t:>2}  {int((non <= t).sum()):>8}  {s.precision:9.3f} {s.recall:6.3f} "
                f"{f1(s):5.3f}  {cells}"
            )
        best = max(results, key=lambda r: (round(f1(r[1]), 3), -r[0]))
        print(f"best F1: perceptual_max_distance = {best[0]}")
        if flat:
            flat_report(store, truth, low_info)


def pixel_distances(store: Store, truth: Truth) -> None:
    """The numbers behind LowInfoConfig: detail of flat and other originals, and the 8x8
    thumbnail difference (mirror-aware) from each flat original to its copies, per transform,
    and between different flat originals."""
    rel = store.items["rel_path"].tolist()
    rows = np.arange(len(rel))
    check = PixelCheck(store, rows, mirror=True)
    origin = {
        truth[r]["family"]: i for i, r in enumerate(rel) if truth[r]["transform"] == "original"
    }
    details = {
        flat: [
            check.signature(i).detail for r, i in origin.items() if r.startswith("flat/") == flat
        ]
        for flat in (True, False)
    }
    print(
        f"\ndetail (LowInfoConfig.detail_max = {PIXEL_CHECK.detail_max}): flat originals max "
        f"{max(details[True]):.1f}, other originals min {min(details[False]):.1f}"
    )
    print(
        "8x8 thumbnail difference, flat original -> copy: min / median / max "
        f"(close_max = {PIXEL_CHECK.close_max})"
    )
    per: dict[str, list[float]] = {}
    for i, r in enumerate(rel):
        t = truth[r]
        if r.startswith("flat/") and t["transform"] != "original":
            per.setdefault(t["transform"], []).append(_thumb_diff(check, origin[t["family"]], i))
    for name, values in per.items():
        print(f"  {name:<10} {min(values):5.1f} {np.median(values):6.1f} {max(values):6.1f}")
    flats = [i for r, i in origin.items() if r.startswith("flat/")]
    between = [_thumb_diff(check, a, b) for a, b in itertools.combinations(flats, 2)]
    print(f"  between different flat originals: min {min(between):.1f}")


def _thumb_diff(check: PixelCheck, a: int, b: int) -> float:
    sa, sb = check.signature(a), check.signature(b)
    return float(min(np.abs(sa.thumb - sb.thumb).mean(), np.abs(sa.thumb - sb.mirror).mean()))


def flat_report(store: Store, truth: Truth, low_info: LowInfoConfig | None) -> None:
    """At the default threshold: precision of the pairs holding a flat image, recall of the
    flat families per transform."""
    groups = find_groups(store, DedupConfig(tiers=("perceptual",), low_info=low_info))
    rel = store.items["rel_path"].tolist()
    is_flat = [r.startswith("flat/") for r in rel]
    found = {p for p in pairs_of(g.members for g in groups) if is_flat[p[0]] or is_flat[p[1]]}
    right = {p for p in found if truth[rel[p[0]]]["family"] == truth[rel[p[1]]]["family"]}
    flat_truth = {r: t for r, t in truth.items() if r.startswith("flat/")}
    new = {old: n for n, old in enumerate(i for i, f in enumerate(is_flat) if f)}  # id == row
    items = store.items[is_flat].reset_index(drop=True)
    items["id"] = range(len(items))
    kept = [
        DupGroup(g.tier, [new[m] for m in g.members], new[g.representative])
        for g in groups
        if all(m in new for m in g.members)
    ]
    s = score_groups(Store(store.root, items=items), flat_truth, kept)
    cells = "  ".join(f"{s.per_transform.get(k, float('nan')):6.2f}" for k in TRANSFORMS)
    print(
        f"   flat images at t={DedupConfig().perceptual_max_distance}: {len(found)} pairs "
        f"with a flat image, precision {len(right) / max(len(found), 1):.3f}; recall of the "
        f"flat families {s.recall:.3f}; per transform\n   {cells}"
    )


def f1(s: PairScores) -> float:
    return 2 * s.precision * s.recall / (s.precision + s.recall) if s.precision + s.recall else 0.0


def semantic_report(root: Path, truth: Truth, preset: str) -> None:
    from cdir.ingest.pipeline import IngestConfig, ingest
    from cdir.models.loaded import load_models

    store_dir = root.parent / f"{root.name}-store-{preset}"
    ingest([root], store_dir, load_models(preset), IngestConfig(captions="none"))
    store = Store.load(store_dir)
    print(
        f"\nsemantic tier, preset {preset!r}:\n t      precision recall  "
        + "  ".join(f"{k[:6]:>6}" for k in TRANSFORMS)
    )
    for t in (0.9, 0.95, 0.98, 0.99, 0.995, 0.999):
        groups = find_groups(store, DedupConfig(tiers=("semantic",), semantic_min_similarity=t))
        s = score_groups(store, truth, groups)
        cells = "  ".join(f"{s.per_transform.get(k, float('nan')):6.2f}" for k in TRANSFORMS)
        print(f"{t:<6} {s.precision:9.3f} {s.recall:6.3f}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="where to write the set (default: a temp dir)")
    parser.add_argument(
        "--flat",
        action="store_true",
        help="add 40 low-information originals and their copies to the set",
    )
    parser.add_argument(
        "--semantic",
        metavar="PRESET",
        help="also ingest the set with this preset and run the semantic tier",
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="cdir-dupes-")) / "set"
    truth = make_set(root, flat=args.flat)
    print(f"{len(truth)} images in {root}")
    report(hashed_store(root, truth), truth)
    if args.semantic:
        semantic_report(root, truth, args.semantic)


if __name__ == "__main__":
    main()
