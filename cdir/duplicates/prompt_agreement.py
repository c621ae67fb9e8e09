"""Prompt agreement: how well each generated image still matches the prompt embedded in it.

For every readable item with a prompt (PNG text chunks, EXIF/XMP description or a sidecar, read
at ingest):

* ``prompt_image_sim``   = CLIP text(prompt) · v(image): does the picture show the prompt?
* ``prompt_caption_sim`` = CLIP text(prompt) · text(caption): does the captioner describe the
  prompt? (NaN while the item has no caption yet)

Sorted ascending by ``prompt_image_sim``, the images that drifted furthest from their prompt come
first. With the ``tiny`` preset the numbers are random: the models are untrained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from cdir.models.loaded import Models
    from cdir.store.cache import Cache
    from cdir.store.collection import Store

COLUMNS = ("id", "file", "prompt", "caption", "prompt_image_sim", "prompt_caption_sim")


def prompted_rows(store: Store) -> np.ndarray:
    """Readable items that have a prompt and an image embedding."""
    items = store.items
    has_prompt = items["prompt"].notna().to_numpy() & (items["prompt"].fillna("") != "").to_numpy()
    has_vector = (
        np.abs(store.image_emb).sum(axis=1) > 0
        if store.image_emb is not None
        else np.zeros(len(items), dtype=bool)
    )
    return np.flatnonzero(store.ok_mask() & has_prompt & has_vector)


def prompt_agreement(store: Store, models: Models, cache: Cache) -> pd.DataFrame:
    """One row per prompted item: id, file, prompt, caption and the two similarities, ascending
    by ``prompt_image_sim`` (the images that drifted most from their prompt first)."""
    import pandas as pd

    from cdir.models.text_embeddings import embed_texts

    rows = prompted_rows(store)
    items = store.items.iloc[rows]
    from cdir.models.prompt_words import prompt_words

    prompts = [str(p) for p in items["prompt"]]
    words = [prompt_words(p) or p for p in prompts]  # the text encoder reads words, not syntax
    text = embed_texts(words, models, cache) if len(rows) else np.zeros((0, 1), np.float32)
    table = pd.DataFrame(
        {
            "id": items["id"].astype(int).to_numpy(),
            "file": items["rel_path"].astype(str).to_numpy(),
            "prompt": prompts,
            "caption": items["caption"].to_numpy(dtype=object),
            "prompt_image_sim": _rowwise(text, store.image_emb, rows),
            "prompt_caption_sim": _caption_sims(store, text, rows),
        }
    )
    return table.sort_values(["prompt_image_sim", "id"], ignore_index=True)


def _rowwise(text: np.ndarray, matrix: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Dot product of each text vector with the matching row of ``matrix``."""
    if matrix is None or not len(rows):
        return np.full(len(rows), np.nan, dtype=np.float32)
    return np.einsum("ij,ij->i", text, matrix[rows]).astype(np.float32)


def _caption_sims(store: Store, text: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """text(prompt) · text(caption), NaN for items without a caption embedding."""
    sims = _rowwise(text, store.caption_emb, rows)
    return np.where(store.caption_mask()[rows], sims, np.nan).astype(np.float32)
