"""The store: one collection on disk and the structures that make it fast to search.

:class:`Store` (:mod:`~cdir.store.collection`) holds the item table (parquet), the image and
caption embedding matrices (``.npy``) and ``meta.json``, written atomically; :class:`Cache`
(:mod:`~cdir.store.cache`) keeps embeddings, captions and image facts by content hash (sqlite);
:func:`build_index` / :func:`load_index` (:mod:`~cdir.store.index`) give exact or faiss vector
indexes behind one interface (:mod:`~cdir.store.vector_index`, :mod:`~cdir.store.faiss_indexes`);
:mod:`~cdir.store.knn` builds the k-nearest-neighbour graphs duplicates and maps use. Sits on the
ground floor: imports nothing else of cdir.
"""

from cdir.store.cache import Cache
from cdir.store.collection import Store, StoreError
from cdir.store.index import build_index, load_index
from cdir.store.vector_index import IndexConfig, VectorIndex

__all__ = [
    "Cache",
    "IndexConfig",
    "Store",
    "StoreError",
    "VectorIndex",
    "build_index",
    "load_index",
]
