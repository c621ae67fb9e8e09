"""Caption accuracy of a preset on a drawn set (``scripts/make_training_set.py``): the share of
captions that name the image's class, its domain (style phrase) and, outside sketches, its colour.

    python scripts/make_training_set.py --out build/demo-heldout --per-cell 10 --seed 777 \\
        --domains photo,sketch,painting,clipart,render3d,generated
    python scripts/demo_caption_accuracy.py build/demo-heldout --preset demo --out build/acc.md
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_training_set import STYLE, SYNONYMS, load_rows  # noqa: E402

log = logging.getLogger("demo_caption_accuracy")


def names(caption: str, phrase: str) -> bool:
    """Whether ``caption`` contains ``phrase`` as whole words."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", caption.lower()) is not None


def judge(row: dict, caption: str) -> dict[str, bool]:
    return {
        "class": any(names(caption, w) for w in SYNONYMS[row["class"]]),
        "domain": names(caption, STYLE[row["domain"]]),
        "colour": names(caption, row["colour"])
        if row["colour"] and row["domain"] != "sketch"
        else None,
    }


def measure(root: Path, preset: str, model_root: str | None, batch: int = 32) -> dict:
    from PIL import Image

    from cdir.models.loaded import load_models

    rows = load_rows(root)
    models = load_models(preset, model_root, device="cpu")
    out = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        images = []
        for row in chunk:
            with Image.open(root / row["path"]) as im:
                images.append(im.convert("RGB"))
        for row, caption in zip(chunk, models.captioner.caption(images), strict=True):
            out.append(
                {
                    **row,
                    "caption": caption,
                    **{f"ok_{k}": v for k, v in judge(row, caption).items()},
                }
            )
    return {"rows": out}


def table(result: dict) -> str:
    by_domain: dict[str, list[dict]] = defaultdict(list)
    for row in result["rows"]:
        by_domain[row["domain"]].append(row)

    def pct(rows: list[dict], key: str) -> str:
        vals = [r[key] for r in rows if r[key] is not None]
        return f"{100 * sum(vals) / len(vals):.1f}" if vals else "-"

    lines = [
        "| domain | images | class named % | domain named % | colour named % | example |",
        "|---|---|---|---|---|---|",
    ]
    for domain, rows in by_domain.items():
        lines.append(
            f"| {domain} | {len(rows)} | {pct(rows, 'ok_class')} | "
            f"{pct(rows, 'ok_domain')} | {pct(rows, 'ok_colour')} | "
            f"{rows[0]['caption']} |"
        )
    seen = [r for r in result["rows"] if r["domain"] != "generated"]
    lines.append(
        f"| **seen styles** | {len(seen)} | {pct(seen, 'ok_class')} | "
        f"{pct(seen, 'ok_domain')} | {pct(seen, 'ok_colour')} | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--model-dir")
    parser.add_argument("--out", type=Path, help="write the table (.md) and every caption (.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = measure(args.root, args.preset, args.model_dir)
    text = table(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
