"""rank(): one query against a gallery, through an index or the exact scan, with known answers."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from cdir.retrieval.ranking import (
    NO_CAPTIONS_HINT,
    GalleryVectors,
    RankRequest,
    rank,
    tie_break_key,
)
from cdir.retrieval.scoring import FusionWeights, ModeError, score_matrix
from cdir.store.faiss_indexes import FaissFlatIndex, FaissHNSWIndex
from cdir.store.index import build_index
from cdir.store.vector_index import ExactIndex, VectorIndex

D = 16
E = np.eye(D, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_gallery(index_kind: str | None = None, **kwargs) -> GalleryVectors:
    """Six items: image e_g, caption e_{8+g}."""
    image, caption = E[:6].copy(), E[8:14].copy()
    indexes: dict[str, VectorIndex] = {}
    if index_kind is not None:
        indexes = {"image": _index(index_kind, image), "caption": _index(index_kind, caption)}
    return GalleryVectors(image=image, caption=caption, indexes=indexes, **kwargs)


def image_gallery(image: np.ndarray, index_kind: str | None) -> GalleryVectors:
    indexes = {} if index_kind is None else {"image": _index(index_kind, image)}
    return GalleryVectors(image, indexes=indexes)


def _index(kind: str, vectors: np.ndarray) -> VectorIndex:
    index = {"exact": ExactIndex, "flat": FaissFlatIndex, "hnsw": FaissHNSWIndex}[kind](D)
    index.add(vectors)
    return index


# the query's image is e1; its caption (e2 + e11)/√2 matches g2's IMAGE and g3's CAPTION
QUERY = {"image": E[1], "caption": unit(E[2] + E[11]), "text": E[4]}
INDEX_KINDS = [None, "exact", "flat", "hnsw"]


def rows(result: list[tuple[int, float]]) -> list[int]:
    return [r for r, _ in result]


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_each_mode_ranks_its_own_match_first(index_kind) -> None:
    gallery = make_gallery(index_kind)
    first = {
        mode: rank(QUERY, gallery, RankRequest(mode, k=3))[0]
        for mode in ("image", "caption", "caption-caption", "text")
    }
    assert first["image"] == (1, pytest.approx(1.0))
    assert first["caption"] == (2, pytest.approx(2**-0.5))  # caption vs IMAGE: the paper's CM
    assert first["caption-caption"] == (3, pytest.approx(2**-0.5))
    assert first["text"] == (4, pytest.approx(1.0))


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_result_is_best_first_and_at_most_k(index_kind) -> None:
    rng = np.random.default_rng(0)
    image = np.stack([unit(v) for v in rng.standard_normal((40, D))])
    gallery = image_gallery(image, index_kind)
    query = {"image": image[7]}
    result = rank(query, gallery, RankRequest("image", k=5))
    expected = np.argsort(-(image @ image[7]), kind="stable")[:5]
    assert rows(result) == expected.tolist()
    scores = [s for _, s in result]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_exclude_and_allowed(index_kind) -> None:
    gallery = make_gallery(index_kind)
    query = {"image": unit(E[1] + 0.5 * E[2] + 0.25 * E[3])}
    assert rows(rank(query, gallery, RankRequest("image", k=3))) == [1, 2, 3]
    exclude = np.zeros(6, dtype=bool)
    exclude[1] = True  # the query itself
    # rows 0, 4 and 5 tie at the third place: the old row rule picks 0
    request = RankRequest("image", k=3, exclude=exclude, tie_break="row")
    assert rows(rank(query, gallery, request)) == [2, 3, 0]
    allowed = np.array([True, True, False, True, False, False])  # a target domain
    request = RankRequest("image", k=5, allowed=allowed, exclude=exclude)
    assert rows(rank(query, gallery, request)) == [3, 0]


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_items_without_captions_skipped_only_where_captions_are_read(index_kind) -> None:
    gallery = make_gallery(index_kind, has_caption=np.array([1, 1, 1, 0, 1, 1], dtype=bool))
    cc = rank(QUERY, gallery, RankRequest("caption-caption", k=6))
    assert 3 not in rows(cc) and len(cc) == 5
    assert sorted(rows(rank(QUERY, gallery, RankRequest("image", k=6)))) == list(range(6))
    assert sorted(rows(rank(QUERY, gallery, RankRequest("caption", k=6)))) == list(range(6))


def test_zero_rows_count_as_missing() -> None:
    image, caption = E[:6].copy(), E[8:14].copy()
    caption[[0, 5]] = 0.0  # captions not computed yet
    image[4] = 0.0  # an image that failed to embed
    gallery = GalleryVectors(image, caption)
    assert gallery.has_caption.tolist() == [False, True, True, True, True, False]
    assert rows(rank(QUERY, gallery, RankRequest("caption-caption", k=6))) == [3, 1, 2, 4]
    assert 4 not in rows(rank(QUERY, gallery, RankRequest("image", k=6)))


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_ties_go_to_the_lower_row_even_at_the_k_boundary(index_kind) -> None:
    image = np.tile(E[0], (12, 1))
    image[[0, 4, 8]] = E[1]  # twelve items, nine of them identical
    gallery = image_gallery(image, index_kind)
    query = {"image": unit(E[0] + 0.1 * E[1])}
    first = rank(query, gallery, RankRequest("image", k=4))
    assert rows(first) == [1, 2, 3, 5]
    assert rank(query, gallery, RankRequest("image", k=4)) == first


@pytest.mark.parametrize("mode", ["image", "caption", "caption-caption"])
def test_fusion_with_one_weight_equals_that_mode(mode) -> None:
    rng = np.random.default_rng(3)
    image = np.stack([unit(v) for v in rng.standard_normal((30, D))])
    caption = np.stack([unit(v) for v in rng.standard_normal((30, D))])
    gallery = GalleryVectors(image, caption)
    query = {"image": unit(rng.standard_normal(D)), "caption": unit(rng.standard_normal(D))}
    fused = rank(query, gallery, RankRequest("fusion", k=10, fusion=FusionWeights({mode: 1.0})))
    assert rows(fused) == rows(rank(query, gallery, RankRequest(mode, k=10)))


def test_fusion_standardises_over_the_candidates_only() -> None:
    rng = np.random.default_rng(4)
    image = np.stack([unit(v) for v in rng.standard_normal((30, D))])
    caption = np.stack([unit(v) for v in rng.standard_normal((30, D))])
    query = {"image": image[0], "caption": unit(rng.standard_normal(D))}
    allowed = rng.random(30) < 0.5
    allowed[0] = True
    exclude = np.zeros(30, dtype=bool)
    exclude[0] = True
    keep = allowed & ~exclude
    request = RankRequest("fusion", k=30, allowed=allowed, exclude=exclude)
    result = rank(query, GalleryVectors(image, caption), request)
    sub = score_matrix("fusion", query, {"image": image[keep], "caption": caption[keep]})[0]
    order = np.argsort(-sub, kind="stable")
    assert rows(result) == np.flatnonzero(keep)[order].tolist()
    assert np.allclose([s for _, s in result], sub[order], atol=1e-5)


def test_fusion_of_image_only_needs_no_captions() -> None:
    gallery = GalleryVectors(E[:6])
    request = RankRequest("fusion", k=2, fusion=FusionWeights.parse("image=1"))
    assert rows(rank({"image": E[1]}, gallery, request))[0] == 1


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("mode", ["caption-caption", "fusion"])
def test_no_gallery_captions_says_what_to_do(mode) -> None:
    gallery = GalleryVectors(E[:6])
    with pytest.raises(ModeError, match=r"no captions yet .*ingest with --captions all"):
        rank(QUERY, gallery, RankRequest(mode))
    all_missing = GalleryVectors(E[:6], np.zeros((6, D), dtype=np.float32))
    with pytest.raises(ModeError, match=re.escape(NO_CAPTIONS_HINT)):
        rank(QUERY, all_missing, RankRequest(mode))


def test_query_without_caption_says_what_to_do() -> None:
    gallery = make_gallery()
    with pytest.raises(ModeError, match="needs the query's caption vector: no captions yet"):
        rank({"image": E[1]}, gallery, RankRequest("caption"))
    with pytest.raises(ModeError, match="needs the query's caption vector"):
        rank({"image": E[1], "caption": np.zeros(D)}, gallery, RankRequest("caption"))
    with pytest.raises(ModeError, match="give a text query"):
        rank({"image": E[1]}, gallery, RankRequest("text"))
    with pytest.raises(ModeError, match="unknown mode"):
        rank(QUERY, gallery, RankRequest("clip"))


def test_bad_inputs() -> None:
    gallery = make_gallery()
    with pytest.raises(ValueError, match="k must be at least 1"):
        rank(QUERY, gallery, RankRequest("image", k=0))
    with pytest.raises(ValueError, match=r"allowed must be a bool mask of shape \(6,\)"):
        rank(QUERY, gallery, RankRequest("image", allowed=np.ones(6)))
    with pytest.raises(ValueError, match=r"query image vector must have shape \(16,\)"):
        rank({"image": np.ones(3)}, gallery, RankRequest("image"))
    with pytest.raises(ValueError, match="gallery caption matrix must have shape"):
        GalleryVectors(E[:6], E[:5])


def test_stale_index_is_ignored(caplog) -> None:
    gallery = GalleryVectors(E[:6], indexes={"image": build_index(E[:4])})
    with caplog.at_level(logging.WARNING, logger="cdir.retrieval.ranking"):
        result = rank({"image": E[5]}, gallery, RankRequest("image", k=1))
    assert rows(result) == [5] and "stale image index" in caplog.text


def test_query_vector_may_be_a_row() -> None:
    assert rows(rank({"image": E[2][None, :]}, make_gallery(), RankRequest("image", k=1))) == [2]


# ------------------------------------------------------------- what the mutation check asked for


class HighestTiesIndex(ExactIndex):
    """An index that, among rows tied at the cut, returns the HIGHEST ids (as an approximate
    index may), ordering what it returns by score then id: ranking must fetch past the tie."""

    def _search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None):  # noqa: ANN202
        scores = queries @ self._vectors.T
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        out_s, out_i = [], []
        for row in scores:
            order = np.lexsort((-np.arange(len(row)), -row))[:k]  # ties: highest id first
            order = order[np.lexsort((order, -row[order]))]  # then returned by score, id
            out_s.append(row[order])
            out_i.append(order)
        return np.array(out_s, np.float32), np.array(out_i, np.int64)


def test_a_tie_at_the_cut_goes_to_the_lower_rows_whatever_the_index_returns() -> None:
    image = np.tile(E[0], (6, 1))
    image[0] = E[1]  # row 0 is the best; rows 1..5 tie below it
    index = HighestTiesIndex(D)
    index.add(image)
    gallery = GalleryVectors(image, indexes={"image": index})
    query = {"image": unit(E[0] + 2 * E[1])}
    assert rows(rank(query, gallery, RankRequest("image", k=2))) == [0, 1]
    assert rows(rank(query, gallery, RankRequest("image", k=3))) == [0, 1, 2]


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_one_or_no_allowed_row(index_kind) -> None:
    gallery = make_gallery(index_kind)
    one = np.zeros(6, dtype=bool)
    one[4] = True
    assert rows(rank(QUERY, gallery, RankRequest("image", k=3, allowed=one))) == [4]
    assert rank(QUERY, gallery, RankRequest("image", k=3, allowed=np.zeros(6, bool))) == []


def test_the_callers_masks_are_not_modified() -> None:
    allowed, exclude = np.ones(6, dtype=bool), np.zeros(6, dtype=bool)
    exclude[1] = True
    rank(QUERY, make_gallery(), RankRequest("image", k=3, allowed=allowed, exclude=exclude))
    assert allowed.all() and exclude.tolist() == [False, True, False, False, False, False]


def test_a_missing_query_vector_before_a_present_one_is_skipped() -> None:
    query = {"text": None, "caption": None, "image": E[3]}
    assert rows(rank(query, make_gallery(), RankRequest("image", k=1))) == [3]


@pytest.mark.parametrize("shape", [(2, D // 2), (1, 1, D)])
def test_a_query_vector_of_the_right_size_but_wrong_shape_is_refused(shape) -> None:
    with pytest.raises(ValueError, match=re.escape(f"must have shape ({D},), got {shape}")):
        rank({"image": np.ones(shape)}, make_gallery(), RankRequest("image"))


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_float64_inputs_rank_as_float32(index_kind) -> None:
    gallery = GalleryVectors(E[:6].astype(np.float64), E[8:14].astype(np.float64))
    assert gallery.image.dtype == gallery.caption.dtype == np.float32
    if index_kind is not None:
        gallery = make_gallery(index_kind)
    query = {"image": E[2].astype(np.float64)}
    assert rank(query, gallery, RankRequest("image", k=1)) == [(2, pytest.approx(1.0))]


def test_one_non_finite_row_leaves_the_others_valid() -> None:
    image = E[:6].copy()
    image[2, 0] = np.nan
    gallery = GalleryVectors(image)
    assert gallery.valid("image").tolist() == [True, True, False, True, True, True]


def test_the_error_messages_in_full() -> None:
    gallery = make_gallery()
    cases = [
        (
            lambda: GalleryVectors(np.ones(3)),
            "gallery image matrix must have shape (N, D), got (3,)",
        ),
        (
            lambda: GalleryVectors(E[:6], E[:5]),
            f"gallery caption matrix must have shape (6, {D}), got (5, {D})",
        ),
        (
            lambda: GalleryVectors(E[:6], has_caption=np.ones(6, int)),
            "has_caption must be a bool mask of shape (6,), got int64 (6,)",
        ),
        (lambda: gallery.matrix("text"), "unknown gallery vector kind 'text'; use image, caption"),
        (
            lambda: rank(QUERY, gallery, RankRequest("image", exclude=np.ones(6, int))),
            "exclude must be a bool mask of shape (6,), got int64 (6,)",
        ),
        (
            lambda: rank({"image": E[1]}, gallery, RankRequest("text")),
            "mode 'text' needs the query's text vector: give a text query (--text), or use "
            "--mode image",
        ),
        (
            lambda: rank(QUERY, GalleryVectors(np.zeros((3, D))), RankRequest("image")),
            "mode 'image' reads the gallery's image vectors: none of these images could be "
            "embedded; re-run ingest",
        ),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, ModeError)) as error:
            call()
        assert str(error.value) == message


def test_the_stale_index_warning_in_full(caplog) -> None:
    gallery = GalleryVectors(E[:6], indexes={"image": build_index(E[:4])})
    with caplog.at_level(logging.WARNING, logger="cdir.retrieval.ranking"):
        rank({"image": E[5]}, gallery, RankRequest("image", k=1))
    assert caplog.messages == [
        f"ignoring the stale image index (4 x {D} vs 6 x {D} vectors); scanning exactly"
    ]


# ------------------------------------------------------------- ties do not follow file order


def test_caption_ties_go_to_the_row_whose_image_looks_most_like_the_query() -> None:
    # four gallery rows with the same caption; their images differ; the query's image is
    # closest to row 2's, then row 0's: the tie rule must pick 2, 0 whatever the row order
    caption = np.tile(E[5], (4, 1))
    image = np.stack([unit(E[0] + 0.5 * E[1]), E[3], unit(E[0] + 0.1 * E[1]), E[4]])
    query = {"image": E[0], "caption": E[5]}
    got = rows(rank(query, GalleryVectors(image, caption), RankRequest("caption-caption", k=2)))
    assert got == [2, 0]
    perm = np.array([3, 2, 1, 0])  # the same items in another file order
    got = rows(
        rank(query, GalleryVectors(image[perm], caption[perm]), RankRequest("caption-caption", k=2))
    )
    assert perm[got].tolist() == [2, 0]
    row_rule = RankRequest("caption-caption", k=2, tie_break="row")
    assert rows(rank(query, GalleryVectors(image, caption), row_rule)) == [0, 1]


@pytest.mark.parametrize("index_kind", INDEX_KINDS)
def test_the_content_key_orders_ties_the_same_in_any_file_order(index_kind) -> None:
    # eight different images that all score the same against the query (an image query: the
    # image-image key does not apply, so the content key decides)
    tie_images = np.stack([unit(E[0] + E[j]) for j in range(1, 9)])
    query = {"image": E[0]}
    key = tie_break_key(tie_images, None, "image")
    expected = np.argsort(-key, kind="stable")[:4].tolist()
    got = rows(rank(query, image_gallery(tie_images, index_kind), RankRequest("image", k=4)))
    assert got == expected and got != [0, 1, 2, 3]
    perm = np.random.default_rng(11).permutation(8)
    again = rows(
        rank(query, image_gallery(tie_images[perm], index_kind), RankRequest("image", k=4))
    )
    assert perm[again].tolist() == got


def test_tie_break_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="tie_break"):
        rank(QUERY, make_gallery(None), RankRequest("image", k=2, tie_break="random"))


def test_a_query_image_made_only_for_ties_orders_them_as_if_given() -> None:
    # CM from a fresh process: the query's image vector is made only when two scores tie
    caption = np.tile(E[5], (4, 1))
    image = np.stack([unit(E[0] + 0.5 * E[1]), E[3], unit(E[0] + 0.1 * E[1]), E[4]])
    calls: list[int] = []

    def image_for_ties() -> np.ndarray:
        calls.append(1)
        return E[0]

    request = RankRequest("caption-caption", k=2)
    given = rank({"image": E[0], "caption": E[5]}, GalleryVectors(image, caption), request)
    made = rank({"caption": E[5]}, GalleryVectors(image, caption), request, image_for_ties)
    assert made == given and rows(made) == [2, 0] and calls == [1]
    # scores that all differ: the vector is never made
    distinct = np.stack([unit(E[5] + s * E[6]) for s in (0.1, 0.2, 0.3, 0.4)])
    rank({"caption": E[5]}, GalleryVectors(image, distinct), request, image_for_ties)
    assert calls == [1]
