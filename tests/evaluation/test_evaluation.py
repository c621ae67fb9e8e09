"""The evaluation protocol on hand-built embeddings: metrics, skips, variants, bias and reports."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from cdir.evaluation.protocol import EvalConfig, EvalData, build_variants, default_ks, evaluate
from cdir.evaluation.report import render_csv, render_json, render_markdown, write_report
from cdir.retrieval.scoring import FusionWeights, ModeError

DOMAINS = ("art", "clipart", "photo")
CLASSES = ("bike", "cat", "mug", "tree", "vase")
DIM = 64
HEADER = {"preset": "tiny", "dataset": "synthetic-3x5", "date": "2026-11-27"}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic(
    domain_weight: float,
    class_weight: float,
    noise: float,
    caption_noise: float = 0.01,
    n_per: int = 6,
    seed: int = 0,
) -> EvalData:
    """``n_per`` images per (domain, class): each class a one-hot direction, each domain another
    one-hot direction (orthogonal to the classes), plus Gaussian noise of about ``noise`` norm.
    Captions encode the class only (one-hot + ``caption_noise``)."""
    rng = np.random.default_rng(seed)
    n_cls = len(CLASSES)
    d = np.repeat(np.arange(len(DOMAINS)), n_cls * n_per)
    c = np.tile(np.repeat(np.arange(n_cls), n_per), len(DOMAINS))
    eye = np.eye(DIM)

    def noisy(scale: float) -> np.ndarray:
        return scale * rng.normal(size=(len(d), DIM)) / np.sqrt(DIM)

    image = _unit(domain_weight * eye[n_cls + d] + class_weight * eye[c] + noisy(noise))
    caption = _unit(eye[c] + noisy(caption_noise))
    labels = {"domains": np.array(DOMAINS)[d], "classes": np.array(CLASSES)[c]}
    return EvalData(image=image, caption=caption, caption_neutral=caption, **labels)


def perfect() -> EvalData:
    """Class encoded perfectly; domain only a small orthogonal offset."""
    return synthetic(domain_weight=0.1, class_weight=1.0, noise=0.01)


GRID = (FusionWeights.parse("image=0.5,caption=1"), FusionWeights.parse("caption-caption=1"))


def test_perfect_embeddings_reach_100_in_every_variant_and_pair() -> None:
    report = evaluate(perfect(), EvalConfig(fusion_grid=GRID))
    assert len(report.variants) == 11
    assert len(report.pairs) == 6 * len(report.variants)
    assert report.ks == (1, 5, 15)
    for row in report.pairs:
        assert row.map == pytest.approx(100.0)
        assert all(v == pytest.approx(100.0) for v in row.precision.values())
        assert (row.n_queries, row.gallery_size, row.n_no_relevant) == (30, 30, 0)
    for row in report.averages:
        assert row.map == pytest.approx(100.0) and row.n_pairs == 6


def test_caption_matching_beats_domain_biased_image_embeddings() -> None:
    # images: domain strong (1.0), class weak (0.35), noisy; captions: class only
    report = evaluate(synthetic(domain_weight=1.0, class_weight=0.35, noise=0.8))
    image, caption = report.average("image"), report.average("caption")
    assert caption.map > image.map + 30
    assert caption.precision[1] > image.precision[1] + 30
    assert report.own_domain("image") > 95  # the top 10 is (nearly) all the query's domain
    assert report.own_domain("caption") < report.own_domain("image") - 50
    assert report.own_domain("caption") < report.bias_chance["all"] + 10


def test_bias_chance_is_the_random_ranking_share() -> None:
    report = evaluate(perfect(), EvalConfig(modes=("image",)))
    # 30 images per domain, 90 in all: 29 of the 89 other images share the query's domain
    assert report.bias_chance == pytest.approx({d: 100 * 29 / 89 for d in ("all", *DOMAINS)})


def test_tied_scores_rank_in_gallery_order() -> None:
    e0, e1 = np.eye(2)
    data = EvalData(
        image=np.array([e0, e0, e0, e1]),  # query; then a gallery of 3 images
        caption=None,
        caption_neutral=None,
        domains=np.array(["photo", "sketch", "sketch", "sketch"]),
        classes=np.array(["cat", "dog", "cat", "cat"]),
    )
    row = evaluate(data, EvalConfig(modes=("image",), ks=(1, 5))).pair("image", "photo", "sketch")
    # scores 1 (dog), 1 (cat), 0 (cat): the tie keeps gallery order, so the dog ranks first.
    # relevant at ranks 2 and 3: P@1 = 0; P@5 = 2 / min(5, 2) = 1; AP = (1/2 + 2/3) / 2 = 0.5833
    assert row.precision == {1: 0.0, 5: 100.0}
    assert row.map == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)


def test_class_absent_from_gallery_is_skipped_and_counted() -> None:
    data = perfect()
    keep = ~((data.domains == "clipart") & (data.classes == "vase"))
    report = evaluate(data.subset(keep), EvalConfig(modes=("image", "caption")))
    row = report.pair("caption", "art", "clipart")
    assert (row.n_queries, row.n_no_relevant, row.n_no_caption) == (24, 6, 0)
    assert row.map == pytest.approx(100.0)  # the skipped queries do not drag the mean down
    assert report.pair("image", "clipart", "art").n_no_relevant == 0
    assert any("art → clipart: 6 queries skipped" in n and "vase" in n for n in report.notes)


def test_single_domain_gives_a_report_that_says_so() -> None:
    data = perfect()
    report = evaluate(data.subset(data.domains == "art"))
    assert report.pairs == [] and report.averages == [] and report.bias == []
    assert any("only one domain (art)" in note for note in report.notes)
    markdown = render_markdown(report, HEADER)
    assert "no domain pair" in markdown and "only one domain" in markdown
    assert render_csv(report).strip() == "variant,query_domain,gallery_domain,metric,value"
    json.dumps(render_json(report), allow_nan=False)


def test_missing_captions_are_skipped_as_queries_and_ranked_last_in_gallery() -> None:
    data = perfect()
    art, clipart = np.flatnonzero(data.domains == "art"), np.flatnonzero(data.domains == "clipart")
    data.caption[art[0]] = np.nan  # a query without a caption
    data.caption[clipart[0]] = 0.0  # a gallery image without a caption
    report = evaluate(data, EvalConfig(neutralise=(False,)))
    assert report.pair("caption", "art", "clipart").n_no_caption == 1
    assert report.pair("caption", "art", "clipart").n_queries == 29
    assert report.pair("image", "art", "clipart").n_queries == 30
    assert report.pair("caption", "art", "clipart").map == pytest.approx(100.0)
    # caption-caption cannot score clipart[0]: it ranks last, below irrelevant images
    assert report.pair("caption-caption", "art", "clipart").map < 100.0
    assert any("2 images have no caption vector" in note for note in report.notes)


def test_neutral_variants_use_the_neutralised_captions_on_both_sides() -> None:
    data = synthetic(domain_weight=1.0, class_weight=0.35, noise=0.8)
    data.caption_neutral, data.caption = data.caption, data.image  # raw captions "say the style"
    report = evaluate(data, EvalConfig(modes=("caption", "caption-caption")))
    assert report.average("caption-caption+neutral").map == pytest.approx(100.0)
    assert report.average("caption+neutral").map > report.average("caption").map + 30


def test_variants_are_named_and_expanded() -> None:
    image_only = FusionWeights.parse("image=1")
    config = EvalConfig(fusion_grid=(GRID[0], image_only))
    names = [v.name for v in build_variants(config, perfect())[0]]
    assert names == [
        "image",
        "caption",
        "caption+neutral",
        "caption-caption",
        "caption-caption+neutral",
        "fusion(image=0.5,caption=1,caption-caption=0.5)",
        "fusion(image=0.5,caption=1,caption-caption=0.5)+neutral",
        "fusion(image=0.5,caption=1)",
        "fusion(image=0.5,caption=1)+neutral",
        "fusion(image=1)",  # reads no caption: neutralising does not apply
    ]


def test_variants_without_their_captions_are_noted_not_run() -> None:
    data = perfect()
    data.caption_neutral = None
    variants, notes = build_variants(EvalConfig(modes=("image", "caption")), data)
    assert [v.name for v in variants] == ["image", "caption"]
    assert notes == ["no neutralised caption embeddings: not evaluated: caption+neutral"]


def test_default_ks_follow_the_largest_domain() -> None:
    assert default_ks(np.array(["a"] * 4999 + ["b"] * 10)) == (1, 5, 15)
    assert default_ks(np.array(["a"] * 5000 + ["b"] * 10)) == (50, 100, 200)


def test_domain_and_class_subsets() -> None:
    config = EvalConfig(modes=("image",), domains=("photo", "art"), classes=("cat", "mug"))
    report = evaluate(perfect(), config)
    assert report.domain_sizes == {"photo": 12, "art": 12}  # in the configured order
    assert report.n_classes == 2 and len(report.pairs) == 2
    with pytest.raises(ValueError, match="unknown domains.*art, clipart, photo"):
        evaluate(perfect(), EvalConfig(domains=("sketch",)))


def test_config_rejects_text_mode_and_bad_k() -> None:
    with pytest.raises(ModeError, match="typed queries"):
        EvalConfig(modes=("text",))
    with pytest.raises(ModeError, match="unknown mode"):
        EvalConfig(modes=("pixels",))
    with pytest.raises(ValueError, match="positive"):
        EvalConfig(ks=(0, 5))


def test_data_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="caption has 2 rows but there are 3 images"):
        EvalData(np.ones((3, 4)), np.ones((2, 4)), None, np.array(list("abc")), np.zeros(3))


def test_chunk_size_does_not_change_the_report() -> None:
    data = synthetic(domain_weight=1.0, class_weight=0.35, noise=0.8)
    small = evaluate(data, EvalConfig(chunk_size=4, neutralise=(False,)))
    large = evaluate(data, EvalConfig(chunk_size=256, neutralise=(False,)))
    assert small.pairs == large.pairs and small.bias == large.bias


def test_progress_reaches_the_total() -> None:
    calls: list[tuple[int, int]] = []
    evaluate(perfect(), EvalConfig(modes=("image", "caption")), progress=lambda *a: calls.append(a))
    assert calls[-1] == (3 * 7, 3 * 7)  # 3 variants x (6 pairs + the bias pass)
    assert [done for done, _ in calls] == list(range(1, 22))


def test_markdown_has_header_variants_and_sections() -> None:
    report = evaluate(perfect(), EvalConfig(fusion_grid=GRID[:1]))
    markdown = render_markdown(report, HEADER)
    for key, value in HEADER.items():
        assert f"| {key} | {value} |" in markdown
    for name in report.variants:
        assert f"| {name} |" in markdown
    for section in ("## Averages over domain pairs", "### art → clipart", "## Domain bias"):
        assert section in markdown
    assert "**100.0**" in markdown and "| *chance* |" in markdown


def test_csv_is_long_format() -> None:
    report = evaluate(perfect(), EvalConfig(modes=("image", "caption"), neutralise=(False,)))
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert set(rows[0]) == {"variant", "query_domain", "gallery_domain", "metric", "value"}
    p1 = [r for r in rows if r["metric"] == "P@1" and r["query_domain"] != "all"]
    assert len(p1) == 2 * 6 and all(float(r["value"]) == 100.0 for r in p1)
    assert {"own_domain@10", "mAP", "n_queries", "gallery_size"} <= {r["metric"] for r in rows}


def test_write_report_writes_three_files_atomically(tmp_path) -> None:
    data = perfect()
    data.caption[0] = np.nan
    report = evaluate(data, EvalConfig(modes=("image", "caption")))
    paths = write_report(report, tmp_path / "out", HEADER)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.csv",
        "report.json",
        "report.md",
    ]
    document = json.loads(paths["json"].read_text())
    assert document["header"] == HEADER and document["variants"] == report.variants
    assert document["pairs"][0]["precision"] == {"1": 100.0, "5": 100.0, "15": 100.0}
    assert "| preset | tiny |" in paths["md"].read_text()
