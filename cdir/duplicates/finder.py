"""Near-duplicate groups in three tiers, each with its own threshold, without an N x N matrix.

| tier         | two items are near-duplicates when                        | found with       |
|--------------|-----------------------------------------------------------|------------------|
| `exact`      | their decoded pixels are identical (``pixel_sha256``)     | a hash table     |
| `perceptual` | their pHash differ in at most ``perceptual_max_distance`` | a kNN graph      |
|              | of 64 bits (also against the mirrored image's hash); for  | (``store.knn``)  |
|              | a flat or nearly flat image, its 8x8 colour thumbnail is  |                  |
|              | also close (``cdir.duplicates.low_information``)          |                  |
| `semantic`   | their CLIP image embeddings have cosine >= the threshold  | a kNN graph      |

The perceptual hash is ``imagehash.phash`` (computed at ingest in ``cdir.ingest.reader``).
ImageHash is the well-kept choice: BSD licensed, maintained on PyPI for over a decade, the library
most Python dedup code uses for aHash/dHash/pHash, pure numpy/scipy/Pillow so it installs
everywhere (also on a CPU Space), and its pHash (the DCT hash of Krawetz's "Looks Like It")
survives resizing, recompression and mild colour changes. A hash of our own would buy nothing and
would lose comparability with thresholds published for it. Its pHash sets exactly the 32 of 64 bits
above the median, so two hashes always differ in an even number of bits. The hash of the
horizontally mirrored image (``phash_mirror``) is stored too, so a flipped copy is within a few
bits. So is the pHash of the centre 90 % of the image (``phash_centre``,
:func:`cdir.ingest.reader.centre_hash`): a copy cut by a few per cent a side is within a few bits
of its original's centre hash (or of its mirror's), compared crosswise with the full hashes;
cropped copies were the tier's weakest transform (recall 0.25-0.36; bench/bench_dupes_signals.py
measures it beside colour moments and a block-mean hash). Items without it (stores made before) are
compared by their full hashes only.

The perceptual and semantic tiers each build a graph linking every item to its ``k`` nearest
neighbours that pass the threshold (memory O(N·k)); groups are then formed inside each connected
component of that graph by the rule in :data:`GROUPING_RULE`, which checks pairs directly, so no
similarity matrix over all items is ever held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cdir.duplicates.linkage import Metric, graph_groups
from cdir.duplicates.low_information import LowInfoConfig, PixelCheck
from cdir.store.knn import best_others, cosine_knn, hamming_knn

if TYPE_CHECKING:
    from cdir.store.collection import Store
    from cdir.store.vector_index import IndexConfig

log = logging.getLogger(__name__)

TIERS: tuple[str, ...] = ("exact", "perceptual", "semantic")

# Measured (scripts/calibrate_dupes.py on the set of scripts/make_dupes_set.py: 95 originals of
# cdir/assets/examples, each with 8 kinds of copy): 8 bits gives the best pair F1 (precision 0.97,
# recall 0.72; resized, JPEG q25, PNG and flipped copies ~all found, 5 % crops a third); 6 bits
# has precision 0.99 but recall 0.65; from 10 bits, drawings of one class on white backgrounds
# start to pair up (precision 0.83).
DEFAULT_PERCEPTUAL_MAX_DISTANCE = 8
# Not measured here (the offline `tiny` preset's CLIP is random): common practice for CLIP
# ViT-B-32 near-duplicates sits between cosine 0.90 ("similar") and 0.98-0.99 ("nearly
# identical"), e.g. fastdup's report bands and Immich's max distance 0.001..0.1; 0.95 keeps
# recompressed and resized copies while leaving apart different shots of one scene.
DEFAULT_SEMANTIC_MIN_SIMILARITY = 0.95

GROUPING_RULE = (
    "Every pair of images in a group passes the tier's threshold (complete linkage), not just "
    "a chain of pairs: if A looks like B and B looks like C, but A does not look like C, then A "
    "and C are never put in one group. Groups are built inside each cluster of linked images: the "
    "image with the most near-duplicates starts a group, its near-duplicates join it closest "
    "first, and each joins only if it also passes against every image already in the group; the "
    "images left over start the next groups. Once grouped, the image to keep leads the group "
    "as its representative, and every score shown is measured against it (cosine similarity "
    "for 'semantic', differing hash bits for 'perceptual', identical pixels for 'exact'). A group "
    "already found by a stricter tier is not repeated by a looser one, and a tile of a grid "
    "image is never grouped with its own grid."
)


@dataclass
class DedupConfig:
    """Which tiers to run and their thresholds; ``k`` neighbours per item in the kNN graphs."""

    tiers: tuple[str, ...] = TIERS
    perceptual_max_distance: int = DEFAULT_PERCEPTUAL_MAX_DISTANCE
    semantic_min_similarity: float = DEFAULT_SEMANTIC_MIN_SIMILARITY
    k: int = 10
    mirror: bool = True  # perceptual: also compare each hash with the mirrored image's hash
    # perceptual: also compare each image's centre 90 % pHash with the others' (cropped copies;
    # only where the store has ``phash_centre``)
    centre: bool = True
    # perceptual: flat images pass only when their pixels are close (None: trust every pHash)
    low_info: LowInfoConfig | None = field(default_factory=LowInfoConfig)
    index: IndexConfig | None = None  # semantic kNN index (default: cdir.store.index's auto choice)
    # semantic: no threshold set by the user: calibrate it on the collection
    # (cdir.duplicates.semantic_threshold) where the path running it can
    semantic_auto: bool = False

    def __post_init__(self) -> None:
        unknown = [t for t in self.tiers if t not in TIERS]
        if unknown or not self.tiers:
            raise ValueError(
                f"unknown tier(s) {unknown or '(none given)'}; choose from {', '.join(TIERS)}"
            )
        if not 0 <= self.perceptual_max_distance <= 64:
            raise ValueError("perceptual_max_distance is a number of bits, 0..64")
        if not -1.0 <= self.semantic_min_similarity <= 1.0:
            raise ValueError("semantic_min_similarity is a cosine similarity, -1..1")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")

    def threshold(self, tier: str) -> float | None:
        return {
            "perceptual": float(self.perceptual_max_distance),
            "semantic": self.semantic_min_similarity,
        }.get(tier)


@dataclass
class DupGroup:
    """One group of near-duplicates: item ids, representative first, then closest first.

    ``scores`` maps each member id to its score against the representative: 1.0 for ``exact``,
    differing pHash bits for ``perceptual`` (lower is closer), cosine for ``semantic``.
    ``keep`` and ``keep_reason``: the suggested keep and why; ``alternates``: members to keep
    beside it (other generations, never suggested for removal)
    (:func:`cdir.duplicates.keep.choose_keep`, set by
    :func:`cdir.duplicates.groups.find_duplicates`).
    """

    tier: str
    members: list[int]
    representative: int
    scores: dict[int, float] = field(default_factory=dict)
    keep: int | None = None
    keep_reason: str = ""
    # members another generation than the keep (cdir.duplicates.families): suggested alternate
    alternates: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.members)

    def distance(self, member: int) -> str:
        """How close ``member`` is to the representative, in words: "identical pixels", "pHash 2
        bits apart", "cosine 0.97"; "representative" for the representative itself."""
        if member == self.representative:
            return "representative"
        score = self.scores.get(member)
        if self.tier == "exact" or score is None:
            return "identical pixels"
        if self.tier == "perceptual":
            bits = int(round(score))
            return f"pHash {bits} bit{'' if bits == 1 else 's'} apart"
        return f"cosine {score:.2f}"


