"""The semantic tier's threshold, calibrated per embedder from the collection itself.

A fixed cosine means different things for different embedders (a small model's vectors are far
more alike than CLIP's). So the threshold is measured on the collection: up to
:attr:`CalibrationConfig.sample` of its images are copied the way duplicates arise (half size,
JPEG quality 30, 5 % cut from every side) and embedded; the copies' cosines to their original
must fall inside, so the *inside* bound is a low percentile of them. Different images of one
class (or, without classes, each image's nearest other image that is not a perceptual copy of
it) must fall outside: the *outside* bound is the highest of their cosines. The threshold
is the inside bound, raised above the outside bound when the two overlap (a different picture
is never grouped to save a copy). The outside bound looks at every image (up to 4,000), not
only the sample: one pair of near-identical different drawings is enough to raise it. It is saved
with the collection (``dupes/semantic.json``, keyed by the preset and the collection's revision)
and shown with the groups.

An embedder with random weights (the ``tiny`` preset) is not calibrated: its similarities mean
nothing, so the semantic tier offers no groups and says so.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cdir.duplicates.finder import DedupConfig, semantic_rows
from cdir.store.collection import atomic_write_json

if TYPE_CHECKING:
    from cdir.store.collection import Store

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path("dupes") / "semantic.json"
APART_ROWS = 4000  # images whose nearest different picture bounds the threshold
Embed = Callable[[Sequence[Any]], np.ndarray]


@dataclass(frozen=True)
class CalibrationConfig:
    sample: int = 48
    copies_percentile: float = 5.0  # inside: this percentile of the copies' cosines
    apart_percentile: float = 100.0  # outside: the closest different images (all of them)
    margin: float = 0.005  # above the outside bound when the two overlap
    seed: int = 0


@dataclass(frozen=True)
class Calibration:
    preset: str
    revision: Any
    threshold: float
    copies: float  # the inside bound
    apart: float | None  # the outside bound (None: nothing to compare)
    n: int
    apart_kind: str  # "same class" or "nearest other"

    def words(self) -> str:
        apart = (
            ""
            if self.apart is None
            else f"; different images ({self.apart_kind}) reach {self.apart:.3f}"
        )
        return (
            f"semantic threshold {self.threshold:.3f}, calibrated for {self.preset} on "
            f"{self.n} images of this collection: resized, re-encoded and cropped copies "
            f"reach {self.copies:.3f}{apart}"
        )


def untrained(store: Store) -> str | None:
    """Why the semantic tier offers nothing for ``store`` (its embedder has random weights),
    or None."""
    from cdir.models.presets import get_preset

    name = store.meta.get("preset")
    if not name:
        return None
    try:
        trained = get_preset(str(name)).trained
    except Exception:  # an unknown preset: nothing to say
        return None
    if trained:
        return None
    return (
        f"semantic tier off: random weights (the {name} embedder's similarities mean "
        "nothing, so no semantic groups; ingest with a trained preset for this tier)"
    )


def load_calibration(store: Store) -> Calibration | None:
    """The saved calibration when it fits the collection as it is now, else None."""
    import json

    path = store.root / CALIBRATION_FILE
    try:
        saved = Calibration(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if saved.preset != store.meta.get("preset") or saved.revision != store.meta.get("revision"):
        return None
    return saved


def calibrate(
    store: Store, embed: Embed, config: CalibrationConfig | None = None
) -> Calibration | None:
    """Measure the threshold (see the module docstring); None with fewer than 2 images."""
    config = config or CalibrationConfig()
    rows = semantic_rows(store)
    if len(rows) < 2 or store.image_emb is None:
        return None
    rng = np.random.default_rng(config.seed)
    picked = rng.choice(rows, size=min(config.sample, len(rows)), replace=False)
    emb = store.image_emb
    copies: list[float] = []
    for row in picked:
        image = _picture(store, int(row))
        if image is None:
            continue
        vectors = embed(augmented(image))
        copies.extend((vectors @ emb[row]).tolist())
    if not copies:
        return None
    apart, kind = _apart_cosines(store, rows, picked)
    inside = float(np.percentile(copies, config.copies_percentile))
    outside = float(np.percentile(apart, config.apart_percentile)) if len(apart) else None
    threshold = (
        inside if outside is None or outside < inside else min(outside + config.margin, 0.999)
    )
    return Calibration(
        str(store.meta.get("preset", "")),
        store.meta.get("revision"),
        round(threshold, 4),
        round(inside, 4),
        None if outside is None else round(outside, 4),
        len(picked),
        kind,
    )


def save_calibration(store: Store, calibration: Calibration) -> None:
    atomic_write_json(store.root / CALIBRATION_FILE, asdict(calibration))


def augmented(image: Any) -> list[Any]:
    """Half size, JPEG quality 30, 5 % cut from every side."""
    from PIL import Image

    rgb = image.convert("RGB")
    half = rgb.resize((max(1, rgb.width // 2), max(1, rgb.height // 2)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=30)
    jpeg = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    dx, dy = round(rgb.width * 0.05), round(rgb.height * 0.05)
    crop = rgb.crop((dx, dy, rgb.width - dx, rgb.height - dy))
    return [half, jpeg, crop]


def _picture(store: Store, row: int) -> Any:
    from PIL import Image

    for path in (store.item_path(row), store.thumb_path(str(store.items.at[row, "sha256"]))):
        try:
            with Image.open(path) as img:
                img.draft("RGB", (448, 448))
                return img.convert("RGB")
        except (OSError, ValueError):
            continue
    return None


def _apart_cosines(store: Store, rows: np.ndarray, picked: np.ndarray) -> tuple[np.ndarray, str]:
    """Cosines of each image (every image of the tier, up to :data:`APART_ROWS` of them, not
    only the ``picked`` sample: one pair of near-identical drawings must not be missed) with its
    nearest other image of the same class (or, with no classes, its nearest other image), never
    counting an image that any of its pHashes (plain, mirrored, centre crop; 64 bits) puts within
    12 bits of it: that one is a copy, not a different picture."""
    from cdir.duplicates.finder import hex_to_uint64

    emb = store.image_emb
    assert emb is not None
    classes = store.items["class"].to_numpy()
    hashes = [
        hex_to_uint64(store.items[c].to_numpy())
        for c in ("phash", "phash_mirror", "phash_centre")
        if c in store.items.columns
    ]
    labelled = sum(isinstance(classes[r], str) for r in picked) >= len(picked) // 2
    queries = rows
    if len(rows) > APART_ROWS:
        queries = np.random.default_rng(0).choice(rows, size=APART_ROWS, replace=False)
    named = np.array([isinstance(c, str) for c in classes], bool)
    codes = np.where(named, pd.factorize(pd.Series(classes).where(named))[0], -1)
    if labelled:
        queries = queries[codes[queries] >= 0]
    gallery = emb[rows]
    out: list[np.ndarray] = []
    for start in range(0, len(queries), 256):  # 256 x len(rows) cosines at a time
        block = queries[start : start + 256]
        cos = emb[block] @ gallery.T
        mask = block[:, None] != rows[None, :]
        if labelled:
            mask &= codes[block][:, None] == codes[rows][None, :]
        for a in hashes:  # a hash of 0 is unknown (an older store): it says nothing
            for b in hashes:
                near = np.bitwise_count(a[rows][None, :] ^ b[block][:, None]) <= 12
                mask &= ~(near & (a[rows][None, :] != 0) & (b[block][:, None] != 0))
        cos = np.where(mask, cos, -np.inf).max(axis=1)
        out.append(cos[np.isfinite(cos)])
    return (
        np.concatenate(out) if out else np.zeros(0),
        "same class" if labelled else "nearest other",
    )


def semantic_plan(
    store: Store, config: DedupConfig, embed: Callable[[], Embed] | None
) -> tuple[DedupConfig | None, str]:
    """(the config to run, None when no tier is left; words on the semantic tier): the tier
    dropped for an untrained embedder; its threshold calibrated (and saved) when the user set
    none and ``embed`` can give an embedder."""
    if "semantic" not in config.tiers:
        return config, ""
    reason = untrained(store)
    if reason is not None:
        tiers = tuple(t for t in config.tiers if t != "semantic")
        return (replace(config, tiers=tiers) if tiers else None), reason
    if not config.semantic_auto:
        return config, f"semantic threshold {config.semantic_min_similarity:g} (as set)"
    found = load_calibration(store)
    if found is None and embed is not None:
        found = calibrate(store, embed())
        if found is not None:
            save_calibration(store, found)
    if found is None:
        return config, f"semantic threshold {config.semantic_min_similarity:g} (default)"
    return replace(config, semantic_min_similarity=found.threshold), found.words()
