"""Searching: every mode end to end on an ingested collection (``tiny``: the scores mean nothing,
the contract does), and ranking correctness through the real Searcher on a hand-built store whose
right answers are known."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.ingest.pipeline import ingest
from cdir.models.loaded import Models
from cdir.models.text_embeddings import embed_key
from cdir.retrieval.scoring import MODES
from cdir.retrieval.search import QueryError, Searcher, SearchOptions
from cdir.store.cache import Cache, text_key
from cdir.store.collection import Store
from tests.drawn import draw_collection, draw_image

HIT_KEYS = {"id", "path", "score", "domain", "class", "caption", "prompt"}


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, tiny: Models) -> Path:
    """The drawn collection (2 per class) plus a byte-identical copy of one image."""
    src = tmp_path_factory.mktemp("drawn")
    draw_collection(src, per_class=2)
    shutil.copy(src / "photo" / "circle" / "circle_0.png", src / "photo" / "circle" / "zz_copy.png")
    store = tmp_path_factory.mktemp("stores") / "drawn"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("module-cache")))
        ingest([src], store, tiny)
    return store


@pytest.fixture
def searcher(collection: Path, tiny: Models) -> Searcher:
    return Searcher(Store.load(collection), tiny)


@pytest.fixture
def caption_calls(tiny: Models, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each call of a captioner received: the collection's (items) and the
    queries' (an int8 copy on the CPU)."""
    calls: list[int] = []
    for captioner in {id(c): c for c in (tiny.captioner, tiny.query_captioner)}.values():

        def spy(images, real=captioner.caption):  # noqa: ANN001, ANN202
            calls.append(len(images))
            return real(images)

        monkeypatch.setattr(captioner, "caption", spy)
    return calls


def item_id(searcher: Searcher, rel_path: str) -> int:
    items = searcher.store.items
    return int(items.loc[items["rel_path"] == rel_path, "id"].iloc[0])


