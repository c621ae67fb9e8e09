"""What a cheap second signal adds to the perceptual tier's weak transforms (cropped and
watermarked copies), on the set of bench_dupes_folder.py (flat images and clipart look-alikes
included).

    python bench/bench_dupes_signals.py [--quick] [--set DIR]

Every file is hashed as ``cdir dupes FOLDER`` hashes it (256-pixel draft thumbnail: pHash, mirror
pHash, low-information signature), plus three candidate signals from the same thumbnail:

- ``centre``: the pHash of the centre 90 % and 80 % of the image (multi-scale: a copy cut by
  5-10 % a side matches the original's centre), compared crosswise with the full pHash;
- ``colour``: colour moments (mean and standard deviation of each RGB channel over a 2x2 grid
  of regions, 24 numbers), as a confirmation for pHash distances up to 16 bits;
- ``block``: a block-mean hash (8x8 grey blocks above their median), as a confirmation for pHash
  distances up to 14 bits.

Measured on pairs (every pair of files, no grouping): a pair is predicted when its pHash
distance (mirror-aware) is within 8 bits, or the variant's rule passes; pairs with a
low-information image must also pass the thumbnail check, as in the tier. Printed: pair
precision, recall, F1 (all files and the flat families alone) and per-transform recall, with
the time each signal costs per file. A signal is worth keeping only if it raises F1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import REPO, log, report
from dupes_set import load_or_make

sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from cdir.duplicates.file_hashes import (  # noqa: E402
    DEFAULT_LIMITS,
    draft_thumbnail,
    thumbnail_hashes,  # noqa: E402
)
from cdir.duplicates.low_information import LowInfoConfig  # noqa: E402

PHASH_BITS = 8


@dataclass
class Signals:
    phash: np.ndarray  # (n,) uint64
    mirror: np.ndarray  # (n,) uint64
    centre: np.ndarray  # (n, 2) uint64: pHash of the centre 90 % and 80 %
    colour: np.ndarray  # (n, 24) float32
    block: np.ndarray  # (n,) uint64
    detail: np.ndarray  # (n,) float
    thumbs: np.ndarray  # (n, 8, 8, 3) float32
    thumbs_mirror: np.ndarray
    seconds: dict[str, float]


def _bits(mask: np.ndarray) -> int:
    return int("".join("1" if b else "0" for b in mask.ravel()), 2)


def centre_hashes(thumb: Image.Image) -> list[int]:
    out = []
    for keep in (0.9, 0.8):
        dx, dy = round(thumb.width * (1 - keep) / 2), round(thumb.height * (1 - keep) / 2)
        crop = thumb.crop((dx, dy, thumb.width - dx, thumb.height - dy))
        out.append(int(thumbnail_hashes(crop)[0], 16))
    return out


def colour_moments(thumb: Image.Image) -> np.ndarray:
    arr = np.asarray(thumb, np.float32)
    h, w = arr.shape[0] // 2, arr.shape[1] // 2
    parts = [arr[:h, :w], arr[:h, w:], arr[h:, :w], arr[h:, w:]]
    return np.concatenate([np.r_[p.mean(axis=(0, 1)), p.std(axis=(0, 1))] for p in parts])


def block_hash(thumb: Image.Image) -> int:
    grey = np.asarray(thumb.convert("L").resize((8, 8), Image.Resampling.BOX), np.float32)
    return _bits(grey > np.median(grey))


def compute(files: list[Path]) -> Signals:
    cols: dict[str, list] = {
        k: []
        for k in (
            "phash",
            "mirror",
            "centre",
            "colour",
            "block",
            "detail",
            "thumbs",
            "thumbs_mirror",
        )
    }
    seconds = dict.fromkeys(("base", "centre", "colour", "block"), 0.0)
    for path in files:
        start = time.process_time()
        thumb = draft_thumbnail(path.read_bytes(), DEFAULT_LIMITS, True)[0]
        phash, mirror, sig = thumbnail_hashes(thumb)
        seconds["base"] += time.process_time() - start
        for name, func in (
            ("centre", centre_hashes),
            ("colour", colour_moments),
            ("block", block_hash),
        ):
            start = time.process_time()
            cols[name].append(func(thumb))
            seconds[name] += time.process_time() - start
        cols["phash"].append(int(phash, 16))
        cols["mirror"].append(int(mirror, 16))
        cols["detail"].append(sig.detail)
        cols["thumbs"].append(sig.thumb)
        cols["thumbs_mirror"].append(sig.mirror)
    return Signals(
        np.array(cols["phash"], np.uint64),
        np.array(cols["mirror"], np.uint64),
        np.array(cols["centre"], np.uint64),
        np.array(cols["colour"], np.float32),
        np.array(cols["block"], np.uint64),
        np.array(cols["detail"]),
        np.array(cols["thumbs"]),
        np.array(cols["thumbs_mirror"]),
        {k: v / len(files) * 1000 for k, v in seconds.items()},
    )


def popcount(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int16)


def pair_rules(s: Signals, rows: np.ndarray) -> dict[str, np.ndarray]:
    """For rows ``rows`` against every file: which pairs each variant predicts, (len(rows), n)."""
    full = np.minimum.reduce(
        [
            popcount(s.phash[rows], s.phash),
            popcount(s.mirror[rows], s.phash),
            popcount(s.phash[rows], s.mirror),
        ]
    )
    centre90 = np.minimum(
        popcount(s.centre[rows, 0], s.phash), popcount(s.phash[rows], s.centre[:, 0])
    )
    centre = np.minimum.reduce(
        [centre90, popcount(s.centre[rows, 1], s.phash), popcount(s.phash[rows], s.centre[:, 1])]
    )
    colour = np.abs(s.colour[rows, None, :] - s.colour[None, :, :]).mean(axis=2)
    block = popcount(s.block[rows], s.block)
    base = full <= PHASH_BITS
    rules = {
        "pHash only (the tier)": base,
        "+ centre pHash 90 %": base | (centre90 <= PHASH_BITS),
        "+ centre pHash 90 % and 80 %": base | (centre <= PHASH_BITS),
        "+ colour moments": base | ((full <= 16) & (colour <= 6.0)),
        "+ block-mean hash": base | ((full <= 14) & (block <= 6)),
        "+ centre + colour": base | (centre <= PHASH_BITS) | ((full <= 16) & (colour <= 6.0)),
    }
    close = _low_info_ok(s, rows)
    return {k: v & close for k, v in rules.items()}


def _low_info_ok(s: Signals, rows: np.ndarray) -> np.ndarray:
    """The tier's low-information check: a pair with a flat image passes only when close."""
    config = LowInfoConfig()
    low = s.detail <= config.detail_max
    diff = np.abs(s.thumbs[rows, None] - s.thumbs[None]).mean(axis=(2, 3, 4))
    diff = np.minimum(
        diff, np.abs(s.thumbs[rows, None] - s.thumbs_mirror[None]).mean(axis=(2, 3, 4))
    )
    return ~(low[rows, None] | low[None, :]) | (diff <= config.close_max)


