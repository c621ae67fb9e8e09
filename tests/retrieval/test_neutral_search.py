"""Style-word neutralisation through the real Searcher on a hand-built store whose caption
texts have known embeddings (put in the store's cache, as an ingest leaves them): switching the
neutraliser on must move the top hit to the item the *neutralised* caption points at, on the
query side (caption mode: t(neutral query caption) · v(g)) and on the gallery side
(caption-caption mode: t(neutral query caption) · t(neutral gallery caption))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.models.loaded import Models
from cdir.models.text_embeddings import embed_key
from cdir.retrieval.search import Searcher, SearchOptions
from cdir.store.cache import Cache, text_key
from cdir.store.collection import Store

D = 8
E = np.eye(D, dtype=np.float32)

# row: (caption, image vector v, raw caption vector t as stored in the collection)
ROWS = [
    ("a photo of a dog", E[0], E[1]),  # 0: the query
    ("a sketch of a house", E[1], E[3]),  # 1: v = t(raw query caption)
    ("a sketch of a dog", E[2], E[6]),  # 2: v = t("a dog"); its neutral caption is "a dog" too
    ("a drawing of a cat", E[7], E[2]),  # 3: raw t = t("a dog"), but its neutral caption is "a cat"
]
# the embeddings the text tower "gives" these texts (looked up in the cache by the Searcher)
TEXTS = {
    "a photo of a dog": E[1],
    "a dog": E[2],
    "a house": E[4],
    "a cat": E[5],
    "a drawing of a cat": E[5],
}


@pytest.fixture
def searcher(tmp_path: Path, tiny: Models) -> Searcher:
    root = tmp_path / "neutral"
    store = Store.create(root, "tiny", tiny.caption_key, D)
    n = len(ROWS)
    store.items = pd.DataFrame(
        {
            "id": range(n),
            "path": [str(tmp_path / f"img{i}.png") for i in range(n)],
            "rel_path": [f"img{i}.png" for i in range(n)],
            "sha256": [f"sha{i}" for i in range(n)],
            "pixel_sha256": [f"px{i}" for i in range(n)],
            "width": 64,
            "height": 64,
            "domain": ["photo", "sketch", "sketch", "sketch"],
            "class": "thing",
            "caption": [row[0] for row in ROWS],
            "status": "ok",
        }
    )
    store.image_emb = np.stack([row[1] for row in ROWS])
    store.caption_emb = np.stack([row[2] for row in ROWS])
    store.write()
    cache = Cache.for_store(root, shared=False)
    cache.put_vectors(
        "text_emb", embed_key(tiny), [text_key(t) for t in TEXTS], np.stack(list(TEXTS.values()))
    )
    cache.close()
    return Searcher(Store.load(root), tiny)


def top(searcher: Searcher, options: SearchOptions) -> tuple[int, float, str | None]:
    result = searcher.by_id(0, options)
    return result.hits[0].id, result.hits[0].score, result.query.caption_used


def test_without_neutralisation_the_raw_captions_rank(searcher: Searcher) -> None:
    assert top(searcher, SearchOptions(mode="caption", k=1))[:2] == (1, pytest.approx(1.0))
    raw = searcher.by_id(0, SearchOptions(mode="caption-caption", k=3))
    assert [hit.score for hit in raw.hits] == pytest.approx([0.0, 0.0, 0.0])  # t(q) = e1: none


def test_the_neutralised_query_caption_is_the_one_embedded(searcher: Searcher) -> None:
    best, score, used = top(searcher, SearchOptions(mode="caption", k=1, neutralise=True))
    assert used == "a dog"
    assert (best, score) == (2, pytest.approx(1.0))  # v(2) = t("a dog"), not t(raw caption)


def test_the_gallery_side_uses_the_neutralised_captions(searcher: Searcher) -> None:
    result = searcher.by_id(0, SearchOptions(mode="caption-caption", k=3, neutralise=True))
    assert [hit.id for hit in result.hits] == [2, 1, 3]  # "a dog" == "a dog"; 3 is "a cat" now
    assert [hit.score for hit in result.hits] == pytest.approx([1.0, 0.0, 0.0])


def test_a_custom_word_list_neutralises_with_those_words_only(searcher: Searcher) -> None:
    options = SearchOptions(mode="caption", k=1, neutralise=True, style_words=("a sketch of",))
    best, _, used = top(searcher, options)
    assert used == "a photo of a dog" and best == 1  # "photo" is not in this list


def test_cm_embeds_no_neutralised_gallery_captions(searcher: Searcher) -> None:
    # CM reads the gallery's images only: a first CM query of a fresh collection must not embed
    # every caption with its style words removed (minutes for a large collection)
    def neutral_files() -> list[str]:
        return sorted(p.name for p in searcher.store.derived_dir().glob("caption_neutral_*"))

    searcher.by_id(0, SearchOptions(mode="caption", k=1, neutralise=True))
    assert neutral_files() == []
    searcher.by_id(0, SearchOptions(mode="caption-caption", k=1, neutralise=True))
    assert len(neutral_files()) == 1
