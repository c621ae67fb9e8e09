"""Near-duplicates: exact (pixel hash), perceptual (pHash, Hamming distance, mirrored too) and
semantic (CLIP cosine) tiers grouped on kNN graphs with complete linkage (:func:`find_groups`,
:mod:`~cdir.duplicates.finder`); thresholds chosen by looking at a nearest-neighbour histogram
(:mod:`~cdir.duplicates.calibration`); keep suggestions and exported decisions
(:mod:`~cdir.duplicates.review`); whether near-duplicate generated images share their prompt
(:mod:`~cdir.duplicates.prompt_agreement`).
"""

from cdir.duplicates.finder import DedupConfig, DupGroup, find_groups, groups_report

__all__ = ["DedupConfig", "DupGroup", "find_groups", "groups_report"]
