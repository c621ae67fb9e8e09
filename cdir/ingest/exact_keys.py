"""The exact tier's key (``pixel_sha256``) for items whose file was decoded reduced.

Ingest decodes large JPEGs at 1/2-1/8 size (:func:`cdir.imaging.decode.load_rgb_reduced`), so the
SHA-256 of their full-size pixels is not known after reading. The exact tier must still group
exactly the files it grouped before: those whose full-size decoded pixels are identical. Two
files can only have identical pixels if they have the same full size and (nearly) the same pHash
(the reduced decode moves a pHash by a few bits at most, :data:`PHASH_SLACK`), or the same bytes.
So, for each item left without a pixel hash:

* the full-size pixel hash cached for its file, when a past ingest computed it;
* else, when another readable item of another file has the same width and height and a pHash
  within :data:`PHASH_SLACK` bits, a full-size decode now (once per file) and the real
  ``pixel_sha256`` (cached by file hash);
* else ``file:<sha256 of the file's bytes>``: no other file can hold the same pixels, and copies
  of the same file (equal bytes, hence equal pixels) still share this key.

Items added later are checked against every item of the collection, so a PNG saved from a large
JPEG already in it still joins that JPEG's exact group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from cdir.imaging.decode import DecodeError, DecodeLimits, load_rgb, pixel_sha256
from cdir.store.cache import Cache
from cdir.store.collection import Store

log = logging.getLogger(__name__)

PHASH_SLACK = 12  # bits; a reduced decode moved pHashes by at most 2 of 64 (bench/bench_ingest.py)
FILE_KEY = "file:"
CACHE_MODEL = "pixel-v1"  # cache ("image_info" table): file sha256 -> full-size pixel sha256


def resolve_pixel_hashes(store: Store, cache: Cache, limits: DecodeLimits, workers: int = 2) -> int:
    """Fill ``pixel_sha256`` of the readable items that have none (see the module docstring);
    returns how many files were decoded in full for it. A file that no longer decodes keeps
    the ``file:`` key (its bytes were read at ingest)."""
    items = store.items
    ok = store.ok_mask()
    todo = np.flatnonzero(
        ok & items["pixel_sha256"].isna().to_numpy() & items["sha256"].notna().to_numpy()
    )
    if not len(todo):
        return 0
    shas = {int(r): str(items.at[r, "sha256"]) for r in todo}
    known = cache.get_texts("image_info", CACHE_MODEL, sorted(set(shas.values())))
    for row, sha in shas.items():
        if sha in known:
            items.at[row, "pixel_sha256"] = known[sha]
    candidates = look_alikes([r for r in todo if shas[int(r)] not in known], items, ok)
    files = sorted({shas[r] for r in candidates})
    computed = dict(
        zip(files, _full_hashes(store, candidates, shas, files, limits, workers), strict=True)
    )
    cache.put_texts("image_info", CACHE_MODEL, {k: v for k, v in computed.items() if v})
    for row, sha in shas.items():
        if sha not in known:
            items.at[row, "pixel_sha256"] = computed.get(sha) or FILE_KEY + sha
    return len(files)


def look_alikes(rows: Iterable[int], items: pd.DataFrame, ok: np.ndarray) -> list[int]:
    """Those of ``rows`` for which another readable item of another file has the same width and
    height and a pHash within :data:`PHASH_SLACK` bits (an item without a pHash counts as near).
    Vectorised per size: a few seconds for 100,000 items of one size."""
    rows = np.asarray(sorted(int(r) for r in rows), dtype=np.int64)
    if not len(rows):
        return []
    others = np.flatnonzero(ok)
    table = pd.DataFrame(
        {
            "row": others,
            "width": items["width"].to_numpy()[others],
            "height": items["height"].to_numpy()[others],
            "sha": items["sha256"].astype(str).to_numpy()[others],
            "phash": _as_uint64(items["phash"].to_numpy()[others]),
            "has": items["phash"].notna().to_numpy()[others],
        }
    )
    wanted = set(rows.tolist())
    found: list[int] = []
    for _, group in table.groupby(["width", "height"], sort=False):
        mine = group[group["row"].isin(wanted)]
        if len(group) < 2 or not len(mine):
            continue
        hashes, shas, has = (group[c].to_numpy() for c in ("phash", "sha", "has"))
        for start in range(0, len(mine), 256):
            part = mine.iloc[start : start + 256]
            bits = np.bitwise_count(part["phash"].to_numpy()[:, None] ^ hashes[None, :])
            near = (bits <= PHASH_SLACK) | ~has[None, :] | ~part["has"].to_numpy()[:, None]
            near &= part["sha"].to_numpy()[:, None] != shas[None, :]  # another file
            found.extend(part["row"].to_numpy()[near.any(axis=1)].tolist())
    return sorted(found)


def _as_uint64(values: np.ndarray) -> np.ndarray:
    return np.array([int(str(v), 16) if not pd.isna(v) else 0 for v in values], dtype=np.uint64)


def _full_hashes(
    store: Store,
    rows: list[int],
    shas: dict[int, str],
    files: list[str],
    limits: DecodeLimits,
    workers: int,
) -> list[str | None]:
    """The full-size pixel hash of each of ``files`` (sha256s), decoding one item of each."""
    path_of = {shas[r]: store.item_path(r) for r in rows}

    def one(sha: str) -> str | None:
        try:
            return pixel_sha256(load_rgb(path_of[sha], limits))
        except DecodeError as exc:
            log.warning(
                "cannot decode %s in full for the exact tier: %s", path_of[sha].name, exc.reason
            )
            return None
        except Exception as exc:  # one file's failure keeps its file: key, nothing else
            log.warning("cannot hash %s in full for the exact tier: %s", path_of[sha].name, exc)
            return None

    if files:
        log.info("decoding %d reduced image(s) in full for the exact-duplicate tier", len(files))
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="cdir-exact") as pool:
        return list(pool.map(one, files))
