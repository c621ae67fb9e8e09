"""2x2 grid detection on synthetic layouts: false positives on checkerboards, wallpapers, comic
pages and collages, and recall (exact tile boxes) on real grid layouts; before and after the
checks of what grids are, and after the evidence a layout needs to be split at ingest.

    python bench/bench_grids.py

Layouts from ``scripts/make_grid_set.py``. Columns: ``before``: the split at the middle lines
alone, with the thresholds cdir had before (a jump in both halves of each line and in half the
rows; a seam with content on both sides); ``layout``: :func:`cdir.ingest.grids.detect_grid` now;
``split``: a layout that is also split into tile items at ingest with nothing but its size as
evidence (no prompt, no upscale in the collection); ``split + prompt``: the same when the file
carries a generation prompt. A positive counts only with exactly the four right tile boxes. The
example images and the drawn test images are added as single pictures (never grids). Also: the
median time of ``detect_grid`` per image.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
import sys
import time

from common import REPO, log, report

sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

from make_grid_set import Layout, layouts  # noqa: E402

from cdir.imaging.decode import load_rgb  # noqa: E402
from cdir.ingest.grid_evidence import midjourney_size  # noqa: E402
from cdir.ingest.grids import GridConfig, detect_grid  # noqa: E402

BEFORE = dataclasses.replace(
    GridConfig(), jump_coverage=0.5, halves_needed=2, seam_one_side=False, validate=False
)


def singles() -> dict[str, Layout]:
    """The example images (but the bundled grid) and the drawn test images: single pictures."""
    from drawn import CLASSES, DOMAINS, draw_image
    from PIL import Image

    examples = REPO / "cdir" / "assets" / "examples"
    manifest = json.loads((examples / "manifest.json").read_text(encoding="utf-8"))
    out = {
        f"example/{f['path']}": Layout(load_rgb(examples / f["path"]), "example", None, False)
        for f in manifest["files"]
        if f["kind"] != "grid"
    }
    for domain, cls, variant in itertools.product(DOMAINS, CLASSES, range(3)):
        image = draw_image(domain, cls, variant).resize((768, 768), Image.Resampling.NEAREST)
        out[f"drawn/{domain}_{cls}_{variant}"] = Layout(image, "drawn", None, False)
    return out


def counted(found: list | None, case: Layout, grid: bool) -> bool:
    """A hit for a grid (the exact boxes), a false positive for anything else (any boxes)."""
    return found == case.boxes if grid else found is not None


def main() -> None:
    cases = {**layouts(), **singles()}
    rows: dict[str, dict[str, int]] = {}
    times: list[float] = []
    for name, case in cases.items():
        before = detect_grid(case.image, BEFORE)
        start = time.perf_counter()
        now = detect_grid(case.image)
        times.append(time.perf_counter() - start)
        family = rows.setdefault(
            case.family, {"n": 0, "before": 0, "layout": 0, "split": 0, "prompt": 0}
        )
        grid = case.boxes is not None and case.family != "collage_bare"
        family["n"] += 1
        family["before"] += counted(before, case, grid)
        family["layout"] += counted(now, case, grid)
        family["split"] += counted(now, case, grid) and midjourney_size(*case.image.size)
        family["prompt"] += counted(now, case, grid)
        if grid and now != case.boxes:
            log(f"missed {name}: {now}")
        if not grid and now is not None:
            log(f"taken for a layout: {name}")
    table = []
    for family, r in rows.items():
        kind = "recall" if family in ("grid", "variations", "seam_grid", "white_grid") else "FP"
        table.append([family, kind, r["n"], r["before"], r["layout"], r["split"], r["prompt"]])
    report(
        "grids",
        ["family", "counts", "images", "before", "layout", "split (size only)", "split + prompt"],
        table,
        {
            "detect_ms_median": round(1000 * statistics.median(times), 1),
            "detect_ms_max": round(1000 * max(times), 1),
        },
    )


if __name__ == "__main__":
    main()
