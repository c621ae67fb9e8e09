"""Near-duplicates: exact (pixel hash), perceptual (pHash, Hamming distance, mirrored too) and
semantic (CLIP cosine) tiers grouped on kNN graphs with complete linkage (:func:`find_groups`,
:mod:`~cdir.duplicates.finder`); thresholds chosen by looking at a nearest-neighbour histogram
(:mod:`~cdir.duplicates.calibration`); keep suggestions and exported decisions
(:mod:`~cdir.duplicates.review`); keep / remove / not-a-duplicate decisions saved in the store and
honoured on re-runs (:mod:`~cdir.duplicates.decisions`, exported by
:mod:`~cdir.duplicates.decision_export`); whether near-duplicate generated images share their prompt
(:mod:`~cdir.duplicates.prompt_agreement`).
"""

from cdir.duplicates.finder import DedupConfig, DupGroup, find_groups, groups_report

__all__ = ["DedupConfig", "DupGroup", "find_groups", "groups_report"]