# ---------------------------------------------------------------------------------- metrics
def apart_from_grids(metric: Metric, grid_of: np.ndarray) -> Metric:
    """``metric`` under which a tile and its own grid image never pass (a tile is part of its
    grid by construction, not a copy of it); ``grid_of[p]`` is the position of the grid of
    position ``p``, or -1."""
    if not (grid_of >= 0).any():
        return metric
    worst = -np.inf if metric.higher_is_closer else np.inf

    def score(i: int, rows: np.ndarray) -> np.ndarray:
        related = (grid_of[rows] == i) | (rows == grid_of[i])
        return np.where(related, worst, metric.score(i, rows))

    return Metric(score, metric.threshold, metric.higher_is_closer)


def grid_positions(store: Store, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the position among ``rows`` of the grid it is a tile of, or -1."""
    items = store.items
    position = {int(i): n for n, i in enumerate(items["id"].to_numpy()[rows])}
    parents = items["parent_id"].to_numpy()[rows]
    return np.array([position.get(int(p), -1) for p in parents], dtype=np.int64)


def apart_unless_close(metric: Metric, check: PixelCheck) -> Metric:
    """``metric`` under which a pair with a low-information image (flat, nearly flat) passes
    only when :meth:`PixelCheck.close` finds their pixels close: such images all hash alike."""
    worst = -np.inf if metric.higher_is_closer else np.inf

    def score(i: int, rows: np.ndarray) -> np.ndarray:
        values = metric.score(i, rows)
        passing = np.flatnonzero(metric.passes(values) & (rows != i))
        values[passing[~check.close_many(i, rows[passing])]] = worst
        return values

    return Metric(score, metric.threshold, metric.higher_is_closer)


def cosine_metric(emb: np.ndarray, threshold: float) -> Metric:
    return Metric(lambda i, rows: emb[rows] @ emb[i], threshold, True)


def hamming_metric(
    hashes: np.ndarray,
    mirrors: np.ndarray | None,
    threshold: float,
    centres: np.ndarray | None = None,
) -> Metric:
    """Differing bits between 64-bit hashes; with ``mirrors`` the least over the pair compared
    as is and with either side mirrored; with ``centres`` (the pHash of each image's centre,
    :func:`centre_hashes`; 0 where unknown) also the least with either side's centre hash
    compared to the other's full hash (a cropped copy matches its original's centre)."""
    known = centres != 0 if centres is not None else None

    def score(i: int, rows: np.ndarray) -> np.ndarray:
        dist = np.bitwise_count(hashes[rows] ^ hashes[i])
        if mirrors is not None:
            dist = np.minimum(dist, np.bitwise_count(hashes[rows] ^ mirrors[i]))
            dist = np.minimum(dist, np.bitwise_count(mirrors[rows] ^ hashes[i]))
        if centres is not None and known is not None:
            fulls = [hashes] if mirrors is None else [hashes, mirrors]  # a flip of a crop
            for full in fulls:
                if known[i]:
                    dist = np.minimum(dist, np.bitwise_count(full[rows] ^ centres[i]))
                crossed = np.bitwise_count(centres[rows] ^ full[i])
                dist = np.minimum(dist, np.where(known[rows], crossed, 64))
        return dist.astype(np.float32)

    return Metric(score, threshold, False)


# ----------------------------------------------------------------------------------- hashes
def hex_to_uint64(values: Sequence[Any]) -> np.ndarray:
    """64-bit pHash hex strings as uint64 (a missing hash becomes 0; callers mask those out)."""
    return np.array([int(str(v), 16) if _present(v) else 0 for v in values], dtype=np.uint64)


def _present(value: Any) -> bool:
    import pandas as pd

    return not pd.isna(value) and str(value) != ""


def perceptual_hashes(
    store: Store, rows: np.ndarray, mirror: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The pHash of ``rows`` and, with ``mirror``, that of their mirror image (from the store,
    or computed from the thumbnail for items ingested before it was stored)."""
    items = store.items
    hashes = hex_to_uint64(items["phash"].to_numpy()[rows])
    if not mirror:
        return hashes, None
    column = items["phash_mirror"] if "phash_mirror" in items else None
    values = column.to_numpy()[rows] if column is not None else [None] * len(rows)
    mirrors = hex_to_uint64(values)
    for n, value in enumerate(values):
        if not _present(value):
            mirrors[n] = _thumbnail_mirror_hash(store, int(rows[n]), hashes[n])
    return hashes, mirrors