def evaluate(s: Signals, names: list[str], truth: dict) -> dict[str, dict]:
    family = np.array([truth[n]["family"] for n in names])
    kind = np.array([truth[n]["transform"] for n in names])
    index = {n: i for i, n in enumerate(names)}
    origin = np.array([index[f] for f in family])
    flat = np.char.startswith(family.astype(str), "flat/")
    counts: dict[str, dict[str, float]] = {}
    per: dict[str, dict[str, list[bool]]] = {}
    for start in range(0, len(names), 64):  # 64 rows x all files at a time: ~250 MB
        rows = np.arange(start, min(start + 64, len(names)))
        real = family[rows, None] == family[None, :]
        upper = np.arange(len(names))[None, :] > rows[:, None]
        for name, pred in pair_rules(s, rows).items():
            c = counts.setdefault(name, dict.fromkeys(("tp", "fp", "fn", "ftp", "ffp", "ffn"), 0))
            fl = flat[rows, None] | flat[None, :]
            for pre, mask in (("", upper), ("f", upper & fl)):
                c[pre + "tp"] += int((pred & real & mask).sum())
                c[pre + "fp"] += int((pred & ~real & mask).sum())
                c[pre + "fn"] += int((~pred & real & mask).sum())
            hits = per.setdefault(name, {})
            for r in rows:
                if kind[r] != "original":
                    hits.setdefault(str(kind[r]), []).append(bool(pred[r - start, origin[r]]))
    out = {}
    for name, c in counts.items():
        p = c["tp"] / max(1, c["tp"] + c["fp"])
        r = c["tp"] / max(1, c["tp"] + c["fn"])
        fp_ = c["ftp"] / max(1, c["ftp"] + c["ffp"])
        fr = c["ftp"] / max(1, c["ftp"] + c["ffn"])
        out[name] = {
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / max(1e-9, p + r),
            "f1_flat": 2 * fp_ * fr / max(1e-9, fp_ + fr),
            "per_transform": {k: float(np.mean(v)) for k, v in sorted(per[name].items())},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="~360 files")
    parser.add_argument("--set", type=Path, help="where the set is (made there if absent)")
    args = parser.parse_args()
    n_originals = 40 if args.quick else 555
    folder = args.set or Path(tempfile.gettempdir()) / f"cdir-bench-dupes-{n_originals}"
    truth = load_or_make(folder, n_originals)
    names = sorted(truth)
    log(f"{len(names)} files in {folder}: hashing")
    signals = compute([folder / n for n in names])
    log("scoring every pair")
    scores = evaluate(signals, names, truth)
    transforms = list(next(iter(scores.values()))["per_transform"])
    headers = ["variant", "precision", "recall", "F1", "F1 flat", *[f"R {t}" for t in transforms]]
    rows = [
        [
            name,
            s["precision"],
            s["recall"],
            s["f1"],
            s["f1_flat"],
            *[s["per_transform"][t] for t in transforms],
        ]
        for name, s in scores.items()
    ]
    cost = ", ".join(f"{k} {v:.2f}" for k, v in signals.seconds.items())
    print(f"\nCPU ms per file: {cost} (base: draft decode, thumbnail, pHash pair, signature)")
    report(
        f"perceptual tier + second signals, {len(names)} files (pairs, no grouping)",
        headers,
        rows,
        {"files": len(names), "scores": scores, "cpu_ms_per_file": signals.seconds},
    )


if __name__ == "__main__":
    main()
