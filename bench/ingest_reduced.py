"""Reduced decoding of large JPEGs at ingest (``IngestConfig.reduced_decode``), full against reduced
in the same run: part of ``bench/bench_ingest.py`` (issue 17, part 5).

1. 4000x3000 JPEGs: the reader's CPU ms per image (one thread), and the pipeline's images/s.
2. Agreement on those files: embedding cosine (reduced vs full decode; target >= 0.999), pHash bits
   moved, width and height equal, exact groups equal.
3. The duplicate tiers on the calibration set of ``scripts/make_dupes_set.py`` with its originals
   enlarged 4x (1152 px, so they decode reduced): precision and recall of the exact and the
   perceptual tier, full against reduced (the same groups expected).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from common import REPO, interleaved, log, make_jpegs, median, pipeline_run, report
from PIL import Image

from cdir.imaging.decode import DecodeLimits
from cdir.ingest.exact_keys import resolve_pixel_hashes
from cdir.ingest.pipeline import IngestConfig
from cdir.ingest.reader import read_one, reduced_decode_side
from cdir.models.loaded import Models
from cdir.store.cache import Cache
from cdir.store.collection import Store, normalise_items


def large_jpegs(models: Models, work: Path, n: int, reps: int, quick: bool) -> None:
    log(f"writing {n} JPEG files (4000x3000) ...")
    paths = make_jpegs(work / "large", n, (4000, 3000), seed=5)
    embedder = models.embedder
    side = reduced_decode_side(embedder.preprocess)
    readers = {
        name: [
            partial(read_one, i, p, None, embedder.prepare, DecodeLimits(), reduce_to=to)
            for i, p in enumerate(paths)
        ]
        for name, to in (("full", None), ("reduced", side))
    }
    _, cpu = interleaved(
        {k: lambda jobs=v: [job() for job in jobs] and None for k, v in readers.items()}, reps
    )
    reader_ms = {k: 1000 * median(v) / n for k, v in cpu.items()}
    base = IngestConfig(captions="none", predict_domains=False, shared_cache=False)
    configs = {"full": replace(base, reduced_decode=False), "reduced": base}
    wall, _ = interleaved(
        {
            k: lambda c=c, k=k: pipeline_run(models, work / "large", work / k, c)
            for k, c in configs.items()
        },
        reps,
    )
    rate = {k: float(np.median([n / t for t in v])) for k, v in wall.items()}
    paired = float(np.median(np.array(wall["full"]) / np.array(wall["reduced"])))
    agree = agreement({k: Store.load(work / k / "store") for k in configs})
    rows = [
        [
            "reader CPU ms/image (1 thread)",
            f"{reader_ms['full']:.0f}",
            f"{reader_ms['reduced']:.0f}",
            f"{reader_ms['full'] / reader_ms['reduced']:.2f}x",
        ],
        ["pipeline images/s", f"{rate['full']:.2f}", f"{rate['reduced']:.2f}", f"{paired:.2f}x"],
    ]
    report(
        "ingest-large-jpeg",
        ["4000x3000 JPEG", "full decode", "reduced decode", "speed-up"],
        rows,
        {
            "n": n,
            "reduce_to": side,
            "reader_cpu_ms": reader_ms,
            "images_per_s": rate,
            "speedup_paired": paired,
            **agree,
        },
    )
    print(
        f"\nreduced vs full decode: min embedding cosine {agree['min_cosine']:.5f} (target >= "
        f"0.999), pHash bits moved max {agree['phash_bits_max']}, sizes equal "
        f"{agree['sizes_equal']}, exact groups equal {agree['exact_groups_equal']}"
    )
    calibration(work / "calibration", side, quick)


def agreement(stores: dict[str, Store]) -> dict:
    full, reduced = (stores[k].items.set_index("rel_path") for k in ("full", "reduced"))
    names = sorted(full.index)
    emb = {
        k: s.image_emb[[s.items.index[s.items["rel_path"] == r][0] for r in names]]
        for k, s in stores.items()
    }
    cosine = (emb["full"] * emb["reduced"]).sum(axis=1)
    bits = [_bits(full.at[r, "phash"], reduced.at[r, "phash"]) for r in names]
    return {
        "min_cosine": float(cosine.min()),
        "phash_bits_max": int(max(bits)),
        "phash_bits_mean": float(np.mean(bits)),
        "sizes_equal": bool(
            (
                full.loc[names, ["width", "height"]].to_numpy()
                == reduced.loc[names, ["width", "height"]].to_numpy()
            ).all()
        ),
        "exact_groups_equal": _exact(stores["full"]) == _exact(stores["reduced"]),
    }


def _exact(store: Store) -> set[frozenset[str]]:
    from cdir.duplicates.finder import exact_groups

    names = store.items["rel_path"].tolist()
    return {frozenset(names[m] for m in g.members) for g in exact_groups(store)}


def _bits(a: str, b: str) -> int:
    return bin(int(str(a), 16) ^ int(str(b), 16)).count("1")


# ------------------------------------------------------------------------ calibration set
def calibration(root: Path, side: int | None, quick: bool) -> None:
    """The tiers' precision/recall on the enlarged calibration set, full against reduced."""
    sys.path.insert(0, str(REPO / "scripts"))
    from calibrate_dupes import f1, score_groups
    from make_dupes_set import EXACT_KINDS, TRANSFORMS, make_set

    from cdir.duplicates.finder import DedupConfig, find_groups

    log("writing the enlarged calibration set ...")
    src = enlarged_originals(root / "src", 4, classes=("house", "car") if quick else None)
    truth = make_set(root / "set", src)
    rows, results = [], {}
    for name, to in (("full", None), ("reduced", side)):
        store = hashed(root / "set", truth, to, root / f"cache-{name}")
        exact = score_groups(
            store, truth, find_groups(store, DedupConfig(tiers=("exact",))), EXACT_KINDS
        )
        perceptual = score_groups(
            store, truth, find_groups(store, DedupConfig(tiers=("perceptual",)))
        )
        results[name] = {
            "exact": exact.__dict__,
            "perceptual": perceptual.__dict__,
            "groups": sorted(sorted(g.members) for g in find_groups(store)),
        }
        rows.append(
            [
                name,
                f"{exact.precision:.3f}",
                f"{exact.recall:.3f}",
                f"{perceptual.precision:.3f}",
                f"{perceptual.recall:.3f}",
                f"{f1(perceptual):.3f}",
            ]
            + [f"{perceptual.per_transform.get(k, 0):.2f}" for k in TRANSFORMS]
        )
    same = results["full"]["groups"] == results["reduced"]["groups"]
    report(
        "ingest-reduced-calibration",
        ["decode", "exact P", "exact R", "pHash P", "pHash R", "pHash F1", *TRANSFORMS],
        rows,
        {
            "files": len(truth),
            "same_groups": same,
            **{k: {t: v[t] for t in ("exact", "perceptual")} for k, v in results.items()},
        },
    )
    print(
        f"\n{len(truth)} files; every duplicate group (all tiers) the same with reduced "
        f"decoding: {same}"
    )


