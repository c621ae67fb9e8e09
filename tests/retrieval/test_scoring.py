"""The retrieval modes as score functions, on hand-built embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from cdir.retrieval.scoring import (
    DEFAULT_FUSION_WEIGHTS,
    MODE_VECTORS,
    MODES,
    FusionWeights,
    ModeError,
    base_scores,
    check_mode,
    gallery_valid,
    required_query_kinds,
    score_matrix,
    standardise,
)

E = np.eye(8, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def orthonormal_case() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Gallery g: image e_g, caption e_{4+g}. The query's image is e1; its caption (e2 + e7)/√2
    matches g2's IMAGE and g3's CAPTION, so image, caption and caption-caption each pick another
    item first."""
    gallery = {"image": E[:4], "caption": E[4:8]}
    query = {"image": E[1], "caption": unit(E[2] + E[7]), "text": E[0]}
    return query, gallery


def top(scores: np.ndarray) -> int:
    return int(np.argmax(scores[0]))


# ------------------------------------------------------------------------------------- modes


def test_each_mode_reads_its_own_vectors() -> None:
    query, gallery = orthonormal_case()
    assert top(score_matrix("image", query, gallery)) == 1
    assert top(score_matrix("caption", query, gallery)) == 2  # t(q)·v(g): the paper's CM
    assert top(score_matrix("caption-caption", query, gallery)) == 3  # t(q)·t(g)
    assert top(score_matrix("text", query, gallery)) == 0
    assert np.allclose(score_matrix("caption", query, gallery)[0], [0, 0, 2**-0.5, 0], atol=1e-6)


def test_mode_table_is_complete() -> None:
    assert set(MODE_VECTORS) | {"fusion"} == set(MODES)
    assert required_query_kinds("caption") == {"caption"}
    assert required_query_kinds("text") == {"text"}
    assert required_query_kinds("fusion") == {"image", "caption"}
    assert required_query_kinds("fusion", FusionWeights.parse("image=1")) == {"image"}


def test_unknown_mode_lists_the_modes() -> None:
    with pytest.raises(ModeError, match="unknown mode 'clip'; choose one of: image, caption"):
        check_mode("clip")


def test_missing_vectors_raise_mode_errors() -> None:
    query, gallery = orthonormal_case()
    with pytest.raises(ModeError, match="needs a text vector for the query"):
        base_scores("text", {"image": E[0]}, gallery)
    with pytest.raises(ModeError, match="needs caption embeddings for the gallery"):
        score_matrix("caption-caption", query, {"image": E[:4], "caption": None})
    with pytest.raises(ModeError, match="combines other modes"):
        base_scores("fusion", query, gallery)
    with pytest.raises(ModeError, match="one row count"):
        score_matrix("image", query, {"image": E[:4], "caption": E[:3]})


def test_rows_without_the_vector_score_minus_inf() -> None:
    query, gallery = orthonormal_case()
    has_caption = np.array([True, True, True, False])
    scores = score_matrix("caption-caption", query, gallery, valid={"caption": has_caption})
    assert np.isneginf(scores[0, 3]) and np.isfinite(scores[0, :3]).all()
    image = score_matrix("image", query, gallery, valid={"caption": has_caption})
    assert np.isfinite(image).all(), "image mode does not read captions"
    assert gallery_valid("image", {"caption": has_caption}, 4).all()


# ------------------------------------------------------------------------------ standardise


def test_standardise_over_valid_columns() -> None:
    scores = np.array([[1.0, 2.0, 3.0, 100.0]])
    z = standardise(scores, np.array([True, True, True, False]))
    assert np.allclose(z[0, :3], [-(1.5**0.5), 0.0, 1.5**0.5])
    assert np.isneginf(z[0, 3])
    assert (standardise(np.array([[0.3, 0.3]])) == 0).all(), "zero variance gives zeros"
    assert np.isneginf(standardise(scores, np.zeros(4, dtype=bool))).all()