def centre_hashes(store: Store, rows: np.ndarray) -> np.ndarray | None:
    """The pHash of the centre 90 % of ``rows`` (``phash_centre``, 0 where unknown), or None
    when no item has one (a store made before it was stored)."""
    if "phash_centre" not in store.items:
        return None
    values = store.items["phash_centre"].to_numpy()[rows]
    centres = hex_to_uint64(values)
    return centres if centres.any() else None


def _thumbnail_mirror_hash(store: Store, row: int, fallback: np.uint64) -> np.uint64:
    from PIL import Image, ImageOps

    from cdir.ingest.reader import perceptual_hash

    path = store.thumb_path(str(store.items.at[row, "sha256"]))
    try:
        with Image.open(path) as thumb:
            return np.uint64(int(perceptual_hash(ImageOps.mirror(thumb.convert("RGB"))), 16))
    except OSError:
        return fallback  # no thumbnail: compare this item unmirrored only


# --------------------------------------------------------------------------------- grouping
# ------------------------------------------------------------------------------------ tiers
def _ok_rows(store: Store, column: str) -> np.ndarray:
    items = store.items
    present = items[column].notna().to_numpy() if column in items else np.zeros(len(items), bool)
    return np.flatnonzero(store.ok_mask() & present)


def exact_groups(store: Store) -> list[DupGroup]:
    """Items whose decoded pixels hash the same; the lowest id represents the group."""
    rows = _ok_rows(store, "pixel_sha256")
    ids = store.items["id"].to_numpy()
    by_hash: dict[str, list[int]] = {}
    for row, value in zip(rows, store.items["pixel_sha256"].to_numpy()[rows], strict=True):
        by_hash.setdefault(str(value), []).append(int(ids[row]))
    return [
        DupGroup("exact", sorted(m), min(m), dict.fromkeys(sorted(m), 1.0))
        for m in by_hash.values()
        if len(m) > 1
    ]


