"""Maps: 2-D projections of a collection's embeddings (UMAP, t-SNE, PCA; cached in the store:
:mod:`~cdir.maps.projection`) drawn as plotly figures coloured by domain or class
(:mod:`~cdir.maps.plots`); :func:`collection_map` (:mod:`~cdir.maps.collection_map`) ties the two
for one store; clusters named from captions (:mod:`~cdir.maps.clusters`) and box/lasso selections
mapped to item ids (:mod:`~cdir.maps.selection`).
"""

from cdir.maps.collection_map import collection_map
from cdir.maps.projection import ProjectionConfig, project

__all__ = ["ProjectionConfig", "collection_map", "project"]
