"""Summarise a ``cdir eval`` report.json of the demo preset for the docs: averages over the pairs
of seen styles and over the pairs that involve the held-out style, and a P@1 matrix per domain pair.

    python scripts/demo_summary.py build/demo-eval/all/report.json --held-out generated
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SHORT = {"fusion(image=0.5,caption=1,caption-caption=0.5)": "fusion"}


def short(variant: str) -> str:
    base, _, neutral = variant.partition("+")
    return SHORT.get(base, base) + (" + neutral" if neutral else "")


def averages(pairs: list[dict], variants: list[str], ks: list[int], title: str) -> list[str]:
    lines = [
        f"**{title}**",
        "",
        "| variant | " + " | ".join(f"P@{k}" for k in ks) + " | mAP | pairs |",
        "|:---|" + "---:|" * (len(ks) + 2),
    ]
    for v in variants:
        rows = [p for p in pairs if p["variant"] == v and p["n_queries"]]
        if not rows:
            continue
        cells = [sum(p["precision"][str(k)] for p in rows) / len(rows) for k in ks]
        m = sum(p["map"] for p in rows) / len(rows)
        lines.append(
            f"| {short(v)} | "
            + " | ".join(f"{c:.1f}" for c in cells)
            + f" | {m:.1f} | {len(rows)} |"
        )
    return [*lines, ""]


def matrix(pairs: list[dict], variants: list[str]) -> list[str]:
    lines = [
        "**P@1 per ordered domain pair (query → gallery)**",
        "",
        "| pair | " + " | ".join(short(v) for v in variants) + " |",
        "|:---|" + "---:|" * len(variants),
    ]
    keys = sorted({(p["query_domain"], p["gallery_domain"]) for p in pairs})
    for q, g in keys:
        cells = []
        for v in variants:
            row = next(
                p
                for p in pairs
                if (p["variant"], p["query_domain"], p["gallery_domain"]) == (v, q, g)
            )
            cells.append(f"{row['precision']['1']:.0f}" if row["n_queries"] else "-")
        lines.append(f"| {q} → {g} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--held-out", default="generated")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    pairs, variants, ks = report["pairs"], report["variants"], report["ks"]
    seen = [p for p in pairs if args.held_out not in (p["query_domain"], p["gallery_domain"])]
    unseen = [p for p in pairs if args.held_out in (p["query_domain"], p["gallery_domain"])]
    out = averages(seen, variants, ks, "Styles seen in training: averages over their pairs")
    if unseen:
        out += averages(
            unseen,
            variants,
            ks,
            f"Held-out style ({args.held_out}): averages over the pairs with it",
        )
    out += matrix(pairs, variants)
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