def perceptual_groups(store: Store, config: DedupConfig) -> list[DupGroup]:
    rows = _ok_rows(store, "phash")
    if len(rows) < 2:
        return []
    hashes, mirrors = perceptual_hashes(store, rows, config.mirror)
    centres = centre_hashes(store, rows) if config.centre else None
    metric = hamming_metric(hashes, mirrors, config.perceptual_max_distance, centres)
    if config.low_info is not None:
        metric = apart_unless_close(metric, PixelCheck(store, rows, config.mirror, config.low_info))
    metric = apart_from_grids(metric, grid_positions(store, rows))
    values, nbr = hamming_knn(hashes, mirrors, config.k)
    if centres is not None:  # also the neighbours of each centre hash among the full hashes
        cv, cn = hamming_knn(hashes, np.where(centres != 0, centres, hashes), config.k)
        values, nbr = best_others(
            np.hstack([values, cv]), np.hstack([nbr, cn]), 2 * config.k, closest_low=True
        )
    return _to_groups("perceptual", store, rows, graph_groups(values, nbr, metric))


def semantic_groups(store: Store, config: DedupConfig) -> list[DupGroup]:
    rows = semantic_rows(store)
    if len(rows) < 2:
        return []
    emb = np.ascontiguousarray(store.image_emb[rows], dtype=np.float32)
    metric = apart_from_grids(
        cosine_metric(emb, config.semantic_min_similarity), grid_positions(store, rows)
    )
    values, nbr = cosine_knn(emb, config.k, config.index)
    return _to_groups("semantic", store, rows, graph_groups(values, nbr, metric))


def semantic_rows(store: Store) -> np.ndarray:
    """Readable items that have an image embedding."""
    if store.image_emb is None:
        return np.zeros(0, dtype=np.int64)
    has_vector = np.abs(store.image_emb).sum(axis=1) > 0
    return np.flatnonzero(store.ok_mask() & has_vector)


