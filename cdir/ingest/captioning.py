"""Captions of a collection's images: made by the preset's captioner (cache first), merged into
a store another writer changed meanwhile, dropped when other weights made them; and the zero-shot
domain of items that carry none. :func:`cdir.ingest.pipeline.ingest` runs them after the images
are embedded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cdir.ingest.reader import read_batches, read_one
from cdir.models.heavy import heavy_work
from cdir.models.loaded import Models
from cdir.models.text_embeddings import embed_captions, embed_texts
from cdir.store.cache import Cache
from cdir.store.collection import Store
from cdir.store.locking import collection_lock

if TYPE_CHECKING:  # the pipeline imports this module
    from cdir.ingest.pipeline import IngestConfig, Progress

log = logging.getLogger(__name__)

# Zero-shot domain prediction for collections whose files carry no domain label.
DOMAIN_PROMPTS: dict[str, str] = {
    "photo": "a photo of an object",
    "sketch": "a pencil sketch of an object",
    "painting": "a painting of an object",
    "clipart": "a clipart illustration of an object",
    "render3d": "a 3d render of an object",
    "generated": "ai generated digital art",
}


def forget_other_captions(store: Store, caption_key: str) -> int:
    """When the collection's captions were made by other weights or settings than
    ``caption_key`` names (the same preset name with retrained or swapped weights; a store from
    before keys carried the weights' fingerprint), drop its model-made captions so that this
    ingest makes them again; captions from a manifest or dataset stay. Image vectors need no
    such step: every ingest reads them from the cache under the embedder's key. Returns how
    many captions were dropped."""
    if store.meta.get("caption_key") == caption_key:
        return 0
    items = store.items
    made = (items["caption_source"] == "model").to_numpy(dtype=bool)
    if made.any():
        items.loc[made, "caption"] = None
        items.loc[made, "caption_source"] = None
        log.info(
            "%s: %d captions were made by other weights (%s); captioning again",
            store.root,
            int(made.sum()),
            store.meta.get("caption_key"),
        )
    store.meta["caption_key"] = caption_key
    return int(made.sum())


# ------------------------------------------------------------------------------------- records


def tile_of(items: pd.DataFrame, row: int) -> int:
    """The tile number of a tile item (decoded by cropping its grid), else -1."""
    return int(items.at[row, "tile"]) if "tile" in items else -1


def caption_rows(
    store: Store,
    models: Models,
    cache: Cache,
    rows: Sequence[int],
    config: IngestConfig,
    progress: Progress,
    on_checkpoint: Callable[[], None],
) -> int:
    """Caption ``rows`` (cache first); returns how many captions were computed now."""
    items, key = store.items, models.caption_key
    known = cache.get_texts("caption", key, [items.at[r, "sha256"] for r in rows])
    for r in rows:
        if items.at[r, "sha256"] in known:
            items.at[r, "caption"] = known[items.at[r, "sha256"]]
            items.at[r, "caption_source"] = "model"
    missing = [r for r in rows if items.at[r, "sha256"] not in known]
    jobs = [
        partial(
            read_one,
            r,
            store.item_path(r),
            None,
            None,
            config.decode_limits,
            True,
            tile=tile_of(items, r),
        )
        for r in missing
    ]
    done, last = len(rows) - len(missing), time.monotonic()
    progress(done, len(rows), "captioning")
    for batch in read_batches(jobs, config.caption_batch_size, config.workers):
        good = [r for r in batch if r.image is not None]
        with heavy_work():  # takes turns with builds, maps and evaluations of other visitors
            captions = models.captioner.caption([r.image for r in good])
        cache.put_texts(
            "caption",
            key,
            {items.at[r.row, "sha256"]: c for r, c in zip(good, captions, strict=True)},
        )
        for r, c in zip(good, captions, strict=True):
            items.at[r.row, "caption"], items.at[r.row, "caption_source"] = c, "model"
        done += len(batch)
        progress(done, len(rows), "captioning")
        if time.monotonic() - last > config.checkpoint_seconds:
            on_checkpoint()
            items = store.items  # Store.write replaces the table: write into the new one
            last = time.monotonic()
    return len(missing)


def predict_domains(store: Store, models: Models, cache: Cache) -> int:
    """Zero-shot domain for readable items without one, marked ``label_source=predicted``."""
    items = store.items
    rows = np.flatnonzero(items["domain"].isna().to_numpy() & store.ok_mask())
    if not len(rows) or store.image_emb is None:
        return 0
    names = list(DOMAIN_PROMPTS)
    text = embed_texts([DOMAIN_PROMPTS[n] for n in names], models, cache)
    best = (store.image_emb[rows] @ text.T).argmax(axis=1)
    items.loc[rows, "domain"] = [names[i] for i in best]
    items.loc[rows, "label_source"] = "predicted"
    return len(rows)


def caption_all(
    store: Store, models: Models, cache: Cache, config: IngestConfig, progress: Progress
) -> int:
    """Caption every readable item that has no caption yet, checkpointing the store as it goes.
    Each checkpoint merges: under the collection's lock it re-reads the store from disk, adds
    the captions made here to the items that still lack one, and writes that, so a concurrent
    ingest (another process, or this one) loses neither its new items nor these captions."""
    rows = np.flatnonzero(store.items["caption"].isna().to_numpy() & store.ok_mask())

    def checkpoint() -> None:
        # create=False: a collection deleted meanwhile stays deleted (FileNotFoundError ends
        # the job), never written back without its owner and its files
        with collection_lock(store.root, create=False):
            if not Store.exists(store.root):
                raise FileNotFoundError(f"the collection {store.root.name!r} no longer exists")
            on_disk = Store.read_meta(store.root).get("revision")
            if on_disk is not None and on_disk != store.meta.get("revision"):
                fresh = Store.load(store.root)  # someone else wrote meanwhile: merge into theirs
                merge_captions(fresh, store.items)
                store.items, store.image_emb, store.meta = fresh.items, fresh.image_emb, fresh.meta
            embed_captions(store, models, cache, lambda done, total, stage: None)
            store.write()

    computed = caption_rows(store, models, cache, list(rows), config, progress, checkpoint)
    checkpoint()
    return computed


def merge_captions(target: Store, source: pd.DataFrame) -> int:
    """Copy captions of ``source`` rows into ``target.items`` where the same item (same id and
    sha256) has none yet; returns how many were copied. Captions already in ``target`` win."""
    merged = target.items.merge(
        source[["id", "sha256", "caption", "caption_source"]],
        on=["id", "sha256"],
        how="left",
        suffixes=("", "_new"),
    )
    take = (merged["caption"].isna() & merged["caption_new"].notna()).to_numpy()
    if take.any():
        target.items.loc[take, "caption"] = merged.loc[take, "caption_new"].to_numpy()
        target.items.loc[take, "caption_source"] = merged.loc[take, "caption_source_new"].to_numpy()
    return int(take.sum())
