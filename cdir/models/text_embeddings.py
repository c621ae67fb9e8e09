"""CLIP text embeddings of captions and prompts, cached by text hash: the gallery's caption
matrix ``t(g)``, the same captions with style words removed, and any list of texts (a query's
caption, prompts). Shared by ingest, retrieval, duplicates and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cdir.models.loaded import Models
from cdir.models.style_words import Neutraliser
from cdir.store.cache import Cache, text_key
from cdir.store.collection import Store, atomic_write_npy, load_matrix

Progress = Callable[[int, int, str], None]  # (done, total, stage)


def embed_key(models: Models) -> str:
    """The cache key of a preset's embedder: its vectors are only comparable within one key. It
    names the weights' fingerprint (:attr:`Models.embed_key`, :mod:`cdir.models.fingerprint`):
    new weights under the same preset name never reuse old vectors."""
    key = getattr(models, "embed_key", None)
    if isinstance(key, str):
        return key
    spec = models.preset.embedder
    return f"{models.preset.name}|{spec.arch}|{spec.pretrained}"


def embed_texts(texts: Sequence[str], models: Models, cache: Cache) -> np.ndarray:
    """CLIP text embeddings of ``texts``, cached by text hash."""
    key = embed_key(models)
    keys = [text_key(t) for t in texts]
    found = cache.get_vectors("text_emb", key, keys)
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
    if missing:
        emb = models.embedder.encode_texts([t for _, t in missing])
        cache.put_vectors("text_emb", key, [k for k, _ in missing], emb)
        found.update({k: emb[i] for i, (k, _) in enumerate(missing)})
    dim = models.embedder.dim
    return np.stack([found[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)


def embed_captions(store: Store, models: Models, cache: Cache, progress: Progress) -> None:
    """``store.caption_emb`` from the captions in the table (zeros where there is none)."""
    captions = store.items["caption"]
    rows = np.flatnonzero(captions.notna().to_numpy() & store.ok_mask())
    progress(0, len(rows), "embedding captions")
    matrix = np.zeros((len(store.items), models.embedder.dim), dtype=np.float32)
    if len(rows):
        matrix[rows] = embed_texts([str(captions.iat[r]) for r in rows], models, cache)
    store.caption_emb = matrix
    progress(len(rows), len(rows), "embedding captions")


def neutral_caption_matrix(
    store: Store, models: Models, cache: Cache, neutraliser: Neutraliser
) -> np.ndarray | None:
    """Embeddings of the captions with style words removed (zeros where there is no caption);
    kept in ``derived/`` under the word list's key."""
    if store.caption_emb is None:
        return None
    path = store.derived_dir() / f"caption_neutral_{neutraliser.key()}.npy"
    if path.is_file():
        matrix = load_matrix(path)
        if matrix.shape == store.caption_emb.shape:
            return matrix
    matrix = np.zeros_like(store.caption_emb)
    rows = np.flatnonzero(store.caption_mask())
    if len(rows):
        texts = [neutraliser(str(store.items.at[r, "caption"])) for r in rows]
        matrix[rows] = embed_texts(texts, models, cache)
    atomic_write_npy(path, matrix)
    return matrix