# -------------------------------------------------------------------------- end to end (tiny)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_returns_k_hits(searcher: Searcher, mode: str) -> None:
    options = SearchOptions(mode=mode, k=5)
    if mode == "text":
        result = searcher.by_text("a red circle", options)
    else:
        result = searcher.by_id(0, options)
    doc = result.to_dict()
    assert len(doc["hits"]) == 5
    assert [hit["rank"] for hit in doc["hits"]] == [1, 2, 3, 4, 5]
    for hit in doc["hits"]:
        assert HIT_KEYS <= set(hit)
        assert hit["caption"]  # every item was captioned at ingest
    scores = [hit["score"] for hit in doc["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert doc["query"]["kind"] == ("text" if mode == "text" else "id")


def test_a_domain_filter_returns_only_those_domains(searcher: Searcher) -> None:
    one = searcher.by_id(0, SearchOptions(k=50, domains=("sketch",)))
    assert len(one.hits) == 8 and {hit.domain for hit in one.hits} == {"sketch"}
    two = searcher.by_id(0, SearchOptions(mode="image", k=50, domains=("sketch", "photo")))
    assert {hit.domain for hit in two.hits} == {"sketch", "photo"}


def test_the_query_and_its_exact_duplicates_are_excluded(searcher: Searcher) -> None:
    original = item_id(searcher, "photo/circle/circle_0.png")
    copy = item_id(searcher, "photo/circle/zz_copy.png")
    n_items = len(searcher.store.items)
    result = searcher.by_id(original, SearchOptions(mode="image", k=n_items))
    ids = [hit.id for hit in result.hits]
    assert original not in ids and copy not in ids
    assert len(ids) == n_items - 2
    by_file = searcher.by_image(
        searcher.store.image_path(searcher.store.items.iloc[copy]),
        SearchOptions(mode="image", k=n_items),
    )
    assert {original, copy}.isdisjoint(hit.id for hit in by_file.hits)
    kept = searcher.by_id(original, SearchOptions(mode="image", k=1, exclude_duplicates=False))
    assert [hit.id for hit in kept.hits] == [copy]  # identical pixels: the best image match


def test_an_outside_image_is_a_query_and_its_caption_is_cached(
    searcher: Searcher, tiny: Models, tmp_path: Path, caption_calls: list[int]
) -> None:
    query = tmp_path / "my drawing.png"
    draw_image("sketch", "triangle", 2, size=80).save(query)
    first = searcher.by_image(query, SearchOptions(mode="caption", k=4))
    assert caption_calls == [1]
    assert first.query.kind == "image" and first.query.caption
    assert len(first.hits) == 4
    again = Searcher(Store.load(searcher.store.root), tiny).by_image(query, SearchOptions(k=4))
    assert caption_calls == [1]
    assert again.query.caption == first.query.caption
    assert [hit.id for hit in again.hits] == [hit.id for hit in first.hits]


def test_neutralisation_changes_the_caption_used(searcher: Searcher) -> None:
    caption = searcher.by_id(3, SearchOptions()).query.caption
    word = caption.split()[1]
    options = SearchOptions(neutralise=True, style_words=(word,))
    result = searcher.by_id(3, options)
    assert result.query.caption == caption
    assert result.query.caption_used != caption
    assert word not in result.query.caption_used.split()
    assert len(result.hits) == options.k


def test_unknown_domain_is_a_query_error(searcher: Searcher) -> None:
    with pytest.raises(QueryError, match="unknown domain.*'painting'.*clipart"):
        searcher.by_id(0, SearchOptions(domains=("painting",)))


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_text_is_a_query_error(searcher: Searcher, text: str | None) -> None:
    with pytest.raises(QueryError, match="empty"):
        searcher.by_text(text)  # type: ignore[arg-type]


def test_a_bad_id_is_a_query_error(searcher: Searcher) -> None:
    for bad in (-1, len(searcher.store.items)):
        with pytest.raises(QueryError, match="no searchable item"):
            searcher.by_id(bad)


def test_an_unreadable_query_image_is_a_query_error(searcher: Searcher, tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("just some text that is not a picture\n" * 4)
    with pytest.raises(QueryError, match=r"cannot use photo\.png as a query: .+"):
        searcher.by_image(fake)
    with pytest.raises(QueryError, match="not found"):
        searcher.by_image(tmp_path / "missing.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(QueryError, match="empty"):
        searcher.by_image(tmp_path / "empty.jpg")


# ---------------------------------------------------------------- ranking with known answers
D = 8
E = np.eye(D, dtype=np.float32)
QUERY_CAPTION = "the query's caption"
TYPED = "typed words"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# row: (domain, image vector v, caption vector t, pixel hash)
HAND_BUILT = [
    ("photo", E[0], E[1], "px-query"),  # 0: the query: v(q) = e0, t(q) = e1
    ("sketch", E[1], E[2], "px-1"),  # 1: v(g) = t(q): caption-matching's answer
    ("sketch", E[0], E[3], "px-2"),  # 2: v(g) = v(q): the image baseline's answer
    ("sketch", E[4], E[1], "px-3"),  # 3: t(g) = t(q): caption-caption's answer; text's too
    ("clipart", _unit(E[1] + E[5]), E[6], "px-4"),  # 4: half way to t(q)
    ("photo", E[0], E[1], "px-query"),  # 5: an exact duplicate of the query
    ("clipart", E[7], E[5], "px-6"),  # 6: unrelated
]


@pytest.fixture
def known(tmp_path: Path, tiny: Models) -> Searcher:
    """A store written by hand; the query texts' embeddings are put in its cache, as an ingest
    would have left them, so the Searcher's own code fetches them."""
    root = tmp_path / "known"
    store = Store.create(root, "tiny", tiny.caption_key, D)
    n = len(HAND_BUILT)
    store.items = pd.DataFrame(
        {
            "id": range(n),
            "path": [str(tmp_path / f"img{i}.png") for i in range(n)],
            "rel_path": [f"img{i}.png" for i in range(n)],
            "sha256": [f"sha{i}" for i in range(n)],
            "pixel_sha256": [row[3] for row in HAND_BUILT],
            "width": 64,
            "height": 64,
            "domain": [row[0] for row in HAND_BUILT],
            "class": "thing",
            "caption": [QUERY_CAPTION if i == 0 else f"caption {i}" for i in range(n)],
            "status": "ok",
        }
    )
    store.image_emb = np.stack([row[1] for row in HAND_BUILT])
    store.caption_emb = np.stack([row[2] for row in HAND_BUILT])
    store.write()
    cache = Cache.for_store(root, shared=False)
    texts = {QUERY_CAPTION: E[1], TYPED: E[4]}
    cache.put_vectors(
        "text_emb", embed_key(tiny), [text_key(t) for t in texts], np.stack(list(texts.values()))
    )
    cache.close()
    return Searcher(Store.load(root), tiny)


def ranked(result) -> list[int]:  # noqa: ANN001
    return [hit.id for hit in result.hits]


def test_caption_mode_ranks_the_image_matching_the_query_caption_first(known: Searcher) -> None:
    result = known.by_id(0, SearchOptions(mode="caption", k=3))
    assert ranked(result)[:2] == [1, 4]
    assert [hit.score for hit in result.hits[:2]] == pytest.approx([1.0, 0.5**0.5], abs=1e-5)
    assert result.query.caption == QUERY_CAPTION


def test_image_mode_ranks_the_matching_image_first(known: Searcher) -> None:
    result = known.by_id(0, SearchOptions(mode="image", k=3))
    assert ranked(result)[0] == 2
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_caption_caption_mode_ranks_the_matching_caption_first(known: Searcher) -> None:
    result = known.by_id(0, SearchOptions(mode="caption-caption", k=3))
    assert ranked(result)[0] == 3
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_text_mode_matches_the_typed_text_with_images(known: Searcher) -> None:
    assert ranked(known.by_text(TYPED, SearchOptions(k=2)))[0] == 3


@pytest.mark.parametrize(
    ("weights", "best"), [("caption=1", 1), ("image=1", 2), ("caption-caption=1", 3)]
)
def test_fusion_with_one_weight_follows_that_mode(known: Searcher, weights: str, best: int) -> None:
    assert ranked(known.by_id(0, SearchOptions(mode="fusion", fusion=weights, k=2)))[0] == best


def test_target_domains_restrict_the_known_ranking(known: Searcher) -> None:
    assert ranked(known.by_id(0, SearchOptions(mode="caption", k=2, domains=("clipart",)))) == [
        4,
        6,
    ]


def test_the_query_and_its_duplicate_never_appear(known: Searcher) -> None:
    for mode in ("image", "caption-caption"):  # modes where both would score 1.0
        ids = ranked(known.by_id(0, SearchOptions(mode=mode, k=len(HAND_BUILT))))
        assert 0 not in ids and 5 not in ids and len(ids) == len(HAND_BUILT) - 2
    kept = known.by_id(0, SearchOptions(mode="image", k=2, exclude_duplicates=False))
    assert ranked(kept) == [2, 5]  # a tie at 1.0 goes to the lower row


def test_a_tag_filter_returns_only_tagged_items(known: Searcher) -> None:
    from cdir.store.tags import add_tags

    add_tags(known.store.root, [4, 6], ["reviewed"])
    add_tags(known.store.root, [3], ["other"])
    assert ranked(known.by_id(0, SearchOptions(mode="caption", k=5, tags=("reviewed",)))) == [4, 6]
    assert ranked(
        known.by_id(0, SearchOptions(mode="caption", k=5, tags=("reviewed", "other")))
    ) == [4, 3, 6]
    assert ranked(known.by_id(0, SearchOptions(mode="caption", k=5, tags=("nobody",)))) == []


def test_a_large_jpeg_keyed_by_its_bytes_is_excluded_when_it_is_the_query(
    tmp_path: Path, tiny: Models
) -> None:
    """A large JPEG decoded reduced at ingest, with no look-alike, keeps ``file:<sha256>`` as
    its exact key; the same file dropped as a query is still its own duplicate."""
    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)).save(src / "big.jpg")
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(src / "small.png")
    store = tmp_path / "store"
    ingest([src], store, tiny)
    searcher = Searcher(Store.load(store), tiny)
    big = item_id(searcher, "big.jpg")
    assert str(searcher.store.items.at[big, "pixel_sha256"]).startswith("file:")
    hits = searcher.by_image(src / "big.jpg", SearchOptions(mode="image", k=5)).hits
    assert big not in [hit.id for hit in hits]
    kept = searcher.by_image(
        src / "big.jpg", SearchOptions(mode="image", k=5, exclude_duplicates=False)
    ).hits
    assert big in [hit.id for hit in kept]