# ----------------------------------------------------------------------------------- fusion


def test_fusion_with_one_weight_keeps_that_modes_order() -> None:
    rng = np.random.default_rng(0)
    gallery = {"image": rng.standard_normal((50, 16)), "caption": rng.standard_normal((50, 16))}
    query = {"image": rng.standard_normal(16), "caption": rng.standard_normal(16)}
    for mode in ("image", "caption", "caption-caption"):
        fused = score_matrix("fusion", query, gallery, FusionWeights({mode: 2.0}))
        alone = score_matrix(mode, query, gallery)
        assert (np.argsort(-fused[0]) == np.argsort(-alone[0])).all(), mode


def scale_case() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Image-mode scores a span 0.28..0.32, caption-mode scores b span -0.4..0.6 (v(g) = a e0 +
    b e1 + rest, v(q) = e0, t(q) = e1). Item 0 is best on a and second on b; item 1 is best on b
    and worst on a."""
    a = np.array([0.32, 0.28, 0.30, 0.30, 0.30])
    b = np.array([0.50, 0.60, -0.40, -0.30, -0.40])
    image = np.zeros((5, 8), dtype=np.float32)
    image[:, 0], image[:, 1] = a, b
    image[np.arange(5), 2 + np.arange(5)] = np.sqrt(1 - a**2 - b**2)
    return {"image": E[0], "caption": E[1]}, {"image": image}


def test_fusion_z_scores_make_scales_comparable() -> None:
    query, gallery = scale_case()
    raw_sum = score_matrix("image", query, gallery) + score_matrix("caption", query, gallery)
    assert top(raw_sum) == 1, "summing raw cosines lets the wide-range mode decide"
    fused = score_matrix("fusion", query, gallery, FusionWeights({"image": 1, "caption": 1}))
    assert top(fused) == 0, "z-scores give the narrow-range mode an equal say"
    z_a = 0.02 / np.std([0.32, 0.28, 0.3, 0.3, 0.3])
    z_b = 0.5 / np.std([0.5, 0.6, -0.4, -0.3, -0.4])
    assert fused[0, 0] == pytest.approx(z_a + z_b, rel=1e-5)


def test_fusion_skips_rows_lacking_a_fused_vector_and_standardises_over_the_rest() -> None:
    rng = np.random.default_rng(1)
    gallery = {"image": rng.standard_normal((6, 8)), "caption": rng.standard_normal((6, 8))}
    query = {"image": rng.standard_normal(8), "caption": rng.standard_normal(8)}
    ok = np.array([True, True, False, True, True, True])
    weights = FusionWeights({"image": 1.0, "caption-caption": 0.5})
    fused = score_matrix("fusion", query, gallery, weights, valid={"caption": ok})
    assert np.isneginf(fused[0, 2])
    expected = standardise(base_scores("image", query, gallery), ok) + 0.5 * standardise(
        base_scores("caption-caption", query, gallery), ok
    )
    assert np.allclose(fused[0, ok], expected[0, ok])


def test_negative_weight_never_lifts_invalid_rows() -> None:
    query, gallery = orthonormal_case()
    weights = FusionWeights({"image": -1.0, "caption": 1.0})
    valid = {"image": np.array([True, True, True, False])}
    fused = score_matrix("fusion", query, gallery, weights, valid=valid)
    assert np.isneginf(fused[0, 3]) and top(fused) == 2


# ------------------------------------------------------------------------------ weights


def test_fusion_weights_parse() -> None:
    assert FusionWeights.parse(None).weights == DEFAULT_FUSION_WEIGHTS
    parsed = FusionWeights.parse(" image=0.5, caption-caption=2 ")
    assert parsed.weights == {"image": 0.5, "caption-caption": 2.0}
    assert FusionWeights.parse({"image": 0, "caption": 1}).active() == {"caption": 1.0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("image", "must look like 'image=0.5,caption=1'"),
        ("image=x", "must look like"),
        ("text=1", "unknown modes \\['text'\\]"),
        ("image=0,caption=0", "at least one non-zero weight"),
        ("image=nan", "finite"),
    ],
)
def test_bad_fusion_weights(spec: str, message: str) -> None:
    with pytest.raises(ModeError, match=message):
        FusionWeights.parse(spec)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ModeError, match="unknown modes"):
        FusionWeights({"fusion": 1.0})


# ------------------------------------------------------------- what the mutation check asked for


def test_the_fusion_error_messages_in_full() -> None:
    with pytest.raises(ModeError) as unknown:
        FusionWeights.parse("text=1")
    assert str(unknown.value) == (
        "fusion weights name unknown modes ['text']; use image, caption, caption-caption"
    )
    with pytest.raises(ModeError) as zero:
        FusionWeights.parse("image=0")
    assert str(zero.value) == "fusion needs at least one non-zero weight"
    with pytest.raises(ModeError) as twice:
        FusionWeights.parse("image=0.5=1")  # only the first '=' separates name and weight
    assert str(twice.value) == (
        "fusion weights must look like 'image=0.5,caption=1': "
        "could not convert string to float: '0.5=1'"
    )


def test_fusion_of_captions_alone_needs_only_the_query_caption() -> None:
    only = FusionWeights.parse("caption=1")
    assert required_query_kinds("fusion", only) == {"caption"}
    assert required_query_kinds("fusion", FusionWeights.parse("image=1")) == {"image"}


def test_standardise_each_row_of_several_and_a_single_1d_row() -> None:
    scores = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]])
    z = standardise(scores)
    np.testing.assert_allclose(z[0], [-(1.5**0.5), 0.0, 1.5**0.5])
    np.testing.assert_allclose(z[1], [-(0.5**0.5), -(0.5**0.5), 2**0.5])
    np.testing.assert_allclose(standardise(scores[0]), z[0])  # one row given as 1-D


def test_standardise_computes_in_float64_whatever_the_input() -> None:
    scores = np.array([[0.1, 0.2, 0.7]], dtype=np.float32)
    exact = scores.astype(np.float64)
    want = (exact - exact.mean()) / exact.std()
    got = standardise(scores)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_masks_given_as_zeros_and_ones_are_masks_not_indices() -> None:
    scores = np.array([[1.0, 5.0, 3.0]])
    np.testing.assert_allclose(standardise(scores, np.array([1, 0, 1])), [[-1.0, -np.inf, 1.0]])
    _, gallery = orthonormal_case()
    query = {"image": E[0][None, :]}
    out = score_matrix("image", query, gallery, valid={"image": np.array([1, 0, 1, 1])})
    np.testing.assert_array_equal(out, [[1.0, -np.inf, 0.0, 0.0]])


def test_raw_scores_stay_float32_for_float64_inputs() -> None:
    """(Q, N) score matrices of an evaluation are large: they are computed in float32."""
    gallery = {"image": E[:4].astype(np.float64)}
    assert base_scores("image", {"image": E[0].astype(np.float64)}, gallery).dtype == np.float32


def test_fusion_of_several_queries_at_once_matches_one_by_one() -> None:
    query, gallery = orthonormal_case()
    two = {"image": np.stack([E[1], E[2]]), "caption": np.stack([query["caption"], E[5]])}
    both = score_matrix("fusion", two, gallery)
    for i in range(2):
        one = score_matrix("fusion", {k: v[i] for k, v in two.items()}, gallery)
        np.testing.assert_allclose(both[i], one[0])


def test_fusion_without_any_query_vector_is_a_mode_error() -> None:
    _, gallery = orthonormal_case()
    with pytest.raises(ModeError, match="needs a image vector"):
        score_matrix("fusion", {"image": None, "caption": None}, gallery)