def _to_groups(
    tier: str, store: Store, rows: np.ndarray, found: list[tuple[int, list[int], list[float]]]
) -> list[DupGroup]:
    """Positions within ``rows`` to item ids."""
    ids = store.items["id"].to_numpy()[rows]
    groups = []
    for seed, members, scores in found:
        member_ids = [int(ids[m]) for m in members]
        groups.append(
            DupGroup(tier, member_ids, int(ids[seed]), dict(zip(member_ids, scores, strict=True)))
        )
    return groups


TIER_FINDERS: dict[str, Callable[[Store, DedupConfig], list[DupGroup]]] = {
    "exact": lambda store, config: exact_groups(store),
    "perceptual": perceptual_groups,
    "semantic": semantic_groups,
}


def find_groups(
    store: Store,
    config: DedupConfig | None = None,
    split: Callable[[list[DupGroup]], list[DupGroup]] | None = None,
    tier_groups: dict[str, list[DupGroup]] | None = None,
) -> list[DupGroup]:
    """Near-duplicate groups of the chosen tiers, largest first (then by tier, strictest first).

    A group whose members all belong to one group of a stricter tier is left out (it would show
    the same images again). ``split``, if given, rewrites each tier's groups before that check
    (e.g. :func:`cdir.duplicates.decisions.split_hook`: items the user marked "not a
    duplicate"). ``tier_groups``: each tier's groups found before (filled in as found)."""
    config = config or DedupConfig()
    tier_groups = {} if tier_groups is None else tier_groups
    found: list[DupGroup] = []
    owners: dict[int, set[int]] = {}  # item id -> numbers of the groups kept so far holding it
    for tier in sorted(config.tiers, key=TIERS.index):
        if tier not in tier_groups:
            tier_groups[tier] = TIER_FINDERS[tier](store, config)
        groups = list(tier_groups[tier])
        if split is not None:
            groups = split(groups)
        for group in groups:
            if not _repeats(group, owners):
                for member in group.members:
                    owners.setdefault(member, set()).add(len(found))
                found.append(group)
        log.info("%s tier: %d groups", tier, len(groups))
    return sorted(found, key=lambda g: (-len(g), TIERS.index(g.tier), g.representative))


def _repeats(group: DupGroup, owners: dict[int, set[int]]) -> bool:
    """Whether one earlier group holds every member of ``group``."""
    common = set(owners.get(group.members[0], ()))
    for member in group.members[1:]:
        common &= owners.get(member, set())
    return bool(common)


# ----------------------------------------------------------------------------------- config
def dedup_config(
    tiers: Sequence[str], perceptual: float | None = None, semantic: float | None = None
) -> DedupConfig:
    """The one way to build a :class:`DedupConfig` from what a user chose: ``tiers``, and the
    perceptual (bits) and semantic (cosine) thresholds, None for the default. ValueError says
    what to fix."""
    tiers = tuple(dict.fromkeys(tiers))
    config = DedupConfig(tiers=tiers, semantic_auto=semantic is None and "semantic" in tiers)
    if perceptual is not None:
        if float(perceptual) != int(perceptual):
            raise ValueError(f"the perceptual threshold is a number of bits, not {perceptual}")
        config = replace(config, perceptual_max_distance=int(perceptual))
    if semantic is not None:
        config = replace(config, semantic_min_similarity=float(semantic), semantic_auto=False)
    return config


def config_with_threshold(tiers: Sequence[str], threshold: float | None) -> DedupConfig:
    """A config for ``tiers`` whose one thresholded tier (perceptual or semantic) uses
    ``threshold`` (the CLI's ``--threshold``); ValueError says what to fix."""
    if threshold is None:
        return dedup_config(tiers)
    tuned = [t for t in tiers if t != "exact"]
    if len(tuned) != 1:
        raise ValueError(
            "--threshold applies to one tier: add --tier perceptual (differing "
            "bits, e.g. 8) or --tier semantic (cosine, e.g. 0.95)"
        )
    if tuned[0] == "perceptual":
        return dedup_config(tiers, perceptual=threshold)
    return dedup_config(tiers, semantic=threshold)
