"""Export: a collection out to other tools. 🤗 datasets (``save_to_disk`` folders) and Parquet
with images, labels, captions, prompts, embeddings and near-duplicate decisions
(:func:`export_store`, :mod:`~cdir.export.datasets_out`, the table in :mod:`~cdir.export.table`);
downloads of search results, maps and evaluation reports written into the store's ``exports/``
folder (:mod:`~cdir.export.downloads`). Imports duplicates, ingest (decoding) and store.
"""

from cdir.export.datasets_out import ExportError, ExportReport, export_store

__all__ = ["ExportError", "ExportReport", "export_store"]
