"""Every preset embeds with a contrastive checkpoint of useful retrieval quality, and carries the
published figures of its checkpoints, tied here to the rows of open_clip's own tables.

``tests/models/published/*.csv`` are verbatim rows of open_clip's ``docs/openclip_results.csv`` and
``docs/openclip_retrieval_results.csv`` (commit f862f86): the header and the rows of the
checkpoints the presets use (or used). A preset whose embedder is a captioning fine-tune (the
old ``coca`` preset's ``mscoco_finetuned_laion2b_s13b_b90k``: Flickr text → image R@1 0.74 %)
fails :func:`test_embedder_is_useful_for_retrieval`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cdir.models.presets import get_preset, list_presets
from cdir.models.published import (
    EMBEDDERS,
    MIN_FLICKR_IMAGE_R1,
    embedder_quality,
    table_arch,
)

HERE = Path(__file__).parent / "published"
PRESETS = list_presets()
TAGGED = [p for p in PRESETS if get_preset(p).embedder.pretrained]


def rows(name: str) -> dict[tuple[str, str], dict[str, str]]:
    with open(HERE / name, newline="", encoding="utf-8") as f:
        return {(r["name"], r["pretrained"]): r for r in csv.DictReader(f)}


RESULTS = rows("openclip_results_excerpt.csv")
RETRIEVAL = rows("openclip_retrieval_results_excerpt.csv")


@pytest.mark.parametrize("name", TAGGED)
def test_embedder_is_useful_for_retrieval(name: str) -> None:
    spec = get_preset(name).embedder
    key = (table_arch(spec.arch), spec.pretrained)
    assert key in RETRIEVAL, (
        f"{key}: no published retrieval figure; add its row to tests/models/published"
    )
    r1 = float(RETRIEVAL[key]["Flickr image retr. R@1"])
    assert r1 >= MIN_FLICKR_IMAGE_R1, (
        f"preset {name!r} embeds with {spec.arch}/{spec.pretrained}, whose published Flickr "
        f"text -> image R@1 is {r1:.2%} (< {MIN_FLICKR_IMAGE_R1:.0%}): not a contrastive "
        "checkpoint of useful retrieval quality"
    )


@pytest.mark.parametrize("name", TAGGED)
def test_preset_carries_its_published_figures(name: str) -> None:
    spec = get_preset(name).embedder
    quality = embedder_quality(spec.arch, spec.pretrained)
    assert quality is not None, f"preset {name!r}: no published figures in cdir.models.published"
    row, retrieval = RESULTS[(quality.arch, quality.tag)], RETRIEVAL[(quality.arch, quality.tag)]
    assert quality.imagenet == pytest.approx(float(row["ImageNet 1k"]))
    assert quality.imagenet_sketch == pytest.approx(float(row["ImageNet Sketch"]))
    assert quality.imagenet_r == pytest.approx(float(row["ImageNet-R"]))
    assert quality.average_38 == pytest.approx(float(row["Average perf. on 38 datasets"]))
    assert quality.gflops == pytest.approx(float(row["FLOPs (B)"]))
    assert quality.flickr_image_r1 == pytest.approx(float(retrieval["Flickr image retr. R@1"]))
    assert quality.mscoco_image_r1 == pytest.approx(float(retrieval["MSCOCO image retr. R@1"]))


def test_every_recorded_figure_matches_the_tables() -> None:
    for key, quality in EMBEDDERS.items():
        assert float(RESULTS[key]["ImageNet 1k"]) == pytest.approx(quality.imagenet), key
        assert float(RETRIEVAL[key]["Flickr image retr. R@1"]) == pytest.approx(
            quality.flickr_image_r1
        ), key


def test_the_captioning_fine_tune_is_caught() -> None:
    """The check above does fail the checkpoint this file exists for."""
    bad = embedder_quality("coca_ViT-B-32", "mscoco_finetuned_laion2b_s13b_b90k")
    assert bad is not None and not bad.useful_for_retrieval
    assert (
        float(
            RETRIEVAL[("coca_ViT-B-32", "mscoco_finetuned_laion2b_s13b_b90k")][
                "Flickr image retr. R@1"
            ]
        )
        < MIN_FLICKR_IMAGE_R1
    )
