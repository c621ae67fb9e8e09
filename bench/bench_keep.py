"""Which copy does the duplicates path suggest keeping? On the generated near-duplicate set
(scripts/make_dupes_set.py: every example original with a byte copy named ``__copy``, a PNG
re-save, a half-size, a 5 % crop, a JPEG q25, a hue-shifted, a watermarked and a mirrored copy),
``cdir dupes FOLDER``'s groups (exact and perceptual tiers, the one keep rule) are read and, for
every group holding an original, the keep's kind is counted. Target (issue 25): the clean
original is the keep in >= 90 % of groups.

    python bench/bench_keep.py [--quick] [--set DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from make_dupes_set import make_set  # noqa: E402

from cdir import api  # noqa: E402


def measure(folder: Path, truth: dict[str, dict[str, str]]) -> dict[str, object]:
    config = api.folder_duplicates_config(("exact", "perceptual"), workers=1)
    result = api.find_folder_duplicates([folder], config)
    files = result.store.items["rel_path"].astype(str).tolist()
    kept: collections.Counter[str] = collections.Counter()
    per_tier: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    reasons: collections.Counter[str] = collections.Counter()
    for group in result.groups:
        kinds = {truth[files[m]]["transform"] for m in group.members if files[m] in truth}
        if "original" not in kinds:
            continue
        kind = truth[files[group.keep]]["transform"]
        kept[kind] += 1
        per_tier[group.tier][kind] += 1
        if kind != "original":
            reasons[f"{kind}: {group.keep_reason}"] += 1
    total = sum(kept.values())
    return {
        "groups_with_original": total,
        "original_kept": kept["original"] / total if total else 0.0,
        "kept": dict(kept.most_common()),
        "per_tier": {t: dict(c.most_common()) for t, c in per_tier.items()},
        "other_keeps": dict(reasons.most_common(8)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two classes only")
    parser.add_argument("--set", type=Path, help="use (or make) the set in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdir-keep-") as tmp:
        folder = args.set or Path(tmp) / "set"
        manifest = folder / "dupes_manifest.json"
        if manifest.is_file():
            truth = json.loads(manifest.read_text(encoding="utf-8"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            truth = make_set(folder, classes=("flower", "house") if args.quick else None)
        found = measure(folder, truth)
    print("| groups with their original | original kept | kept instead |")
    print("|---|---|---|")
    others = ", ".join(f"{k} {v}" for k, v in found["kept"].items() if k != "original")  # type: ignore[union-attr]
    print(f"| {found['groups_with_original']} | {found['original_kept']:.1%} | {others or '-'} |")
    print("BENCH " + json.dumps(found))


if __name__ == "__main__":
    main()