def enlarged_originals(out: Path, factor: int, classes: tuple[str, ...] | None) -> Path:
    """The example originals enlarged ``factor`` times (LANCZOS), as JPEG q92, with a manifest
    that ``make_dupes_set.make_set`` reads as its ``src``."""
    from make_dupes_set import EXAMPLES, originals

    files = []
    for rel in originals(EXAMPLES):
        if classes is not None and rel.split("/")[1] not in classes:
            continue
        target = Path(rel).with_suffix(".jpg").as_posix()
        with Image.open(EXAMPLES / rel) as image:
            big = image.convert("RGB").resize(
                (image.width * factor, image.height * factor), Image.Resampling.LANCZOS
            )
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        big.save(out / target, quality=92)
        files.append({"path": target, "kind": "original"})
    (out / "manifest.json").write_text(json.dumps({"files": files}), encoding="utf-8")
    return out


def hashed(root: Path, truth: dict, reduce_to: int | None, cache_dir: Path) -> Store:
    """An in-memory store of the set's files with the reader's hashes (as
    ``calibrate_dupes.hashed_store``), decoding reduced with ``reduce_to``, exact keys then
    filled as ingest does (:func:`cdir.ingest.exact_keys.resolve_pixel_hashes`)."""
    rows = []
    for n, rel in enumerate(sorted(truth)):
        info = read_one(n, root / rel, None, None, DecodeLimits(), reduce_to=reduce_to).info
        rows.append(
            {
                "id": n,
                "path": str(root / rel),
                "rel_path": rel,
                "sha256": rel,
                "pixel_sha256": info.pixel_sha256,
                "phash": info.phash,
                "phash_mirror": info.phash_mirror,
                "width": info.width,
                "height": info.height,
                "file_size": (root / rel).stat().st_size,
                "status": "ok",
                "parent_id": -1,
                "tile": -1,
            }
        )
    store = Store(root, items=normalise_items(pd.DataFrame(rows)))
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache.for_store(cache_dir, shared=False)
    try:
        decoded = resolve_pixel_hashes(store, cache, DecodeLimits())
    finally:
        cache.close()
    log(f"  {reduce_to=}: {decoded} file(s) decoded in full for the exact tier")
    return store
