"""Near-duplicates: exact (pixel hash), perceptual (pHash, Hamming distance, mirrored too) and
semantic (CLIP cosine) tiers grouped on kNN graphs with complete linkage
(:mod:`~cdir.duplicates.finder`); thresholds chosen by looking at a nearest-neighbour histogram
(:mod:`~cdir.duplicates.calibration`). One path serves every surface:
:func:`~cdir.duplicates.groups.find_duplicates` forms the groups with the saved decisions
(:mod:`~cdir.duplicates.decisions`: keep / remove / not a duplicate / alternate, as relations)
and the keep of each (:mod:`~cdir.duplicates.keep`); :mod:`~cdir.duplicates.rows` gives the
decision rows and the report, :mod:`~cdir.duplicates.export` the CSV, JSON and removal list;
whether near-duplicate generated images share their prompt:
:mod:`~cdir.duplicates.prompt_agreement`.
"""

from cdir.duplicates.finder import DedupConfig, DupGroup, find_groups

__all__ = ["DedupConfig", "DupGroup", "find_groups"]
